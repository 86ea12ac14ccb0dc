"""Pixel-level metrics of a localizing trial's heatmaps: pixel ROC AUC, pixel AP and AUPRO.

- ``pixel_auc``: ROC AUC over all pixels of all test images against the ground-truth masks.
- ``pixel_ap``: average precision over all pixels of all test images (localizing variants).
- ``aupro``: area under the per-region-overlap curve up to a false-positive rate of 0.3,
  divided by 0.3 (Bergmann et al., IJCV 2021, "The MVTec Anomaly Detection Dataset"). Each
  connected component of a ground-truth mask is a region (``scipy.ndimage.label``, 8-connected
  like MVTec's reference evaluation code); at a threshold, PRO is the mean over all regions of
  all test images of the share of the region's pixels at or above it, and FPR the share of
  defect-free pixels (of every test image) at or above it. Computed **exactly over all
  thresholds** (every distinct pixel score: one sort, cumulative sums), with linear
  interpolation at FPR 0.3 and the trapezoidal rule, as the reference code does; no grid.

The maps and masks come as one ``[images, H, W]`` array (at ``image_size``) or as a list of
``[H_i, W_i]`` arrays of different sizes (each test image at its native resolution,
``pixel_resolution=native``); either way every pixel of every image counts once.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

AUPRO_FPR_LIMIT = 0.3          # Bergmann et al. 2021: integrate PRO over FPR in [0, 0.3]
REGION_STRUCTURE = np.ones((3, 3), dtype=int)   # 8-connectivity, as MVTec's evaluation code
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


def pixel_auc(maps: Pixels, masks: Pixels) -> float:
    """ROC AUC over all pixels of all test images against the ground-truth masks: one
    [images, H, W] array each, or per image [H_i, W_i] arrays (native sizes)."""
    y = flat_pixels(masks).astype(np.uint8)
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, flat_pixels(maps, np.float64)))


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


def localization_metrics(maps: Pixels, masks: Pixels) -> dict[str, Any]:
    """Pixel AP and AUPRO of heatmaps against the ground-truth masks."""
    return {"pixel_ap": pixel_ap(maps, masks), "aupro": aupro(maps, masks)}
