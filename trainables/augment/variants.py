"""Registry of the self-supervised tasks: which classes a model learns to tell apart.

A *variant* names a task (``cutpaste_3way``: normal vs CutPaste vs CutPaste-Scar) and
turns one :class:`~trainables.augment.ops.PixelBatch` of base-augmented source images
into its training batch. Every source image appears once per class, so 32 source
images train 96 images in a 3-way step (paper Sec. 4). The single transforms are
registered under ``AUGMENTATIONS`` for figures and tests; ``create_variant`` is the one
way to get a variant by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from trainables.augment import confetti, ops, paste
from trainables.augment.ops import PixelBatch, PixelStore
from trainables.augment.params import AugmentParams

# A transform returns the class's images [B,3,H,W] for a batch; it may write them into ``out``
# (the class's slice of the batch ``Variant.make_batch`` allocates) and return that.
Transform = Callable[..., Tensor]


def _grid(pb: PixelBatch) -> tuple[Tensor, Tensor]:
    return (torch.arange(pb.h, device=pb.device).view(1, pb.h, 1),
            torch.arange(pb.w, device=pb.device).view(1, 1, pb.w))


def cutpaste_edit(pb: PixelBatch, cfg: AugmentParams) -> tuple[Tensor, Tensor]:
    """(index map, pasted mask) of CutPaste (``paste.cutpaste_window``) over the whole image."""
    return paste.edit_maps(pb, paste.cutpaste_window(pb, cfg))


def scar_edit(pb: PixelBatch, cfg: AugmentParams) -> tuple[Tensor, Tensor]:
    """(index map, pasted mask) of CutPaste-Scar (``paste.scar_window``) over the whole image."""
    return paste.edit_maps(pb, paste.scar_window(pb, cfg))


def _pasted(window: Callable[[PixelBatch, AugmentParams], paste.Window]) -> Transform:
    """A copy of the normal images with a patch pasted: only the patch's window is computed."""
    def transform(pb: PixelBatch, cfg: AugmentParams, out: Tensor | None = None) -> Tensor:
        win = window(pb, cfg)
        return paste.paste(pb, win, pb.patch_colour(cfg.patch_jitter), out)
    return transform


def _union(pb: PixelBatch, cfg: AugmentParams, out: Tensor | None = None) -> Tensor:
    """CutPaste or CutPaste-Scar, chosen per image with equal odds (Table 5, Binary Union)."""
    cp_index, cp_inside = cutpaste_edit(pb, cfg)
    sc_index, sc_inside = scar_edit(pb, cfg)
    coin = (torch.rand(pb.b, generator=pb.gen, device=pb.device) < 0.5).view(-1, 1, 1)
    inside = torch.where(coin, cp_inside, sc_inside)
    return pb.render(torch.where(coin, cp_index, sc_index), inside,
                     pb.patch_colour(cfg.patch_jitter), out)


def _cutout_with(colour: Callable[[Tensor, torch.Generator], Tensor]) -> Transform:
    """Cutout baselines (Table 4): a CutPaste-sized rectangle filled with a colour."""
    def transform(pb: PixelBatch, cfg: AugmentParams, out: Tensor | None = None) -> Tensor:
        x = pb.normal()
        r = ops.sample_rect(pb.b, pb.h, pb.w, (cfg.area_ratio_min, cfg.area_ratio_max),
                            (cfg.aspect_ratio_min, cfg.aspect_ratio_max), pb.gen, pb.device)
        return ops.fill(x, ops.rect_mask(r, pb.h, pb.w), colour(x, pb.gen), out)
    return transform


def _scar(pb: PixelBatch, cfg: AugmentParams, out: Tensor | None = None) -> Tensor:
    """Scar baseline: the scar's shape filled with a random colour, nothing cut or pasted."""
    x = pb.normal()
    p = ops.sample_scar(pb.b, pb.h, pb.w, gen=pb.gen, device=pb.device, **paste.scar_ranges(pb, cfg))
    mask, _, _ = ops.scar_frame(p, *_grid(pb))
    return ops.fill(x, mask, ops.random_colors(pb.b, pb.gen, pb.device), out)


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


def _confetti(pb: PixelBatch, cfg: AugmentParams, out: Tensor | None = None) -> Tensor:
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


def _normal(pb: PixelBatch, cfg: AugmentParams, out: Tensor | None = None) -> Tensor:
    return pb.normal(out)


def _rotated(k: int) -> Transform:
    if k == 0:
        return _normal
    return lambda pb, cfg, out=None: torch.rot90(pb.normal(), k, dims=(2, 3))


AUGMENTATIONS: dict[str, Transform] = {
    "cutpaste": _pasted(paste.cutpaste_window),
    "cutpaste_scar": _pasted(paste.scar_window),
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
        """Images [K*B,3,H,W] (each source once per class) and labels [K*B].

        Each class is written into its slice of one batch tensor (no concatenation: on a CPU a
        fresh 75 MB tensor of 96 images at 256 px costs as much as rendering them).
        """
        images = torch.empty(self.num_classes * pb.b, 3, pb.h, pb.w, device=pb.device)
        for k, (_, transform) in enumerate(self.class_transforms):
            out = images[k * pb.b:(k + 1) * pb.b]
            x = transform(pb, cfg, out)
            if x.data_ptr() != out.data_ptr():
                out.copy_(x)
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
