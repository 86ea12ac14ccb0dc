"""The exported computation as torch modules: the same arithmetic the trial's evaluation does,
written so that one ONNX trace holds all of it.

Input: ``images``, uint8 ``[N, S, S, 3]`` (NHWC, RGB, already resized to ``S x S`` the way the
trial's cache resizes: PIL bilinear). In the graph: ``/ 255``, NCHW, the encoder's
normalisation, the encoder, the pooled features of ``feature_layers`` (cast to float64,
L2-normalised as ``trainables.models.density.l2_normalise`` does), then the density as
matrix products in float64:

- a Gaussian (``ledoit_wolf``, ``full``): ``d = f - mean``, ``score = sum((d @ P) * d)``,
  the squared Mahalanobis distance scikit-learn's ``mahalanobis`` returns;
- a Gaussian mixture (``gmm``): per component ``y = f @ L_k - mean_k @ L_k`` (``L_k`` the
  Cholesky factor of its precision), ``score = -logsumexp_k(log w_k + log det L_k
  - D/2 log 2 pi - |y|^2 / 2)``, scikit-learn's ``-score_samples``.

Patch level (``*_patch`` variants): every ``patch_size`` window at ``patch_stride`` (``unfold``,
as ``trainables.evaluate.patches.dense_window_features``), a score per window from its
location's density (or the shared one), the image score is the worst window, and the map is the
trial's own receptive-field Gaussian upsampling module
(``trainables.evaluate.patches.WindowUpsampling``: gathers and elementwise float64 arithmetic,
so ONNX Runtime gives the trial's map to the bit from the same window scores).

GradCAM (image-level trials with ``gradcam``): :class:`GradCamGraph`, the gradient written out.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainables.evaluate.patches import WindowUpsampling
from trainables.models.backbones import deepest


class DensityExportError(ValueError):
    """The bundle's density has no closed form an ONNX graph can hold (e.g. a KDE)."""


