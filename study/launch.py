"""``python -m study.launch``: run a study on Ray Tune, one Parquet row per finished trial.

Default: the ``demo`` study on the generated dataset, on an embedded local Ray sized to
this machine. Re-running the same command with the same ``--results`` resumes: trials
whose key already has an ``ok`` row are skipped.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from study.sink import ResultsSink, done_keys, read_trials
from study.spec import SpecError, StudySpec, TrialSpec, expand, load_spec
from trainables.config import BUDGETS, ConfigError, parse_set_args
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
    ap.add_argument("--resume", action="store_true", help="skip finished trials (always on; kept for clarity)")
    ap.add_argument("--dry-run", action="store_true", help="print trial count and projected cost, start nothing")
    return ap.parse_args(argv)


def plan(args: argparse.Namespace) -> tuple[StudySpec, str, Path, list[TrialSpec]]:
    from trainables.data import list_categories, resolve_data_root
    spec = load_spec(args.study)
    budget = args.budget or spec.budget
    root = resolve_data_root(args.data_root)
    available = list_categories(root)
    if args.categories:
        cats = [c.strip() for c in args.categories.split(",") if c.strip()]
    else:
        cats = available if spec.categories == "all" else list(spec.categories)
    missing = [c for c in cats if c not in available]
    if missing:
        raise SpecError(f"categories {missing} are not in the dataset {root}; it has {available}")
    overrides = parse_set_args(args.sets)
    return spec, budget, root, expand(spec, cats, args.seeds, overrides, budget)


def projected_cost(trials: list[TrialSpec], resources: dict[str, float]) -> str:
    """Device-hours from the measured throughput table (``trainables.bench --save``)."""
    from study.throughput import rate_for, table_path
    from trainables.augmentations import create_variant
    device = "cuda" if resources.get("gpu", 0) > 0 else "cpu"

    def images(t: TrialSpec) -> int:
        c = t.config
        phases = c["steps"] + (c.get("head_steps", 0) if c.get("pretrained") == "finetune" else 0)
        if c.get("pretrained") == "frozen":
            phases = 0
        return phases * c["batch_size"] * create_variant(c["variant"]).num_classes

    total = sum(images(t) for t in trials)
    lines = [f"trained images in total: {total:,.0f}"]
    devices = [device] + (["cpu"] if device == "cuda" else [])
    for dev in devices:
        unit = "GPU-hours" if dev == "cuda" else "machine-hours"
        hours, known = 0.0, True
        lines.append(f"on {'a GPU (the spec asks for one)' if dev == 'cuda' else 'CPU'}:")
        for size in sorted({t.config["image_size"] for t in trials}):
            part = [t for t in trials if t.config["image_size"] == size]
            imgs = sum(images(t) for t in part)
            gpu_share = resources.get("gpu", 0)
            per_gpu = max(1, int(round(1 / gpu_share))) if dev == "cuda" and 0 < gpu_share < 1 else 1
            found = rate_for(dev, size, max_k=per_gpu if dev == "cuda" else None)
            if found is None:
                known = False
                lines.append(f"  {len(part)} trials at {size}px: {dev} throughput not measured "
                             f"(run `python -m trainables.bench --device {dev} --image-size {size} --save`)")
                continue
            rate, name, how = found
            hours += imgs / rate / 3600
            lines.append(f"  {len(part)} trials at {size}px: {imgs / rate / 3600:,.1f} {unit} on {name} "
                         f"at {rate:,.0f} trained images/s ({how})")
        if known:
            lines.append(f"  projected cost: {hours:,.1f} {unit}")
    lines.append(f"(throughput table: {table_path()})")
    return "\n".join(lines)


def fit_resources(resources: dict[str, float]) -> dict[str, float]:
    """On the embedded local cluster, shrink a spec's per-trial request to what this machine has.

    Paper specs ask for e.g. {cpu: 4, gpu: 0.25} (sized for a GPU node); on a 2-core laptop
    such a trial would never be placed and Tune would wait forever.
    """
    import torch
    fitted = dict(resources)
    n_cpu, n_gpu = os.cpu_count() or 1, torch.cuda.device_count()
    if fitted.get("gpu", 0) and not n_gpu:
        fitted["gpu"] = 0
    fitted["cpu"] = min(fitted.get("cpu", 1), n_cpu)
    if fitted != resources:
        print(f"[study] this machine has {n_cpu} CPUs and {n_gpu} GPUs: per-trial resources "
              f"{resources} -> {fitted}", flush=True)
    return fitted


def start_ray(args: argparse.Namespace, spec: StudySpec) -> dict[str, float]:
    """Embedded local Ray, or attach with --cluster; returns the per-trial resources."""
    # results travel to the driver's sink; Tune's own CSV/JSON/TensorBoard loggers would
    # only duplicate them (and choke on per-image score lists)
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import logging
    # With the auto loggers off, Tune's ResultGrid finds no result.json and warns about every
    # trial at the end; the sink holds the results, so that warning is only noise.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    import ray
    if args.cluster:
        from study.cluster import alive_nodes, check_visible_everywhere, connect
        address = connect(args.address)
        nodes = alive_nodes()
        cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
        gpus = sum(n["Resources"].get("GPU", 0) for n in nodes)
        print(f"[study] attached to the Ray cluster at {address}: {len(nodes)} nodes, "
              f"{cpus:g} CPUs, {gpus:g} GPUs", flush=True)
        check_visible_everywhere("--results", results_location(args.results))
        if args.data_root and "://" not in args.data_root:
            check_visible_everywhere("--data-root", str(Path(args.data_root).resolve()))
        return dict(spec.resources)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             configure_logging=True, logging_level="WARNING")
    return fit_resources(dict(spec.resources))


def results_location(results: str) -> str:
    return results if "://" in results else str(Path(results).resolve())


def trial_data_root(args: argparse.Namespace, root: Path) -> str | None:
    """What each trial loads: the user's dataset, or None so every node makes (or finds) the
    generated dataset itself, deterministically, instead of reading the driver's copy."""
    return str(root) if args.data_root else None


