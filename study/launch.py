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
    ap.add_argument("--data-root", default=None, help="dataset in MVTec layout (default: generated)")
    ap.add_argument("--categories", default=None, help="comma list (default: the spec's, 'all')")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the spec's)")
    ap.add_argument("--budget", choices=BUDGETS, default=None, help="default: the spec's")
    ap.add_argument("--results", default="results", help="results folder or URI (default: ./results)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field in every trial (repeatable)")
    ap.add_argument("--cluster", action="store_true", help="attach to an existing Ray cluster")
    ap.add_argument("--address", default=None, help="Ray address for --cluster (default: RAY_ADDRESS or auto)")
    ap.add_argument("--max-concurrent", type=int, default=0, help="cap on concurrent trials (0: resources decide)")
    ap.add_argument("--dry-run", action="store_true", help="print trial count and projected cost, start nothing")
    return ap.parse_args(argv)


def run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(results=args.results, data_root=args.data_root, cluster=args.cluster,
                      address=args.address, max_concurrent=args.max_concurrent)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from study.cluster import ClusterError, probe, resolve_address
    try:
        if not args.dry_run:
            check_writable(args.results)             # before Ray starts or anything is written
        if args.cluster and not args.dry_run:
            probe(resolve_address(args.address))     # before any slow planning: fail in seconds
        plan = make_plan(args.study, args.data_root, args.categories, args.seeds, args.budget, args.sets)
    except (SpecError, ConfigError, DatasetError, ClusterError, ResultsLocationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
        dispatch(plan, run_options(args))
    except (SpecError, ClusterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def dispatch(plan: Plan, opts: RunOptions) -> None:
    """Run what the plan says: the searches, or the grid trials not yet done."""
    t0 = time.perf_counter()
    if plan.is_search:
        from study.search import run_search
        run_search(plan.spec, plan.trials, opts, plan.budget)
    else:
        from study.study_meta import write_study_meta
        write_study_meta(opts.results, plan.spec, plan.budget)
        done = done_keys(opts.results)
        todo = [t for t in plan.trials if t.trial_key not in done]
        print(f"[study] {len(plan.trials) - len(todo)} already done (skipped), {len(todo)} to run; "
              f"results in {opts.results}", flush=True)
        t0 = time.perf_counter()
        if todo:
            run_tune(plan, todo, opts)
    print(f"\n[study] finished in {time.perf_counter() - t0:.0f}s\n{summary(opts.results, plan.spec.name)}")
    if not plan.is_search:
        print(f"[study] results: {opts.results}/trials (pandas.read_parquet)")


def run_tune(plan: Plan, todo: list[TrialSpec], opts: RunOptions) -> None:
    """A grid study: every remaining trial key once."""
    from ray import tune
    resources = start_ray(opts, plan.spec.resources)
    jobs = [job(opts, resources, t.study, t.config, t.trial_key, plan.budget) for t in todo]
    tuner(plan.spec.name, {"trial": tune.grid_search(jobs)}, opts, resources, len(jobs)).fit()


def summary(results: str, study: str) -> str:
    """Per category and configuration, trained trials and controls apart (a control is the
    same encoder untrained or ImageNet-frozen; pooling the two would hide the comparison)."""
    from study.controls import control_kind, is_control
    df = read_trials(results)
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
