"""Command line for one trial: ``python -m trainables.run --category bottle --variant cutpaste_3way``.

Prints image AUC, per-defect AUC and costs; ``--json`` adds one JSON object on the
last line for scripts: every metric a trial reports (``trainables.metrics.TRIAL_METRICS``:
``image_auc``, ``auc_by_defect``, ``image_ap``, ``image_f1_max``, ``pixel_ap``, ``aupro``,
the deployable ``threshold`` with its test rates, ``train_seconds``, ``eval_seconds``,
``images_per_second``, the ``null_score_*`` normalisation of the scores, ...; the same
names as the results columns) and the resolved ``config``. ``--save DIR`` writes the trial's
bundle (``trainables.deploy.bundle``) for ``python -m trainables.export``.
"""
from __future__ import annotations

import argparse
import json
import sys

from trainables.budgets import BUDGETS, effective_config
from trainables.config import ConfigError, TrialConfig, parse_set_args
from trainables.data import DatasetError, UnknownCategoryError, list_categories, resolve_data_root
from trainables.deploy.bundle import save_bundle
from trainables.metrics import TRIAL_METRICS
from trainables.trial import run_trial


def build_config(category: str, variant: str, budget: str, seed: int, sets: list[str]) -> TrialConfig:
    values = {"category": category, "variant": variant, "seed": seed}
    values.update(parse_set_args(sets))
    return effective_config(values, budget, where="trainables.run")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainables.run", description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None,
                    help="dataset in MVTec AD layout (default: the generated dataset, made once)")
    ap.add_argument("--category", required=True)
    ap.add_argument("--variant", default="cutpaste_3way")
    ap.add_argument("--budget", choices=BUDGETS, default="smoke")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override any config field, e.g. --set lr=0.1 (repeatable)")
    ap.add_argument("--save", default=None, metavar="DIR",
                    help="save the trial's bundle (encoder, density, threshold, config, metrics) to the folder DIR, "
                         "for python -m trainables.export")
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = ap.parse_args(argv)
    try:
        cfg = build_config(args.category, args.variant, args.budget, args.seed, args.sets)
        root = resolve_data_root(args.data_root)
        if cfg.category not in list_categories(root):
            raise UnknownCategoryError(f"--category '{cfg.category}' not found under {root}; "
                                       f"categories there: {list_categories(root)}")
        result = run_trial(cfg, data_root=root, verbose=True)
    except (ConfigError, DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    m = result.metrics
    print(f"category {cfg.category}  variant {cfg.variant}  budget {args.budget}  seed {cfg.seed}  "
          f"dataset {m['dataset']}")
    print(f"image AUC      {m['image_auc']:.4f}")
    for defect, auc in m["auc_by_defect"].items():
        print(f"  {defect:<22s} {auc:.4f}")
    if m.get("pixel_auc") is not None:
        print(f"pixel AUC      {m['pixel_auc']:.4f}")
    if m.get("val_auc") is not None:
        print(f"val AUC        {m['val_auc']:.4f}")
    print(f"image AP       {m['image_ap']:.4f}   F1-max {m['image_f1_max']:.4f} at score >= "
          f"{m['image_f1_threshold']:.4g} (chosen on the test set)")
    if m.get("aupro") is not None and m.get("pixel_ap") is not None:
        print(f"pixel AP       {m['pixel_ap']:.4f}   AUPRO (FPR <= 0.3) {m['aupro']:.4f}")
    if m.get("threshold") is not None:
        print(f"threshold      {m['threshold']:.4g} flags {m['threshold_heldout_fpr']:.1%} of held-out normals "
              f"({m['threshold_source']}; target {cfg.threshold_fpr:.1%}); on test: "
              f"TPR {m['threshold_test_tpr']:.1%}, FPR {m['threshold_test_fpr']:.1%}")
    print(f"train {m['train_seconds']:.1f}s  eval {m['eval_seconds']:.1f}s  "
          f"{m['images_per_second']:.0f} images/s on {m['device']}")
    if args.save:
        saved = save_bundle(result, args.save)
        print(f"bundle         {saved} (python -m trainables.export {saved} --out model.onnx)")
    if args.json:
        print(json.dumps({**{k: m.get(k) for k in TRIAL_METRICS}, "config": cfg.to_dict()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