class Features(nn.Module):
    """``CutPasteNet.features`` on images in [0, 1]: normalise, encoder, pooled chosen stages."""

    def __init__(self, encoder: nn.Module, layers: list[str], mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.encoder, self.layers, self.upto = encoder, list(layers), deepest(layers)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def maps(self, x: Tensor) -> dict[str, Tensor]:
        """The encoder's feature maps up to the deepest chosen stage."""
        return self.encoder.stages((x - self.mean) / self.std, upto=self.upto)

    def pooled(self, maps: dict[str, Tensor]) -> Tensor:
        return torch.cat([maps[name].mean(dim=(2, 3)) for name in self.layers], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pooled(self.maps(x))


def l2_normalise(f: Tensor) -> Tensor:
    """float64, as the density saw its features at fit and score time."""
    f = f.double()
    return f / f.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class GaussianScore(nn.Module):
    """Squared Mahalanobis distance; ``location`` [D] or [L, D], ``precision`` [D, D] or [L, D, D]."""

    def __init__(self, location: np.ndarray, precision: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("location", torch.from_numpy(np.asarray(location, np.float64)))
        self.register_buffer("precision", torch.from_numpy(np.asarray(precision, np.float64)))

    def forward(self, f: Tensor) -> Tensor:
        """``f`` [N, D] -> [N]; at patch level [L, N, D] -> [L, N] (one density per location, or shared)."""
        d = f - (self.location.unsqueeze(-2) if self.location.dim() == 2 else self.location)
        return (torch.matmul(d, self.precision) * d).sum(dim=-1)


class MixtureScore(nn.Module):
    """Negative log density of a full-covariance Gaussian mixture (scikit-learn's ``GaussianMixture``)."""

    def __init__(self, weights: np.ndarray, means: np.ndarray, precisions_cholesky: np.ndarray) -> None:
        super().__init__()
        chol = torch.from_numpy(np.asarray(precisions_cholesky, np.float64))      # [(L,) K, D, D]
        mu = torch.from_numpy(np.asarray(means, np.float64))                      # [(L,) K, D]
        d = mu.shape[-1]
        log_det = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)       # [(L,) K]
        self.register_buffer("chol", chol)
        self.register_buffer("offset", torch.matmul(mu.unsqueeze(-2), chol).squeeze(-2))   # mean_k @ L_k
        self.register_buffer("const", torch.log(torch.from_numpy(np.asarray(weights, np.float64)))
                             + log_det - 0.5 * d * math.log(2 * math.pi))

    def forward(self, f: Tensor) -> Tensor:
        """``f`` [N, D] -> [N]; at patch level [L, N, D] -> [L, N]."""
        y = torch.matmul(f.unsqueeze(-3), self.chol) - self.offset.unsqueeze(-2)  # [(L,) K, N, D]
        log_prob = self.const.unsqueeze(-1) - 0.5 * (y * y).sum(-1)                # [(L,) K, N]
        return -torch.logsumexp(log_prob, dim=-2)


def density_module(kind: str, arrays: dict[str, np.ndarray]) -> nn.Module:
    """The density as a module; a density with no closed form raises DensityExportError naming it."""
    if kind in ("ledoit_wolf", "full"):
        return GaussianScore(arrays["location"], arrays["precision"])
    if kind == "gmm":
        return MixtureScore(arrays["weights"], arrays["means"], arrays["precisions_cholesky"])
    if kind == "kde":
        raise DensityExportError(
            "density 'kde' (scikit-learn KernelDensity) has no closed form to fold into an ONNX graph: its "
            "score sums a kernel over every training feature. Export a trial fitted with density=ledoit_wolf "
            "(the paper's GDE), full or gmm, or score with the bundle in PyTorch.")
    raise DensityExportError(f"density {kind!r} cannot be exported; exportable: ledoit_wolf, full, gmm")


class ImageGraph(nn.Module):
    """uint8 NHWC images -> ``score`` [N] (float64)."""

    def __init__(self, features: Features, density: nn.Module) -> None:
        super().__init__()
        self.features, self.density = features, density

    def forward(self, images: Tensor) -> Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255
        return self.density(l2_normalise(self.features(x)))


def bilinear_matrix(n: int, size: int) -> Tensor:
    """[size, n]: ``F.interpolate(..., mode="bilinear", align_corners=False)`` along one axis."""
    eye = torch.eye(n, dtype=torch.float64)[None]                           # [1, n (channels), n]
    return F.interpolate(eye, size=size, mode="linear", align_corners=False)[0].t().contiguous()


class GradCamGraph(nn.Module):
    """uint8 NHWC images -> ``score`` [N] and ``anomaly_map`` [N, S, S]: GradCAM of the GDE score
    (``trainables.evaluate.gradcam``) with the gradient written out, since an ONNX graph has no
    backward pass. The score ``(f - mean) P (f - mean)`` of ``f = u / |u|`` (``u`` the pooled
    features) has gradient ``g = (f - mean)(P + P^T)`` in ``f`` and ``(g - f (f . g)) / |u|`` in
    ``u``; a pooled channel's gradient spreads evenly over its ``H x W`` positions, so the GradCAM
    weight of a channel of the map ``acts`` is its gradient in ``u`` over ``H W`` (summed over
    the slices of ``u`` that pool ``acts``). In float64: the weights are differences of large
    terms (``P``'s entries are large where the features vary little), which float32 (the trial's
    autograd) resolves only coarsely, and which differ between runtimes at float32. Only for
    feature layers that ``acts`` does not feed (``export.gradcam_plan``)."""

    def __init__(self, features: Features, density: GaussianScore, acts: str, slices: list[tuple[int, int]],
                 image_size: int) -> None:
        super().__init__()
        self.features, self.density, self.acts, self.slices = features, density, acts, list(slices)
        self.image_size = image_size
        self.register_buffer("p_sym", density.precision + density.precision.t())
        with torch.no_grad():
            h, w = features.maps(torch.zeros(1, 3, image_size, image_size))[acts].shape[2:]
        self.register_buffer("ry", bilinear_matrix(h, image_size))
        self.register_buffer("rx", bilinear_matrix(w, image_size))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = images.permute(0, 3, 1, 2).float() / 255
        maps = self.features.maps(x)
        u = self.features.pooled(maps).double()
        norm = u.norm(dim=1, keepdim=True).clamp_min(1e-12)
        f = u / norm
        score = self.density(f)
        g = torch.matmul(f - self.density.location, self.p_sym)
        gu = (g - f * (f * g).sum(dim=1, keepdim=True)) / norm
        acts = maps[self.acts].double()
        weights = sum(gu[:, a:b] for a, b in self.slices) / (acts.shape[2] * acts.shape[3])
        cam = F.relu((weights[:, :, None, None] * acts).sum(dim=1))
        # the trial's bilinear upsampling, separable, as matrices (ONNX Runtime's Resize has no float64)
        return score, torch.matmul(torch.matmul(self.ry, cam), self.rx.t())


class PatchGraph(nn.Module):
    """uint8 NHWC images -> ``score`` [N] (the worst window) and ``anomaly_map`` [N, S, S] (float64)."""

    def __init__(self, features: Features, density: nn.Module, image_size: int, patch_size: int, stride: int,
                 grid: tuple[int, int]) -> None:
        super().__init__()
        self.features, self.density = features, density
        self.patch_size, self.stride, self.grid = patch_size, stride, tuple(grid)
        self.upsample = WindowUpsampling(self.grid, image_size, patch_size, stride)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = images.permute(0, 3, 1, 2).float() / 255
        p, (gh, gw) = self.patch_size, self.grid
        windows = F.unfold(x, kernel_size=p, stride=self.stride)                 # [N, 3*p*p, L]
        windows = windows.transpose(1, 2).reshape(-1, 3, p, p)                   # image-major, as the trial
        f = l2_normalise(self.features(windows))
        f = f.reshape(-1, gh * gw, f.shape[-1]).transpose(0, 1)                  # [L, N, D]
        # the density's arrays are stacked over locations ([L, ...]) or hold one shared set
        # ([1, ...]); either broadcasts against [L, N, D]
        scores = self.density(f).transpose(0, 1)                                 # [N, L]
        return scores.amax(dim=1), self.upsample(scores.reshape(-1, gh, gw))    # [N], [N, S, S]
