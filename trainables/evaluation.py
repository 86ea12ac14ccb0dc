"""Evaluation of a trained model: features, the density fit, AUCs, and what figures keep.

One evaluation extracts pooled features of un-augmented images in batches under
``torch.inference_mode``, fits the density on the normal training images (per image, or per
window for patch-level variants), scores the test set and reports image AUC, per-defect AUC,
image AP and F1-max, pixel AUC, pixel AP and AUPRO where the variant localizes (patch windows,
or GradCAM; at ``image_size`` or at each test image's native resolution, ``PIXEL_TARGETS``),
and on held-out normal images (``trainables.validation``: the dataset's own validation split,
else a share of train/good) the deployable threshold with its test rates and ``val_auc``
against procedural defects (``trainables.anomaly_metrics``); at the end of a trial,
out-of-fold null statistics of the fit images (``trainables.crossfit``). It also draws what
the results keep for figures: a t-SNE sample of features and Figure 4 heatmaps (at
``image_size`` whatever ``pixel_resolution`` says).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from trainables.anomaly_metrics import Pixels, detection_metrics, localization_metrics, threshold_metrics
from trainables.augment_ops import PixelStore
from trainables.augmentations import create_variant, source_batch
from trainables.config import TrialConfig
from trainables.crossfit import FitScore, null_stats as crossfit_null_stats
from trainables.data import CategoryData, native_test_mask
from trainables.density import DensityEstimator
from trainables.devices import use_bf16
from trainables.localization import (WindowDensity, dense_window_features, gradcam_maps, pixel_auc,
                                     upsample_window_scores)
from trainables.metrics import auc_by_defect, image_auc
from trainables.validation import VAL_DEFECT_FAMILY, defective_copies, held_out_normals

EVAL_BATCH = 64


@torch.inference_mode()
def extract_features(model, images_u8: torch.Tensor, cfg: TrialConfig, device: torch.device) -> np.ndarray:
    """Pooled features of un-augmented images, in large batches."""
    model.eval()
    out = []
    for i in range(0, len(images_u8), EVAL_BATCH):
        x = images_u8[i:i + EVAL_BATCH].to(device, non_blocking=True).float().div_(255)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(cfg, device)):
            f = model.features(x, cfg.feature_layer_list)
        out.append(f.float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


@dataclass
class Scoring:
    """What one fitted density says about a trial's images."""
    scores: np.ndarray                 # per test image (patch level: its worst window)
    train_scores: np.ndarray           # in-sample scores of the fit images
    maps: np.ndarray | None            # [M, S, S] test heatmaps where the variant localizes
    null_features: np.ndarray          # what cross-fitting re-splits: the fit images' features or windows
    fit_score: FitScore                # a fresh density fitted on some of them, scoring the others
    density: DensityEstimator | None   # the image-level GDE (none at patch level)
    score_new: Callable[[torch.Tensor], np.ndarray]   # image scores of other uint8 images, same fit


def score_images(model, data: CategoryData, fit_idx: np.ndarray, test_feats: np.ndarray,
                 cfg: TrialConfig, device: torch.device) -> Scoring:
    """Image-level: one GDE on pooled features; GradCAM heatmaps when ``cfg.gradcam``."""
    train_feats = extract_features(model, data.train[fit_idx], cfg, device)
    density = DensityEstimator(cfg.density, seed=cfg.seed).fit(train_feats)
    scores, train_scores = density.score(test_feats), density.score(train_feats)
    maps = gradcam_maps(model, density, data.test, cfg, device) if cfg.gradcam else None

    def fit_score(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        return DensityEstimator(cfg.density, seed=cfg.seed).fit(fit).score(held)

    def score_new(images_u8: torch.Tensor) -> np.ndarray:
        return density.score(extract_features(model, images_u8, cfg, device))
    return Scoring(scores, train_scores, maps, train_feats, fit_score, density, score_new)


def score_windows(model, data: CategoryData, fit_idx: np.ndarray, cfg: TrialConfig,
                  device: torch.device) -> Scoring:
    """Patch-level: every window scored densely; an image scores its worst window (Sec. 4.2)."""
    bf16 = use_bf16(cfg, device)
    train_windows = dense_window_features(model, data.train[fit_idx], cfg, device, bf16)
    test_windows = dense_window_features(model, data.test, cfg, device, bf16)
    windows = WindowDensity(cfg).fit(train_windows)
    window_scores = windows.score(test_windows)
    scores = window_scores.max(axis=1)
    train_scores = windows.score(train_windows).max(axis=1)
    maps = upsample_window_scores(window_scores, data.image_size, cfg)

    def fit_score(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        return WindowDensity(cfg).fit(fit).score(held).max(axis=1)

    def score_new(images_u8: torch.Tensor) -> np.ndarray:
        return windows.score(dense_window_features(model, images_u8, cfg, device, bf16)).max(axis=1)
    return Scoring(scores, train_scores, maps, train_windows, fit_score, None, score_new)


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
    ``trainables.crossfit``), which ensembles standardise by. Only the final evaluation needs
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


def embedding_sample(model, data: CategoryData, store: PixelStore, test_feats: np.ndarray,
                     cfg: TrialConfig, device: torch.device) -> dict[str, np.ndarray]:
    """Features of a few normal and defective test images and of CutPaste / scar versions of
    training images, drawn with the real augmentation code (paper Fig. 3's t-SNE)."""
    n = cfg.embedding_sample
    if n <= 0:
        return {}
    rng = np.random.default_rng(cfg.seed)
    labels = np.asarray(data.test_labels)
    out = {}
    for kind, label in (("normal", 0), ("defect", 1)):
        idx = np.flatnonzero(labels == label)
        out[kind] = test_feats[np.sort(rng.permutation(idx)[:n])]
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    sources = torch.randint(0, store.n, (min(n, store.n),), generator=gen, device=device)
    images, classes = create_variant("cutpaste_3way").make_batch(source_batch(store, sources, cfg, gen), cfg)
    feats = extract_features(model, images.mul(255).round().to(torch.uint8), cfg, device)
    classes = classes.cpu().numpy()
    out["cutpaste"], out["scar"] = feats[classes == 1], feats[classes == 2]
    return out


def heatmap_rows(data: CategoryData, maps: np.ndarray, cfg: TrialConfig, kind: str) -> dict[str, list]:
    """A few defective test images with their mask and heatmap (Figure 4), at <= 128 px."""
    defect_idx = np.flatnonzero(np.asarray(data.test_labels) == 1)
    if cfg.heatmap_sample <= 0 or len(defect_idx) == 0:
        return {}
    pick = defect_idx[np.linspace(0, len(defect_idx) - 1, min(cfg.heatmap_sample, len(defect_idx))).round().astype(int)]
    size = min(data.image_size, 128)
    img = F.interpolate(data.test[pick].float(), size=(size, size), mode="area").round().to(torch.uint8)
    mask = F.interpolate(data.test_masks[pick].unsqueeze(1).float(), size=(size, size), mode="area")[:, 0]
    heat = F.interpolate(torch.as_tensor(maps[pick], dtype=torch.float32).unsqueeze(1), size=(size, size),
                         mode="area")[:, 0]
    return {"image_path": [data.test_paths[i] for i in pick], "defect_type": [data.test_defects[i] for i in pick],
            "kind": [kind] * len(pick), "size": [size] * len(pick),
            "image": [m.permute(1, 2, 0).reshape(-1).tolist() for m in img],
            "mask": [m.reshape(-1).tolist() for m in (mask > 0.5).to(torch.uint8)],
            "heatmap": [m.reshape(-1).tolist() for m in heat]}
