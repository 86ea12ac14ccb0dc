"""``python -m bench.scale --trials 10000 [--launcher-trials 500] [--json]``: a study at scale.

Not a timed test: a measurement for README's "Scale" section. In a temporary folder it
1. writes ``--trials`` synthetic trials of a real grid spec (real keys from
   ``study.spec.expand``, real rows from ``study.results.schema.trial_row``, written by the real
   ``study.results.sink.ResultsSink``; only the metric values are made up), with ``--images``
   scores and a short history per trial;
2. times what ``analysis tables`` reads (every trial row and its scores), before and after
   ``study.compact``, each in a fresh process, then the whole ``python -m analysis tables``
   and ``python -m analysis report`` commands on the compacted results (imports included);
3. times ``study.launch --dry-run`` (planning) and a rerun with every key done (resume);
4. runs ``--launcher-trials`` near-zero-work trials through the real launcher and the same
   number of Ray Tune's minimal function trainable, reporting trials per minute, per-trial
   overhead (median, p90) and the driver's peak RSS; ``--rss-trials`` and ``--demo`` measure a
   reused actor's memory and the demo study (``bench.launcher`` says how).
Each phase reports wall time and the CPU time of its process (the machine may be shared).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from bench import launcher

SPEC = """name: scale_bench
description: a synthetic {n}-trial grid for bench.scale (lr axis x categories x seeds)
budget: smoke
base: {{variant: cutpaste, backbone: resnet18, pretrained: none, steps: 1, image_size: 32, batch_size: 2}}
axes:
  lr: [{lrs}]
controls: false
categories: all
seeds: {seeds}
resources: {{cpu: 1, gpu: 0}}
"""
CATEGORIES = ("carpet", "bottle")
LAUNCHER_CHILDREN = ("launcher", "rss", "demo", "tune", "tune_reused")
LRS = 50   # lr values of the grid: 10,000 trials = 50 lr x 2 categories x 100 seeds


def write_spec(folder: Path, trials: int) -> Path:
    seeds = max(1, trials // (LRS * len(CATEGORIES)))
    path = folder / "scale_bench.yaml"
    path.write_text(SPEC.format(n=trials, seeds=seeds, lrs=", ".join(f"{0.001 * (i + 1):g}" for i in range(LRS))))
    return path


def small_dataset(folder: Path) -> Path:
    from trainables.data.generated import SynthSpec, generate_dataset
    spec = SynthSpec(seed=0, image_size=32, n_train=4, n_test_good=2, n_per_defect=1)
    return generate_dataset(folder / "data", spec, categories=CATEGORIES, workers=1, verbose=False)


def _metric(name: str, typ: Any, rng: np.random.Generator) -> Any:
    import pyarrow as pa
    if pa.types.is_floating(typ):
        return float(rng.uniform(0.5, 1.0))
    if pa.types.is_map(typ):
        return {"crack": float(rng.uniform(0.5, 1.0)), "hole": float(rng.uniform(0.5, 1.0))}
    if pa.types.is_string(typ):
        return "synthetic"
    return None


def synthetic_result(study: str, config: dict[str, Any], key: str, images: int, rng: np.random.Generator,
                     budget: str = "smoke") -> tuple[dict, dict, dict]:
    """(row, scores, history) of one trial as the launcher would write them; values are random."""
    from study.results.schema import COLUMN_TYPES, OK, TRIAL_METRICS, trial_row
    from trainables.config import TrialConfig
    from trainables.metrics import HISTORY_METRICS
    metrics = {m: _metric(m, COLUMN_TYPES.get(m), rng) for m in TRIAL_METRICS}
    metrics.update(device="cpu", dataset="generated@synthetic")
    now = dt.datetime.now(dt.timezone.utc)
    row = trial_row(study, TrialConfig.from_dict(config), key, metrics, OK, now, budget=budget,
                    context={"node_id": "n0", "hostname": platform.node(), "code_version": "bench",
                             "torch_version": "-", "ray_version": "-"})
    labels = (np.arange(images) >= images // 4).astype(int)
    scores = {"image_path": [f"{config['category']}/test/{'good' if l == 0 else 'crack'}/{i:03d}.png"
                             for i, l in enumerate(labels)],
              "label": labels.tolist(), "defect_type": ["good" if l == 0 else "crack" for l in labels],
              "score": (rng.normal(size=images) + labels).tolist()}
    history = {"trial_key": [key] * 3, "step": [1, 2, 3],
               **{m: rng.uniform(0, 1, 3).tolist() for m in HISTORY_METRICS if m != "step"}}
    return row, scores, history


def write_synthetic(results: str, trials: Iterable[tuple[str, str, dict[str, Any]]], images: int = 100,
                    seed: int = 0, history: bool = True, workers: int = 1) -> int:
    """Write (study, key, config) trials through the real sink; returns how many. ``workers``
    threads write distinct trials at once (the launcher's one driver writes them in turn)."""
    from concurrent.futures import ThreadPoolExecutor

    from study.results.sink import ResultsSink
    sink, rng = ResultsSink(results), np.random.default_rng(seed)
    made = [synthetic_result(study, config, key, images, rng) for study, key, config in trials]
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda r: sink.write_trial(r[0], r[1], history=r[2] if history else None), made))
    return len(made)


