"""Ensembles of a configuration's seeds, computed from their per-image scores without retraining.

An ensemble averages the per-image scores of the seeds of one configuration (every config
field equal but the seed) after standardising each model's scores by its null
distribution: ``null_score_mean/std``, the mean and std of out-of-fold (cross-fitted)
scores of its normal training images, stored with each trial. In-sample scores of the
images a GDE was fitted on are biased low and tight (their spread tracks feature rank,
not reliability), so ``train_score_*`` is never used; trials without null statistics
(results older than cross-fitting) are left out with a warning. The AUC uses sklearn.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from study.results.schema import OK, C
from trainables.config import FIELD_TYPES

NULL_STATS = ["null_score_mean", "null_score_std"]
# config fields that change how a trial runs, not what it learns: seeds of one model may differ in them
BOOKKEEPING = {C.seed, "threads", "device", "eval_interval", "embedding_sample", "compile",
               "heatmap_sample"}


def has_null_stats(trials: pd.DataFrame) -> pd.Series:
    """Rows whose scores can be standardised out of sample: a null mean and a positive null std."""
    if not set(NULL_STATS) <= set(trials.columns):
        return pd.Series(False, index=trials.index)
    mean, std = (pd.to_numeric(trials[c], errors="coerce") for c in NULL_STATS)
    return mean.notna() & (std > 0)


def standardised_scores(trials: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Scores with ``z = (score - null_score_mean) / null_score_std`` of their own trial."""
    missing = set(scores[C.trial_key]) - set(trials.loc[has_null_stats(trials), C.trial_key])
    if missing:
        raise ValueError(f"trials {sorted(missing)[:3]} have no out-of-sample null_score_mean/std; "
                         "they cannot be standardised for an ensemble")
    s = scores.join(trials.set_index(C.trial_key)[NULL_STATS].astype(float), on=C.trial_key)
    return s.assign(z=(s[C.score] - s["null_score_mean"]) / s["null_score_std"])


def ensemble_auc(trials: pd.DataFrame, scores: pd.DataFrame, trial_keys: list[str]) -> float:
    """AUC of the mean standardised score of ``trial_keys`` (all on the same test images)."""
    part = scores[scores[C.trial_key].isin(trial_keys)]
    z = standardised_scores(trials[trials[C.trial_key].isin(trial_keys)], part)
    per_image = z.groupby(C.image_path).agg(label=(C.label, "first"), z=("z", "mean"),
                                            models=(C.trial_key, "nunique"))
    if (per_image["models"] != len(trial_keys)).any():
        raise ValueError("ensemble members were not scored on the same test images")
    return float(roc_auc_score(per_image[C.label], per_image["z"]))


def config_columns(trials: pd.DataFrame) -> list[str]:
    """Columns that identify a model up to its seed: study, dataset and every learning config field."""
    fields = [C.study, C.dataset, *(f for f in FIELD_TYPES if f not in BOOKKEEPING)]
    return [c for c in fields if c in trials.columns]


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def config_labels(keys: pd.DataFrame, variant: str) -> list[str]:
    """``variant`` alone when one config exists, else ``variant, field=value`` for the fields
    that differ between the configs (``keys``: one row per config, category excluded)."""
    differ = [c for c in keys.columns if keys[c].astype(str).nunique(dropna=False) > 1]
    return [", ".join([variant, *(f"{c}={_value(r[c])}" for c in differ)]) for r in keys.to_dict("records")]


def _with_null_stats(trials: pd.DataFrame, variant: str) -> pd.DataFrame:
    """Trials that can be standardised out of sample; a warning counts the others."""
    usable = has_null_stats(trials)
    if (~usable).any():
        warnings.warn(f"{int((~usable).sum())} {variant} trial(s) left out of ensembles: no out-of-sample "
                      "null_score_mean/null_score_std (results written before cross-fitted normalisation, "
                      "or too few normal images); their in-sample train_score_* would bias the weights. "
                      "Re-run them to include them.", stacklevel=3)
    return trials[usable]


def ensembles(trials: pd.DataFrame, scores: pd.DataFrame, variant: str = "cutpaste_3way",
              min_seeds: int = 2) -> pd.DataFrame:
    """Per config of ``variant`` (all fields but the seed equal) and category: the AUC of the
    ensemble of its ok seeds that have scores. ``ensemble_of`` names the config,
    ``normalisation`` how member scores were standardised (``null_score_method``), ``members``
    the trial keys pooled (a tuple, by seed)."""
    columns = [C.category, "mean", "se", "n", "ensemble_of", "normalisation", "members"]
    have = set(scores[C.trial_key]) if not scores.empty else set()
    ok = trials[(trials[C.status] == OK) & (trials[C.variant] == variant) & trials[C.trial_key].isin(have)]
    ok = _with_null_stats(ok, variant)
    if ok.empty:
        return pd.DataFrame(columns=columns)
    key = [c for c in config_columns(ok) if c != C.category]
    ok = ok.assign(_config=ok.groupby(key, dropna=False, sort=False).ngroup() if key else 0)
    configs = ok.drop_duplicates("_config")
    labels = dict(zip(configs["_config"], config_labels(configs[key], variant)))
    rows = []
    for (config, category), part in ok.groupby(["_config", C.category], sort=False):
        keys = list(part.sort_values(C.seed)[C.trial_key])
        if len(keys) >= min_seeds:
            methods = part["null_score_method"].dropna().astype(str).unique() if "null_score_method" in part else []
            rows.append({C.category: category, "mean": ensemble_auc(trials, scores, keys), "se": np.nan,
                         "n": len(keys), "ensemble_of": labels[config],
                         "normalisation": ", ".join(sorted(methods)), "members": tuple(keys)})
    return pd.DataFrame(rows, columns=columns)
