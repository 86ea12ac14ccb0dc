"""The names of the metrics a trial reports: one tuple per place they go.

``study.schema`` builds the results columns on these tuples, ``python -m trainables.run --json``
prints them, and a scheduler sees ``EVAL_METRICS``; the numbers themselves are computed by
``trainables.metrics.image``, ``.pixel`` and ``.threshold``.
"""
from __future__ import annotations

# Beyond ROC AUC: average precision, F1-max, AUPRO, MVTec LOCO AD's logical / structural
# AUROC, and the deployable threshold from held-out normal images with its test rates. Every evaluation reports them; those a trial cannot compute are null.
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
