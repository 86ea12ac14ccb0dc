"""The launcher's cost per trial: what ``bench.scale --launcher-trials``, ``--rss-trials`` and ``--demo`` measure.

- ``--launcher-trials N``: N near-zero-work trials through the real launcher (the only change:
  ``study.tune.trainable.trainable`` swapped for :func:`trivial_trainable`, which builds the
  real row and stages demo-sized side tables through the real ``final_report``), then N trials
  of Ray Tune's minimal function trainable (``def f(config): return {"x": 1}``) twice: with
  Tune's defaults, and with ``reuse_actors=True`` as the launcher runs. Trials per minute over
  each child process's wall time, and the per-trial overhead (:func:`slot_overheads`).
- ``--rss-trials N``: N tiny real trials (fine-tuned EfficientNet-Lite0 and its frozen control,
  64 px, 2 + 2 steps) in one reused actor (``--max-concurrent 1``); the actor's resident set
  size is read at the start of every trial (:func:`rss_trainable`), so "after k trials" is the
  reading at the start of trial k + 1.
- ``--demo``: the demo study (``python -m study.launch``, spec ``study/specs/demo.yaml``) in a
  fresh results folder: its wall time, and per-trial overhead of its fine-tuned trials and
  controls and the slot time of a control.

Per-trial overhead is slot time minus training minus evaluation. A trial's slot time runs from
the end of the previous trial its actor ran to its own end (``finished_at`` of the rows), so
everything between two trials (Tune's scheduling, resetting the actor, loading, building,
the embedding sample, staging the side tables, the row) is charged to the trial after it.
Which actor ran a trial comes from Ray Tune's own experiment state (the pid of its reports);
an actor's first trial has no previous end and is left out (its slot also holds the actor's
start, which the trials/min figures include).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

DEMO_EMBEDDINGS = (4, 32, 1280)   # kinds x embedding_sample (smoke) x EfficientNet-Lite0's pooled width
DEMO_HISTORY = 21                 # curve points of a 10 + 10-step fine-tune (one per step, and step 0)
RSS_BASE = "{variant: cutpaste_3way, backbone: efficientnet_lite0, pretrained: finetune, head_steps: 2, steps: 2, " \
           "image_size: 64, batch_size: 4, embedding_sample: 8}"
RSS_SPEC = """name: rss_bench
description: tiny real trials in one reused actor, for bench.scale --rss-trials
budget: smoke
base: {base}
controls: true
categories: all
seeds: {seeds}
resources: {{cpu: 1, gpu: 0}}
"""


def demo_tables(key: str, images: int, rng: np.random.Generator) -> dict[str, dict[str, list]]:
    """Side tables of a demo trial's size (scores of ``images`` test images, the embedding
    sample, the curve), with made-up values."""
    from study.results.paths import EMBEDDINGS, HISTORY, SCORES
    from trainables.metrics import HISTORY_METRICS
    kinds, per_kind, width = DEMO_EMBEDDINGS
    labels = (np.arange(images) >= images // 4).astype(int)
    return {
        SCORES: {"image_path": [f"test/{i:03d}.png" for i in range(images)], "label": labels.tolist(),
                 "defect_type": ["good" if l == 0 else "crack" for l in labels],
                 "score": rng.normal(size=images).tolist()},
        EMBEDDINGS: {"trial_key": [key] * kinds * per_kind,
                     "kind": [k for k in ("normal", "defect", "cutpaste", "scar")[:kinds] for _ in range(per_kind)],
                     "vector": rng.normal(size=(kinds * per_kind, width)).astype(np.float32).tolist()},
        HISTORY: {"trial_key": [key] * DEMO_HISTORY, "step": list(range(DEMO_HISTORY)),
                  **{m: rng.uniform(0, 1, DEMO_HISTORY).tolist() for m in HISTORY_METRICS if m != "step"}},
    }


def trivial_trainable(config: dict[str, Any]) -> None:
    """The launcher's trial with no work: the real row (``make_row``, provenance included) and
    demo-sized side tables, staged and reported by the real ``final_report``."""
    from study.results.schema import OK
    from study.tune.jobs import resolve
    from study.tune.trainable import final_report, make_row
    job, cfg, key = resolve(config)
    metrics = {"image_auc": 0.5, "train_seconds": 0.0, "eval_seconds": 0.0, "device": "cpu"}
    row = make_row(job, cfg, key, metrics, OK, dt.datetime.now(dt.timezone.utc))
    final_report(job, key, metrics, row, demo_tables(key, 100, np.random.default_rng(cfg.seed)))


def rss_now_mb() -> float:
    """This process's resident set size now (not its peak), from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_trainable(config: dict[str, Any]) -> None:
    """The real trainable, after appending ``pid rss_mb`` to ``$BENCH_RSS_FILE``."""
    from study.tune.trainable import trainable
    with open(os.environ["BENCH_RSS_FILE"], "a") as f:
        f.write(f"{os.getpid()} {rss_now_mb():.1f}\n")
    trainable(config)


