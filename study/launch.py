"""``python -m study.launch``: run a study on Ray Tune, one Parquet row per finished trial.

Parse the command line, plan the study (``study.plan``: spec, dataset, trials, nothing
started yet), then dispatch it: a grid to Ray Tune here, a search to ``study.search``;
both start Ray through ``study.runtime``. Default: the ``demo`` study on the generated
dataset, on an embedded local Ray sized to this machine. Re-running the same command with
the same ``--results`` resumes: trials whose key already has an ``ok`` row are skipped.
"""
from __future__ import annotations

import argparse
import sys
import time

from study.lock import StudyLocked, study_lock
from study.paths import ResultsLocationError, check_writable
from study.plan import Plan, describe_models, make_plan, projected_cost
from study.runtime import RunOptions, job, start_ray, tuner
from study.schema import FAILED, OK
from study.sink import done_keys, read_trials
from study.spec import SpecError, TrialSpec
from trainables.config import BUDGETS, ConfigError
from trainables.errors import DatasetError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m study.launch", description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="demo", help="built-in study name or a YAML path (default: demo)")
    ap.add_argument("--data-root", default=None,
                    help="dataset root: MVTec AD, VisA, MVTec LOCO AD or MVTec AD 2 layout (default: generated)")
    ap.add_argument("--categories", default=None, help="comma list (default: the spec's, 'all')")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the spec's)")
    ap.add_argument("--budget", choices=BUDGETS, default=None, help="default: the spec's")
    ap.add_argument("--results", default="results", help="results folder or URI (default: ./results)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field in every trial (repeatable)")
    ap.add_argument("--cluster", action="store_true", help="attach to an existing Ray cluster")
    ap.add_argument("--address", default=None, help="Ray address for --cluster (default: RAY_ADDRESS or auto)")
    ap.add_argument("--max-concurrent", type=int, default=0, help="cap on concurrent trials (0: resources decide)")
    ap.add_argument("--report", default=None, metavar="PATH",
                    help="HTML study report, rewritten after every finished trial (python -m analysis report)")
    ap.add_argument("--tensorboard", default=None, metavar="DIR",
                    help="write each trial's learning curves as a TensorBoard run under DIR (extra: tracking)")
    ap.add_argument("--mlflow", default=None, metavar="URI",
                    help="log each trial to MLflow at URI: an experiment per study, a run per trial (extra: mlflow)")
    ap.add_argument("--dry-run", action="store_true", help="print trial count and projected cost, start nothing")
    return ap.parse_args(argv)


