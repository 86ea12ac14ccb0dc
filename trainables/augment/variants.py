"""Registry of the self-supervised tasks: which classes a model learns to tell apart.

A *variant* names a task (``cutpaste_3way``: normal vs CutPaste vs CutPaste-Scar) and
turns one :class:`~trainables.augment.ops.PixelBatch` of base-augmented source images
into its training batch. Every source image appears once per class, so 32 source
images train 96 images in a 3-way step (paper Sec. 4). The single transforms are
registered under ``AUGMENTATIONS`` for figures and tests; ``create_variant`` is the one
way to get a variant by name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from trainables.augment import confetti, ops
from trainables.augment.ops import PixelBatch, PixelStore
from trainables.augment.params import AugmentParams

Transform = Callable[[PixelBatch, AugmentParams], Tensor]


def _grid(pb: PixelBatch) -> tuple[Tensor, Tensor]:
    return (torch.arange(pb.h, device=pb.device).view(1, pb.h, 1),
            torch.arange(pb.w, device=pb.device).view(1, 1, pb.w))


def cutpaste_edit(pb: PixelBatch, cfg: AugmentParams) -> tuple[Tensor, Tensor]:
    """(index map, pasted mask) of CutPaste: a rectangle of the same image moved elsewhere.

    Area ratio in (area_ratio_min, area_ratio_max), aspect log-uniform in
    (aspect_ratio_min, aspect_ratio_max); source and destination wholly inside (Sec. 3.1).
    """
    dst = ops.sample_rect(pb.b, pb.h, pb.w, (cfg.area_ratio_min, cfg.area_ratio_max),
                          (cfg.aspect_ratio_min, cfg.aspect_ratio_max), pb.gen, pb.device)
    src_top = ops.corner(pb.gen, dst["height"], pb.h)
    src_left = ops.corner(pb.gen, dst["width"], pb.w)
    yy, xx = _grid(pb)
    inside = ops.rect_mask(dst, pb.h, pb.w)
    ptr = pb.pointer(yy - dst["top"].view(-1, 1, 1) + src_top.view(-1, 1, 1),
                     xx - dst["left"].view(-1, 1, 1) + src_left.view(-1, 1, 1))
    return torch.where(inside, ptr, pb.base_index), inside


def _scar_ranges(pb: PixelBatch, cfg: AugmentParams) -> dict:
    """Scar sizes (given at 256 px) scaled to the image being augmented: the full image, or the
    ``patch_size`` crop of a patch-level variant, so a scar covers the same share of either."""
    s = cfg.scar_scale(min(pb.h, pb.w))
    return dict(width=(cfg.scar_width_min * s, cfg.scar_width_max * s),
                length=(cfg.scar_length_min * s, cfg.scar_length_max * s),
                rotation=cfg.scar_rotation)


def scar_edit(pb: PixelBatch, cfg: AugmentParams) -> tuple[Tensor, Tensor]:
    """(index map, pasted mask) of CutPaste-Scar: a thin upright strip, rotated and pasted.

    The scar is computed in a window just large enough for its longest diagonal and
    scattered into the full index map: the cost follows the scar size, not the image.
    """
    ranges = _scar_ranges(pb, cfg)
    p = ops.sample_scar(pb.b, pb.h, pb.w, gen=pb.gen, device=pb.device, **ranges)
    side = min(pb.h, pb.w, int(math.ceil(math.hypot(ranges["width"][1], ranges["length"][1]))) + 3)
    top = (p["cy"].floor().long() - side // 2).clamp(0, pb.h - side).view(-1, 1, 1)
    left = (p["cx"].floor().long() - side // 2).clamp(0, pb.w - side).view(-1, 1, 1)
    ar = torch.arange(side, device=pb.device)
    yy, xx = top + ar.view(1, side, 1), left + ar.view(1, 1, side)     # window coordinates
    inside_win, u, v = ops.scar_frame(p, yy, xx)
    half_w, half_l = p["width"] / 2, p["length"] / 2
    src_cx = half_w + torch.rand(pb.b, generator=pb.gen, device=pb.device) * (pb.w - 2 * half_w)
    src_cy = half_l + torch.rand(pb.b, generator=pb.gen, device=pb.device) * (pb.h - 2 * half_l)
    xs = (src_cx.view(-1, 1, 1) + u).floor().long()
    ys = (src_cy.view(-1, 1, 1) + v).floor().long()
    win_index = torch.where(inside_win, pb.pointer(ys, xs), pb.pointer(yy, xx))
    where = (yy * pb.w + xx).reshape(pb.b, -1)
    index = pb.base_index.expand(pb.b, pb.h, pb.w).reshape(pb.b, -1).clone()
    index.scatter_(1, where, win_index.reshape(pb.b, -1))
    inside = torch.zeros(pb.b, pb.h * pb.w, dtype=torch.bool, device=pb.device)
    inside.scatter_(1, where, inside_win.reshape(pb.b, -1))
    return index.view(pb.b, pb.h, pb.w), inside.view(pb.b, pb.h, pb.w)


def _pasted(edit: Callable[[PixelBatch, AugmentParams], tuple[Tensor, Tensor]]) -> Transform:
    def transform(pb: PixelBatch, cfg: AugmentParams) -> Tensor:
        index, inside = edit(pb, cfg)
        return pb.render(index, inside, pb.patch_colour(cfg.patch_jitter))
    return transform


def _union(pb: PixelBatch, cfg: AugmentParams) -> Tensor:
    """CutPaste or CutPaste-Scar, chosen per image with equal odds (Table 5, Binary Union)."""
    cp_index, cp_inside = cutpaste_edit(pb, cfg)
    sc_index, sc_inside = scar_edit(pb, cfg)
    coin = (torch.rand(pb.b, generator=pb.gen, device=pb.device) < 0.5).view(-1, 1, 1)
    inside = torch.where(coin, cp_inside, sc_inside)
    return pb.render(torch.where(coin, cp_index, sc_index), inside,
                     pb.patch_colour(cfg.patch_jitter))


def _cutout_with(colour: Callable[[Tensor, torch.Generator], Tensor]) -> Transform:
    """Cutout baselines (Table 4): a CutPaste-sized rectangle filled with a colour."""
    def transform(pb: PixelBatch, cfg: AugmentParams) -> Tensor:
        x = pb.normal()
        r = ops.sample_rect(pb.b, pb.h, pb.w, (cfg.area_ratio_min, cfg.area_ratio_max),
                            (cfg.aspect_ratio_min, cfg.aspect_ratio_max), pb.gen, pb.device)
        return ops.fill(x, ops.rect_mask(r, pb.h, pb.w), colour(x, pb.gen))
    return transform


def _scar(pb: PixelBatch, cfg: AugmentParams) -> Tensor:
    """Scar baseline: the scar's shape filled with a random colour, nothing cut or pasted."""
    x = pb.normal()
    p = ops.sample_scar(pb.b, pb.h, pb.w, gen=pb.gen, device=pb.device, **_scar_ranges(pb, cfg))
    mask, _, _ = ops.scar_frame(p, *_grid(pb))
    return ops.fill(x, mask, ops.random_colors(pb.b, pb.gen, pb.device))


