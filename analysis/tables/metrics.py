"""Metrics beyond a table's own: AUROC per defect type, and a second metric beside the main one.

- :func:`defect_table`: one row per (category, defect type), one column per configuration of
  the study (the same columns as its main table), each cell the mean ± SE over seeds of
  ``auc_by_defect``: the image AUC of the good test images against that defect type alone.
  MVTec LOCO AD's ``logical_anomalies`` and ``structural_anomalies`` are defect types too.
- :func:`with_beside`: a metric shown beside each cell of a table (Table 2: ``aupro`` beside
  pixel AUROC), summarised over seeds and group rows exactly like the table's own metric.
  The paper reports no AUPRO, so no paper value ever sits beside it.
- :func:`pixel_resolution`: where a set of trials took their pixel metrics (``128 px``, or
  ``native resolution``), for the captions and headers of pixel metrics.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.tables.columns import assign_columns, with_defaults
from analysis.stats.summary import category_order, group_rows, seed_summary
from study.results.schema import OK, C

BESIDE_LABELS = {C.aupro: "AUPRO", "pixel_ap": "pixel AP", "image_ap": "AP", C.pixel_auc: "pixel AUC"}
PIXEL_METRICS = {C.pixel_auc, "pixel_ap", C.aupro}     # computed on heatmaps against masks


@dataclass
class DefectTable:
    study: str
    data: pd.DataFrame        # long: category, defect_type, column, mean, se, n
    columns: list[str]
    caption: str


def _as_dict(value) -> dict[str, float]:
    """``auc_by_defect`` as read back from Parquet (a list of pairs) or built in memory (a dict)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return {}
    return {str(k): float(v) for k, v in (value.items() if isinstance(value, dict) else value)}


def defect_table(study: str, trials: pd.DataFrame, dataset: str = "") -> DefectTable | None:
    """The study's per-defect-type AUROC table; None when no finished trial has ``auc_by_defect``."""
    ok = trials[(trials[C.study] == study) & (trials[C.status] == OK)]
    if ok.empty or "auc_by_defect" not in ok:
        return None
    ok, columns, *_ = assign_columns(with_defaults(ok))
    rows = [{"tcol": col, C.category: cat, C.seed: seed, C.status: OK, C.defect_type: d, "auc": auc}
            for col, cat, seed, by in zip(ok["tcol"], ok[C.category], ok[C.seed], ok["auc_by_defect"])
            for d, auc in _as_dict(by).items()]
    if not rows:
        return None
    cells = seed_summary(pd.DataFrame(rows), [C.category, C.defect_type, "tcol"], metric="auc")
    order = {c: i for i, c in enumerate(category_order(cells[C.category]))}
    cells = (cells.assign(_c=cells[C.category].map(order), _k=cells["tcol"].map({c: i for i, c in enumerate(columns)}))
             .sort_values(["_c", C.defect_type, "_k"]).drop(columns=["_c", "_k"])
             .rename(columns={"tcol": "column"}).reset_index(drop=True))
    caption = (f"AUROC per defect type (%), study '{study}'{', dataset ' + dataset if dataset else ''}: image "
               f"AUC of the good test images against each defect type alone (`auc_by_defect`). Cells: mean ± SE "
               f"over seeds (no SE where n = 1).")
    return DefectTable(study, cells, [c for c in columns if c in set(cells["column"])], caption)


def with_beside(long: pd.DataFrame, ok: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``long`` (a table's rows: ``row``, ``column``) with ``<metric>_mean``, ``_se`` and ``_n``:
    ``metric`` over seeds per category cell, and group rows averaging them as the table does."""
    names = [f"{metric}_{s}" for s in ("mean", "se", "n")]
    if metric not in ok or ok[metric].isna().all():
        return long.assign(**{n: np.nan for n in names})
    cells = seed_summary(ok, ["tcol", C.category], metric=metric)
    groups = group_rows(cells, ["tcol"]).drop(columns="categories", errors="ignore")
    both = pd.concat([cells, groups], ignore_index=True)[["tcol", C.category, "mean", "se", "n"]]
    both.columns = ["column", "row", *names]
    return long.merge(both, on=["row", "column"], how="left")


def pixel_resolution(rows: pd.DataFrame) -> str:
    """Where ``rows`` took their pixel metrics: ``"128 px"`` (``pixel_resolution`` "image", the
    default: heatmaps and masks at the model's ``image_size``), ``"native resolution"`` (each
    test image's own), or several joined by " / ". Rows written before the field existed
    computed them at ``image_size``, so a missing value reads as "image"."""
    res = (rows["pixel_resolution"] if "pixel_resolution" in rows else pd.Series("image", index=rows.index))
    sizes = rows["image_size"] if "image_size" in rows else pd.Series(np.nan, index=rows.index)
    found: dict[tuple, str] = {}
    for r, size in zip(res.astype(object).where(res.notna(), "image"), sizes):
        if str(r) == "native":
            found[(1, 0)] = "native resolution"
        elif pd.isna(size):
            found[(2, 0)] = "an unrecorded image size"
        else:
            found[(0, int(size))] = f"{int(size)} px"
    return " / ".join(found[k] for k in sorted(found)) or "an unrecorded image size"
