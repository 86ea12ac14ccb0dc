"""The results schema, one cohesive thing: every column a study writes, its Arrow type, the
builders of a row, and what one Ray Tune trial is given.

DESIGN.md's ``trials`` table lists exactly :data:`TRIAL_COLUMNS` (a test checks both
directions). The metric names come from ``trainables.metrics`` (a trial reports them; this
module only gives them a place and a type), the config columns from ``TrialConfig``: one
flat column per field. The sink, the Tune callback, the trainable wrapper and analysis read
names from here; ``trainables.run --json`` prints the same metric names.

A row as written: an ``ok`` or ``stopped`` trial has every column (:func:`trial_row`);
a ``failed`` one only :data:`FAILED_COLUMNS` (:func:`failed_row`). Readers unify the files.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

import pyarrow as pa

from trainables.config import FIELD_TYPES, TrialConfig
from trainables.metrics import ANOMALY_METRICS, EVAL_METRICS, HISTORY_METRICS, TRIAL_METRICS

__all__ = ["OK", "FAILED", "STOPPED", "STATUSES", "KEY_COLUMNS", "CONFIG_COLUMNS", "METRICS", "TRIAL_METRICS",
           "EVAL_METRICS", "CONTEXT_COLUMNS", "TRIAL_COLUMNS", "FAILED_COLUMNS", "COLUMN_TYPES", "TRIALS",
           "HISTORY_COLUMNS", "HISTORY", "SCORES_COLUMNS", "TrialJob", "trial_row", "failed_row", "to_table"]

OK, FAILED, STOPPED = "ok", "failed", "stopped"   # stopped: ended early by a scheduler (ASHA)
STATUSES = (OK, FAILED, STOPPED)

KEY_COLUMNS = ("trial_key", "study", "variant", "category", "seed")   # what was run, and its key
CONFIG_COLUMNS = tuple(FIELD_TYPES)      # every TrialConfig field (variant, category, seed included)
METRICS = ("image_auc", "pixel_auc", "val_auc")   # the AUCs a table shows or a search optimises
# the part of a trial's report that says how well it did; the rest of TRIAL_METRICS (costs,
# score normalisation, device) follows status and error
_EVALUATION = ("image_auc", "pixel_auc", "val_auc", "val_defects", "auc_by_defect", *ANOMALY_METRICS)
# where and with what it ran: filled by the Ray wrapper (study.ray_trial.run_context)
CONTEXT_COLUMNS = ("node_id", "hostname", "code_version", "torch_version", "ray_version")

# ``device`` is both a config field (the request, e.g. ``auto``) and a metric (the device the
# trial ran on, e.g. ``cpu`` or the GPU's name): one column, at the config's place, holding
# where it ran
TRIAL_COLUMNS = tuple(dict.fromkeys((
    *KEY_COLUMNS, "dataset", "budget",
    *(c for c in CONFIG_COLUMNS if c not in KEY_COLUMNS),
    *(m for m in TRIAL_METRICS if m in _EVALUATION), "status", "error",
    *(m for m in TRIAL_METRICS if m not in _EVALUATION and m != "dataset"),
    "node_id", "hostname", "started_at", "finished_at", "restored_from_step",
    "code_version", "torch_version", "ray_version",
)))
FAILED_COLUMNS = ("trial_key", "study", "variant", "category", "seed", "status", "error", "image_auc",
                  "started_at", "finished_at")

_STRING, _FLOAT, _INT = pa.string(), pa.float64(), pa.int64()
_UTC = pa.timestamp("us", tz="UTC")
_PYTHON = {int: _INT, float: _FLOAT, bool: pa.bool_(), str: _STRING}
# a declared type for every column, so a column that is null in one file and filled in
# another still unifies when pandas reads <results>/trials
COLUMN_TYPES: dict[str, pa.DataType] = {
    "trial_key": _STRING, "study": _STRING, "dataset": _STRING, "budget": _STRING,
    **{c: _PYTHON[t] for c, t in FIELD_TYPES.items()},
    "image_auc": _FLOAT, "pixel_auc": _FLOAT, "val_auc": _FLOAT, "val_defects": _STRING,
    "auc_by_defect": pa.map_(pa.string(), pa.float64()),
    **{m: _FLOAT for m in ANOMALY_METRICS}, "threshold_source": _STRING,   # AP, F1, AUPRO, threshold
    "status": _STRING, "error": _STRING,
    "train_seconds": _FLOAT, "eval_seconds": _FLOAT, "images_per_second": _FLOAT,
    "train_score_mean": _FLOAT, "train_score_std": _FLOAT, "null_score_mean": _FLOAT, "null_score_std": _FLOAT,
    "null_score_method": _STRING, "device": _STRING, "node_id": _STRING, "hostname": _STRING,
    "started_at": _UTC, "finished_at": _UTC, "restored_from_step": _INT,
    "code_version": _STRING, "torch_version": _STRING, "ray_version": _STRING,
}
TRIALS = pa.schema([(c, COLUMN_TYPES[c]) for c in TRIAL_COLUMNS])

# the learning curve: one row per evaluation; a trial without pixel_auc or val_auc still
# writes float columns
HISTORY_COLUMNS = ("trial_key", *HISTORY_METRICS)
HISTORY = pa.schema([("trial_key", _STRING)] + [(m, _INT if m == "step" else _FLOAT) for m in HISTORY_METRICS])
SCORES_COLUMNS = ("trial_key", "image_path", "label", "defect_type", "score")   # one row per test image


@dataclass(frozen=True)
class TrialJob:
    """What one Ray Tune trial is given (its ``param_space["trial"]``), built by the runtime for
    grid studies and searches alike."""
    trial_key: str | None          # None in a search: the key follows from the sampled config
    study: str
    config: dict[str, Any] = field(hash=False)   # a complete TrialConfig as a dict (a search's base)
    data_root: str | None = None   # the user's dataset; None: each node makes the generated one
    cpus: float = 1                # the trial's CPU share: its torch threads unless the config says
    budget: str | None = None

    def resolve(self, sampled: Mapping[str, Any] | None = None) -> tuple[TrialConfig, str | None]:
        """The trial's config with any searcher-sampled values, and its key."""
        from study.spec import trial_key
        cfg = TrialConfig.from_dict({**self.config, **(sampled or {})}, where=f"study {self.study}")
        return cfg, (trial_key(self.study, cfg.to_dict()) if sampled else self.trial_key)


