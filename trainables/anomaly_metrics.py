"""The metrics anomaly-detection papers report beside ROC AUC, and a threshold for deployment.

- ``image_ap``: average precision of the image scores (sklearn ``average_precision_score``).
- ``image_f1_max`` and ``image_f1_threshold``: the best F1 over every threshold of sklearn's
  ``precision_recall_curve`` and the score that gives it. Chosen *on the test set*, so it is
  an optimistic summary, as in anomalib; not a threshold to deploy.
- ``pixel_ap``: average precision over all pixels of all test images (localizing variants).
- ``aupro``: area under the per-region-overlap curve up to a false-positive rate of 0.3,
  divided by 0.3 (Bergmann et al., IJCV 2021, "The MVTec Anomaly Detection Dataset"). Each
  connected component of a ground-truth mask is a region (``scipy.ndimage.label``, 8-connected
  like MVTec's reference evaluation code); at a threshold, PRO is the mean over all regions of
  all test images of the share of the region's pixels at or above it, and FPR the share of
  defect-free pixels (of every test image) at or above it. Computed **exactly over all
  thresholds** (every distinct pixel score: one sort, cumulative sums), with linear
  interpolation at FPR 0.3 and the trapezoidal rule, as the reference code does; no grid.
- A **deployable threshold** picked without test anomalies (:func:`threshold_metrics`): the
  score that flags at most ``fpr`` of *held-out normal* images (never trained on, never in the
  GDE), with the test set's true- and false-positive rates at it.

The pixel metrics take the test maps and masks as one ``[images, H, W]`` array (at
``image_size``) or as a list of ``[H_i, W_i]`` arrays of different sizes (each test image at its
native resolution, ``pixel_resolution=native``); either way every pixel of every image counts once.

Every threshold here means "an image (or pixel) is flagged anomalous when its score is >= the
threshold", sklearn's convention.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, precision_recall_curve

AUPRO_FPR_LIMIT = 0.3          # Bergmann et al. 2021: integrate PRO over FPR in [0, 0.3]
REGION_STRUCTURE = np.ones((3, 3), dtype=int)   # 8-connectivity, as MVTec's evaluation code
# the MVTec LOCO AD test folders whose AUROC the benchmark reports separately
LOCO_GROUPS = {"image_auc_logical": "logical_anomalies", "image_auc_structural": "structural_anomalies"}


def _both_classes(labels: np.ndarray, what: str) -> None:
    if labels.min() == labels.max():
        raise ValueError(f"{what} needs both good and defective test images")


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


Pixels = np.ndarray | Sequence[np.ndarray]   # [images, H, W], or per image [H_i, W_i] (native sizes)


def flat_pixels(images: Pixels, dtype: Any = None) -> np.ndarray:
    """Every pixel of every image, image after image, as one vector: an ``[images, H, W]``
    array is reshaped, a list of per-image arrays of different sizes concatenated."""
    if isinstance(images, np.ndarray):
        return np.asarray(images, dtype=dtype).reshape(-1)
    if len(images) == 0:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.asarray(a).reshape(-1) for a in images], dtype=dtype)


def _describe(images: Pixels) -> str:
    if isinstance(images, np.ndarray):
        return str(images.shape)
    return f"{len(images)} images of shapes {sorted({np.shape(a) for a in images})}"


def pixel_ap(maps: Pixels, masks: Pixels) -> float | None:
    """Average precision over all pixels of all test images; None without defective pixels."""
    y = flat_pixels(masks) > 0
    if not y.any() or y.all():
        return None
    return float(average_precision_score(y, flat_pixels(maps, np.float64)))


def _region_weights(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """1 / (its region's size) at each defect pixel of one [H, W] mask, 0 elsewhere; the regions."""
    labeled, n = ndimage.label(mask, structure=REGION_STRUCTURE)
    if not n:
        return np.zeros(mask.shape, dtype=np.float64), 0
    inverse_size = np.zeros(n + 1)
    inverse_size[1:] = 1.0 / np.bincount(labeled.ravel(), minlength=n + 1)[1:]
    return inverse_size[labeled], n


def pro_curve(maps: Pixels, masks: Pixels) -> tuple[np.ndarray, np.ndarray] | None:
    """(FPR, PRO) at every distinct pixel score, from the highest down, starting at (0, 0).

    Sorting all pixels once makes the curve exact: each normal pixel adds 1 / (normal pixels)
    to the FPR when the threshold passes its score, each defect pixel 1 / (its region's size)
    / (regions) to the PRO. None when there is no region or no normal pixel. Regions are found
    per image, so images of different sizes (a list of [H_i, W_i] arrays) are fine.
    """
    shapes = [np.shape(m) for m in maps], [np.shape(m) for m in masks]
    if shapes[0] != shapes[1] or any(len(s) != 2 for s in shapes[0]):
        raise ValueError("AUPRO needs maps and masks of one shape [images, H, W] (or per image [H_i, W_i]); "
                         f"got {_describe(maps)} and {_describe(masks)}")
    weights = [_region_weights(np.asarray(m) > 0) for m in masks]
    pro_step = flat_pixels([w for w, _ in weights], np.float64)
    n_regions = sum(n for _, n in weights)
    normal = ~(flat_pixels(masks) > 0)
    n_normal = int(normal.sum())
    if n_regions == 0 or n_normal == 0:
        return None
    scores = flat_pixels(maps, np.float64)
    order = np.argsort(-scores)                    # ties are merged below: no stable sort needed
    sorted_scores = scores[order]
    fpr = np.cumsum(normal[order]) / n_normal
    pro = np.cumsum(pro_step[order]) / n_regions
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]   # a threshold takes all its ties
    return np.r_[0.0, fpr[last_of_tie]], np.r_[0.0, pro[last_of_tie]]


def aupro(maps: Pixels, masks: Pixels, fpr_limit: float = AUPRO_FPR_LIMIT) -> float | None:
    """Normalised area under the PRO curve for FPR in [0, ``fpr_limit``]; None without regions."""
    curve = pro_curve(maps, masks)
    if curve is None:
        return None
    fpr, pro = curve
    cut = int(np.searchsorted(fpr, fpr_limit, side="right"))    # points with FPR <= limit
    x, y = fpr[:cut], pro[:cut]
    if cut < len(fpr) and x[-1] < fpr_limit:                    # close the area at the limit
        y_at = y[-1] + (pro[cut] - y[-1]) * (fpr_limit - x[-1]) / (fpr[cut] - x[-1])
        x, y = np.r_[x, fpr_limit], np.r_[y, y_at]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / fpr_limit)


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


def detection_metrics(labels: np.ndarray, scores: np.ndarray, by_defect: Mapping[str, float]) -> dict[str, Any]:
    """Image-level AP and F1-max, and MVTec LOCO AD's logical / structural AUROC where those
    defect types exist (null otherwise)."""
    f1, f1_threshold = f1_max(labels, scores)
    return {"image_ap": image_ap(labels, scores), "image_f1_max": f1, "image_f1_threshold": f1_threshold,
            **{column: by_defect.get(defect) for column, defect in LOCO_GROUPS.items()}}


def localization_metrics(maps: Pixels, masks: Pixels) -> dict[str, Any]:
    """Pixel AP and AUPRO of heatmaps against the ground-truth masks."""
    return {"pixel_ap": pixel_ap(maps, masks), "aupro": aupro(maps, masks)}