def run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(results=args.results, data_root=args.data_root, cluster=args.cluster,
                      address=args.address, max_concurrent=args.max_concurrent, report=args.report,
                      tensorboard=args.tensorboard, mlflow=args.mlflow)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from study.cluster import ClusterError, probe, resolve_address
    from study.tracking import TrackingError, check_available
    try:
        if not args.dry_run:
            check_writable(args.results)             # before Ray starts or anything is written
            check_available(args.tensorboard, args.mlflow)
        if args.cluster and not args.dry_run:
            probe(resolve_address(args.address))     # before any slow planning: fail in seconds
        if not args.dry_run:
            print(f"[study] planning '{args.study}': reading the spec and the dataset "
                  f"({args.data_root or 'generated on first use'}) ...", flush=True)
        plan = make_plan(args.study, args.data_root, args.categories, args.seeds, args.budget, args.sets)
    except (SpecError, ConfigError, DatasetError, ClusterError, ResultsLocationError, TrackingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.data_root is not None:      # a generated dataset's name ("photo") becomes its folder
        args.data_root = str(plan.root)
    spec = plan.spec
    print(f"[study] {spec.name} ({plan.budget} budget) on {plan.root}: {plan.count()}, "
          f"resources per trial {spec.resources}", flush=True)
    print(f"[study] models:\n{describe_models(plan.projected_trials())}", flush=True)
    if args.dry_run:
        print(f"trials: {len(plan.projected_trials())}")
        print(f"resources per trial: {spec.resources}")
        print(projected_cost(plan.projected_trials(), spec.resources))
        return 0
    try:
        with study_lock(args.results, spec.name):    # one writer per study and results; before Ray
            if dispatch(plan, run_options(args)):
                compact_if_large(args.results, spec.name)  # still under the lock: nothing else writes
    except (SpecError, ClusterError, StudyLocked) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def dispatch(plan: Plan, opts: RunOptions) -> int:
    """Run what the plan says: the searches, or the grid trials not yet done; returns how many
    trials it started."""
    t0 = time.perf_counter()
    if plan.is_search:
        from study.search import run_search
        run_search(plan.spec, plan.trials, opts, plan.budget)
        ran = len(plan.projected_trials())
    else:
        from study.study_meta import write_study_meta
        write_study_meta(opts.results, plan.spec, plan.budget)
        done = done_keys(opts.results)
        todo = [t for t in plan.trials if t.trial_key not in done]
        print(f"[study] {len(plan.trials) - len(todo)} already done (skipped), {len(todo)} to run; "
              f"results in {opts.results}", flush=True)
        t0 = time.perf_counter()
        ran = len(todo)
        if todo:
            run_tune(plan, todo, opts)
    print(f"\n[study] finished in {time.perf_counter() - t0:.0f}s\n{summary(opts.results, plan.spec.name)}")
    if not plan.is_search:
        print(f"[study] results: {opts.results}/trials (pandas.read_parquet)")
    if opts.report:                 # the final page: every row, and no more reloading
        from study.report_refresh import write_now
        if write_now(opts.results, opts.report):
            print(f"[study] report: {opts.report}", flush=True)
    return ran


# Trials per Ray Tune run. Tune keeps every trial of a run in its driver and rewrites the
# run's experiment state with all of them as it goes, so a run's bookkeeping grows with its
# size; its maintainers describe hundreds of trials per experiment as the practical range.
# A larger grid is split into runs of this many behind the same command and results (one
# Ray session; resume works across them, since each finished trial writes its own row). The
# cost is one tail per run where slots idle while its last trials finish: at most one trial's
# duration per 500 trials. README "Scale" has the measurement.
TRIALS_PER_RUN = 500


AUTO_COMPACT = 1000   # per-trial files of a study above which the launcher compacts it at the end


def compact_if_large(results: str, study: str) -> None:
    """A study that left many small files is merged (``study.compact``) so its next resume and
    every analysis read open a few files; small studies keep their readable per-trial files."""
    from study.compact import compact_folder
    from study.sink import TABLES, list_files
    if sum(not f.is_part for f in list_files(results, "trials", study)) >= AUTO_COMPACT:
        print(f"[study] compacting {study}'s per-trial files (python -m study.compact)", flush=True)
        for kind in (*TABLES[1:], TABLES[0]):
            compact_folder(results, kind, study)


def run_tune(plan: Plan, todo: list[TrialSpec], opts: RunOptions) -> None:
    """A grid study: every remaining trial key once, in Tune runs of at most TRIALS_PER_RUN."""
    from ray import tune
    resources = start_ray(opts, plan.spec.resources)
    jobs = [job(opts, resources, t.study, t.config, t.trial_key, plan.budget) for t in todo]
    runs = [jobs[i:i + TRIALS_PER_RUN] for i in range(0, len(jobs), TRIALS_PER_RUN)]
    for n, part in enumerate(runs, 1):
        name = plan.spec.name if len(runs) == 1 else f"{plan.spec.name}-run{n}of{len(runs)}"
        if len(runs) > 1:
            print(f"[study] Tune run {n}/{len(runs)}: {len(part)} trials", flush=True)
        tuner(name, {"trial": tune.grid_search(part)}, opts, resources, len(part)).fit()


def summary(results: str, study: str) -> str:
    """Per category and configuration, trained trials and controls apart (a control is the
    same encoder untrained or ImageNet-frozen; pooling the two would hide the comparison)."""
    from study.controls import control_kind, is_control
    # only what the summary shows: at 10,000 per-trial files every column read costs seconds
    df = read_trials(results, columns=("study", "status", "category", "variant", "image_auc", "pretrained",
                                       "steps", "head_steps"))
    if df.empty:
        return "no results yet"
    df = df[df["study"] == study]
    ok = df[df["status"] == OK]
    ok = ok.assign(what=[f"control: {control_kind(r)}" if is_control(r) else r["variant"]
                         for r in ok.to_dict("records")])
    lines = [f"{'category':<14s} {'trained / control':<26s} {'n':>3s} {'image_auc':>10s}"]
    for (cat, what), g in ok.groupby(["category", "what"]):
        lines.append(f"{cat:<14s} {what:<26s} {len(g):3d} {g['image_auc'].mean():10.4f}")
    for what, g in ok.groupby("what"):
        lines.append(f"{'mean':<14s} {what:<26s} {len(g):3d} {g['image_auc'].mean():10.4f}")
    failed = df[df["status"] == FAILED]
    if len(failed):
        lines.append(f"{len(failed)} failed trial(s); see the 'error' column")
    return "\n".join(lines) + "\n[study] tables with controls and tests: python -m analysis tables --results " + results


if __name__ == "__main__":
    raise SystemExit(main())
