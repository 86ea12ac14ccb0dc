"""The Ray trainable, the one place a trial meets Ray Tune: checkpoints, reports, and the result row.

Ray 2.60: report with ``ray.tune.report`` (``ray.train.report`` fails inside Tune).
Each evaluation of a trial that trains reports metrics with a checkpoint of the training
state, so a retried trial resumes where it was (a control trains nothing: no checkpoint). The
last report carries the finished row to the driver, and where this worker staged the trial's
per-image scores, embeddings, heatmaps and learning curve (``study.results.staging``): the
driver's callback checks them, puts them in place and writes the row. Rows are built by
``study.results.schema``; this module adds where the trial ran. The actor that runs this
function is reused for trial after trial (``study.tune.runtime.REUSE_ACTORS``;
``trainables.worker`` keeps weights and categories and resets the rest).
"""
from __future__ import annotations

import datetime as dt
import socket
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch
from ray import tune

from study.controls import is_control
from study.results.paths import EMBEDDINGS, HEATMAPS, HISTORY, SCORES
from study.results.schema import EVAL_METRICS, OK, STOPPED, C, trial_row
from study.results.staging import stage
from study.tune.jobs import FINAL, ROW, STAGED, TrialJob, resolve
from trainables.config import TrialConfig, steps_trained
from trainables.deploy.bundle import code_version, save_bundle
from trainables.trial import run_trial


def provenance() -> dict[str, str]:
    import ray
    return {"code_version": code_version(), "torch_version": torch.__version__, "ray_version": ray.__version__}


def run_context() -> dict[str, Any]:
    """``study.results.schema.CONTEXT_COLUMNS``: the Ray node and host this process runs on, and provenance."""
    import ray
    node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    return {"node_id": node, "hostname": socket.gethostname(), **provenance()}


def make_row(job: TrialJob | Mapping[str, Any], cfg: TrialConfig, key: str, metrics: Mapping[str, Any],
             status: str, started: dt.datetime, restored_from_step: int | None = None) -> dict[str, Any]:
    """One results row of this process's trial; ``job`` a TrialJob or a mapping with ``study``
    (and ``budget``), as a notebook or a test writing rows without Ray gives it."""
    study, budget = (job.study, job.budget) if isinstance(job, TrialJob) else (job["study"], job.get("budget"))
    return trial_row(study, cfg, key, metrics, status, started, budget=budget,
                     restored_from_step=restored_from_step, context=run_context())


def save_bundle_for(job: TrialJob, cfg: TrialConfig, key: str, result) -> None:
    """``--keep-models``: write the finished trial's bundle to ``<results>/models/<study>/<key>``
    (temporary name, then renamed); the driver's ``ModelKeeper`` decides whether it stays.
    Under ``best`` a control's is not written (it is never kept). A bundle that cannot be
    written is reported and the trial's row is written all the same."""
    if job.models is None or job.keep_models == "none" or (job.keep_models == "best" and is_control(cfg.to_dict())):
        return
    try:
        save_bundle(result, Path(job.models) / key, trial_key=key, version=provenance()["code_version"])
    except Exception as e:   # a full disk must not lose the trial's row
        print(f"[trial] warning: the model bundle of {key} was not written: {type(e).__name__}: {e}", flush=True)


def trainable(config: dict[str, Any]) -> None:
    job, cfg, key = resolve(config)
    cfg = cfg.replace(threads=cfg.threads or int(job.cpus) or 1)
    state = None
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = torch.load(Path(d) / "state.pt", weights_only=True)
    started = dt.datetime.now(dt.timezone.utc)
    restored = int(state["step"]) if state is not None else None   # a retry after a lost node or a crash

    trains = steps_trained(cfg) > 0

    def report(metrics: dict[str, Any], train_state: dict[str, Any] | None) -> None:
        scalars = {k: metrics[k] for k in EVAL_METRICS if metrics.get(k) is not None}
        # a row as of now: written as "stopped" if a scheduler ends the trial here
        scalars[ROW] = make_row(job, cfg, key, metrics, STOPPED, started, restored)
        if not trains:        # a control: a retry loses no training, so nothing to checkpoint
            tune.report(scalars)
            return
        with tempfile.TemporaryDirectory() as d:
            torch.save(train_state, Path(d) / "state.pt")
            tune.report(scalars, checkpoint=tune.Checkpoint.from_directory(d))

    result = run_trial(cfg, data_root=job.data_root, report=report, initial_state=state)
    save_bundle_for(job, cfg, key, result)
    m = result.metrics
    final_report(job, key, m, make_row(job, cfg, key, m, OK, started, restored), {
        SCORES: result.scores, EMBEDDINGS: result.embedding_rows(key),
        HEATMAPS: {C.trial_key: [key] * len(result.heatmaps.get(C.kind, [])), **result.heatmaps},
        HISTORY: result.history_columns(key)})


def final_report(job: TrialJob, key: str, metrics: Mapping[str, Any], row: dict[str, Any],
                 tables: dict[str, dict[str, list]]) -> None:
    """The trial's last report: its scalars, its ``ok`` row and its side tables, staged by this
    worker under ``job.results`` (``study.results.staging``) so only their paths travel to the driver."""
    staged = stage(job.results, job.study, key, tables)
    tune.report({**{k: metrics[k] for k in EVAL_METRICS if metrics.get(k) is not None}, FINAL: True, ROW: row,
                 STAGED: {table: s.to_dict() for table, s in staged.items()}})
