"""Patch-level scoring and localization: dense windows, one GDE per location or shared (Sec. 4.2).

Patch-level models see ``patch_size`` windows. At test time every window of the image at
``patch_stride`` is embedded in one batched pass (``unfold`` turns an image batch into its
windows; no Python loop over windows), scored by a GDE, and the grid of window scores is
spread back over the pixels each window covers with a Gaussian kernel (receptive-field
upsampling as in FCDD: a transposed convolution with stride ``patch_stride``). Aligned
objects get one GDE per window location; textures, hazelnut and screw share one (the
category registry says which; ``patch_gde`` overrides). The image score is the maximum
window score (:func:`score_windows`). Image-level models get their heatmaps from GradCAM
(``trainables.evaluate.gradcam``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from trainables.config import TrialConfig
from trainables.data.cache import CategoryData
from trainables.data.datasets import category_info
from trainables.evaluate.image import Scoring
from trainables.models.density import DensityEstimator
from trainables.train.devices import use_bf16

WINDOW_BATCH = 512


def window_grid(image_size: int, cfg: TrialConfig) -> tuple[int, int]:
    n = (image_size - cfg.patch_size) // cfg.patch_stride + 1
    return n, n


@torch.inference_mode()
def dense_window_features(model, images_u8: torch.Tensor, cfg: TrialConfig, device: torch.device,
                          bf16: bool) -> np.ndarray:
    """[N, L, D] pooled features of every ``patch_size`` window at ``patch_stride``."""
    model.eval()
    p, s = cfg.patch_size, cfg.patch_stride
    out = []
    per_image = window_grid(images_u8.shape[-1], cfg)
    n_windows = per_image[0] * per_image[1]
    images_per_chunk = max(1, WINDOW_BATCH // n_windows)
    for i in range(0, len(images_u8), images_per_chunk):
        x = images_u8[i:i + images_per_chunk].to(device).float().div_(255)
        b = x.shape[0]
        windows = F.unfold(x, kernel_size=p, stride=s)                   # [b, 3*p*p, L]
        windows = windows.transpose(1, 2).reshape(b * n_windows, 3, p, p)
        feats = []
        for j in range(0, len(windows), WINDOW_BATCH):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                feats.append(model.features(windows[j:j + WINDOW_BATCH], cfg.feature_layer_list).float())
        out.append(torch.cat(feats).view(b, n_windows, -1).cpu())
    return torch.cat(out).numpy().astype(np.float64)


def per_location(cfg: TrialConfig) -> bool:
    if cfg.patch_gde == "auto":
        return category_info(cfg.category).per_location_gde
    return cfg.patch_gde == "per_location"


class WindowDensity:
    """One GDE per window location, or one shared over all locations."""

    def __init__(self, cfg: TrialConfig) -> None:
        self.cfg, self.per_location = cfg, per_location(cfg)
        self.estimators: list[DensityEstimator] = []

    def fit(self, train: np.ndarray) -> "WindowDensity":
        n, l, d = train.shape
        if self.per_location:
            self.estimators = [DensityEstimator(self.cfg.density, self.cfg.seed).fit(train[:, k]) for k in range(l)]
        else:
            self.estimators = [DensityEstimator(self.cfg.density, self.cfg.seed).fit(train.reshape(n * l, d))]
        return self

    def score(self, feats: np.ndarray) -> np.ndarray:
        """[M, L] window scores."""
        m, l, d = feats.shape
        if self.per_location:
            return np.stack([self.estimators[k].score(feats[:, k]) for k in range(l)], axis=1)
        return self.estimators[0].score(feats.reshape(m * l, d)).reshape(m, l)


def gaussian_kernel(size: int, sigma: float | None = None) -> torch.Tensor:
    sigma = sigma or size / 4
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(ax ** 2) / (2 * sigma ** 2))
    k = torch.outer(g, g)
    return k / k.sum()


def upsample_window_scores(scores: np.ndarray, image_size: int, cfg: TrialConfig) -> np.ndarray:
    """[M, L] window scores -> [M, S, S] pixel scores: each window spreads its score over
    the pixels it covers with a Gaussian weight; overlapping windows are averaged."""
    gh, gw = window_grid(image_size, cfg)
    maps = torch.from_numpy(scores).view(-1, 1, gh, gw)
    kernel = gaussian_kernel(cfg.patch_size).view(1, 1, cfg.patch_size, cfg.patch_size)
    num = F.conv_transpose2d(maps, kernel, stride=cfg.patch_stride)
    den = F.conv_transpose2d(torch.ones_like(maps[:1]), kernel, stride=cfg.patch_stride)
    out = num / den.clamp_min(1e-12)
    pad_h, pad_w = image_size - out.shape[-2], image_size - out.shape[-1]
    if pad_h or pad_w:   # windows that do not tile the image exactly leave a border: replicate it
        out = F.pad(out, (0, pad_w, 0, pad_h), mode="replicate")
    return out[:, 0].numpy()


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
    return Scoring(scores, train_scores, maps, train_windows, fit_score, windows, score_new)
