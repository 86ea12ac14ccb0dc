"""A control trial at the demo budget, warm: ``python -m bench.control [--category bottle] [--repeats 5]``.

The demo's control of one category (``study/specs/demo.yaml`` expanded as the launcher expands
it: the ImageNet-frozen EfficientNet-Lite0 + GDE, no training) runs through the real entry
(``trainables.trial.run_trial``) and then writes its result as the Ray trainable does (the row,
and the side tables staged by ``study.results.staging``), ``--repeats`` times in one process
after one unmeasured run, as a reused Ray worker runs trial after trial: imports done, ImageNet
weights and the decoded category already cached (``trainables.worker``). One thread, as the
demo's one-CPU trials. Each run's wall and process-CPU seconds, their medians, and where the
time goes: the functions the trial calls, timed where they are looked up (the same functions,
wrapped for the measured runs only), as a tree of inclusive seconds. ``--profile FILE`` also
writes a cProfile of one more run (not among the measured ones).

CPU seconds are the honest figure on a shared machine: wall time grows with other processes'
load, CPU time much less. Time it on the slower kind of CPU with ``ATEN_CPU_CAPABILITY=avx2``
(and ``precision: fp32``, which this sets unless ``--precision``).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable

# (module, attribute, phase name): what run_trial and the trainable call, where they look it up
PHASES = (
    ("trainables.trial", "resolve_data_root", "load: data root"),
    ("trainables.trial", "load_category", "load: category"),
    ("trainables.trial", "start_training", "encoder build"),
    ("trainables.trial", "evaluate", "evaluate"),
    ("trainables.evaluate.pipeline", "extract_features", "embed test"),
    ("trainables.evaluate.pipeline", "score_images", "GDE: embed train, fit, score"),
    ("trainables.evaluate.image", "extract_features", "embed"),
    ("trainables.evaluate.pipeline", "crossfit_null_stats", "null stats (cross-fit)"),
    ("trainables.evaluate.pipeline", "val_auc", "val_auc"),
    ("trainables.evaluate.pipeline", "defective_copies", "draw defects"),
    ("trainables.evaluate.pipeline", "threshold_metrics", "threshold"),
    ("trainables.evaluate.pipeline", "auc_by_defect", "metrics: per defect"),
    ("trainables.evaluate.pipeline", "detection_metrics", "metrics: AP, F1-max"),
    ("trainables.trial", "embedding_sample", "embedding sample"),
    ("trainables.evaluate.samples", "extract_features", "embed"),
    ("trainables.trial", "heatmap_rows", "heatmap rows"),
)
METHODS = (("trainables.models.density", "DensityEstimator", "fit", "density fit"),
           ("trainables.models.density", "DensityEstimator", "score", "density score"),
           ("trainables.train.loop", "Trainer", "train_until", "train (0 steps)"))


class Tree:
    """Inclusive wall and CPU seconds per call path (``evaluate/embed``), summed over calls."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, fn: Callable, name: str) -> Callable:
        def timed(*args, **kwargs):
            self.stack.append(name)
            path = "/".join(self.stack)
            w, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[path] += time.perf_counter() - w
                self.cpu[path] += time.process_time() - c
                self.calls[path] += 1
                self.stack.pop()
        return timed


@contextmanager
def timed_phases(tree: Tree):
    """Wrap every function in ``PHASES`` and ``METHODS`` with ``tree``'s timer; unwrap after."""
    import importlib
    undo = []
    for mod_name, attr, name in PHASES:
        mod = importlib.import_module(mod_name)
        undo.append((mod, attr, getattr(mod, attr)))
        setattr(mod, attr, tree.wrap(getattr(mod, attr), name))
    for mod_name, cls_name, attr, name in METHODS:
        cls = getattr(importlib.import_module(mod_name), cls_name)
        undo.append((cls, attr, getattr(cls, attr)))
        setattr(cls, attr, tree.wrap(getattr(cls, attr), name))
    try:
        yield
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)


