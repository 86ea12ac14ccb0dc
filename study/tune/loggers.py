"""The Tune callbacks behind ``--mlflow`` and ``--tensorboard`` (what they hold: ``study.tune.tracking``).

``MLflowTracking`` is Ray Tune's ``MLflowLoggerCallback`` (tracking URI, an experiment per
study created or reused, a run per trial, FINISHED or FAILED status) with a run's content
taken from the study's results. Both write a trial when it ends, on the driver.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from ray import tune
from ray.air.integrations.mlflow import MLflowLoggerCallback

from study.results.paths import HEATMAPS
from study.results.schema import C, FAILED, columns_table
from study.tune.jobs import resolve
from study.tune.tracking import (RUN_TAGS, curve_points, final_numbers, finished, heatmap_png, published, run_name,
                                write_tensorboard)


class MLflowTracking(MLflowLoggerCallback):
    """Ray Tune's MLflow logger, with a run's content taken from the study's results."""

    def __init__(self, tracking_uri: str, study: str) -> None:
        super().__init__(tracking_uri=tracking_uri, experiment_name=study)

    def _client(self):
        from mlflow import MlflowClient
        return MlflowClient(tracking_uri=self.tracking_uri)

    def log_trial_start(self, trial) -> None:
        if trial in self._trial_runs:                        # a retry continues its run
            return
        from mlflow.entities import Param
        job, cfg, key = resolve(trial.config)
        row = {C.study: job.study, C.category: cfg.category, C.variant: cfg.variant, C.seed: cfg.seed,
               C.trial_key: key}
        tags = {C.trial_key: str(key), C.study: job.study, C.budget: str(job.budget), C.category: cfg.category,
                C.variant: cfg.variant, C.seed: str(cfg.seed)}
        run = self.mlflow_util.start_run(run_name=run_name(row), tags=tags)
        self._trial_runs[trial] = run.info.run_id
        params = [Param(k, str(v)) for k, v in cfg.to_dict().items()]
        for i in range(0, len(params), 100):                 # MLflow takes at most 100 params a call
            self._client().log_batch(run.info.run_id, params=params[i:i + 100])

    def log_trial_result(self, iteration: int, trial, result: dict) -> None:
        """Nothing per report: the curves come whole with the final report (``log_trial_end``)."""

    def log_trial_end(self, trial, failed: bool = False) -> None:
        from mlflow.entities import Metric, RunTag
        run_id = self._trial_runs.get(trial)
        if run_id is None:
            return
        client = self._client()
        row, history, last_step = finished(trial)
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, s) for k, s, v in curve_points(history)]
        logged = {(m.key, m.step): m.value for m in metrics}
        if row is not None:
            metrics += [Metric(k, v, now, last_step) for k, v in final_numbers(row).items()
                        if logged.get((k, last_step)) != v]          # the curve's last point already says it
            tags = {k: str(row[k]) for k in RUN_TAGS if row.get(k) is not None}
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        elif failed:
            client.set_tag(run_id, C.status, FAILED)
        for i in range(0, len(metrics), 1000):               # and at most 1000 metrics a call
            client.log_batch(run_id, metrics=metrics[i:i + 1000])
        heatmaps = published(trial.last_result or {}, HEATMAPS)
        if row is not None and heatmaps.get(C.kind):
            import pyarrow.parquet as pq
            with tempfile.TemporaryDirectory() as d:
                pq.write_table(columns_table(HEATMAPS, heatmaps), Path(d) / f"{HEATMAPS}.parquet")
                heatmap_png(heatmaps, Path(d) / f"{HEATMAPS}.png")
                client.log_artifacts(run_id, d, artifact_path=HEATMAPS)
        self.mlflow_util.end_run(run_id=run_id, status="FAILED" if failed else "FINISHED")
        del self._trial_runs[trial]


class TensorBoardTracking(tune.Callback):
    """One TensorBoard run per trial under ``logdir``, written when the trial ends."""

    def __init__(self, logdir: str) -> None:
        self.logdir = logdir

    def on_trial_complete(self, iteration, trials, trial, **info):
        row, history, last_step = finished(trial)
        if row is not None:
            write_tensorboard(self.logdir, row, history, last_step)


def tracking_callbacks(study: str, tensorboard: str | None, mlflow: str | None) -> list[Any]:
    """The Tune callbacks the options ask for. The runtime imports this module only then:
    importing Ray's MLflow integration imports MLflow, seconds of start-up."""
    out: list[Any] = []
    if tensorboard:
        out.append(TensorBoardTracking(tensorboard))
    if mlflow:
        out.append(MLflowTracking(mlflow, study))
    return out
