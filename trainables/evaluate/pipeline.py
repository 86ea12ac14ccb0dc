"""One evaluation of a trained model: features, the density fit, and every metric it reports.

One evaluation extracts pooled features of un-augmented images in batches under
``torch.inference_mode``, fits the density on the normal training images (per image, or per
window for patch-level variants), scores the test set and reports image AUC, per-defect AUC,
image AP and F1-max, pixel AUC, pixel AP and AUPRO where the variant localizes (patch windows,
or GradCAM; at ``image_size`` or at each test image's native resolution, ``PIXEL_TARGETS``),
and on held-out normal images (``trainables.evaluate.validation``: the dataset's own
validation split, else a share of train/good) the deployable threshold with its test rates and ``val_auc``
against procedural defects (``trainables.metrics``); at the end of a trial, out-of-fold
null statistics of the fit images (``trainables.evaluate.crossfit``). What the results keep
for figures is ``trainables.evaluate.samples``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from trainables.config import TrialConfig
from trainables.data.cache import CategoryData, native_test_mask
from trainables.evaluate.crossfit import null_stats as crossfit_null_stats
from trainables.evaluate.image import Scoring, extract_features, score_images
from trainables.evaluate.patches import score_windows
from trainables.evaluate.validation import VAL_DEFECT_FAMILY, defective_copies, held_out_normals
from trainables.metrics.image import auc_by_defect, detection_metrics, image_auc
from trainables.metrics.pixel import Pixels, localization_metrics, pixel_auc
from trainables.metrics.threshold import threshold_metrics


def image_pixels(maps: np.ndarray, data: CategoryData) -> tuple[Pixels, Pixels]:
    """``pixel_resolution=image``: the [M, S, S] maps against the cached masks, shrunk to
    ``image_size`` by NEAREST (a defect thinner than a resized pixel can vanish)."""
    return maps, data.test_masks.numpy()


def native_pixels(maps: np.ndarray, data: CategoryData) -> tuple[Pixels, Pixels]:
    """``pixel_resolution=native``: each map upsampled (bilinear) to its test image's own size,
    against that image's masks read from disk at that size; one [H_i, W_i] pair per image."""
    native_maps, native_masks = [], []
    for i, m in enumerate(maps):
        mask = native_test_mask(data, i)
        up = F.interpolate(torch.as_tensor(m)[None, None], size=mask.shape, mode="bilinear", align_corners=False)
        native_maps.append(up[0, 0].numpy())
        native_masks.append(mask)
    return native_maps, native_masks


# config.PIXEL_RESOLUTIONS -> the maps and masks pixel metrics are scored on
PIXEL_TARGETS: dict[str, Callable[[np.ndarray, CategoryData], tuple[Pixels, Pixels]]] = {
    "image": image_pixels,
    "native": native_pixels,
}


def pixel_metrics(maps: np.ndarray, data: CategoryData, cfg: TrialConfig) -> dict[str, Any]:
    """Pixel AUC, pixel AP and AUPRO of the [M, S, S] test maps at ``cfg.pixel_resolution``."""
    at_maps, at_masks = PIXEL_TARGETS[cfg.pixel_resolution](maps, data)
    return {"pixel_auc": pixel_auc(at_maps, at_masks), **localization_metrics(at_maps, at_masks)}


def val_auc(s: Scoring, normal_u8: torch.Tensor, normal_scores: np.ndarray, seed: int) -> float:
    """AUC of held-out normal images against their procedural defective copies."""
    bad_scores = s.score_new(defective_copies(normal_u8, seed))
    labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(bad_scores))]
    return float(roc_auc_score(labels, np.r_[normal_scores, bad_scores]))


def evaluate(model, data: CategoryData, fit_idx: np.ndarray, cfg: TrialConfig,
             device: torch.device, val_idx: np.ndarray | None = None,
             patch_level: bool = False, null_stats: bool = False) -> dict[str, Any]:
    """GDE on un-augmented normal training images; AUC, AP and F1-max on the test set (and
    pixel AUC, pixel AP and AUPRO when the variant localizes: patch-level variants, or GradCAM
    when ``cfg.gradcam``, at ``cfg.pixel_resolution``); the threshold at ``cfg.threshold_fpr``
    on the held-out normals (never trained on, never in the GDE) and, for image-level variants,
    ``val_auc`` on them.

    ``null_stats`` adds ``null_score_*``: out-of-fold scores of the fit images (see
    ``trainables.evaluate.crossfit``), which ensembles standardise by. Only the final evaluation needs
    them, and they cost K extra density fits, so intermediate evaluations skip them.
    """
    test_feats = extract_features(model, data.test, cfg, device)   # also the t-SNE sample's source
    s = (score_windows(model, data, fit_idx, cfg, device) if patch_level
         else score_images(model, data, fit_idx, test_feats, cfg, device))
    by_defect = auc_by_defect(data.test_labels, s.scores, data.test_defects)
    out = {
        "image_auc": image_auc(data.test_labels, s.scores),
        "auc_by_defect": by_defect,
        **detection_metrics(data.test_labels, s.scores, by_defect),
        "scores": s.scores,
        "train_score_mean": float(s.train_scores.mean()),
        "train_score_std": float(s.train_scores.std()),   # in-sample: kept for old readers only
        "test_features": test_feats,
        "maps": s.maps,
        "density": s.density,     # the fitted density, for a deploy bundle (trainables.deploy)
    }
    if null_stats:
        out.update(crossfit_null_stats(s.null_features, s.fit_score, "train_good", k=5, seed=cfg.seed))
    if s.maps is not None:
        out.update(pixel_metrics(s.maps, data, cfg))
    held = held_out_normals(data, val_idx)
    if held is not None:
        normal_u8, source = held
        normal_scores = s.score_new(normal_u8)
        out.update(threshold_metrics(normal_scores, cfg.threshold_fpr, data.test_labels, s.scores, source))
        if not patch_level:       # patch level would score dense windows of 2x the held-out images
            out["val_auc"] = val_auc(s, normal_u8, normal_scores, cfg.seed)
            out["val_defects"] = VAL_DEFECT_FAMILY
    return out
