"""Throughput benchmark: batched augmentation vs training vs a per-image PIL pipeline.

``python -m trainables.bench --device cpu --image-size 256 --json`` prints, for one
variant: augmentation output images/s (a 3-way batch of 32 source images counts 96),
training images/s (augmentation + forward + backward + SGD step), and the per-image
PIL CutPaste 3-way reference on one core, all measured in the same run.

``--end-to-end`` instead trains the same model for the same steps twice: with this
project's on-device loop and with the common reproduction (PIL CutPaste in DataLoader
workers), see ``trainables.bench_e2e``. ``--concurrent 1,2,4,8`` measures the aggregate
throughput of K trials sharing the device (``trainables.bench_pack``). ``--save`` writes
the training figures into the throughput table that ``study.launch --dry-run`` uses.
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
from trainables.trial import prepare_model, resolve_device, train_step


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
    model, amp = prepare_model(model, cfg, device)
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


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import os
    import platform
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} cores)"


def run_end_to_end(args, cfg: TrialConfig, device: torch.device) -> dict:
    from trainables import bench_e2e
    images = _store(args.images, cfg.image_size, torch.device("cpu"))
    print(f"end to end: {args.steps} steps of {cfg.variant}, batch {cfg.batch_size} source images, "
          f"{cfg.image_size}px, {args.images} train images, {device}", flush=True)
    ours = bench_e2e.ours(cfg, images, args.steps, device)
    print(f"  this project (on-device batched augmentation)   {ours:8.1f} trained images/s", flush=True)
    ref = bench_e2e.reference(cfg, images, args.steps, device, args.reference_workers)
    print(f"  reference (PIL CutPaste in {args.reference_workers} DataLoader workers) {ref:8.1f} trained images/s",
          flush=True)
    print(f"  speed-up {ours / ref:.2f}x")
    return {"end_to_end_images_per_second": ours, "reference_images_per_second": ref,
            "speedup": ours / ref, "steps": args.steps, "reference_workers": args.reference_workers,
            "precision": cfg.precision}


def run_concurrent(args, cfg: TrialConfig, device: torch.device) -> list[dict]:
    from trainables.bench_pack import bench_concurrent
    out = []
    for k in [int(x) for x in args.concurrent.split(",")]:
        r = bench_concurrent(cfg.to_dict(), str(device), k, args.seconds)
        print(f"K={k}: aggregate {r.aggregate_images_per_second:8.1f} trained images/s "
              f"({', '.join(f'{x:.0f}' for x in r.per_trial_images_per_second)} per trial), "
              f"{r.memory_per_trial_mb:,.0f} MB per trial ({r.memory_kind})", flush=True)
        out.append({"k": k, "aggregate_images_per_second": r.aggregate_images_per_second,
                    "per_trial_images_per_second": r.per_trial_images_per_second,
                    "memory_per_trial_mb": r.memory_per_trial_mb, "memory_kind": r.memory_kind})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainables.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--variant", default="cutpaste_3way")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                    help="auto: bf16 + channels-last on CUDA and on CPUs with native bf16")
    ap.add_argument("--seconds", type=float, default=5.0, help="minimum time per measurement")
    ap.add_argument("--end-to-end", action="store_true",
                    help="train N steps with ours and with the PIL + DataLoader reference")
    ap.add_argument("--steps", type=int, default=20, help="--end-to-end: training steps of each")
    ap.add_argument("--images", type=int, default=256, help="--end-to-end: train images (an MVTec category has 200-400)")
    ap.add_argument("--reference-workers", type=int, default=2, help="--end-to-end: DataLoader workers")
    ap.add_argument("--concurrent", default=None, metavar="K,K,...",
                    help="aggregate throughput of K trials sharing the device, e.g. 1,2,4,8")
    ap.add_argument("--save", action="store_true", help="record training throughput for --dry-run projections")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    cfg = TrialConfig(variant=args.variant, image_size=args.image_size, batch_size=args.batch_size,
                      device=args.device, precision=args.precision)
    name = device_name(device)
    if args.end_to_end or args.concurrent:
        result: dict = {"device": str(device), "device_name": name, "image_size": args.image_size,
                        "variant": args.variant, "batch_size": args.batch_size}
        if args.end_to_end:
            result.update(run_end_to_end(args, cfg, device))
        if args.concurrent:
            result["concurrent"] = run_concurrent(args, cfg, device)
            if args.save:
                from study.throughput import record
                for r in result["concurrent"]:
                    path = record(device.type, name, args.image_size, r["k"], r["aggregate_images_per_second"],
                                  args.variant, r["memory_per_trial_mb"])
                print(f"saved to {path}")
        if args.json:
            print(json.dumps(result))
        return 0
    aug = bench_augmentation(cfg, device, args.seconds)
    print(f"augmentation  {aug:10.0f} images/s  ({args.variant}, {args.image_size}px, {device})", flush=True)
    train = bench_training(cfg, device, args.seconds)
    print(f"training      {train:10.0f} images/s  (augmentation + forward + backward + step)", flush=True)
    pil = bench_pil_reference(cfg, args.seconds)
    print(f"PIL reference {pil:10.0f} images/s  (per-image PIL CutPaste 3-way, one core)", flush=True)
    print(f"augmentation / training = {aug / train:.1f}x; augmentation / PIL = {aug / pil:.2f}x")
    if args.save:
        from study.throughput import record
        print(f"saved to {record(device.type, name, args.image_size, 1, train, args.variant)}")
    if args.json:
        print(json.dumps({"device": str(device), "device_name": name, "image_size": args.image_size,
                          "variant": args.variant,
                          "batch_size": args.batch_size, "aug_images_per_second": aug,
                          "train_images_per_second": train, "pil_images_per_second": pil,
                          "torch_threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
