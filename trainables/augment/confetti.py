"""FCDD's confetti noise (Liznerski et al., ICLR 2021), batched on the device.

Blob counts, sizes, angles, centres and colours are drawn per image for all blob slots at
once, the blobs are rendered in small windows scattered into the image, blurred by two
banded matrix products, and added to (or, on near-white images, subtracted from) the image
as FCDD's "malformed normal" anomaly does. No PIL, no loop over images or blobs.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from trainables.augment.ops import reflect


def truncated_poisson(b: int, mean: float, cap: int, gen: torch.Generator, device) -> Tensor:
    """Blob counts [B] in [1, cap]: Poisson(``mean``) given at least one (FCDD draws blob
    centres as Bernoulli pixels and redraws an image that got none), drawn by inverting the
    CDF on the device; the rare tail above ``cap`` counts as ``cap``. ``mean`` 0: no blobs."""
    u = torch.rand(b, generator=gen, device=device)     # drawn even when unused: a fixed stream
    if mean <= 0:
        return torch.zeros(b, dtype=torch.long, device=device)
    k = torch.arange(cap, device=device, dtype=torch.float64)
    cdf = torch.exp(k * math.log(mean) - mean - torch.lgamma(k + 1)).cumsum(0).float()  # P(N <= k)
    p0 = math.exp(-mean)
    u = p0 + u * (1 - p0)                                            # uniform over N >= 1
    return 1 + (u.unsqueeze(1) > cdf[1:].unsqueeze(0)).sum(1)


def sample_confetti(b: int, h: int, w: int, *, means: tuple[float, float], max_blobs: int,
                    size: tuple[float, float], rotation: float, gen: torch.Generator, device
                    ) -> dict[str, Tensor]:
    """Parameters of FCDD's two blob kinds per image, ``max_blobs`` slots each ([B, S], S =
    2 x max_blobs; slots past an image's count are inactive): square side in ``size`` px,
    angle uniform in +-``rotation`` degrees, centre anywhere in the image (a blob may be cut
    by the border), colour uniform in [0, 1]^3 for the first kind, white for the second."""
    counts = torch.stack([truncated_poisson(b, m, max_blobs, gen, device) for m in means], dim=1)  # [B,2]
    slot = torch.arange(max_blobs, device=device)
    active = (slot.view(1, 1, -1) < counts.unsqueeze(2)).reshape(b, -1)                          # [B,S]
    s = active.shape[1]
    side = torch.rand(b, s, generator=gen, device=device) * (size[1] - size[0]) + size[0]
    angle = (torch.rand(b, s, generator=gen, device=device) * 2 - 1) * (rotation * math.pi / 180)
    cx = torch.rand(b, s, generator=gen, device=device) * w
    cy = torch.rand(b, s, generator=gen, device=device) * h
    colour = torch.cat([torch.rand(b, max_blobs, 3, generator=gen, device=device),
                        torch.ones(b, max_blobs, 3, device=device)], dim=1)                      # [B,S,3]
    return dict(counts=counts, active=active, side=side, angle=angle, cx=cx, cy=cy, colour=colour)


def confetti_blob_mask(p: dict[str, Tensor], yy: Tensor, xx: Tensor) -> Tensor:
    """Which pixels (rows ``yy`` [B|1,S|1,h,1], columns ``xx`` [B|1,S|1,1,w]) each active blob
    covers: [B,S,h,w], pixel centres inside the rotated square."""
    dx = xx + 0.5 - p["cx"][..., None, None]
    dy = yy + 0.5 - p["cy"][..., None, None]
    cos, sin = torch.cos(p["angle"])[..., None, None], torch.sin(p["angle"])[..., None, None]
    half = p["side"][..., None, None] / 2
    return ((cos * dx + sin * dy).abs() < half) & ((cos * dy - sin * dx).abs() < half) \
        & p["active"][..., None, None]


def render_confetti(p: dict[str, Tensor], h: int, w: int, max_side: float) -> Tensor:
    """The blobs' colours summed where they overlap, as FCDD adds its two kinds: [B,3,H,W].

    Each blob is drawn in a window just large enough for its diagonal and scattered into the
    image, so the cost follows the blob size, not the image; no loop over images or blobs."""
    b, s = p["side"].shape
    win = min(h, w, int(math.ceil(max_side * math.sqrt(2))) + 2)
    top = (p["cy"].floor().long() - win // 2).clamp(0, h - win)[..., None, None]      # [B,S,1,1]
    left = (p["cx"].floor().long() - win // 2).clamp(0, w - win)[..., None, None]
    ar = torch.arange(win, device=top.device)
    yy, xx = top + ar.view(1, 1, win, 1), left + ar.view(1, 1, 1, win)                 # window pixels
    inside = confetti_blob_mask(p, yy, xx)                                              # [B,S,win,win]
    values = inside.unsqueeze(2) * p["colour"][..., None, None]                         # [B,S,3,win,win]
    where = (yy * w + xx).unsqueeze(2).expand(b, s, 3, win, win)
    noise = torch.zeros(b, 3, h * w, device=top.device, dtype=values.dtype)
    noise.scatter_add_(2, where.transpose(1, 2).reshape(b, 3, -1), values.transpose(1, 2).reshape(b, 3, -1))
    return noise.view(b, 3, h, w)


def _blur_matrix(n: int, r: int, kernel: Tensor) -> Tensor:
    """[n, n] matrix M with (x @ M) = x blurred along its last axis by ``kernel`` (2r+1 taps),
    borders reflected as torch's ``reflect`` padding."""
    dst = torch.arange(n, device=kernel.device).view(1, n)
    src = reflect(dst + torch.arange(-r, r + 1, device=kernel.device).view(-1, 1), n)      # [2r+1, n]
    m = torch.zeros(n * n, device=kernel.device, dtype=kernel.dtype)
    m.scatter_add_(0, (src * n + dst).reshape(-1), kernel.view(-1, 1).expand(-1, n).reshape(-1))
    return m.view(n, n)


def gaussian_blur(x: Tensor, ksize: int, sigma: float) -> Tensor:
    """Gaussian blur of [B,C,H,W] with reflected borders (as kornia's ``gaussian_blur2d``, which
    FCDD's ``smooth_noise`` calls); ``ksize`` < 3 or ``sigma`` 0: as is. Done as two banded
    matrix products (rows, then columns): on a CPU far faster than a depthwise convolution."""
    if ksize < 3 or sigma <= 0:
        return x
    h, w = x.shape[-2:]
    r = min(ksize // 2, h - 1, w - 1)
    t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    x = x @ _blur_matrix(w, r, k)
    return _blur_matrix(h, r, k).t() @ x


def add_noise_fcdd(x: Tensor, noise: Tensor, invert_threshold: float) -> Tensor:
    """FCDD's "malformed normal" anomaly: ``x + noise`` clamped to [0, 1], or ``x - noise`` for an
    image that adding hardly changes (mean change < ``invert_threshold``, e.g. a white image)
    when subtracting changes it more (FCDD ``OnlineSupervisor.__malformed_normal``)."""
    added = (x + noise).clamp(0, 1)
    removed = (x - noise).clamp(0, 1)
    d_add = (added - x).mean(dim=(1, 2, 3))
    d_sub = (x - removed).mean(dim=(1, 2, 3))
    invert = (d_add < invert_threshold) & (d_sub > d_add)
    return torch.where(invert.view(-1, 1, 1, 1), removed, added)
