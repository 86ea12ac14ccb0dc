"""Where one trial's time goes: ``python -m bench.phases --category bottle [--set key=value ...]``.

Runs the pieces of ``trainables.trial.run_trial`` one after the other (the same functions,
not copies) and prints wall and process-CPU seconds of each phase, and how many images each
one passes through the network. CPU seconds are the honest figure when other processes
share the cores: wall time then grows with their load, CPU time much less. The demo's trials
run one thread each (``resources: cpu: 1``), so this runs one thread unless ``--threads``.
"""
from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager

import numpy as np
import torch

from trainables.augment import create_variant
from trainables.budgets import effective_config
from trainables.config import TrialConfig, parse_set_args
from trainables.data import load_category, resolve_data_root
from trainables.evaluate import embedding_sample, extract_features, split_train
from trainables.evaluate.crossfit import null_stats
from trainables.metrics import image_auc
from trainables.models import PRETRAINED_MODES
from trainables.models.density import DensityEstimator
from trainables.train import resolve_device
from trainables.trial import start_training


class PhaseClock:
    """Wall and process-CPU seconds per named phase, with the images each one passed."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    @contextmanager
    def phase(self, name: str, images: int = 0):
        w, c = time.perf_counter(), time.process_time()
        yield
        self.rows.append({"phase": name, "wall_s": time.perf_counter() - w,
                          "cpu_s": time.process_time() - c, "images": images})

    def table(self) -> str:
        lines = [f"{'phase':<34s} {'wall s':>8s} {'cpu s':>8s} {'images':>7s}"]
        for r in self.rows:
            lines.append(f"{r['phase']:<34s} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['images']:7d}")
        tw, tc = sum(r["wall_s"] for r in self.rows), sum(r["cpu_s"] for r in self.rows)
        lines.append(f"{'total':<34s} {tw:8.2f} {tc:8.2f} {sum(r['images'] for r in self.rows):7d}")
        return "\n".join(lines)


def profile_trial(cfg: TrialConfig, clock: PhaseClock) -> dict:
    """One trial, phase by phase; returns its image AUC."""
    device = resolve_device(cfg.device)
    root = resolve_data_root(None, verbose=False)
    with clock.phase("load category (cache)"):
        data = load_category(root, cfg.category, cfg.image_size)
    variant = create_variant(cfg.variant)
    fit_idx, _ = split_train(len(data.train), cfg.val_fraction, cfg.seed)
    with clock.phase("build model + load weights"):
        trainer = start_training(cfg, variant, data.train[fit_idx], device, None)
    start = 0
    for p in trainer.phases:
        n0 = trainer.trained_images
        with clock.phase(f"train: {p.name} ({p.steps} steps)"):
            trainer.train_until(start + p.steps)
        clock.rows[-1]["images"] = trainer.trained_images - n0
        start += p.steps
    model = trainer.model
    with clock.phase("features: test", len(data.test)):
        test_feats = extract_features(model, data.test, cfg, device)
    with clock.phase("features: train", len(fit_idx)):
        train_feats = extract_features(model, data.train[fit_idx], cfg, device)
    with clock.phase("GDE fit + score"):
        density = DensityEstimator(cfg.density, seed=cfg.seed).fit(train_feats)
        scores = density.score(test_feats)
        density.score(train_feats)

    def fit_score(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        return DensityEstimator(cfg.density, seed=cfg.seed).fit(fit).score(held)
    with clock.phase("null stats (5 cross-fitted GDEs)"):
        null_stats(train_feats, fit_score, "train_good", k=5, seed=cfg.seed)
    with clock.phase("embedding sample", min(cfg.embedding_sample, trainer.store.n)):
        embedding_sample(model, data, trainer.store, test_feats, cfg, device)
    return {"image_auc": image_auc(data.test_labels, scores), "train": len(fit_idx), "test": len(data.test)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.phases", description=__doc__.splitlines()[0])
    ap.add_argument("--category", default="bottle")
    ap.add_argument("--variant", default="cutpaste_3way")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    fine_tuning = next(name for name, mode in PRETRAINED_MODES.items() if mode.head_first)   # both phases
    ap.add_argument("--pretrained", default=fine_tuning, choices=list(PRETRAINED_MODES))
    ap.add_argument("--budget", default="smoke")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    values = {"category": args.category, "variant": args.variant, "backbone": args.backbone,
              "pretrained": args.pretrained, "threads": args.threads, **parse_set_args(args.sets)}
    cfg = effective_config(values, args.budget, where="bench.phases")
    torch.set_num_threads(cfg.threads)
    clock = PhaseClock()
    c0 = time.process_time()
    out = profile_trial(cfg, clock)
    print(clock.table())
    print(f"image AUC {out['image_auc']:.4f}  ({out['train']} train, {out['test']} test images, "
          f"{cfg.image_size}px, {cfg.precision}, {torch.get_num_threads()} thread(s), "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()})")
    if args.json:
        print(json.dumps({"config": cfg.to_dict(), "phases": clock.rows, **out,
                          "process_cpu_s": time.process_time() - c0}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