def _run_config(spec: StudySpec, args: argparse.Namespace, total: int, suffix: str = ""):
    from ray import tune

    from study.callbacks import SinkCallback
    storage = args.results if "://" in args.results else str(Path(args.results).resolve())
    return tune.RunConfig(
        name=f"{spec.name}{suffix}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}",
        storage_path=f"{storage}/ray", verbose=0,
        callbacks=[SinkCallback(ResultsSink(args.results), total=total)],
        failure_config=tune.FailureConfig(max_failures=2),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )


def run_tune(spec: StudySpec, root: Path, todo: list[TrialSpec], args: argparse.Namespace,
             budget: str | None = None) -> None:
    """A grid study: every remaining trial key once."""
    from ray import tune

    from study.ray_trial import trainable
    resources = start_ray(args, spec)
    trials = [{"trial_key": t.trial_key, "study": t.study, "config": t.config,
               "data_root": trial_data_root(args, root), "cpus": resources.get("cpu", 1), "budget": budget}
              for t in todo]
    tuner = tune.Tuner(
        tune.with_resources(trainable, {k: v for k, v in resources.items() if v}),
        param_space={"trial": tune.grid_search(trials)},
        tune_config=tune.TuneConfig(max_concurrent_trials=args.max_concurrent or None, reuse_actors=False),
        run_config=_run_config(spec, args, len(todo)),
    )
    tuner.fit()


def summary(results: str, study: str) -> str:
    df = read_trials(results)
    if df.empty:
        return "no results yet"
    df = df[df["study"] == study]
    ok = df[df["status"] == "ok"]
    lines = [f"{'category':<14s} {'variant':<16s} {'n':>3s} {'image_auc':>10s}"]
    for (cat, var), g in ok.groupby(["category", "variant"]):
        lines.append(f"{cat:<14s} {var:<16s} {len(g):3d} {g['image_auc'].mean():10.4f}")
    if len(ok):
        lines.append(f"{'mean':<14s} {'':<16s} {len(ok):3d} {ok['image_auc'].mean():10.4f}")
    failed = df[df["status"] == "failed"]
    if len(failed):
        lines.append(f"{len(failed)} failed trial(s); see the 'error' column")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from study.cluster import ClusterError, probe, resolve_address
    try:
        if args.cluster and not args.dry_run:
            probe(resolve_address(args.address))     # before any slow planning: fail in seconds
        spec, budget, root, trials = plan(args)
    except (SpecError, ConfigError, DatasetError, ClusterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        return _execute(args, spec, budget, root, trials)
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def describe_models(trials: list[TrialSpec]) -> str:
    """One line per model the study trains (and per control): what a reader must know
    before trusting any number, since a budget must never swap the model under a table."""
    from collections import Counter

    from study.controls import control_kind, is_control

    def model(c: dict) -> str:
        if is_control(c):
            enc = f"{c['backbone']} {control_kind(c)} + GDE (control, no training)"
        elif c["pretrained"] == "finetune":
            enc = (f"{c['backbone']} fine-tuned from ImageNet ({c['head_steps']:,} head + "
                   f"{c['steps']:,} all-layer steps)")
        else:
            enc = f"{c['backbone']} trained from scratch ({c['steps']:,} steps, lr {c['lr']:g})"
        return f"{enc}, {c['image_size']} px, batch {c['batch_size']}"

    counts = Counter(model(t.config) for t in trials)
    return "\n".join(f"  {n:>5d} x {m}" for m, n in counts.items())


def _execute(args: argparse.Namespace, spec: StudySpec, budget: str, root: Path, trials: list[TrialSpec]) -> int:
    if spec.search is not None:
        from study.controls import is_control
        # a search has one base config per category; the searcher samples num_samples of each
        trials = [t for t in trials if t.config["seed"] == 0 and not is_control(t.config)]
        count = f"{spec.search.num_samples} search trials x {len(trials)} categories = " \
                f"{spec.search.num_samples * len(trials)} trials"
        trials = trials * spec.search.num_samples if args.dry_run else trials
    else:
        count = f"{len(trials)} trials"
    print(f"[study] {spec.name} ({budget} budget) on {root}: {count}, "
          f"resources per trial {spec.resources}", flush=True)
    print(f"[study] models:\n{describe_models(trials)}", flush=True)
    if args.dry_run:
        print(f"trials: {len(trials)}")
        print(f"resources per trial: {spec.resources}")
        print(projected_cost(trials, spec.resources))
        return 0
    if spec.search is not None:
        from study.search import run_search
        t0 = time.perf_counter()
        run_search(spec, root, trials, args, budget)
        print(f"\n[study] finished in {time.perf_counter() - t0:.0f}s\n{summary(args.results, spec.name)}")
        return 0
    from study.study_meta import write_study_meta
    write_study_meta(args.results, spec, budget)
    done = done_keys(args.results)
    todo = [t for t in trials if t.trial_key not in done]
    print(f"[study] {len(trials) - len(todo)} already done (skipped), {len(todo)} to run; "
          f"results in {args.results}", flush=True)
    t0 = time.perf_counter()
    if todo:
        run_tune(spec, root, todo, args, budget)
    print(f"\n[study] finished in {time.perf_counter() - t0:.0f}s\n{summary(args.results, spec.name)}")
    print(f"[study] results: {os.path.join(args.results, 'trials')} (pandas.read_parquet)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