FCDD_MVTEC_SIDE = 240   # FCDD draws its MVTec AD noise on the 240 px raw images (ADMvTec raw_shape)


def confetti_noise(pb: PixelBatch, cfg: AugmentParams) -> tuple[Tensor, dict[str, Tensor]]:
    """FCDD's smoothed confetti noise for the batch, [B,3,H,W] in [0, 2], and its blobs.

    Sizes are FCDD's at 240 px times ``side / 240``; the blur kernel is rounded to an odd
    size as FCDD's ``smooth_noise`` does (an even size loses one).
    """
    scale = min(pb.h, pb.w) / FCDD_MVTEC_SIDE
    size = (cfg.confetti_size_min * scale, cfg.confetti_size_max * scale)
    p = confetti.sample_confetti(pb.b, pb.h, pb.w,
                                     means=(cfg.confetti_colored_blobs, cfg.confetti_white_blobs),
                                     max_blobs=cfg.confetti_max_blobs, size=size, rotation=cfg.confetti_rotation,
                                     gen=pb.gen, device=pb.device)
    noise = confetti.render_confetti(p, pb.h, pb.w, max_side=size[1])
    k = int(round(cfg.confetti_blur_kernel * scale))
    k = k if k % 2 == 1 else k - 1
    return confetti.gaussian_blur(noise, k, cfg.confetti_blur_sigma * scale), p


