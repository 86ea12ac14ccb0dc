"""Procedural defects with pixel masks, of the kinds inspection lines report.

Each defect function takes (rng, image, object mask) and returns the defective image
and its ground-truth mask. None of them copies a patch of the image elsewhere (that
is what CutPaste trains on, so such defects would measure nothing): cracks and
scratches are drawn strokes, holes and stains are shaded blobs, contamination is
foreign material, deformations warp pixels locally, missing parts expose background.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

from trainables.data.generated.scenes import smooth_noise

Defect = Callable[[np.random.Generator, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _site(rng: np.random.Generator, obj: np.ndarray, margin: int) -> tuple[int, int]:
    """A random point of the object, away from its border and the image's."""
    inner = ndimage.binary_erosion(obj, iterations=max(1, margin // 3))
    size = obj.shape[0]
    inner[:margin], inner[-margin:], inner[:, :margin], inner[:, -margin:] = False, False, False, False
    ys, xs = np.nonzero(inner if inner.any() else obj)
    k = rng.integers(len(ys))
    return int(ys[k]), int(xs[k])


def _stroke(rng, size: int, start: tuple[int, int], steps: int, step_len: float, wander: float) -> np.ndarray:
    """Boolean mask of a random-walk polyline, sampled densely."""
    y, x = map(float, start)
    ang = rng.uniform(0, 2 * np.pi)
    mask = np.zeros((size, size), bool)
    for _ in range(steps):
        ang += rng.normal(0, wander)
        for t in np.linspace(0, 1, 4, endpoint=False):
            yi, xi = int(round(y + t * step_len * np.sin(ang))), int(round(x + t * step_len * np.cos(ang)))
            if 0 <= yi < size and 0 <= xi < size:
                mask[yi, xi] = True
        y, x = y + step_len * np.sin(ang), x + step_len * np.cos(ang)
    return mask


def _blob(rng, size: int, centre: tuple[int, int], radius: float, roughness: float = 0.35) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.sqrt((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / radius
    wobble = roughness * smooth_noise(rng, size, max(radius / 3, 1))
    return d + wobble < 1


def _blend(img: np.ndarray, mask: np.ndarray, target: np.ndarray, soft: float = 0.7) -> np.ndarray:
    alpha = ndimage.gaussian_filter(mask.astype(float), soft)[..., None] if soft > 0 else mask[..., None]
    return np.clip(img * (1 - alpha) + target * alpha, 0, 1)


def _final_mask(mask: np.ndarray, obj: np.ndarray | None = None) -> np.ndarray:
    m = ndimage.binary_dilation(mask, iterations=1)
    return m & obj if obj is not None else m


def crack(rng, img, obj):
    size = img.shape[0]
    line = _stroke(rng, size, _site(rng, obj, size // 8), int(rng.integers(8, 16)), size / 64, 0.5)
    if rng.random() < 0.5:  # a wider crack (iterations=0 would dilate to convergence)
        line = ndimage.binary_dilation(line, iterations=1)
    line &= obj
    return _blend(img, line, img * 0.25, 0.5), _final_mask(line)


def scratch(rng, img, obj):
    size = img.shape[0]
    line = _stroke(rng, size, _site(rng, obj, size // 8), int(rng.integers(10, 20)), size / 64, 0.08) & obj
    bright = np.clip(img * 0.5 + 0.55, 0, 1)
    return _blend(img, line, bright, 0.4), _final_mask(line)


def hole(rng, img, obj):
    size = img.shape[0]
    c = _site(rng, obj, size // 8)
    r = rng.uniform(0.025, 0.05) * size
    inner = _blob(rng, size, c, r, 0.25) & obj
    rim = (_blob(rng, size, c, r * 1.35, 0.2) & ~inner) & obj
    out = _blend(img, rim, img * 0.6 + 0.15, 0.6)
    out = _blend(out, inner, np.full_like(img, 0.06), 0.6)
    return out, _final_mask(inner | rim)


def stain(rng, img, obj):
    size = img.shape[0]
    c = _site(rng, obj, size // 8)
    m = _blob(rng, size, c, rng.uniform(0.04, 0.08) * size, 0.5) & obj
    tint = np.asarray(rng.choice([(0.55, 0.4, 0.2), (0.3, 0.3, 0.35), (0.8, 0.2, 0.15), (0.2, 0.45, 0.7)]))
    target = img * 0.55 + tint[None, None, :] * 0.45 * img.mean()
    return _blend(img, m, target, 1.5), _final_mask(m)


def contamination(rng, img, obj):
    size = img.shape[0]
    c = _site(rng, obj, size // 8)
    particles = _blob(rng, size, c, rng.uniform(0.015, 0.035) * size, 0.5)
    fibre = _stroke(rng, size, c, int(rng.integers(6, 14)), size / 70, 0.35)
    m = (particles | fibre) & obj
    colour = rng.uniform(0, 1, 3)
    target = colour[None, None, :] * (0.85 + 0.15 * smooth_noise(rng, size, 0.8)[..., None])
    return _blend(img, m, np.clip(target, 0, 1), 0.4), _final_mask(m)


def deform(rng, img, obj):
    """A local bend/fold: pixels pushed along a direction inside a disc."""
    size = img.shape[0]
    c = _site(rng, obj, size // 6)
    r = rng.uniform(0.06, 0.1) * size
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    w = np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / (2 * (r / 2) ** 2))
    ang = rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(0.35, 0.6) * r
    sy, sx = yy - amp * w * np.sin(ang), xx - amp * w * np.cos(ang)
    out = np.stack([ndimage.map_coordinates(img[..., k], [sy, sx], order=1, mode="reflect") for k in range(3)], -1)
    shade = 1 - 0.25 * w * np.cos(np.arctan2(yy - c[0], xx - c[1]) - ang)
    out = np.clip(out * shade[..., None], 0, 1)
    changed = np.abs(out - img).max(-1) > 0.06
    m = ndimage.binary_closing(changed & (w > 0.05), iterations=2)
    return np.where(m[..., None], out, img), _final_mask(m)


def missing(rng, img, obj):
    """Part of the object broken off: background shows where it was."""
    size = img.shape[0]
    ys, xs = np.nonzero(~obj)
    bg = img[~obj].mean(0) if len(ys) else np.full(3, 0.1)
    c = _site(rng, obj, size // 10)
    m = _blob(rng, size, c, rng.uniform(0.04, 0.07) * size, 0.4) & obj
    target = np.broadcast_to(bg, img.shape) * (1 + 0.02 * smooth_noise(rng, size, 4)[..., None])
    return _blend(img, m, target, 0.5), _final_mask(m)


def color(rng, img, obj):
    """A discoloured region: hue and saturation change, texture kept."""
    size = img.shape[0]
    m = _blob(rng, size, _site(rng, obj, size // 8), rng.uniform(0.04, 0.07) * size, 0.4) & obj
    grey = img.mean(-1, keepdims=True)
    tint = rng.uniform(0.2, 1.0, 3)
    target = grey * tint[None, None, :] * 1.6
    return _blend(img, m, np.clip(target, 0, 1), 1.0), _final_mask(m)


DEFECTS: dict[str, Defect] = {
    "crack": crack, "scratch": scratch, "hole": hole, "stain": stain,
    "contamination": contamination, "deform": deform, "missing": missing, "color": color,
}

# defect types per category, named as an inspector would (MVTec AD's names where they fit)
CATEGORY_DEFECTS: dict[str, dict[str, str]] = {
    "carpet": {"hole": "hole", "color": "color", "thread": "contamination"},
    "grid": {"bent": "deform", "broken": "missing", "glue": "stain"},
    "leather": {"cut": "crack", "fold": "deform", "color": "color"},
    "tile": {"crack": "crack", "oil": "stain", "glue_strip": "contamination"},
    "wood": {"scratch": "scratch", "hole": "hole", "color": "color"},
    "bottle": {"broken_large": "missing", "contamination": "contamination", "crack": "crack"},
    "cable": {"poke_insulation": "hole", "cut_inner_insulation": "crack", "missing_wire": "missing"},
    "capsule": {"crack": "crack", "scratch": "scratch", "squeeze": "deform"},
    "hazelnut": {"crack": "crack", "hole": "hole", "print": "stain"},
    "metal_nut": {"scratch": "scratch", "bent": "deform", "color": "color"},
    "pill": {"crack": "crack", "contamination": "contamination", "color": "color"},
    "screw": {"scratch_neck": "scratch", "thread_side": "deform", "manipulated_front": "missing"},
    "toothbrush": {"defective": "contamination", "missing_tuft": "missing", "bent_bristles": "deform"},
    "transistor": {"damaged_case": "scratch", "bent_lead": "deform", "misplaced": "missing"},
    "zipper": {"broken_teeth": "missing", "fabric_interior": "stain", "squeezed_teeth": "deform"},
}
