"""Learning curves to TensorBoard (``--tensorboard DIR``) and MLflow (``--mlflow URI``), without Ray.

Both are written by driver-side Tune callbacks (``study.tune.loggers``, the only part that
imports Ray) when a trial ends, from what the sink wrote: the row its final report carries
and the learning curve (``history``) its worker staged and the sink published
(``study.results.staging``), so what TensorBoard and MLflow show is what the Parquet tables hold. A run is named ``study/category/variant/seed<seed>-<key prefix>``.

MLflow goes through Ray Tune's own integration (``MLflowLoggerCallback``: tracking URI,
one experiment per study created or reused, a run per trial, FAILED/FINISHED status); this
module only says what a run holds: params = the trial's config, metrics = the curves (with
their steps) and the final numbers of the row under the row's column names, tags = trial
key, study, dataset and code version, artifacts = the heatmaps where the trial has them.
MLflow and TensorBoard are optional extras (``pip install -e ".[mlflow]"`` /
``".[tracking]"``); :func:`check_available` names the extra before anything starts. This
module is what the launcher imports whatever the flags: the checks, what a run holds, and the
TensorBoard writer (:func:`write_tensorboard`).
"""
from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from study.results.paths import HISTORY
from study.results.schema import METRICS, C, TRIAL_METRICS
from study.results.staging import Staged, read_published
from study.tune.jobs import FINAL, ROW, STAGED
from trainables.metrics import HISTORY_METRICS

CURVES = tuple(m for m in HISTORY_METRICS if m not in (C.step, C.train_seconds))
# the row's provenance and outcome, as MLflow tags of a finished run
RUN_TAGS = (C.dataset, C.code_version, C.torch_version, C.ray_version, C.device, C.status)


class TrackingError(RuntimeError):
    """A tracking option cannot work (package missing, server not answering); says which and how to fix."""


def check_available(tensorboard: str | None, mlflow: str | None) -> None:
    """Fail in seconds, before Ray starts, if a requested tracker cannot be used."""
    if tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise TrackingError('--tensorboard needs the tensorboard package: pip install -e ".[tracking]"')
    if mlflow:
        if importlib.util.find_spec("mlflow") is None:
            raise TrackingError('--mlflow needs MLflow: pip install -e ".[mlflow]"')
        if mlflow.startswith(("http://", "https://")):
            try:
                urllib.request.urlopen(f"{mlflow.rstrip('/')}/health", timeout=10).read()
            except (urllib.error.URLError, OSError) as e:
                raise TrackingError(f"--mlflow {mlflow}: no MLflow tracking server answers there ({e}); "
                                    "start one with `mlflow server --host 127.0.0.1 --port 5000`") from None


def run_name(row: dict[str, Any]) -> str:
    return f"{row[C.study]}/{row[C.category]}/{row[C.variant]}/seed{row[C.seed]}-{str(row[C.trial_key])[:8]}"


def finished(trial) -> tuple[dict[str, Any] | None, dict[str, list], int]:
    """(row, history columns, final step) of an ended trial; a row without a final report (a
    scheduler stopped it) has no history."""
    result = trial.last_result or {}
    row = result.get(ROW)
    history = published(result, HISTORY) if result.get(FINAL) else {}
    steps = history.get(C.step) or []
    return row, history, int(result.get(C.step) or (steps[-1] if steps else 0))


def published(result: dict[str, Any], table: str) -> dict[str, list]:
    """The columns of a side table of a trial's final report, as the sink published them."""
    staged = (result.get(STAGED) or {}).get(table)
    return read_published(Staged.from_dict(staged) if staged else None)


def curve_points(history: dict[str, list]) -> list[tuple[str, int, float]]:
    """(metric, step, value) of every non-null point of the curves in a history."""
    out = []
    for name in CURVES:
        for step, value in zip(history.get(C.step) or [], history.get(name) or []):
            if value is not None and value == value:                 # NaN is no point
                out.append((name, int(step), float(value)))
    return out


def final_numbers(row: dict[str, Any]) -> dict[str, float]:
    """The row's numeric metrics under their column names; per-defect AUCs as ``auc_by_defect/<type>``."""
    out = {k: float(row[k]) for k in TRIAL_METRICS
           if isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool)}
    for defect, auc in dict(row.get(C.auc_by_defect) or {}).items():
        out[f"auc_by_defect/{defect}"] = float(auc)
    return out


def heatmap_png(heatmaps: dict[str, list], path: Path) -> None:
    """One row per heatmap: the test image, its defect mask, the heatmap in a colour map."""
    import numpy as np
    from matplotlib import colormaps
    from PIL import Image
    rows = []
    for size, image, mask, heat in zip(heatmaps[C.size], heatmaps[C.image], heatmaps[C.mask], heatmaps[C.heatmap]):
        img = np.asarray(image, dtype=np.uint8).reshape(size, size, 3)
        m = np.repeat(np.asarray(mask, dtype=np.uint8).reshape(size, size, 1) * 255, 3, axis=2)
        h = np.asarray(heat, dtype=np.float32).reshape(size, size)
        h = (h - h.min()) / (h.max() - h.min() + 1e-12)
        row = np.concatenate([img, m, (colormaps["inferno"](h)[..., :3] * 255).astype(np.uint8)], axis=1)
        k = max(1, 128 // size)                          # small images: enlarged, pixels kept square
        rows.append(np.repeat(np.repeat(row, k, axis=0), k, axis=1))
    width = max(r.shape[1] for r in rows)
    Image.fromarray(np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])).save(path)


def write_tensorboard(logdir: str, row: dict[str, Any], history: dict[str, list], last_step: int) -> Path:
    """One TensorBoard run for a finished trial under ``logdir``: its curves by step (the AUCs
    under ``eval/``, the rest under ``train/``), its row's numbers under ``final/`` and its
    config as text."""
    from torch.utils.tensorboard import SummaryWriter
    run = Path(logdir) / run_name(row)
    writer = SummaryWriter(log_dir=str(run))
    try:
        for name, step, value in curve_points(history):
            writer.add_scalar(f"{'eval' if name in METRICS else 'train'}/{name}", value, step)
        for name, value in final_numbers(row).items():
            writer.add_scalar(f"final/{name}", value, last_step)
        config = {k: row[k] for k in row if k not in TRIAL_METRICS}
        writer.add_text("config", "```\n" + json.dumps(config, indent=1, default=str) + "\n```", last_step)
    finally:
        writer.close()
    return run