def tune_minimum(config: dict[str, Any]) -> dict[str, int]:
    return {"x": 1}


def slot_overheads(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per trial that followed another in the same actor (``actor``: the process that ran it):
    ``slot_s``, from that trial's end to its own, and ``overhead_s``, that minus training and
    evaluation; in start order. An actor's first trial is left out (its start is the actor's)."""
    out, last_end = [], {}
    for r in sorted(rows, key=lambda r: r["started_at"]):
        end = r["finished_at"].timestamp()
        since = last_end.get(r["actor"])
        if since is not None:
            slot = end - since
            work = (r.get("train_seconds") or 0.0) + (r.get("eval_seconds") or 0.0)
            out.append({"trial_key": r["trial_key"], "slot_s": slot, "overhead_s": slot - work,
                        "control": bool(r.get("control"))})
        last_end[r["actor"]] = end
    return out


def actors(results: str) -> dict[str, str]:
    """Trial key -> the actor (node and pid) that ran its last attempt, from Ray Tune's own
    experiment state under ``<results>/ray`` (every report carries the reporting pid)."""
    out = {}
    for state in Path(results, "ray").rglob("experiment_state*.json"):
        for _, meta in json.loads(state.read_text())["trial_data"]:
            last = json.loads(meta).get("last_result") or {}
            row = last.get("row") or {}
            if row.get("trial_key") and last.get("pid"):
                out[row["trial_key"]] = f"{last.get('node_ip')}:{last['pid']}"
    return out


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"median_s": round(float(np.median(values)), 3), "p90_s": round(float(np.quantile(values, 0.9)), 3),
            "n": len(values)}


def study_rows(results: str) -> list[dict[str, Any]]:
    """The run's ``ok`` rows, each with ``control`` and ``actor`` (:func:`actors`)."""
    from study.controls import is_control
    from study.results.sink import read_trials
    df = read_trials(results)
    ran = actors(results)
    rows = df[df["status"] == "ok"].to_dict("records")
    for r in rows:
        r["control"], r["actor"] = is_control(r), ran.get(r["trial_key"], r["trial_key"])
    return rows


def overheads(results: str) -> dict[str, Any]:
    """Median and p90 of per-trial overhead of a finished run (all, trained, controls) and a
    control's slot time."""
    per = slot_overheads(study_rows(results))
    return {"actors": len({r["actor"] for r in study_rows(results)}), "overhead": quantiles([p["overhead_s"] for p in per]),
            "overhead_trained": quantiles([p["overhead_s"] for p in per if not p["control"]]),
            "overhead_control": quantiles([p["overhead_s"] for p in per if p["control"]]),
            "control_slot": quantiles([p["slot_s"] for p in per if p["control"]])}


def child(what: str, rest: list[str], out: dict[str, Any]) -> None:
    """A launcher phase in this (fresh) process: ``launcher``, ``rss``, ``demo`` (study.launch
    arguments follow) or ``tune``/``tune_reused`` (trials, storage folder)."""
    if what in ("launcher", "rss"):
        import study.tune.trainable
        study.tune.trainable.trainable = trivial_trainable if what == "launcher" else rss_trainable
    if what in ("launcher", "rss", "demo"):
        from study.launch import main
        out["rc"] = main(rest)
        return
    import ray
    from ray import tune
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    tune.Tuner(tune_minimum, param_space={"i": tune.grid_search(list(range(int(rest[0]))))},
               tune_config=tune.TuneConfig(reuse_actors=what == "tune_reused"),
               run_config=tune.RunConfig(storage_path=rest[1], verbose=0)).fit()


