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

EVAL_BATCH = 64        # images per forward pass
CPU_EVAL_BATCH = 16    # on a CPU, each batch split further: smaller batches' activations stay in cache


def _batches(n: int, device: torch.device) -> list[tuple[int, int]]:
    """(start, stop) of each forward pass over ``n`` images: ``EVAL_BATCH`` at a time, and on a CPU
    each of those cut into ``CPU_EVAL_BATCH``-image passes, the remainder joined to the last.

    Train features of a demo control (72 images, EfficientNet-Lite0 at 160 px, one thread) took
    0.74 CPU-s against 1.14 (AVX2, fp32) and 0.34 against 0.45 (bf16); ResNet-18 at 64 px 0.26
    against 0.24 (2026-12-03). oneDNN takes another kernel below about 16 images (features then
    differ by ~1e-5 relative), so no pass drops below 16 that did not before: the features are
    bit for bit those of 64-image batches (checked on those three settings).
    """
    out = []
    for start in range(0, n, EVAL_BATCH):
        stop = min(start + EVAL_BATCH, n)
        if device.type != "cpu":
            out.append((start, stop))
            continue
        cuts = list(range(start, stop, CPU_EVAL_BATCH))[:max(1, (stop - start) // CPU_EVAL_BATCH)]
        out += list(zip(cuts, cuts[1:] + [stop]))
    return out


@torch.inference_mode()
def extract_features(model, images_u8: torch.Tensor, cfg: TrialConfig, device: torch.device) -> np.ndarray:
    """Pooled features of un-augmented images, in batches (``_batches``)."""
    model.eval()
    out = []
    for start, stop in _batches(len(images_u8), device):
        x = images_u8[start:stop].to(device, non_blocking=True).float().div_(255)
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
