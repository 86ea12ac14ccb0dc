"""Image-level ROC AUC, overall and per defect type (scikit-learn's roc_auc_score), and the
names of the metrics a trial reports."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

# Beyond ROC AUC (``trainables.anomaly_metrics``): average precision, F1-max, AUPRO, MVTec LOCO
# AD's logical / structural AUROC, and the deployable threshold from held-out normal images
# with its test rates. Every evaluation reports them; those a trial cannot compute are null.
ANOMALY_METRICS = ("image_ap", "image_f1_max", "image_f1_threshold", "image_auc_logical",
                   "image_auc_structural", "pixel_ap", "aupro", "threshold", "threshold_heldout_fpr",
                   "threshold_test_tpr", "threshold_test_fpr", "threshold_source")
# What a finished trial reports beside its config (``TrialResult.metrics``): each name is a
# column of a study's results row (``study.schema`` builds on this tuple) and a key of
# ``python -m trainables.run --json``.
TRIAL_METRICS = ("dataset", "image_auc", "pixel_auc", "val_auc", "val_defects", "auc_by_defect",
                 *ANOMALY_METRICS, "train_seconds", "eval_seconds", "images_per_second", "train_score_mean",
                 "train_score_std", "null_score_mean", "null_score_std", "null_score_method", "device")
# The scalars every evaluation reports (``report(metrics, state)``): what a scheduler sees.
EVAL_METRICS = ("step", "image_auc", "pixel_auc", "val_auc", "loss", "train_seconds", "eval_seconds",
                "images_per_second")
# One row of a trial's learning curve per curve point (``TrialResult.history``, every
# ``log_interval`` steps and at each evaluation): the mean training loss and accuracy on the
# self-supervised task since the previous point, the last step's lr, the AUCs where the step
# was evaluated (else null), and the cost so far.
HISTORY_METRICS = ("step", "loss", "accuracy", "lr", "image_auc", "pixel_auc", "val_auc", "train_seconds",
                   "images_per_second")


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
