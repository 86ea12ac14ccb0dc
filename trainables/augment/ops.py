"""Batched image operations behind every augmentation, on whatever device the batch is.

Why pointers: CutPaste-style batches are mostly copies. Every output pixel is a copy
of some pixel of the uint8 images already on the device, followed by a per-image
colour transform. So a batch is first *planned* as a flat index map (which stored
pixel each output pixel shows: translation and the cut-and-paste compose into it) and
a colour transform per image (jitter, and a second one for pasted pixels), then
*rendered* with one gather from uint8 and one batched 3x3 matrix product. Kernel
launches do not depend on the batch size; there is no PIL, no Python loop over
images and no host round trip. Parameters are drawn per image from a seeded
``torch.Generator`` that lives on the batch's device. (FCDD's confetti noise: ``trainables.augment.confetti``.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as torchvision's rgb_to_grayscale
_RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def uniform(gen: torch.Generator, n: int, lo: float, hi: float, device) -> Tensor:
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


# ----------------------------------------------------------------- colour
@dataclass(frozen=True)
class Affine:
    """Per-image colour transform rgb -> mat @ rgb + off (mat [B,3,3], off [B,3])."""
    mat: Tensor
    off: Tensor

    @staticmethod
    def identity(b: int, device, dtype=torch.float32) -> "Affine":
        return Affine(torch.eye(3, device=device, dtype=dtype).expand(b, 3, 3).contiguous(),
                      torch.zeros(b, 3, device=device, dtype=dtype))

    def then(self, other: "Affine") -> "Affine":
        """Apply self, then other."""
        return Affine(other.mat @ self.mat,
                      torch.einsum("bij,bj->bi", other.mat, self.off) + other.off)


_CONSTANTS: dict[tuple, tuple[Tensor, Tensor]] = {}


def _colour_constants(device, dtype) -> tuple[Tensor, Tensor]:
    """Luma weights and the RGB->YIQ matrix on ``device``, made once: a tensor built from a
    Python list is a host-to-device copy, which a training step must not issue."""
    key = (str(device), dtype)
    if key not in _CONSTANTS:
        _CONSTANTS[key] = (torch.tensor(_LUMA, device=device, dtype=dtype),
                           torch.tensor(_RGB_TO_YIQ, device=device, dtype=dtype))
    return _CONSTANTS[key]


def jitter_affine(mean_rgb: Tensor, strength: float, gen: torch.Generator) -> Affine:
    """Colour jitter (brightness, contrast, saturation, hue; each up to ``strength``).

    Each of the four is affine in RGB (contrast mixes in the image's mean grey, known
    from ``mean_rgb`` [B,3]), so they compose into one transform per image, applied in
    a per-image random order as torchvision's ColorJitter does. torchvision clamps
    after every step, we clamp once: they differ only where a pixel saturates midway.
    """
    b, dev, dt = mean_rgb.shape[0], mean_rgb.device, mean_rgb.dtype
    if strength <= 0:
        return Affine.identity(b, dev, dt)
    eye = torch.eye(3, device=dev, dtype=dt).expand(b, 3, 3)
    luma, yiq = _colour_constants(dev, dt)
    bright = uniform(gen, b, 1 - strength, 1 + strength, dev).to(dt).view(b, 1, 1)
    contrast = uniform(gen, b, 1 - strength, 1 + strength, dev).to(dt)
    sat = uniform(gen, b, 1 - strength, 1 + strength, dev).to(dt).view(b, 1, 1)
    hue = uniform(gen, b, -min(strength, 0.5), min(strength, 0.5), dev).to(dt) * 2 * math.pi
    rot = torch.zeros(b, 3, 3, device=dev, dtype=dt)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2] = torch.cos(hue), -torch.sin(hue)
    rot[:, 2, 1], rot[:, 2, 2] = torch.sin(hue), torch.cos(hue)
    mats = torch.stack([
        bright * eye,                                                  # brightness
        contrast.view(b, 1, 1) * eye,                                  # contrast (+ offset)
        sat * eye + (1 - sat) * torch.outer(torch.ones(3, device=dev, dtype=dt), luma),
        torch.linalg.inv(yiq) @ rot @ yiq,                             # hue
    ], dim=1)                                                          # [B,4,3,3]
    order = torch.argsort(torch.rand(b, 4, generator=gen, device=dev), dim=1)
    rows = torch.arange(b, device=dev)
    acc = Affine.identity(b, dev, dt)
    for k in range(4):
        pick = order[:, k]
        grey = (torch.einsum("bij,bj->bi", acc.mat, mean_rgb) + acc.off) @ luma
        is_contrast = (pick == 1).to(dt).view(b, 1)
        off = is_contrast * ((1 - contrast) * grey).view(b, 1).expand(b, 3)
        acc = acc.then(Affine(mats[rows, pick], off))
    return acc


# ----------------------------------------------------------------- geometry
def reflect(i: Tensor, n: int) -> Tensor:
    i = i.abs()
    return torch.where(i >= n, 2 * (n - 1) - i, i).clamp_(0, n - 1)


def corner(gen: torch.Generator, size: Tensor, side: int) -> Tensor:
    """Start coordinate so that a segment of ``size`` lies wholly inside ``side``."""
    room = (side - size + 1).float()
    return (torch.rand(size.shape[0], generator=gen, device=size.device) * room).long()


def sample_rect_sizes(b: int, h: int, w: int, area: tuple[float, float],
                      aspect: tuple[float, float], gen: torch.Generator, device
                      ) -> tuple[Tensor, Tensor]:
    """Patch heights and widths: area ratio uniform, aspect (w/h) log-uniform."""
    a = uniform(gen, b, area[0], area[1], device) * h * w
    r = torch.exp(uniform(gen, b, math.log(aspect[0]), math.log(aspect[1]), device))
    pw = torch.sqrt(a * r).round().clamp(1, w - 1).long()
    ph = torch.sqrt(a / r).round().clamp(1, h - 1).long()
    return ph, pw


def sample_rect(b: int, h: int, w: int, area, aspect, gen, device) -> dict[str, Tensor]:
    ph, pw = sample_rect_sizes(b, h, w, area, aspect, gen, device)
    return dict(height=ph, width=pw, top=corner(gen, ph, h), left=corner(gen, pw, w))


def rect_mask(r: dict[str, Tensor], h: int, w: int) -> Tensor:
    yy = torch.arange(h, device=r["top"].device).view(1, h, 1)
    xx = torch.arange(w, device=r["top"].device).view(1, 1, w)
    t, l = r["top"].view(-1, 1, 1), r["left"].view(-1, 1, 1)
    return ((yy >= t) & (yy < t + r["height"].view(-1, 1, 1))
            & (xx >= l) & (xx < l + r["width"].view(-1, 1, 1)))


def sample_scar(b: int, h: int, w: int, width: tuple[float, float], length: tuple[float, float],
                rotation: float, gen: torch.Generator, device) -> dict[str, Tensor]:
    """Width, length, angle (radians) and a centre whose rotated box fits the image."""
    sw = uniform(gen, b, *width, device).clamp(max=w - 1)
    sl = uniform(gen, b, *length, device).clamp(max=h - 1)
    ang = uniform(gen, b, -rotation, rotation, device) * math.pi / 180
    c, s = torch.cos(ang).abs(), torch.sin(ang).abs()
    half_x = ((c * sw + s * sl) / 2).clamp(max=w / 2)
    half_y = ((s * sw + c * sl) / 2).clamp(max=h / 2)
    cx = half_x + torch.rand(b, generator=gen, device=device) * (w - 2 * half_x)
    cy = half_y + torch.rand(b, generator=gen, device=device) * (h - 2 * half_y)
    return dict(width=sw, length=sl, angle=ang, cx=cx, cy=cy)


def scar_frame(p: dict[str, Tensor], yy: Tensor, xx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Mask of the rotated scar at pixel rows ``yy`` [B|1,h,1] and columns ``xx`` [B|1,1,w],
    and each pixel's (u across, v along) coordinates in the scar's own frame."""
    dx = xx + 0.5 - p["cx"].view(-1, 1, 1)
    dy = yy + 0.5 - p["cy"].view(-1, 1, 1)
    cos, sin = torch.cos(p["angle"]).view(-1, 1, 1), torch.sin(p["angle"]).view(-1, 1, 1)
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy
    mask = (u.abs() < p["width"].view(-1, 1, 1) / 2) & (v.abs() < p["length"].view(-1, 1, 1) / 2)
    return mask, u, v


