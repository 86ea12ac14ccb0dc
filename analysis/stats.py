"""Statistics over seeds, group rows and ensembles, computed the way the paper reports them.

- A cell is the mean over seeds and its standard error, SE = sample std / sqrt(n).
- A group row (texture, object, all) averages the per-category means and, as the paper
  does, the per-category SEs (it is not the SE of the group mean).
- An ensemble averages the per-image scores of several models after standardising each
  model's scores with the mean and std of its own scores on normal training images
  (stored with each trial), so no model dominates by scale; its AUC uses sklearn.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from trainables.categories import MVTEC_CATEGORIES, category_group


def seed_summary(trials: pd.DataFrame, by: list[str], metric: str = "image_auc") -> pd.DataFrame:
    """mean, se and n of ``metric`` over seeds for every combination of ``by``."""
    ok = trials[trials["status"] == "ok"].dropna(subset=[metric])
    g = ok.groupby(by, dropna=False, sort=False)[metric]
    out = g.agg(mean="mean", std=lambda s: s.std(ddof=1), n="count").reset_index()
    out["se"] = out["std"] / np.sqrt(out["n"])
    out.loc[out["n"] < 2, "se"] = np.nan
    return out.drop(columns="std")


def group_of(category: str) -> str:
    return category_group(category)


def category_order(categories) -> list[str]:
    """MVTec's order (textures, then objects), a user's own categories after them."""
    cats = list(dict.fromkeys(categories))
    known = [c for c in MVTEC_CATEGORIES if c in cats]
    return known + sorted(c for c in cats if c not in MVTEC_CATEGORIES)


def group_rows(cells: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """texture / object / all rows per ``by`` key: averages of per-category means and SEs."""
    cells = cells.assign(group=cells["category"].map(group_of))
    rows = []
    for group in ("texture", "object", "all"):
        part = cells if group == "all" else cells[cells["group"] == group]
        if part.empty:
            continue
        agg = part.groupby(by, dropna=False, sort=False).agg(
            mean=("mean", "mean"), se=("se", lambda s: s.mean() if s.notna().any() else np.nan),
            n=("n", "min"), categories=("category", "nunique")).reset_index()
        agg["category"] = group
        rows.append(agg)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def standardised_scores(trials: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Scores with ``z = (score - train_score_mean) / train_score_std`` of their own trial."""
    stats = trials.set_index("trial_key")[["train_score_mean", "train_score_std"]]
    missing = set(scores["trial_key"]) - set(stats.dropna().index)
    if missing:
        raise ValueError(f"trials {sorted(missing)[:3]} have no train_score_mean/std; "
                         "they cannot be standardised for an ensemble")
    s = scores.join(stats, on="trial_key")
    return s.assign(z=(s["score"] - s["train_score_mean"]) / s["train_score_std"])


def ensemble_auc(trials: pd.DataFrame, scores: pd.DataFrame, trial_keys: list[str]) -> float:
    """AUC of the mean standardised score of ``trial_keys`` (all on the same test images)."""
    part = scores[scores["trial_key"].isin(trial_keys)]
    z = standardised_scores(trials[trials["trial_key"].isin(trial_keys)], part)
    per_image = z.groupby("image_path").agg(label=("label", "first"), z=("z", "mean"),
                                            models=("trial_key", "nunique"))
    if (per_image["models"] != len(trial_keys)).any():
        raise ValueError("ensemble members were not scored on the same test images")
    return float(roc_auc_score(per_image["label"], per_image["z"]))


def ensembles(trials: pd.DataFrame, scores: pd.DataFrame, variant: str = "cutpaste_3way",
              min_seeds: int = 2) -> pd.DataFrame:
    """Per category: the ensemble AUC over every ok seed of ``variant`` (all its other params equal)."""
    ok = trials[(trials["status"] == "ok") & (trials["variant"] == variant)]
    have = set(scores["trial_key"]) if not scores.empty else set()
    rows = []
    for category, part in ok.groupby("category", sort=False):
        keys = [k for k in part.sort_values("seed")["trial_key"] if k in have]
        if len(keys) >= min_seeds:
            rows.append({"category": category, "mean": ensemble_auc(trials, scores, keys),
                         "se": np.nan, "n": len(keys)})
    return pd.DataFrame(rows, columns=["category", "mean", "se", "n"])
