"""Ray for a study: start or attach, fit per-trial resources, and build the one Tuner.

Grid studies (``study.tune.grid``) and searches (``study.tune.search``) both start Ray here
and build their Tuner with :func:`tuner`: the same storage under ``<results>/ray``, the same
retries from checkpoints, the same driver-side sink. What they need from the command line
comes as a small frozen :class:`RunOptions`, never as argparse's namespace.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from study.results.models import models_dir
from study.results.paths import RAY, folder, is_uri, location
from study.tune.jobs import JOB, TrialJob


@dataclass(frozen=True)
class RunOptions:
    """Where results go, what trials read, and where they run. Paths are normalised on
    construction (``study.results.paths.location``), so every node sees the same absolute folder."""
    results: str = "results"
    data_root: str | None = None   # the user's dataset; None: each node makes (or finds) the generated one
    cluster: bool = False          # attach to an existing Ray cluster instead of an embedded one
    address: str | None = None     # for cluster: --address, else RAY_ADDRESS, else this machine's cluster
    max_concurrent: int = 0        # cap on concurrent trials; 0: resources decide
    report: str | None = None      # HTML study report rewritten after every finished trial (--report)
    tensorboard: str | None = None  # folder of TensorBoard runs, one per trial (--tensorboard)
    mlflow: str | None = None      # MLflow tracking URI: an experiment per study, a run per trial (--mlflow)
    keep_models: str = "none"      # --keep-models: which trials' bundles stay (study.results.models)

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", location(self.results))
        if self.data_root is not None:
            object.__setattr__(self, "data_root", location(self.data_root))
        if self.tensorboard is not None:
            object.__setattr__(self, "tensorboard", location(self.tensorboard))


# Trials run in reused Ray actors: a trial with the same resources as one that just finished
# gets that actor's process, which already has torch imported, the ImageNet weights read and
# the categories it saw decoded in memory (``trainables.worker`` says what is kept and what each
# trial resets). A fresh actor per trial cost 10-12 s of start-up on 2 CPU cores (issue 22);
# Tune starts a fresh one after a trial that raised (a failed actor is never reused).
REUSE_ACTORS = True


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


def _quiet_tune() -> None:
    # results travel to the driver's sink; Tune's own CSV/JSON/TensorBoard loggers would
    # only duplicate them (and choke on per-image score lists)
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import logging
    # With the auto loggers off, Tune's ResultGrid finds no result.json and warns about every
    # trial at the end; the sink holds the results, so that warning is only noise.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


def start_ray(opts: RunOptions, resources: dict[str, float]) -> dict[str, float]:
    """Embedded local Ray, or attach with ``cluster``; returns the per-trial resources to ask for."""
    _quiet_tune()
    import ray
    if opts.cluster:
        from study.tune.cluster import alive_nodes, check_visible_everywhere, connect
        address = connect(opts.address)
        nodes = alive_nodes()
        cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
        gpus = sum(n["Resources"].get("GPU", 0) for n in nodes)
        print(f"[study] attached to the Ray cluster at {address}: {len(nodes)} nodes, "
              f"{cpus:g} CPUs, {gpus:g} GPUs", flush=True)
        check_visible_everywhere("--results", opts.results)
        if opts.data_root and not is_uri(opts.data_root):
            check_visible_everywhere("--data-root", opts.data_root)
        return dict(resources)
    import time
    t0 = time.perf_counter()
    print(f"[study] starting an embedded Ray on this machine ({os.cpu_count()} CPUs) ...", flush=True)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             configure_logging=True, logging_level="WARNING")
    print(f"[study] Ray started in {time.perf_counter() - t0:.0f}s; trials load their category's images "
          "(decoded once per node) before training", flush=True)
    return fit_resources(dict(resources))


def job(opts: RunOptions, resources: dict[str, float], study: str, config: dict[str, Any],
        trial_key: str | None = None, budget: str | None = None) -> TrialJob:
    """What one trial is given: its key (None in a search), config, data and CPU share."""
    models = None if opts.keep_models == "none" else str(models_dir(opts.results, study))
    return TrialJob(trial_key=trial_key, study=study, config=config, data_root=opts.data_root,
                    cpus=resources.get("cpu", 1), budget=budget, keep_models=opts.keep_models, models=models,
                    results=opts.results)


def _trackers(study: str, opts: RunOptions) -> list[Any]:
    """``--tensorboard`` and ``--mlflow`` callbacks (``study.tune.loggers``, imported only when asked)."""
    if not (opts.tensorboard or opts.mlflow):
        return []
    from study.tune.loggers import tracking_callbacks
    return tracking_callbacks(study, opts.tensorboard, opts.mlflow)


def tuner(name: str, param_space: dict[str, Any], opts: RunOptions, resources: dict[str, float],
          total: int, *, search_alg: Any = None, scheduler: Any = None, num_samples: int = 1):
    """The Tuner of a grid (``param_space`` a grid search over jobs) or of one search."""
    from ray import tune

    from study.results.models import ModelKeeper
    from study.results.sink import ResultsSink, read_trials
    from study.tune.progress import planned
    from study.tune.report_refresh import ReportRefresh
    from study.tune.sink_callback import SinkCallback
    from study.tune.trainable import trainable
    # the jobs this run will train: a grid's list, or a search's base config once per sample
    spec = param_space[JOB]
    jobs = spec["grid_search"] if isinstance(spec, dict) and "grid_search" in spec else [spec] * total
    plan = planned([j.config for j in jobs], jobs[0].budget if jobs else None, resources)
    keeper = None
    if opts.keep_models != "none" and jobs:
        keeper = ModelKeeper(opts.results, jobs[0].study, opts.keep_models, read_trials(opts.results))
    run_config = tune.RunConfig(
        name=f"{name}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}",
        storage_path=folder(opts.results, RAY), verbose=0,
        callbacks=[SinkCallback(ResultsSink(opts.results), total=total, plan=plan, keeper=keeper)]
        + ([ReportRefresh(opts.results, opts.report)] if opts.report else [])
        + _trackers(jobs[0].study if jobs else name, opts),
        failure_config=tune.FailureConfig(max_failures=2),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    return tune.Tuner(
        tune.with_resources(trainable, {k: v for k, v in resources.items() if v}),
        param_space=param_space,
        tune_config=tune.TuneConfig(search_alg=search_alg, scheduler=scheduler, num_samples=num_samples,
                                    max_concurrent_trials=opts.max_concurrent or None,
                                    reuse_actors=REUSE_ACTORS),
        run_config=run_config,
    )
