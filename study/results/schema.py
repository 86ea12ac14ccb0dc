"""The results schema, one cohesive thing: every column of the five results tables (trials,
scores, embeddings, heatmaps, history), its Arrow type, the builders of a trial row, and
:data:`C`, the column names as attributes for readers such as analysis.

DESIGN.md's ``trials`` table lists exactly :data:`TRIAL_COLUMNS` (a test checks both
directions). The metric names come from ``trainables.metrics`` (a trial reports them; this
module only gives them a place and a type), the config columns from ``TrialConfig``: one
flat column per field; the columns of scores, embeddings and heatmaps are those a
``trainables.trial.TrialResult`` produces. The sink, the Tune callback, the trainable wrapper
and analysis read names from here; ``trainables.run --json`` prints the same metric names.

A row as written: an ``ok`` or ``stopped`` trial has every column (:func:`trial_row`);
a ``failed`` one only :data:`FAILED_COLUMNS` (:func:`failed_row`). Readers unify the files.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

import pyarrow as pa

from study.results.paths import EMBEDDINGS, HEATMAPS, HISTORY, SCORES, TABLES, TRIALS
from trainables.config import FIELD_TYPES, TrialConfig
from trainables.metrics import ANOMALY_METRICS, EVAL_METRICS, HISTORY_METRICS, TRIAL_METRICS

__all__ = ["OK", "FAILED", "STOPPED", "STATUSES", "KEY_COLUMNS", "CONFIG_COLUMNS", "METRICS", "TRIAL_METRICS",
           "EVAL_METRICS", "CONTEXT_COLUMNS", "TRIAL_COLUMNS", "FAILED_COLUMNS", "COLUMN_TYPES", "HISTORY_COLUMNS",
           "SCORES_COLUMNS", "EMBEDDINGS_COLUMNS", "HEATMAPS_COLUMNS", "COLUMNS", "SCHEMAS", "C", "trial_row",
           "failed_row", "to_table", "columns_table", "side_table"]

OK, FAILED, STOPPED = "ok", "failed", "stopped"   # stopped: ended early by a scheduler (ASHA)
STATUSES = (OK, FAILED, STOPPED)

KEY_COLUMNS = ("trial_key", "study", "variant", "category", "seed")   # what was run, and its key
CONFIG_COLUMNS = tuple(FIELD_TYPES)      # every TrialConfig field (variant, category, seed included)
METRICS = ("image_auc", "pixel_auc", "val_auc")   # the AUCs a table shows or a search optimises
# the part of a trial's report that says how well it did; the rest of TRIAL_METRICS (costs,
# score normalisation, device) follows status and error
_EVALUATION = ("image_auc", "pixel_auc", "val_auc", "val_defects", "auc_by_defect", *ANOMALY_METRICS)
# where and with what it ran: filled by the Ray wrapper (study.tune.trainable.run_context)
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

# the learning curve: one row per evaluation; a trial without pixel_auc or val_auc still
# writes float columns
HISTORY_COLUMNS = ("trial_key", *HISTORY_METRICS)
_HISTORY_TYPES = {"trial_key": _STRING, **{m: _INT if m == "step" else _FLOAT for m in HISTORY_METRICS}}
# one row per test image: its path relative to the dataset root, 0 good / 1 defect, the score
_SCORES_TYPES = {"trial_key": _STRING, "image_path": _STRING, "label": _INT, "defect_type": _STRING,
                 "score": _FLOAT}
SCORES_COLUMNS = tuple(_SCORES_TYPES)
# a small feature sample per trial (normal, defect, cutpaste, scar: ``kind``) for t-SNE figures
_EMBEDDINGS_TYPES = {"trial_key": _STRING, "kind": _STRING, "vector": pa.list_(_FLOAT)}
EMBEDDINGS_COLUMNS = tuple(_EMBEDDINGS_TYPES)
# Figure 4: a few defective test images per localizing trial, each flattened at ``size`` px
# (image: size x size x 3 uint8 values, mask: 0/1, heatmap: the variant's ``kind`` of map)
_HEATMAPS_TYPES = {"trial_key": _STRING, "image_path": _STRING, "defect_type": _STRING, "kind": _STRING,
                   "size": _INT, "image": pa.list_(_INT), "mask": pa.list_(_INT), "heatmap": pa.list_(_FLOAT)}
HEATMAPS_COLUMNS = tuple(_HEATMAPS_TYPES)

# per table: its columns in order, and its Arrow schema (what readers cast each file to)
COLUMNS: dict[str, tuple[str, ...]] = {TRIALS: TRIAL_COLUMNS, SCORES: SCORES_COLUMNS,
                                       EMBEDDINGS: EMBEDDINGS_COLUMNS, HEATMAPS: HEATMAPS_COLUMNS,
                                       HISTORY: HISTORY_COLUMNS}
SCHEMAS: dict[str, pa.Schema] = {
    TRIALS: pa.schema([(c, COLUMN_TYPES[c]) for c in TRIAL_COLUMNS]),
    SCORES: pa.schema(list(_SCORES_TYPES.items())),
    EMBEDDINGS: pa.schema(list(_EMBEDDINGS_TYPES.items())),
    HEATMAPS: pa.schema(list(_HEATMAPS_TYPES.items())),
    HISTORY: pa.schema(list(_HISTORY_TYPES.items())),
}


class ColumnNames:
    """Every column name of the five tables as an attribute, ``C.category == "category"``, so a
    reader selects ``df[C.trial_key]`` and a misspelt name fails as an AttributeError at once
    instead of selecting nothing."""

    def __init__(self, names: Iterable[str]) -> None:
        object.__setattr__(self, "_names", tuple(dict.fromkeys(names)))
        for name in self._names:
            object.__setattr__(self, name, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("column names are constants")

    def __iter__(self):
        return iter(self._names)

    def __repr__(self) -> str:
        return f"ColumnNames({len(self._names)} columns)"


C = ColumnNames(c for table in TABLES for c in COLUMNS[table])


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


def columns_table(table: str, columns: Mapping[str, list]) -> pa.Table:
    """Columns of one of the side tables (scores, embeddings, heatmaps, history) as an Arrow
    table: declared columns of their declared type, others as Arrow infers them."""
    types = dict(zip(SCHEMAS[table].names, SCHEMAS[table].types))
    return pa.table({name: pa.array(values, type=types.get(name)) for name, values in columns.items()})


def side_table(table: str, key: str, columns: Mapping[str, list]) -> pa.Table | None:
    """A trial's columns of one side table as the Arrow table its file holds, or None when
    there is nothing to write (no embeddings, heatmaps or history points): scores get the
    trial's key on every row, history exactly its schema's columns (absent ones null)."""
    if table == SCORES:
        return columns_table(SCORES, {C.trial_key: [key] * len(columns[C.score]), **columns})
    if table == HISTORY:
        n = len(columns.get(C.step) or [])
        return pa.Table.from_pydict({name: columns.get(name, [None] * n) for name in SCHEMAS[HISTORY].names},
                                    schema=SCHEMAS[HISTORY]) if n else None
    return columns_table(table, columns) if columns.get(C.kind) else None


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
