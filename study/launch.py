"""``python -m study.launch``: run a study on Ray Tune, one Parquet row per finished trial.

Parse the command line, plan the study (``study.plan``: spec, dataset, trials, nothing
started yet), then dispatch it: the grid trials not yet done to ``study.tune.grid``, a search
to ``study.tune.search``; both start Ray through ``study.tune.runtime`` (this module does not
import Ray), and write through ``study.results``. Default: the ``demo`` study on the generated
dataset, on an embedded local Ray sized to this machine. Re-running the same command with
the same ``--results`` resumes: trials whose key already has an ``ok`` row are skipped.
"""
from __future__ import annotations

import argparse
import sys
import time

from study.plan import Plan, describe_models, make_plan, projected_cost
from study.results.compact import compact_if_large
from study.results.lock import StudyLocked, study_lock
from study.results.models import KEEP_POLICIES, ModelKeeper, default_policy
from study.results.paths import MODELS, TRIALS, ResultsLocationError, check_writable, folder, is_uri
from study.results.schema import FAILED, OK, C
from study.results.sink import done_keys, read_trials
from study.results.staging import sweep_staged
from study.results.study_meta import write_study_meta
from study.spec import SpecError
from study.tune.runtime import RunOptions
from trainables.budgets import BUDGETS
from trainables.config import ConfigError
from trainables.data.errors import DatasetError


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
    ap.add_argument("--keep-models", choices=KEEP_POLICIES, default=None,
                    help=f"keep model bundles in <results>/{MODELS}/<study>/<key>: best (per category, the "
                         "trained trial with the best val_auc), all, none (default: best for searches, none for grids)")
    ap.add_argument("--dry-run", action="store_true", help="print trial count and projected cost, start nothing")
    return ap.parse_args(argv)


def run_options(args: argparse.Namespace, is_search: bool = False) -> RunOptions:
    return RunOptions(results=args.results, data_root=args.data_root, cluster=args.cluster,
                      address=args.address, max_concurrent=args.max_concurrent, report=args.report,
                      tensorboard=args.tensorboard, mlflow=args.mlflow,
                      keep_models=args.keep_models or default_policy(is_search))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from study.tune.cluster import ClusterError, probe, resolve_address
    from study.tune.tracking import TrackingError, check_available
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
    keep = args.keep_models or default_policy(plan.is_search)
    if keep != "none" and is_uri(args.results):
        print(f"error: --keep-models {keep} needs --results as a path (bundles are folders); "
              f"give --keep-models none for {args.results}", file=sys.stderr)
        return 2
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
            if dispatch(plan, run_options(args, plan.is_search)):
                compact_if_large(args.results, spec.name)  # still under the lock: nothing else writes
    except (SpecError, ClusterError, StudyLocked) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def dispatch(plan: Plan, opts: RunOptions) -> int:
    """Run what the plan says: the searches, or the grid trials not yet done; returns how many
    trials it started."""
    t0 = time.perf_counter()
    if not is_uri(opts.results):    # under the study's lock: none of its workers writes now
        sweep_staged(opts.results, plan.spec.name)
    if plan.is_search:
        from study.tune.search import run_search
        run_search(plan.spec, plan.trials, opts, plan.budget)
        ran = len(plan.projected_trials())
    else:
        write_study_meta(opts.results, plan.spec, plan.budget)
        done = done_keys(opts.results)
        todo = [t for t in plan.trials if t.trial_key not in done]
        print(f"[study] {len(plan.trials) - len(todo)} already done (skipped), {len(todo)} to run; "
              f"results in {opts.results}", flush=True)
        t0 = time.perf_counter()
        ran = len(todo)
        if todo:
            from study.tune.grid import run_grid
            run_grid(plan.spec.name, todo, opts, plan.spec.resources, plan.budget)
    print(f"\n[study] finished in {time.perf_counter() - t0:.0f}s\n{summary(opts.results, plan.spec.name)}")
    if not plan.is_search:
        print(f"[study] results: {folder(opts.results, TRIALS)} (pandas.read_parquet)")
    if opts.keep_models != "none":  # judge every bundle now that no trial runs, and say what they take
        keeper = ModelKeeper(opts.results, plan.spec.name, opts.keep_models, read_trials(opts.results))
        print(keeper.finish() + f" (--keep-models {opts.keep_models})", flush=True)
    if opts.report:                 # the final page: every row, and no more reloading
        from study.tune.report_refresh import write_now
        if write_now(opts.results, opts.report):
            print(f"[study] report: {opts.report}", flush=True)
    return ran


def summary(results: str, study: str) -> str:
    """Per category and configuration, trained trials and controls apart (a control is the
    same encoder untrained or ImageNet-frozen; pooling the two would hide the comparison)."""
    from study.controls import control_kind, is_control
    # only what the summary shows: at 10,000 per-trial files every column read costs seconds
    df = read_trials(results, columns=(C.study, C.status, C.category, C.variant, C.image_auc, C.pretrained,
                                       C.steps, C.head_steps))
    if df.empty:
        return "no results yet"
    df = df[df[C.study] == study]
    ok = df[df[C.status] == OK]
    ok = ok.assign(what=[f"control: {control_kind(r)}" if is_control(r) else r[C.variant]
                         for r in ok.to_dict("records")])
    lines = [f"{'category':<14s} {'trained / control':<26s} {'n':>3s} {'image_auc':>10s}"]
    for (cat, what), g in ok.groupby([C.category, "what"]):
        lines.append(f"{cat:<14s} {what:<26s} {len(g):3d} {g[C.image_auc].mean():10.4f}")
    for what, g in ok.groupby("what"):
        lines.append(f"{'mean':<14s} {what:<26s} {len(g):3d} {g[C.image_auc].mean():10.4f}")
    failed = df[df[C.status] == FAILED]
    if len(failed):
        lines.append(f"{len(failed)} failed trial(s); see the 'error' column")
    return "\n".join(lines) + "\n[study] tables with controls and tests: python -m analysis tables --results " + results


if __name__ == "__main__":
    raise SystemExit(main())
