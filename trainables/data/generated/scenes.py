"""Procedural normal images for the 15 MVTec AD category names.

Each drawer returns an RGB float image in [0, 1] of shape (S, S, 3) and a boolean
*object mask* (where a defect may land). Textures fill the frame; objects sit on a
plain background with the small pose and lighting changes a real line shows. Only
aligned objects keep a fixed pose; hazelnut and screw rotate, as in MVTec AD.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

Scene = tuple[np.ndarray, np.ndarray]


def smooth_noise(rng: np.random.Generator, size: int, sigma: float, channels: int = 1) -> np.ndarray:
    """Gaussian-filtered white noise, rescaled to zero mean and unit std per channel."""
    n = rng.standard_normal((size, size, channels))
    n = ndimage.gaussian_filter(n, sigma=(sigma, sigma, 0), mode="wrap")
    n -= n.mean(axis=(0, 1))
    n /= n.std(axis=(0, 1)) + 1e-8
    return n if channels > 1 else n[..., 0]


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy, xx


def _lit(rng: np.random.Generator, img: np.ndarray, amount: float = 0.06) -> np.ndarray:
    """Global brightness change and a soft lighting gradient, as between real shots."""
    size = img.shape[0]
    yy, xx = _grid(size)
    gx, gy = rng.uniform(-1, 1, 2) * amount / size
    light = 1 + rng.uniform(-amount, amount) + gx * (xx - size / 2) + gy * (yy - size / 2)
    noise = rng.normal(0, 0.008, img.shape)
    return np.clip(img * light[..., None] + noise, 0, 1)


def _colour(base: tuple[float, float, float], shade: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(base)[None, None, :] * shade[..., None], 0, 1)


def _full(size: int) -> np.ndarray:
    return np.ones((size, size), bool)


# ------------------------------------------------------------------ textures
def carpet(rng, size) -> Scene:
    fibres = smooth_noise(rng, size, 0.8) * 0.5 + smooth_noise(rng, size, 3) * 0.5
    weave = 0.08 * np.sin(np.arange(size) * 2 * np.pi / 6)[None, :] * np.sin(np.arange(size) * 2 * np.pi / 6)[:, None]
    shade = 0.55 + 0.12 * fibres + weave
    return _lit(rng, _colour((0.75, 0.62, 0.5), shade)), _full(size)


def grid(rng, size) -> Scene:
    yy, xx = _grid(size)
    pitch = size / rng.uniform(9.5, 10.5)
    ang = np.deg2rad(rng.uniform(-2, 2))
    u = xx * np.cos(ang) + yy * np.sin(ang) + rng.uniform(0, pitch)
    v = -xx * np.sin(ang) + yy * np.cos(ang) + rng.uniform(0, pitch)
    wire = np.maximum(np.exp(-((u % pitch) - pitch / 2) ** 2 / 4), np.exp(-((v % pitch) - pitch / 2) ** 2 / 4))
    shade = 0.25 + 0.55 * wire + 0.04 * smooth_noise(rng, size, 2)
    return _lit(rng, np.repeat(shade[..., None], 3, 2)), _full(size)


def leather(rng, size) -> Scene:
    cells = smooth_noise(rng, size, 2.5)
    grain = np.abs(cells) ** 0.5 * 0.25 + 0.05 * smooth_noise(rng, size, 0.7)
    shade = 0.55 + grain - 0.12
    return _lit(rng, _colour((0.62, 0.38, 0.22), shade * 1.3)), _full(size)


def tile(rng, size) -> Scene:
    base = 0.7 + 0.05 * smooth_noise(rng, size, 6)
    speck = smooth_noise(rng, size, 1.2)
    spots = (speck > 1.6) * -0.35 + (speck < -1.9) * 0.15
    shade = base + spots + 0.03 * smooth_noise(rng, size, 0.6)
    return _lit(rng, _colour((0.85, 0.85, 0.82), shade)), _full(size)


def wood(rng, size) -> Scene:
    yy, xx = _grid(size)
    warp = smooth_noise(rng, size, 12) * 6
    rings = np.sin((xx + warp + rng.uniform(0, 50)) * 2 * np.pi / rng.uniform(14, 18))
    fibres = smooth_noise(rng, size, 0.6)
    shade = 0.7 + 0.1 * rings + 0.04 * fibres
    return _lit(rng, _colour((0.78, 0.55, 0.33), shade)), _full(size)


# ------------------------------------------------------------------ objects
def _ellipse(yy, xx, cy, cx, ry, rx, ang=0.0) -> np.ndarray:
    c, s = np.cos(ang), np.sin(ang)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    return (u / rx) ** 2 + (v / ry) ** 2


def _background(rng, size, level: float, tint=(1.0, 1.0, 1.0)) -> np.ndarray:
    shade = level + 0.015 * smooth_noise(rng, size, 8)
    return _colour(tint, shade)


def _jit(rng, size, frac=0.01) -> tuple[float, float]:
    return size / 2 + rng.normal(0, frac * size), size / 2 + rng.normal(0, frac * size)


def _paint(img: np.ndarray, mask: np.ndarray, colour) -> None:
    img[mask] = np.asarray(colour, np.float64)[None, :] if np.ndim(colour) == 1 else colour[mask]


def bottle(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size)
    img = _background(rng, size, 0.12)
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / size
    body = d < 0.42
    shade = np.where(d < 0.16, 0.08, np.where(d < 0.2, 0.55, 0.3 + 0.3 * (0.42 - d)))
    img[body] = _colour((0.6, 0.5, 0.3), shade + 0.02 * smooth_noise(rng, size, 3))[body]
    return _lit(rng, img), body


def cable(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size)
    img = _background(rng, size, 0.85)
    outer = (yy - cy) ** 2 + (xx - cx) ** 2 < (0.45 * size) ** 2
    _paint(img, outer, (0.45, 0.5, 0.45))
    for k, col in enumerate([(0.2, 0.6, 0.25), (0.25, 0.35, 0.75), (0.6, 0.35, 0.2)]):
        a = np.deg2rad(90 + 120 * k + rng.normal(0, 2))
        wy, wx = cy - 0.2 * size * np.sin(a), cx + 0.2 * size * np.cos(a)
        core = (yy - wy) ** 2 + (xx - wx) ** 2 < (0.17 * size) ** 2
        _paint(img, core, col)
        copper = (yy - wy) ** 2 + (xx - wx) ** 2 < (0.08 * size) ** 2
        _paint(img, copper, (0.8, 0.5, 0.25))
    return _lit(rng, img), outer


def capsule(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size)
    img = _background(rng, size, 0.9)
    body = _ellipse(yy, xx, cy, cx, 0.12 * size, 0.36 * size) < 1
    _paint(img, body & (xx < cx), (0.15, 0.15, 0.15))
    _paint(img, body & (xx >= cx), (0.9, 0.55, 0.2))
    mark = body & (np.abs(yy - cy) < 0.02 * size) & (np.abs(xx - cx - 0.15 * size) < 0.08 * size)
    _paint(img, mark, (0.25, 0.12, 0.05))
    return _lit(rng, img), body


def hazelnut(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size, 0.03)
    img = _background(rng, size, 0.05)
    ang = rng.uniform(0, 2 * np.pi)
    e = _ellipse(yy, xx, cy, cx, 0.3 * size, 0.26 * size, ang)
    body = e < 1
    stripes = np.sin(((xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)) * 0.35) * 0.06
    shade = 0.55 - 0.25 * e + stripes + 0.05 * smooth_noise(rng, size, 1.5)
    img[body] = _colour((0.72, 0.45, 0.25), shade)[body]
    return _lit(rng, img), body


def metal_nut(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size)
    img = _background(rng, size, 0.05)
    r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    th = np.arctan2(yy - cy, xx - cx)
    radius = 0.3 * size * (1 + 0.18 * (np.cos(4 * th) > 0.3))
    body = (r < radius) & (r > 0.12 * size)
    shade = 0.6 + 0.1 * np.cos(th * 2) + 0.03 * smooth_noise(rng, size, 1)
    img[body] = _colour((0.75, 0.75, 0.78), shade)[body]
    return _lit(rng, img), body


def pill(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size)
    img = _background(rng, size, 0.15)
    e = _ellipse(yy, xx, cy, cx, 0.17 * size, 0.38 * size)
    body = e < 1
    speck = smooth_noise(rng, size, 0.8) > 2.2
    shade = 0.92 - 0.12 * e
    img[body] = _colour((0.95, 0.93, 0.88), shade)[body]
    _paint(img, body & speck, (0.7, 0.25, 0.2))
    return _lit(rng, img), body


def screw(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size, 0.05)
    img = _background(rng, size, 0.9)
    ang = rng.uniform(0, 2 * np.pi)
    u = (xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)
    v = -(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang)
    shaft = (np.abs(u) < 0.3 * size) & (np.abs(v) < 0.035 * size * (1 - np.clip(u / (0.3 * size), 0, 1) * 0.7))
    head = (u < -0.3 * size) & (u > -0.36 * size) & (np.abs(v) < 0.08 * size)
    body = shaft | head
    thread = 0.35 + 0.15 * np.sin(u * 0.9)
    img[body] = _colour((0.7, 0.7, 0.72), np.where(head, 0.5, thread))[body]
    return _lit(rng, img), body


def toothbrush(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size)
    img = _background(rng, size, 0.1)
    body = (np.abs(yy - cy) < 0.3 * size) & (np.abs(xx - cx) < 0.16 * size)
    tufts = (np.sin((xx - cx) * 0.7) * np.sin((yy - cy) * 0.7) > 0.2)
    shade = 0.75 + 0.1 * tufts + 0.05 * smooth_noise(rng, size, 0.7)
    img[body] = _colour((0.55, 0.7, 0.95), shade)[body]
    return _lit(rng, img), body


def transistor(rng, size) -> Scene:
    yy, xx = _grid(size)
    cy, cx = _jit(rng, size)
    img = _background(rng, size, 0.45, (0.4, 0.6, 0.4))
    case = (np.abs(yy - cy + 0.1 * size) < 0.15 * size) & (np.abs(xx - cx) < 0.2 * size)
    _paint(img, case, (0.08, 0.08, 0.08))
    legs = np.zeros_like(case)
    for k in (-1, 0, 1):
        legs |= (np.abs(xx - cx - k * 0.12 * size) < 0.02 * size) & (yy > cy + 0.05 * size) & (yy < cy + 0.38 * size)
    _paint(img, legs, (0.8, 0.8, 0.78))
    return _lit(rng, img), case | legs


def zipper(rng, size) -> Scene:
    yy, xx = _grid(size)
    cx = _jit(rng, size)[1]
    fabric = 0.35 + 0.05 * smooth_noise(rng, size, 0.8)
    img = _colour((0.5, 0.5, 0.5), fabric)
    teeth = (np.abs(xx - cx) < 0.12 * size) & (np.sin(yy * 2 * np.pi / 12 + (xx > cx) * np.pi) > -0.2)
    _paint(img, teeth, (0.85, 0.85, 0.8))
    return _lit(rng, img), np.abs(xx - cx) < 0.3 * size


SCENES: dict[str, Callable[[np.random.Generator, int], Scene]] = {
    "carpet": carpet, "grid": grid, "leather": leather, "tile": tile, "wood": wood,
    "bottle": bottle, "cable": cable, "capsule": capsule, "hazelnut": hazelnut,
    "metal_nut": metal_nut, "pill": pill, "screw": screw, "toothbrush": toothbrush,
    "transistor": transistor, "zipper": zipper,
}