def _child(argv: list[str]) -> int:
    """A phase in a fresh process: its wall and CPU time and peak RSS as one JSON line."""
    what, rest = argv[0], argv[1:]
    t0, c0 = time.perf_counter(), time.process_time()
    out: dict[str, Any] = {}
    if what == "read":
        from study.results.sink import read_scores, read_trials
        out["trials"], out["scores"] = len(read_trials(rest[0])), len(read_scores(rest[0]))
    elif what in LAUNCHER_CHILDREN:
        launcher.child(what, rest, out)
    out.update(wall_s=round(time.perf_counter() - t0, 2), cpu_s=round(time.process_time() - c0, 2),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    print("BENCH " + json.dumps(out), flush=True)
    return 0


def _run(args: list[str], timeout: float = 1800) -> dict[str, Any]:
    """A child process (``bench.scale --child``) or a command; wall time, children's CPU time."""
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    lines = [json.loads(x[6:]) for x in p.stdout.splitlines() if x.startswith("BENCH ")]
    return {**(lines[-1] if lines else {}), "process_wall_s": round(wall, 2),
            "process_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "stdout": p.stdout}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                flags = Path("/proc/cpuinfo").read_text()
                extra = [f for f in ("avx512_bf16", "amx_tile", "avx2") if f" {f}" in flags]
                return line.split(":", 1)[1].strip() + (f" ({', '.join(extra)})" if extra else "")
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench(trials: int, launcher_trials: int, images: int, folder: Path, rss_trials: int = 0,
          demo: bool = False) -> dict[str, Any]:
    from study.plan import make_plan
    me = [sys.executable, "-m", "bench.scale", "--child"]
    data, spec = small_dataset(folder), write_spec(folder, max(trials, launcher_trials))
    results = str(folder / "results")
    out: dict[str, Any] = {"trials": trials, "images_per_trial": images, "cpu": _cpu_name(),
                           "cores": os.cpu_count()}
    if trials:
        _results_phases(out, spec, data, results, images, me)
    if launcher_trials:
        _launcher_phases(out, spec, data, folder, launcher_trials, me)
    if rss_trials:
        launcher.rss_phase(out, folder, rss_trials, _run, me)
    if demo:
        launcher.demo_phase(out, folder, _run, me)
    return out


def _results_phases(out: dict[str, Any], spec: Path, data: Path, results: str, images: int,
                    me: list[str]) -> None:
    from study.plan import make_plan
    plan = make_plan(str(spec), str(data))
    t0, c0 = time.perf_counter(), time.process_time()
    n = write_synthetic(results, ((t.study, t.trial_key, t.config) for t in plan.trials), images)
    out["write"] = {"trials": n, "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1)}
    launch = [sys.executable, "-m", "study.launch", "--study", str(spec), "--data-root", str(data), "--results", results]
    out["plan_dry_run"] = _run(launch + ["--dry-run"])
    out["resume_all_done"] = _run(launch)
    out["read_before_compaction"] = _run(me + ["read", results])
    out["compact"] = _run([sys.executable, "-m", "study.compact", "--results", results])
    out["read_after_compaction"] = _run(me + ["read", results])
    out["analysis_tables"] = _run([sys.executable, "-m", "analysis", "tables", "--results", results])
    out["analysis_report"] = _run([sys.executable, "-m", "analysis", "report", "--results", results,
                                   "--out", str(Path(results).parent / "report.html")])
    out["resume_after_compaction"] = _run(launch)
    for k in ("resume_all_done", "resume_after_compaction"):
        out[k]["skipped_every_key"] = f"{n} already done (skipped), 0 to run" in out[k]["stdout"]


def _launcher_phases(out: dict[str, Any], spec: Path, data: Path, folder: Path, launcher_trials: int,
                     me: list[str]) -> None:
    launcher.phases(out, spec, data, folder, launcher_trials,
                    lambda n: max(1, n // (LRS * len(CATEGORIES))), _run, me)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--launcher-trials", type=int, default=500, help="0: skip the launcher overhead part")
    ap.add_argument("--rss-trials", type=int, default=0,
                    help="real tiny trials in one reused actor: its RSS after 10 and after this many (bench.launcher)")
    ap.add_argument("--demo", action="store_true", help="also run the demo study: its time and per-trial overhead")
    ap.add_argument("--images", type=int, default=100, help="scores rows per trial (MVTec AD: 83-167 test images)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temporary one)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        out = bench(args.trials, args.launcher_trials, args.images, folder, args.rss_trials, args.demo)
    for v in out.values():
        if isinstance(v, dict):
            v.pop("stdout", None)
    print(json.dumps(out, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
