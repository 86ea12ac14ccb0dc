"""Throughput benchmark: batched augmentation vs training vs a per-image PIL pipeline.

``python -m trainables.bench --device cpu --image-size 256 --json`` prints, for one
variant: augmentation output images/s (a 3-way batch of 32 source images counts 96),
training images/s (augmentation + forward + backward + SGD step), and the per-image
PIL CutPaste 3-way reference on one core, all measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from trainables.augment_ops import PixelStore
from trainables.augmentations import create_variant, source_batch
from trainables.config import TrialConfig
from trainables.model import build_model
from trainables.reference_pil import PilCutPaste3Way
from trainables.trial import resolve_device, train_step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, min_seconds: float, min_iters: int, device: torch.device) -> tuple[float, int]:
    fn()  # warm-up
    _sync(device)
    t0, n = time.perf_counter(), 0
    while n < min_iters or time.perf_counter() - t0 < min_seconds:
        fn()
        n += 1
    _sync(device)
    return time.perf_counter() - t0, n


def _store(n: int, size: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    # smooth random images, so jitter and pasting see realistic pixel statistics
    low = torch.rand(n, 3, size // 8, size // 8, generator=g)
    img = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return (img * 255).to(torch.uint8).to(device)


def bench_augmentation(cfg: TrialConfig, device: torch.device, seconds: float) -> float:
    variant = create_variant(cfg.variant)
    store = PixelStore(_store(64, cfg.image_size, device))
    gen = torch.Generator(device=device).manual_seed(0)
    out = {"n": 0}

    def step():
        src = torch.randint(0, 64, (cfg.batch_size,), generator=gen, device=device)
        images, _ = variant.make_batch(source_batch(store, src, cfg, gen), cfg)
        out["n"] = images.shape[0]

    dt, iters = _timed(step, seconds, 3, device)
    return out["n"] * iters / dt


def bench_training(cfg: TrialConfig, device: torch.device, seconds: float) -> float:
    variant = create_variant(cfg.variant)
    store = PixelStore(_store(64, cfg.image_size, device))
    gen = torch.Generator(device=device).manual_seed(0)
    model = build_model(cfg, variant.num_classes).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    amp = device.type == "cuda"
    if amp:
        model = model.to(memory_format=torch.channels_last)
    out = {"n": 0}

    def step():
        out["n"] = train_step(model, opt, variant, store, cfg, gen, amp)[1]

    dt, iters = _timed(step, seconds, 2, device)
    return out["n"] * iters / dt


def bench_pil_reference(cfg: TrialConfig, seconds: float) -> float:
    """Per-image PIL CutPaste 3-way (ToTensor and normalisation included) on one core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store = _store(16, cfg.image_size, torch.device("cpu")).permute(0, 2, 3, 1).numpy()
        images = [Image.fromarray(np.ascontiguousarray(a)) for a in store]
        aug = PilCutPaste3Way(jitter=cfg.jitter)
        i = {"k": 0}

        def step():
            aug(images[i["k"] % len(images)])
            i["k"] += 1

        dt, iters = _timed(step, seconds, 10, torch.device("cpu"))
        return 3 * iters / dt
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainables.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--variant", default="cutpaste_3way")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0, help="minimum time per measurement")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    cfg = TrialConfig(variant=args.variant, image_size=args.image_size, batch_size=args.batch_size,
                      device=args.device)
    aug = bench_augmentation(cfg, device, args.seconds)
    print(f"augmentation  {aug:10.0f} images/s  ({args.variant}, {args.image_size}px, {device})", flush=True)
    train = bench_training(cfg, device, args.seconds)
    print(f"training      {train:10.0f} images/s  (augmentation + forward + backward + step)", flush=True)
    pil = bench_pil_reference(cfg, args.seconds)
    print(f"PIL reference {pil:10.0f} images/s  (per-image PIL CutPaste 3-way, one core)", flush=True)
    print(f"augmentation / training = {aug / train:.1f}x; augmentation / PIL = {aug / pil:.2f}x")
    if args.json:
        print(json.dumps({"device": str(device), "image_size": args.image_size, "variant": args.variant,
                          "batch_size": args.batch_size, "aug_images_per_second": aug,
                          "train_images_per_second": train, "pil_images_per_second": pil,
                          "torch_threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
