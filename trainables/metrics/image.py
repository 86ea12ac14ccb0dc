"""Image-level metrics of a trial's test scores: ROC AUC (overall and per defect type), average
precision, F1-max, and MVTec LOCO AD's logical / structural AUROC.

- ``image_auc`` and ``auc_by_defect``: scikit-learn's ``roc_auc_score``, of all test images and of
  the good images against each defect type alone.
- ``image_ap``: average precision of the image scores (sklearn ``average_precision_score``).
- ``image_f1_max`` and ``image_f1_threshold``: the best F1 over every threshold of sklearn's
  ``precision_recall_curve`` and the score that gives it. Chosen *on the test set*, so it is
  an optimistic summary, as in anomalib; not a threshold to deploy (``trainables.metrics.threshold``
  picks one without test anomalies).

A threshold means "an image is flagged anomalous when its score is >= the threshold",
sklearn's convention.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

# the MVTec LOCO AD test folders whose AUROC the benchmark reports separately
LOCO_GROUPS = {"image_auc_logical": "logical_anomalies", "image_auc_structural": "structural_anomalies"}


def _both_classes(labels: np.ndarray, what: str) -> None:
    if labels.min() == labels.max():
        raise ValueError(f"{what} needs both good and defective test images")


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


def image_ap(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of image scores (defective = positive)."""
    labels = np.asarray(labels)
    _both_classes(labels, "image AP")
    return float(average_precision_score(labels, np.asarray(scores, dtype=np.float64)))


def f1_max(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(best F1 over all thresholds, the threshold giving it); flagged when score >= threshold."""
    labels = np.asarray(labels)
    _both_classes(labels, "F1-max")
    precision, recall, thresholds = precision_recall_curve(labels, np.asarray(scores, dtype=np.float64))
    p, r = precision[:-1], recall[:-1]      # the last point (recall 0) has no threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(thresholds[best])


def detection_metrics(labels: np.ndarray, scores: np.ndarray, by_defect: Mapping[str, float]) -> dict[str, Any]:
    """Image-level AP and F1-max, and MVTec LOCO AD's logical / structural AUROC where those
    defect types exist (null otherwise)."""
    f1, f1_threshold = f1_max(labels, scores)
    return {"image_ap": image_ap(labels, scores), "image_f1_max": f1, "image_f1_threshold": f1_threshold,
            **{column: by_defect.get(defect) for column, defect in LOCO_GROUPS.items()}}