def demo_control(category: str, precision: str) -> tuple[str, dict[str, Any]]:
    """(trial key, config) of the demo's control trial of ``category``, as the launcher builds it."""
    from study.controls import is_control
    from study.spec import expand, load_spec
    spec = load_spec("demo")
    trial = next(t for t in expand(spec, [category]) if is_control(t.config))
    return trial.trial_key, {**trial.config, "threads": 1, "precision": precision}


def one_trial(key: str, config: dict[str, Any], results: str) -> dict[str, Any]:
    """The trial, then its row and staged side tables as ``study.tune.trainable`` writes them."""
    import datetime as dt
    from study.results.paths import EMBEDDINGS, HEATMAPS, HISTORY, SCORES
    from study.results.schema import OK, C
    from study.results.staging import stage
    from study.tune.trainable import make_row
    from trainables.config import TrialConfig
    from trainables.trial import run_trial
    cfg = TrialConfig.from_dict(config)
    started = dt.datetime.now(dt.timezone.utc)
    result = run_trial(cfg)
    w, c = time.perf_counter(), time.process_time()
    m = result.metrics
    make_row({"study": "demo", "budget": "smoke"}, cfg, key, m, OK, started)
    stage(results, "demo", key, {
        SCORES: result.scores, EMBEDDINGS: result.embedding_rows(key),
        HEATMAPS: {C.trial_key: [key] * len(result.heatmaps.get(C.kind, [])), **result.heatmaps},
        HISTORY: result.history_columns(key)})
    return {"image_auc": m["image_auc"], "null_score_mean": m.get("null_score_mean"), "val_auc": m.get("val_auc"),
            "write_wall_s": time.perf_counter() - w, "write_cpu_s": time.process_time() - c}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.control", description=__doc__.splitlines()[0])
    ap.add_argument("--category", default="bottle")
    ap.add_argument("--repeats", type=int, default=5, help="measured warm runs after one unmeasured run")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--profile", default=None, metavar="FILE", help="cProfile of one more run, not measured")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import torch
    key, config = demo_control(args.category, args.precision)
    runs, tree = [], Tree()
    with tempfile.TemporaryDirectory() as results:
        one_trial(key, config, results)                      # cold: imports, weights, category cache
        for _ in range(args.repeats):
            w, c = time.perf_counter(), time.process_time()
            with timed_phases(tree):
                out = one_trial(key, config, results)
            runs.append({"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c, **out})
            tree.wall["result writing"] += out["write_wall_s"]
            tree.cpu["result writing"] += out["write_cpu_s"]
            tree.calls["result writing"] += 1
        if args.profile:                                     # one more run, not among the measured
            prof = cProfile.Profile()
            prof.runcall(one_trial, key, config, results)
            prof.dump_stats(args.profile)
    n = len(runs)

    def say(line: str) -> None:               # readable lines to stderr under --json
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)
    say(f"{'phase (mean per run, inclusive)':<60s} {'wall s':>7s} {'cpu s':>7s} {'calls':>5s}")
    for path in sorted(tree.wall, key=lambda p: [-tree.wall[p.split('/')[0]], p]):
        label = "  " * path.count("/") + path.split("/")[-1]
        say(f"{label:<60s} {tree.wall[path] / n:7.3f} {tree.cpu[path] / n:7.3f} {tree.calls[path] // n:5d}")
    for r in runs:
        say(f"run: {r['wall_s']:.3f} s wall, {r['cpu_s']:.3f} s CPU, image_auc {r['image_auc']!r}, "
            f"null_score_mean {r['null_score_mean']!r}, val_auc {r['val_auc']!r}")
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s")}
    say(f"median of {n} warm runs: {med['wall_s']:.2f} s wall, {med['cpu_s']:.2f} s process CPU "
        f"({config['category']}, {config['image_size']} px, {config['precision']}, 1 thread, "
        f"cpu capability {torch.backends.cpu.get_cpu_capability()})")
    if args.json:
        print(json.dumps({"key": key, "config": config, "runs": runs, "median": med,
                          "phases": {p: {"wall_s": tree.wall[p] / n, "cpu_s": tree.cpu[p] / n} for p in tree.wall}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
