"""Patch-level scoring and localization: dense windows, one GDE per location or shared (Sec. 4.2).

Patch-level models see ``patch_size`` windows. At test time every window of the image at
``patch_stride`` is embedded in one batched pass (``unfold`` turns an image batch into its
windows; no Python loop over windows), scored by a GDE, and the grid of window scores is
spread back over the pixels each window covers with a Gaussian kernel (receptive-field
upsampling as in FCDD, :class:`WindowUpsampling`, which the exported ONNX graph holds too, so
that both compute the same map to the bit). Aligned
objects get one GDE per window location; textures, hazelnut and screw share one (the
category registry says which; ``patch_gde`` overrides). The image score is the maximum
window score (:func:`score_windows`). Image-level models get their heatmaps from GradCAM
(``trainables.evaluate.gradcam``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainables.config import TrialConfig
from trainables.data.cache import CategoryData
from trainables.data.datasets import category_info
from trainables.evaluate.image import Scoring
from trainables.models.density import DensityEstimator
from trainables.train.devices import use_bf16

WINDOW_BATCH = 512
MAP_CHUNK = 32          # images upsampled at once


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


def gaussian_weights(size: int, sigma: float | None = None) -> np.ndarray:
    """[size] Gaussian weights over a window's pixels along one axis (sigma = size / 4), summing
    to 1; the window's 2D kernel is their outer product."""
    sigma = sigma or size / 4
    ax = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _axis_plan(grid: int, image_size: int, patch_size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis, for every pixel: the windows covering it (``idx`` [k, S], first window
    first; unused slots repeat it) and their normalised Gaussian weights (``w`` [k, S], 0 in
    unused slots). Pixels past the last window's end copy the last covered pixel."""
    a, k = gaussian_weights(patch_size), -(-patch_size // stride)
    covered = (grid - 1) * stride + patch_size
    idx, w = np.zeros((k, image_size), np.int64), np.zeros((k, image_size))
    for y in range(image_size):
        yy = min(y, covered - 1)
        first, last = max(0, -(-(yy - patch_size + 1) // stride)), min(grid - 1, yy // stride)
        weights = np.array([a[yy - j * stride] for j in range(first, last + 1)])
        idx[:, y] = first
        idx[:last - first + 1, y] = np.arange(first, last + 1)
        w[:last - first + 1, y] = weights / weights.sum()
    return idx, w


class WindowUpsampling(nn.Module):
    """[N, gh, gw] window scores -> [N, S, S] pixel scores, float64: each window spreads its score
    over the pixels it covers with Gaussian weights, overlapping windows averaged (FCDD's
    receptive-field upsampling: a transposed convolution with stride ``patch_stride`` divided by
    the same of ones), one axis after the other (the kernel is separable).

    Written as gathers and elementwise arithmetic in a fixed order, ``s_first + sum_t w_t (s_t -
    s_first)`` over the windows covering a pixel, so that (1) pixels equal in exact arithmetic
    are equal here: a pixel that one window covers is that window's score exactly, and windows
    of equal scores give exactly that score; and (2) the trial and the exported ONNX graph
    (``trainables.deploy.graph.PatchGraph`` holds this module) compute the same map to the bit
    from the same window scores, with no matrix product whose summation order is the runtime's.
    Pixel AUC ranks every pixel of every image; a one-ulp split of such a tie decides the order
    of many defect/normal pairs (it moved the row's pixel AUC by up to 7e-5)."""

    def __init__(self, grid: tuple[int, int], image_size: int, patch_size: int, stride: int) -> None:
        super().__init__()
        self.k = -(-patch_size // stride)
        for axis, g in zip("yx", grid):
            idx, w = _axis_plan(g, image_size, patch_size, stride)
            self.register_buffer(f"idx_{axis}", torch.from_numpy(idx))
            self.register_buffer(f"w_{axis}", torch.from_numpy(w))

    def _spread(self, s: Tensor, idx: Tensor, w: Tensor, dim: int) -> Tensor:
        base = s.index_select(dim, idx[0])
        out = base
        for t in range(1, self.k):
            weight = w[t].view(-1, 1) if dim == 1 else w[t]
            out = out + weight * (s.index_select(dim, idx[t]) - base)
        return out

    def forward(self, scores: Tensor) -> Tensor:
        rows = self._spread(scores.double(), self.idx_y, self.w_y, dim=1)       # [N, S, gw]
        return self._spread(rows, self.idx_x, self.w_x, dim=2)                  # [N, S, S]


def upsample_window_scores(scores: np.ndarray, image_size: int, cfg: TrialConfig) -> np.ndarray:
    """[M, L] window scores -> [M, S, S] pixel scores (:class:`WindowUpsampling`)."""
    gh, gw = window_grid(image_size, cfg)
    up = WindowUpsampling((gh, gw), image_size, cfg.patch_size, cfg.patch_stride)
    maps = torch.from_numpy(np.asarray(scores, np.float64)).view(-1, gh, gw)
    with torch.inference_mode():   # in chunks: each step holds a few [chunk, S, S] float64 arrays
        return torch.cat([up(maps[i:i + MAP_CHUNK]) for i in range(0, len(maps), MAP_CHUNK)]).numpy()


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