def phases(out: dict[str, Any], spec: Path, data: Path, folder: Path, trials: int, per_run_seeds: Callable[[int], int],
           run: Callable[[list[str]], dict[str, Any]], me: list[str]) -> None:
    """``--launcher-trials``: the launcher's trivial trials, then Tune's minimum both ways."""
    seeds = per_run_seeds(trials)
    results = str(folder / "launcher")
    out["launcher"] = run(me + ["launcher", "--study", str(spec), "--data-root", str(data), "--results", results,
                                "--seeds", str(seeds)])
    rows = study_rows(results)
    m = out["launcher"]["trials"] = len(rows)
    out["launcher"].update(overheads(results))
    out["launcher"]["experiment_state_mb"] = round(sum(
        p.stat().st_size for p in Path(results, "ray").rglob("experiment_state*.json")) / 2**20, 1)
    for name in ("tune_minimum", "tune_minimum_reused"):
        out[name] = run(me + [name.replace("_minimum", ""), str(m), str(folder / name)])
        out[name]["trials"] = m
    for k in ("launcher", "tune_minimum", "tune_minimum_reused"):
        out[k]["trials_per_minute"] = round(m / out[k]["wall_s"] * 60, 1)
    out["launcher"]["share_of_tune_minimum"] = round(out["launcher"]["trials_per_minute"]
                                                     / out["tune_minimum"]["trials_per_minute"], 3)


def rss_phase(out: dict[str, Any], folder: Path, trials: int, run: Callable[[list[str]], dict[str, Any]],
              me: list[str]) -> None:
    """``--rss-trials``: the actor's RSS after 10 and after ``trials`` reused trials, on two
    generated categories (12 train images, 15 test images each, as the tests' dataset)."""
    from trainables.data.generated import SynthSpec, generate_dataset
    data = generate_dataset(folder / "rss_data", SynthSpec(seed=0, image_size=64, n_train=12, n_test_good=6,
                                                          n_per_defect=3), categories=("carpet", "bottle"),
                            workers=1, verbose=False)
    per_seed = 2 * 2                                     # a fine-tune and its control per category
    spec = folder / "rss_bench.yaml"
    spec.write_text(RSS_SPEC.format(base=RSS_BASE, seeds=-(-(trials + 1) // per_seed)))
    rss_file = folder / "rss.txt"
    os.environ["BENCH_RSS_FILE"] = str(rss_file)
    out["rss"] = run(me + ["rss", "--study", str(spec), "--data-root", str(data), "--results",
                           str(folder / "rss"), "--max-concurrent", "1"])
    readings = [line.split() for line in rss_file.read_text().splitlines()]
    pids = {p for p, _ in readings}
    mb = [float(v) for _, v in readings]
    out["rss"].update(trials=len(mb), actors=len(pids), rss_after_10_mb=mb[10] if len(mb) > 10 else None,
                      rss_after_n_mb=mb[trials] if len(mb) > trials else mb[-1], n=min(trials, len(mb) - 1),
                      rss_mb_every_10=mb[::10])
    if out["rss"]["rss_after_10_mb"]:
        out["rss"]["growth_10_to_n"] = round(out["rss"]["rss_after_n_mb"] / out["rss"]["rss_after_10_mb"] - 1, 4)


def demo_phase(out: dict[str, Any], folder: Path, run: Callable[[list[str]], dict[str, Any]], me: list[str]) -> None:
    """``--demo``: the default study, timed, with its per-trial overheads."""
    results = str(folder / "demo")
    t0 = time.perf_counter()
    out["demo"] = run(me + ["demo", "--results", results])
    out["demo"]["study_s"] = round(time.perf_counter() - t0, 1)
    rows = study_rows(results)
    out["demo"].update(overheads(results), trials=len(rows),
                       train_s=quantiles([r["train_seconds"] for r in rows if not r["control"]]),
                       eval_s=quantiles([r["eval_seconds"] for r in rows]))