def _confetti(pb: PixelBatch, cfg: AugmentParams) -> Tensor:
    """Confetti noise (Tables 1 and 4), as FCDD (Liznerski et al., ICLR 2021) makes its MVTec AD
    anomalies (noise mode ``confetti``, supervise mode ``malformed_normal``):

    - two kinds of square blobs, each kind at least once per image: coloured ones
      (``confetti_colored_blobs``, mean count 1.04 = FCDD's p 1.8e-5 per pixel of 240 x 240),
      each with its own colour uniform in RGB, and white ones (``confetti_white_blobs``, 0.69
      = p 1.2e-5); counts past ``confetti_max_blobs`` per kind are cut (FCDD has no cap);
    - square side uniform in [``confetti_size_min``, ``confetti_size_max``] = [8, 54] px,
      rotated uniformly within +-``confetti_rotation`` = 45 degrees, centre anywhere;
    - the summed blobs are blurred with a Gaussian (``confetti_blur_kernel`` 25 px,
      ``confetti_blur_sigma`` 5 px), which softens their edges;
    - the noise is *added* to the image and clamped, or subtracted where adding would change
      the image by less than ``confetti_invert_threshold`` grey levels on average.

    Pixel sizes are FCDD's at 240 px, scaled to the augmented image's side. Batched: one set
    of tensor ops over all images and blob slots, no PIL, no loop over images or blobs.
    """
    noise, _ = confetti_noise(pb, cfg)
    return confetti.add_noise_fcdd(pb.normal(), noise, cfg.confetti_invert_threshold / 255)


def _normal(pb: PixelBatch, cfg: AugmentParams) -> Tensor:
    return pb.normal()


def _rotated(k: int) -> Transform:
    return lambda pb, cfg: torch.rot90(pb.normal(), k, dims=(2, 3))


AUGMENTATIONS: dict[str, Transform] = {
    "cutpaste": _pasted(cutpaste_edit),
    "cutpaste_scar": _pasted(scar_edit),
    "cutpaste_union": _union,
    "cutout": _cutout_with(lambda x, g: torch.zeros(x.shape[0], 3, 1, 1, device=x.device)),
    "cutout_mean": _cutout_with(lambda x, g: x.mean(dim=(2, 3), keepdim=True)),
    "cutout_color": _cutout_with(lambda x, g: ops.random_colors(x.shape[0], g, x.device)),
    "confetti": _confetti,
    "scar": _scar,
}


@dataclass(frozen=True)
class Variant:
    """A self-supervised task: one transform per class; class 0 is the normal image."""
    name: str
    class_transforms: tuple[tuple[str, Transform], ...]
    patch_level: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_transforms)

    def make_batch(self, pb: PixelBatch, cfg: AugmentParams) -> tuple[Tensor, Tensor]:
        """Images [K*B,3,H,W] (each source once per class) and labels [K*B]."""
        images = torch.cat([t(pb, cfg) for _, t in self.class_transforms])
        labels = torch.arange(self.num_classes, device=pb.device).repeat_interleave(pb.b)
        return images, labels


def _two_way(name: str, aug: str) -> Variant:
    return Variant(name, (("normal", _normal), (aug, AUGMENTATIONS[aug])))


_IMAGE_LEVEL: dict[str, Variant] = {v.name: v for v in [
    _two_way("cutpaste", "cutpaste"),
    _two_way("cutpaste_scar", "cutpaste_scar"),
    Variant("cutpaste_3way", (("normal", _normal), ("cutpaste", AUGMENTATIONS["cutpaste"]),
                              ("cutpaste_scar", AUGMENTATIONS["cutpaste_scar"]))),
    _two_way("cutpaste_union", "cutpaste_union"),
    _two_way("cutout", "cutout"),
    _two_way("cutout_mean", "cutout_mean"),
    _two_way("cutout_color", "cutout_color"),
    _two_way("confetti", "confetti"),
    _two_way("scar", "scar"),
    Variant("rotation", tuple((f"rot{90 * k}", _rotated(k)) for k in range(4))),
]}
# Patch-level twins (Sec. 4.2): the same task on random crops; scored densely for localization.
PATCH_TASKS = ("cutpaste", "cutpaste_scar", "cutpaste_3way", "cutpaste_union")
VARIANTS: dict[str, Variant] = {
    **_IMAGE_LEVEL,
    **{f"{n}_patch": Variant(f"{n}_patch", _IMAGE_LEVEL[n].class_transforms, patch_level=True) for n in PATCH_TASKS},
}


def is_patch_level(name: str) -> bool:
    """Whether ``name`` is a registered patch-level variant (an unknown name is not)."""
    variant = VARIANTS.get(name)
    return variant is not None and variant.patch_level


def create_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; known variants: {sorted(VARIANTS)}") from None


def source_batch(store: PixelStore, sources: Tensor, cfg: AugmentParams,
                 gen: torch.Generator, crop: int | None = None) -> PixelBatch:
    """The base augmentation of every source image: translation and colour jitter (Sec. 4);
    patch-level variants take a random ``crop`` window instead of translating."""
    return PixelBatch(store, sources, gen, translate=cfg.translate, jitter=cfg.jitter, crop=crop)
