"""CutPaste and CutPaste-Scar as windows pasted onto a copy of the normal images.

A pasted image equals its normal image (the base-augmented source) everywhere but in the
patch, and every pasted pixel is a normal-image pixel from elsewhere, given the patch colour
jitter. So instead of rendering each pasted image from the store again (gather, unpack,
base colour, patch colour and a select over the whole image), a batch renders its normal
images once, copies them, and recomputes only a window per image that holds the patch: the
scar's (33 x 33 px at 256) or, for CutPaste, the largest rectangle the config can draw
(183 x 182 px at 256 with the paper's ranges). Window sizes follow from the config and the
image size alone, so nothing waits for the device. The values are those of
``PixelBatch.render`` on the edit's full index map (``edit_maps``): the same draws in the
same order, the same pixels, the same float32 arithmetic on each.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from trainables.augment import ops
from trainables.augment.ops import Affine, PixelBatch
from trainables.augment.params import AugmentParams


@dataclass(frozen=True)
class Window:
    """Per image, ``n`` output pixels a paste may change, all [B, n]: ``dst`` their flat
    positions (distinct within an image), ``src`` the flat positions in the normal image that
    they show when pasted, ``inside`` whether they are pasted (the rest keep their pixel)."""
    dst: Tensor
    src: Tensor
    inside: Tensor


def _largest_rect(h: int, w: int, cfg: AugmentParams) -> tuple[int, int]:
    """Bounds on the height and width ``ops.sample_rect_sizes`` can draw (with a margin for
    float32 rounding of the area and aspect draws)."""
    area = cfg.area_ratio_max * h * w * 1.0001
    return (min(h, math.ceil(math.sqrt(area / cfg.aspect_ratio_min)) + 1),
            min(w, math.ceil(math.sqrt(area * cfg.aspect_ratio_max)) + 1))


def cutpaste_window(pb: PixelBatch, cfg: AugmentParams) -> Window:
    """CutPaste: a rectangle of the same image moved elsewhere (Sec. 3.1).

    Area ratio in (area_ratio_min, area_ratio_max), aspect log-uniform in
    (aspect_ratio_min, aspect_ratio_max); source and destination wholly inside.
    """
    h, w = pb.h, pb.w
    dst = ops.sample_rect(pb.b, h, w, (cfg.area_ratio_min, cfg.area_ratio_max),
                          (cfg.aspect_ratio_min, cfg.aspect_ratio_max), pb.gen, pb.device)
    src_top = ops.corner(pb.gen, dst["height"], h).view(-1, 1, 1)
    src_left = ops.corner(pb.gen, dst["width"], w).view(-1, 1, 1)
    wh, ww = _largest_rect(h, w, cfg)
    top, left = dst["top"].view(-1, 1, 1), dst["left"].view(-1, 1, 1)
    ys = top.clamp(max=h - wh) + torch.arange(wh, device=pb.device).view(1, wh, 1)   # the window,
    xs = left.clamp(max=w - ww) + torch.arange(ww, device=pb.device).view(1, 1, ww)  # inside the image
    inside = ((ys >= top) & (ys < top + dst["height"].view(-1, 1, 1))
              & (xs >= left) & (xs < left + dst["width"].view(-1, 1, 1)))
    sy = (ys - top + src_top).clamp(0, h - 1)
    sx = (xs - left + src_left).clamp(0, w - 1)
    b = pb.b
    return Window((ys * w + xs).reshape(b, -1), (sy * w + sx).reshape(b, -1), inside.reshape(b, -1))


def scar_ranges(pb: PixelBatch, cfg: AugmentParams) -> dict:
    """Scar sizes (given at 256 px) scaled to the image being augmented: the full image, or the
    ``patch_size`` crop of a patch-level variant, so a scar covers the same share of either."""
    s = cfg.scar_scale(min(pb.h, pb.w))
    return dict(width=(cfg.scar_width_min * s, cfg.scar_width_max * s),
                length=(cfg.scar_length_min * s, cfg.scar_length_max * s),
                rotation=cfg.scar_rotation)


def scar_window(pb: PixelBatch, cfg: AugmentParams) -> Window:
    """CutPaste-Scar: a thin upright strip of the image, rotated and pasted elsewhere.

    The window is a square just large enough for the scar's longest diagonal, and at least
    7 x 7: ``paste`` then multiplies >= 49 pixels per image, which bmm hands to BLAS (below
    400 multiply-adds ATen uses its own loop, which rounds differently in the last bit).
    """
    ranges = scar_ranges(pb, cfg)
    p = ops.sample_scar(pb.b, pb.h, pb.w, gen=pb.gen, device=pb.device, **ranges)
    diagonal = int(math.ceil(math.hypot(ranges["width"][1], ranges["length"][1])))
    side = min(pb.h, pb.w, max(7, diagonal + 3))
    top = (p["cy"].floor().long() - side // 2).clamp(0, pb.h - side).view(-1, 1, 1)
    left = (p["cx"].floor().long() - side // 2).clamp(0, pb.w - side).view(-1, 1, 1)
    ar = torch.arange(side, device=pb.device)
    yy, xx = top + ar.view(1, side, 1), left + ar.view(1, 1, side)     # window coordinates
    inside, u, v = ops.scar_frame(p, yy, xx)
    half_w, half_l = p["width"] / 2, p["length"] / 2
    src_cx = half_w + torch.rand(pb.b, generator=pb.gen, device=pb.device) * (pb.w - 2 * half_w)
    src_cy = half_l + torch.rand(pb.b, generator=pb.gen, device=pb.device) * (pb.h - 2 * half_l)
    xs = (src_cx.view(-1, 1, 1) + u).floor().long().clamp(0, pb.w - 1)
    ys = (src_cy.view(-1, 1, 1) + v).floor().long().clamp(0, pb.h - 1)
    b = pb.b
    return Window((yy * pb.w + xx).reshape(b, -1), (ys * pb.w + xs).reshape(b, -1), inside.reshape(b, -1))


def edit_maps(pb: PixelBatch, win: Window) -> tuple[Tensor, Tensor]:
    """The window as a full (index map [B,H,W], pasted mask [B,H,W]) for ``PixelBatch.render``."""
    b, hw = pb.b, pb.h * pb.w
    base = pb.base_index.expand(b, pb.h, pb.w).reshape(b, hw)
    index = base.clone().scatter_(1, win.dst, torch.where(win.inside, base.gather(1, win.src),
                                                           base.gather(1, win.dst)))
    inside = torch.zeros(b, hw, dtype=torch.bool, device=pb.device).scatter_(1, win.dst, win.inside)
    return index.view(b, pb.h, pb.w), inside.view(b, pb.h, pb.w)


def paste(pb: PixelBatch, win: Window, colour: Affine, out: Tensor | None = None) -> Tensor:
    """The normal images with the window's pasted pixels taken from their source and given
    ``colour`` (the patch jitter), written into ``out`` [B,3,H,W] if given."""
    b, hw = pb.b, pb.h * pb.w
    normal = pb.normal().reshape(b, 3, hw)
    out = torch.empty_like(normal) if out is None else out
    flat = out.view(b, 3, hw)
    flat.copy_(normal)
    n = win.dst.shape[1]
    dst = win.dst.unsqueeze(1).expand(b, 3, n)
    # as render: a 3x3 product over each image's pixels, then the clamp (windows of >= 45
    # pixels go to BLAS, which rounds each pixel alike whatever the count; see scar_window)
    patched = torch.baddbmm(colour.off.unsqueeze(2), colour.mat,
                            normal.gather(2, win.src.unsqueeze(1).expand(b, 3, n))).clamp_(0, 1)
    flat.scatter_(2, dst, torch.where(win.inside.unsqueeze(1), patched, normal.gather(2, dst)))
    return out.view(b, 3, pb.h, pb.w)
