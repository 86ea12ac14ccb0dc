"""Inference speed of an exported model: ONNX Runtime against PyTorch eager, on the CPU.

``python -m bench.deploy --image-size 256 --json`` builds a model as a trial would (an untrained
encoder is as fast as a trained one), fits its density on synthetic images, saves the bundle,
exports it (``trainables.deploy``), and times images/s at batch 1 and 32 of the same
computation three times: the exported graph in ONNX Runtime, the same modules in PyTorch eager
under ``inference_mode``, and those modules with channels-last weights, the layout a trial
evaluates in on the CPU (``trainables.train.devices.channels_last``; an image-level graph's
NHWC input already makes PyTorch pick channels-last convolutions, a patch-level one's windows
do not). uint8 images in, scores and maps out; image decoding not included.
Each measurement runs at least ``--seconds`` and ``--iterations`` batches after a warm-up batch.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from bench.common import synthetic_images
from trainables.augment import VARIANTS
from trainables.config import TrialConfig
from trainables.deploy.bundle import load_bundle, save_bundle
from trainables.deploy.export import build_graph, export_bundle
from trainables.evaluate.image import extract_features
from trainables.evaluate.patches import WindowDensity, dense_window_features
from trainables.models import DensityEstimator, build_model
from trainables.trial import TrialResult


def make_bundle(cfg: TrialConfig, out: Path, n_fit: int = 32) -> Path:
    """An untrained model's bundle, its density fitted on ``n_fit`` synthetic images."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, VARIANTS[cfg.variant].num_classes).eval()
    images = synthetic_images(n_fit, cfg.image_size, torch.device("cpu"))
    if VARIANTS[cfg.variant].patch_level:
        density = WindowDensity(cfg).fit(dense_window_features(model, images, cfg, torch.device("cpu"), False))
    else:
        density = DensityEstimator(cfg.density, cfg.seed).fit(extract_features(model, images, cfg, torch.device("cpu")))
    metrics = {"dataset": "synthetic", "threshold": 1.0, "threshold_source": f"synthetic:{n_fit}"}
    return save_bundle(TrialResult(metrics=metrics, config=cfg, scores={}, model=model, density=density), out)


def rate(fn, batch: int, seconds: float, iterations: int) -> float:
    """Images per second of ``fn()`` on a batch of ``batch`` (one warm-up call first)."""
    fn()
    t0, n = time.perf_counter(), 0
    while n < iterations or time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    cfg = TrialConfig(variant=args.variant, image_size=args.image_size, backbone=args.backbone,
                      pretrained="none", precision="fp32", threads=args.threads,
                      **({"patch_size": args.patch_size, "patch_stride": args.patch_stride}
                         if VARIANTS[args.variant].patch_level else {}))
    out: dict = {"variant": cfg.variant, "backbone": cfg.backbone, "image_size": cfg.image_size,
                 "threads": args.threads, "onnxruntime": ort.__version__, "torch": torch.__version__, "batches": {}}
    with tempfile.TemporaryDirectory() as d:
        bundle = make_bundle(cfg, Path(d) / "bundle")
        model = export_bundle(bundle, Path(d) / "model.onnx").path
        graph, outputs, _ = build_graph(load_bundle(bundle))
        graph_cl = copy.deepcopy(graph).to(memory_format=torch.channels_last)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        for batch in args.batches:
            x = synthetic_images(batch, cfg.image_size, torch.device("cpu")).permute(0, 2, 3, 1).contiguous()
            xn = x.numpy()

            def eager(module):
                def call():
                    with torch.inference_mode():
                        module(x)
                return call

            r_ort = rate(lambda: session.run(list(outputs), {"images": xn}), batch, args.seconds, args.iterations)
            r_pt = rate(eager(graph), batch, args.seconds, args.iterations)
            r_cl = rate(eager(graph_cl), batch, args.seconds, args.iterations)
            out["batches"][str(batch)] = {"onnxruntime_images_per_second": r_ort, "torch_eager_images_per_second": r_pt,
                                          "torch_eager_channels_last_images_per_second": r_cl,
                                          "speedup": r_ort / max(r_pt, r_cl)}
            print(f"batch {batch:3d}: onnxruntime {r_ort:9.1f} images/s   torch eager {r_pt:9.1f}   channels-last "
                  f"{r_cl:9.1f}   ({r_ort / max(r_pt, r_cl):.2f}x the faster eager)  [{cfg.variant}, {cfg.backbone}, "
                  f"{cfg.image_size}px, {args.threads} thread(s)]", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.deploy", description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--variant", default="cutpaste_3way", help="a *_patch variant times the maps too")
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--patch-size", type=int, default=32)
    ap.add_argument("--patch-stride", type=int, default=8)
    ap.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")], default=[1, 32])
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for both runtimes")
    ap.add_argument("--seconds", type=float, default=5.0, help="minimum time per measurement")
    ap.add_argument("--iterations", type=int, default=5, help="minimum batches per measurement")
    ap.add_argument("--json", action="store_true", help="stdout is one JSON object; readable lines on stderr")
    args = ap.parse_args(argv)
    if args.json:
        with contextlib.redirect_stdout(sys.stderr):
            result = measure(args)
        print(json.dumps(result))
        return 0
    measure(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
