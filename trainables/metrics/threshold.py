"""A deployable threshold picked without test anomalies, and what it does on the test set.

:func:`threshold_metrics` takes the score that flags at most ``fpr`` of *held-out normal*
images (never trained on, never in the GDE: ``trainables.evaluate.validation``), with the
test set's true- and false-positive rates at it. An image is flagged when its score is >=
the threshold, sklearn's convention.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def threshold_at_fpr(normal_scores: np.ndarray, fpr: float) -> float:
    """The lowest threshold that flags at most ``floor(n * fpr)`` of the ``n`` normal scores.

    It sits just above the ``k+1``-th highest normal score (``k = floor(n * fpr)``), so the
    false-positive rate on those normals is <= ``fpr``; with fewer than ``1 / fpr`` normals
    ``k`` is 0 and the threshold is just above the highest one (the resolution is ``1 / n``).
    """
    s = np.sort(np.asarray(normal_scores, dtype=np.float64))[::-1]
    if len(s) == 0:
        raise ValueError("a threshold needs at least one held-out normal image")
    if not 0 < fpr < 1:
        raise ValueError(f"threshold_fpr must be in (0, 1), got {fpr}")
    k = int(np.floor(len(s) * fpr + 1e-9))
    return float(np.nextafter(s[min(k, len(s) - 1)], np.inf))


def flag_rates(threshold: float, labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(TPR, FPR): the shares of defective and of good images with score >= threshold."""
    labels, flagged = np.asarray(labels), np.asarray(scores, dtype=np.float64) >= threshold
    tpr = float(flagged[labels == 1].mean()) if (labels == 1).any() else float("nan")
    fpr = float(flagged[labels == 0].mean()) if (labels == 0).any() else float("nan")
    return tpr, fpr


def threshold_metrics(normal_scores: np.ndarray, fpr: float, labels: np.ndarray, scores: np.ndarray,
                      source: str) -> dict[str, Any]:
    """The deployable threshold from held-out normal scores, and what it does on the test set."""
    t = threshold_at_fpr(normal_scores, fpr)
    tpr, test_fpr = flag_rates(t, labels, scores)
    return {"threshold": t,
            "threshold_heldout_fpr": float(np.mean(np.asarray(normal_scores) >= t)),
            "threshold_test_tpr": tpr, "threshold_test_fpr": test_fpr, "threshold_source": source}
