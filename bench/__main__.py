"""Throughput benchmark: batched augmentation vs training vs a per-image PIL pipeline.

``python -m bench --device cpu --image-size 256 --json`` prints, for one variant:
augmentation output images/s (a 3-way batch of 32 source images counts 96), training
images/s (augmentation + forward + backward + SGD step), and the per-image PIL CutPaste
3-way reference on one core, all measured in the same run (``bench.throughput``).

``--end-to-end`` instead trains the same model for the same steps twice: with this
project's on-device loop and with the common reproduction (PIL CutPaste in DataLoader
workers), see ``bench.end_to_end``; it also reports the model-only rate (the same step on a
fixed pre-made batch) and ``end_to_end_ratio``, the share of a step the model gets. ``--concurrent 1,2,4,8`` measures the aggregate
throughput of K trials sharing the device (``bench.packing``). ``--save`` writes the
training figures into the throughput table that ``study.launch --dry-run`` uses.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys

import torch

from bench import end_to_end
from bench.common import synthetic_images
from bench.packing import bench_concurrent
from bench.throughput import bench_augmentation, bench_pil_reference, bench_training
from study.throughput import record
from trainables.config import TrialConfig
from trainables.train import resolve_device, use_bf16


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model and core count, as the throughput table records it."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
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
    images = synthetic_images(args.images, cfg.image_size, torch.device("cpu"))
    print(f"end to end: {args.steps} steps of {cfg.variant}, batch {cfg.batch_size} source images, "
          f"{cfg.image_size}px, {args.images} train images, {device}", flush=True)
    loop = end_to_end.hot_loop(cfg, images, args.steps, device)
    ours = loop.end_to_end
    print(f"  this project (on-device batched augmentation)   {ours:8.1f} trained images/s", flush=True)
    print(f"  model only (same step, fixed pre-made batch)    {loop.model_only:8.1f} trained images/s", flush=True)
    print(f"  end-to-end / model-only ratio {loop.ratio:.3f} (augmentation and data path: "
          f"{100 * (1 - loop.ratio):.1f}% of a step)", flush=True)
    ref = end_to_end.reference(cfg, images, args.steps, device, args.reference_workers)
    print(f"  reference (PIL CutPaste in {args.reference_workers} DataLoader workers) {ref:8.1f} trained images/s",
          flush=True)
    print(f"  speed-up {ours / ref:.2f}x")
    return {"end_to_end_images_per_second": ours, "model_only_images_per_second": loop.model_only,
            "end_to_end_ratio": loop.ratio, "reference_images_per_second": ref,
            "speedup": ours / ref, "steps": args.steps, "reference_workers": args.reference_workers,
            "precision": cfg.precision, "bf16": use_bf16(cfg, device),
            "torch_threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def run_concurrent(args, cfg: TrialConfig, device: torch.device) -> list[dict]:
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
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
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
    if args.json:        # stdout is the JSON alone, for scripts; the readable lines go to stderr
        out = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            result = measure(args)
        print(json.dumps(result), file=out, flush=True)
        return 0
    measure(args)
    return 0


def measure(args: argparse.Namespace) -> dict:
    """Run what the flags ask for, print the readable lines, return the JSON record."""
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
                for r in result["concurrent"]:
                    path = record(device.type, name, args.image_size, r["k"], r["aggregate_images_per_second"],
                                  args.variant, r["memory_per_trial_mb"])
                print(f"saved to {path}")
        return result
    aug = bench_augmentation(cfg, device, args.seconds)
    print(f"augmentation  {aug:10.0f} images/s  ({args.variant}, {args.image_size}px, {device})", flush=True)
    train = bench_training(cfg, device, args.seconds)
    print(f"training      {train:10.0f} images/s  (augmentation + forward + backward + step)", flush=True)
    pil = bench_pil_reference(cfg, args.seconds)
    print(f"PIL reference {pil:10.0f} images/s  (per-image PIL CutPaste 3-way, one core)", flush=True)
    print(f"augmentation / training = {aug / train:.1f}x; augmentation / PIL = {aug / pil:.2f}x")
    if args.save:
        print(f"saved to {record(device.type, name, args.image_size, 1, train, args.variant)}")
    return {"device": str(device), "device_name": name, "image_size": args.image_size, "variant": args.variant,
            "batch_size": args.batch_size, "aug_images_per_second": aug, "train_images_per_second": train,
            "pil_images_per_second": pil, "torch_threads": torch.get_num_threads()}
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
