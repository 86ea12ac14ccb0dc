"""Statistics over seeds and group rows, computed the way the paper reports them.

- A cell is the mean over seeds and its standard error, SE = sample std / sqrt(n).
- A group row (MVTec AD's texture and object, VisA's complex structure, multiple and
  single instance, one per MVTec LOCO AD / AD 2; ``trainables.categories``) and ``all``
  average the per-category means and, as the paper does, the per-category SEs (it is not
  the SE of the group mean).
- Rows come in the category registry's order (``category_order``).
Ensembles of seeds are ``analysis.stats.ensemble``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from study.objective import REPORTED_METRIC
from study.results.schema import OK, C
from trainables.data import GROUP_ORDER, KNOWN_CATEGORIES, category_group

GROUP_ROWS = (*GROUP_ORDER, "all")   # group rows, in table order


def seed_summary(trials: pd.DataFrame, by: list[str], metric: str = REPORTED_METRIC) -> pd.DataFrame:
    """mean, se and n of ``metric`` over seeds for every combination of ``by``."""
    ok = trials[trials[C.status] == OK].dropna(subset=[metric])
    g = ok.groupby(by, dropna=False, sort=False)[metric]
    out = g.agg(mean="mean", std=lambda s: s.std(ddof=1), n="count").reset_index()
    out["se"] = out["std"] / np.sqrt(out["n"])
    out.loc[out["n"] < 2, "se"] = np.nan
    return out.drop(columns="std")


def group_of(category: str) -> str:
    return category_group(category)


def category_order(categories) -> list[str]:
    """The registry's order (MVTec textures, then objects, then VisA, LOCO, AD 2 by group),
    a user's own categories after them."""
    cats = list(dict.fromkeys(categories))
    known = [c for c in KNOWN_CATEGORIES if c in cats]
    return known + sorted(c for c in cats if c not in KNOWN_CATEGORIES)


def group_rows(cells: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """A row per category group present, and ``all``, per ``by`` key: averages of per-category
    means and SEs."""
    cells = cells.assign(group=cells[C.category].map(group_of))
    rows = []
    for group in GROUP_ROWS:
        part = cells if group == "all" else cells[cells["group"] == group]
        if part.empty:
            continue
        agg = part.groupby(by, dropna=False, sort=False).agg(
            mean=("mean", "mean"), se=("se", lambda s: s.mean() if s.notna().any() else np.nan),
            n=("n", "min"), categories=(C.category, "nunique")).reset_index()
        agg[C.category] = group
        rows.append(agg)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
