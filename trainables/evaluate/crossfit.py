"""Out-of-sample anomaly scores of the normal images a density was fitted on (cross-fitting).

Ensembles standardise each model's test scores by what a *normal* image scores under that
model. Scoring the fit images with the GDE fitted on them is biased: a Gaussian fitted on 80
images of a rank-20 feature space scores its own images low and tightly (in-sample std 4.3
against 87 on held-out normals), so the z-scores, and with them a model's weight in the
ensemble, tracked feature rank rather than reliability. Here every fit image is scored by a
density fitted without its fold, so its score is distributed like a new normal image's
(fitted on (K-1)/K of the images, slightly conservative), at the cost of K extra fits on
features that are already extracted.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn.model_selection import KFold

FitScore = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (fit features, held-out features) -> scores
MIN_FIT_IMAGES = 2   # a covariance needs two images; fewer folds rather than degenerate fits


def n_folds(n: int, k: int = 5) -> int:
    """``k``, or fewer so every fold's fit keeps ``MIN_FIT_IMAGES``; 0 when cross-fitting is impossible."""
    k = min(k, n // MIN_FIT_IMAGES)
    return k if k >= 2 else 0


def crossfit_scores(features: np.ndarray, fit_score: FitScore, k: int = 5, seed: int = 0) -> np.ndarray:
    """Score of each row of ``features`` (axis 0 = images) by a density fitted on the other folds.

    ``fit_score(fit, held_out)`` fits a fresh estimator on ``fit`` and scores ``held_out``.
    Folds are a seeded shuffle (``KFold``), so a trial's null statistics are reproducible.
    """
    features = np.asarray(features)
    folds = n_folds(len(features), k)
    if folds == 0:
        raise ValueError(f"cross-fitting needs at least {2 * MIN_FIT_IMAGES} images, got {len(features)}")
    out = np.empty(len(features), dtype=np.float64)
    for fit_idx, held_idx in KFold(folds, shuffle=True, random_state=seed).split(features):
        out[held_idx] = fit_score(features[fit_idx], features[held_idx])
    return out


def null_stats(features: np.ndarray, fit_score: FitScore, source: str, k: int = 5,
               seed: int = 0) -> dict[str, float | str | None]:
    """``null_score_mean/std/method`` from cross-fitted scores; nulls when there are too few images."""
    folds = n_folds(len(features), k)
    if folds == 0:
        return {"null_score_mean": None, "null_score_std": None, "null_score_method": None}
    s = crossfit_scores(features, fit_score, k=folds, seed=seed)
    return {"null_score_mean": float(s.mean()), "null_score_std": float(s.std()),
            "null_score_method": f"crossfit{folds}:{source}"}