def trial_row(study: str, cfg: TrialConfig, key: str, metrics: Mapping[str, Any], status: str,
              started: dt.datetime, *, budget: str | None = None, restored_from_step: int | None = None,
              context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A row with every column: ``ok`` after the final report, ``stopped`` as of an evaluation
    (written if a scheduler ends the trial there). ``context``: :data:`CONTEXT_COLUMNS`."""
    if status not in (OK, STOPPED):
        raise ValueError(f"trial_row builds ok or stopped rows, not {status!r} (failed_row)")
    unknown = set(context or {}) - set(CONTEXT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown context columns {sorted(unknown)}; known: {CONTEXT_COLUMNS}")
    values = {"trial_key": key, "study": study, "budget": budget, **cfg.to_dict(),
              **{m: metrics.get(m) for m in TRIAL_METRICS}, "status": status, "error": None,
              "started_at": started, "finished_at": dt.datetime.now(dt.timezone.utc),
              "restored_from_step": restored_from_step, **(context or {})}
    return {c: values.get(c) for c in TRIAL_COLUMNS}


def failed_row(study: str, config: Mapping[str, Any], key: str, error: str,
               at: dt.datetime | None = None) -> dict[str, Any]:
    """The row of a trial that failed for good (after its retries): what ran, and the error."""
    at = at or dt.datetime.now(dt.timezone.utc)
    return {"trial_key": key, "study": study, "variant": config["variant"], "category": config["category"],
            "seed": config["seed"], "status": FAILED, "error": error, "image_auc": None,
            "started_at": at, "finished_at": at}


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (the columns of the first) as an Arrow table, each column of its declared type.

    A column this schema does not know keeps the type Arrow infers (string when all null).
    """
    cols = {}
    for name in rows[0]:
        values = [r.get(name) for r in rows]
        if name == "auc_by_defect":
            values = [list(v.items()) if v is not None else None for v in values]
        typ = COLUMN_TYPES.get(name)
        if typ is None and all(v is None for v in values):
            typ = _STRING
        cols[name] = pa.array(values, type=typ)
    return pa.table(cols)
