"""Image-level ROC AUC, overall and per defect type (scikit-learn's roc_auc_score)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score


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