# ----------------------------------------------------------------- the batch
class PixelStore:
    """The category's uint8 images on the device, packed one int32 per RGB pixel.

    Packing lets one ``take`` fetch a whole pixel; built once per trial.
    """

    def __init__(self, images: Tensor) -> None:
        n, c, h, w = images.shape
        if c != 3 or images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 [N,3,H,W], got {tuple(images.shape)} {images.dtype}")
        rgba = torch.zeros(n, h, w, 4, dtype=torch.uint8, device=images.device)
        rgba[..., :3] = images.permute(0, 2, 3, 1)
        self.packed = rgba.view(torch.int32).reshape(-1)
        self.n, self.h, self.w, self.device = n, h, w, images.device
        self.mean_rgb = images.float().mean(dim=(2, 3)) / 255  # [N,3] for contrast jitter


class PixelBatch:
    """B output images described as pointers into a :class:`PixelStore`.

    ``rows[b, y]`` and ``cols[b, x]`` give the stored row and column that output pixel
    (y, x) of image b shows before any pasting (they encode the base translation);
    ``colour`` is the base colour jitter. Augmentations build index maps with
    :meth:`pointer` and render them with :meth:`render`.
    """

    def __init__(self, store: PixelStore, sources: Tensor, gen: torch.Generator, *,
                 translate: float = 0.0, jitter: float = 0.0, crop: int | None = None):
        """``crop``: output random ``crop`` x ``crop`` windows of the stored images instead of
        whole (translated) images: the training input of patch-level models (Sec. 4.2)."""
        self.store, self.sources, self.gen = store, sources, gen
        self.b, self.device = sources.shape[0], store.device
        if crop is not None:
            if not 1 <= crop <= min(store.h, store.w):
                raise ValueError(f"crop {crop} does not fit images of {store.h}x{store.w}")
            h = w = crop
            top = (torch.rand(self.b, generator=gen, device=self.device) * (store.h - crop + 1)).long()
            left = (torch.rand(self.b, generator=gen, device=self.device) * (store.w - crop + 1)).long()
            self.rows = top.view(-1, 1) + torch.arange(crop, device=self.device).view(1, crop)
            self.cols = left.view(-1, 1) + torch.arange(crop, device=self.device).view(1, crop)
        else:
            h, w = store.h, store.w
            dy = dx = torch.zeros(self.b, dtype=torch.long, device=self.device)
            if translate > 0:
                dy = (uniform(gen, self.b, -translate, translate, self.device) * h).round().long()
                dx = (uniform(gen, self.b, -translate, translate, self.device) * w).round().long()
            self.rows = reflect(torch.arange(h, device=self.device).view(1, h) - dy.view(-1, 1), h)
            self.cols = reflect(torch.arange(w, device=self.device).view(1, w) - dx.view(-1, 1), w)
        self.h, self.w = h, w          # output size
        self.mean_rgb = store.mean_rgb[sources]
        self.colour = jitter_affine(self.mean_rgb, jitter, gen)
        self.base_index = self.pointer(torch.arange(h, device=self.device).view(1, h, 1),
                                       torch.arange(w, device=self.device).view(1, 1, w))
        self._normal: Tensor | None = None

    def pointer(self, ys: Tensor, xs: Tensor) -> Tensor:
        """Flat store index of base-image coordinates (ys, xs) [B or 1, h', w'] (broadcast)."""
        b, h, w = self.b, self.h, self.w
        ys = ys.clamp(0, h - 1).expand(b, *ys.shape[1:])
        xs = xs.clamp(0, w - 1).expand(b, *xs.shape[1:])
        r = self.rows.gather(1, ys.reshape(b, -1)).view(ys.shape)
        c = self.cols.gather(1, xs.reshape(b, -1)).view(xs.shape)
        sh, sw = self.store.h, self.store.w
        return self.sources.view(b, 1, 1) * (sh * sw) + r * sw + c

    def render(self, index: Tensor, inside: Tensor | None = None,
               patch_colour: Affine | None = None) -> Tensor:
        """Float images [B,3,H,W] in [0,1].

        ``inside`` pixels [B,H,W] additionally get ``patch_colour`` after the base colour.
        """
        b, h, w = self.b, self.h, self.w
        px = self.store.packed.take(index.reshape(-1)).view(torch.uint8).view(b, h * w, 4)
        px = px.permute(0, 2, 1)[:, :3].contiguous().float()          # [B,3,HW]
        out = torch.baddbmm(self.colour.off.unsqueeze(2), self.colour.mat * (1 / 255), px).clamp_(0, 1)
        if inside is not None and patch_colour is not None:
            patched = torch.baddbmm(patch_colour.off.unsqueeze(2), patch_colour.mat, out).clamp_(0, 1)
            out = torch.where(inside.reshape(b, 1, h * w), patched, out)
        return out.view(b, 3, h, w)

    def normal(self) -> Tensor:
        """The base-augmented images themselves (rendered once, then reused)."""
        if self._normal is None:
            self._normal = self.render(self.base_index)
        return self._normal

    def patch_colour(self, strength: float) -> Affine:
        return jitter_affine(self.mean_rgb, strength, self.gen)


def fill(x: Tensor, mask: Tensor, value: Tensor) -> Tensor:
    """Fill ``mask`` [B,H,W] of ``x`` with ``value`` [B,3,1,1] (a colour per image)."""
    return torch.where(mask.unsqueeze(1), value.expand_as(x), x)


def random_colors(b: int, gen: torch.Generator, device, dtype=torch.float32) -> Tensor:
    return torch.rand(b, 3, 1, 1, generator=gen, device=device).to(dtype)
