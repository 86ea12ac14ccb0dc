"""Image-level scoring: pooled features of un-augmented images, and one GDE over them.

``extract_features`` embeds images in large batches under ``torch.inference_mode``;
``score_images`` fits the density on the normal training images' features, scores the test set
and, with ``cfg.gradcam``, draws GradCAM heatmaps (``trainables.evaluate.gradcam``). A
:class:`Scoring` is what one fitted density says about a trial's images, at image or patch
level (``trainables.evaluate.patches``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from trainables.config import TrialConfig
from trainables.data.cache import CategoryData
from trainables.evaluate.crossfit import FitScore
from trainables.evaluate.gradcam import gradcam_maps
from trainables.models.density import DensityEstimator
from trainables.train.devices import use_bf16

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
    density: Any                       # the fitted density: a DensityEstimator (image level) or the
    #                                    patch level's WindowDensity; what a deploy bundle saves
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
