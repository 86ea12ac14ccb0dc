"""Image-level ROC AUC, overall and per defect type (scikit-learn's roc_auc_score), and the
names of the metrics a trial reports."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

# What a finished trial reports beside its config (``TrialResult.metrics``): each name is a
# column of a study's results row (``study.schema`` builds on this tuple) and a key of
# ``python -m trainables.run --json``.
TRIAL_METRICS = ("dataset", "image_auc", "pixel_auc", "val_auc", "val_defects", "auc_by_defect",
                 "train_seconds", "eval_seconds", "images_per_second", "train_score_mean", "train_score_std",
                 "null_score_mean", "null_score_std", "null_score_method", "device")
# The scalars every evaluation reports (``report(metrics, state)``): what a scheduler sees.
EVAL_METRICS = ("step", "image_auc", "pixel_auc", "val_auc", "loss", "train_seconds", "eval_seconds",
                "images_per_second")
# One row of a trial's learning curve per evaluation (``TrialResult.history``).
HISTORY_METRICS = ("step", "image_auc", "pixel_auc", "val_auc", "loss", "train_seconds", "images_per_second")


def image_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    labels = np.asarray(labels)
    if labels.min() == labels.max():
        raise ValueError("image AUC needs both good and defective test images")
    return float(roc_auc_score(labels, scores))


def auc_by_defect(labels: np.ndarray, scores: np.ndarray, defects: Sequence[str]) -> dict[str, float]:
    """AUC of the good images against each defect type alone."""
    labels, scores, defects = np.asarray(labels), np.asarray(scores), np.asarray(defects)
    good = labels == 0
    out = {}
    for d in sorted(set(defects[labels == 1])):
        sel = good | (defects == d)
        out[str(d)] = float(roc_auc_score(labels[sel], scores[sel]))
    return out
