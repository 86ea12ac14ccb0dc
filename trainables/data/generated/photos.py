"""Categories cut from real photographs, with procedural defects, in the MVTec AD layout.

Why: budgets chosen on the procedural scenes did not carry over to images that behave like
photographs (a patch model trained at the old smoke budget localized *worse* than its
untrained control on photo textures). Every budget is now sized on these categories.

The photographs are the sample images that pip already installs with this project's
dependencies (scikit-learn's ``china.jpg`` and ``flower.jpg``, matplotlib's
``grace_hopper.jpg`` and ``Minduka_Present_Blue_Pack.png``), so building the dataset needs
no network. scikit-image's photos are deliberately *not* used: they are kept for an
independent check of the budgets chosen here.

- **Textures** are random crops of one region of a photo, with small changes of scale and
  lighting. The region is cut into stripes a little wider than a crop; training crops come
  from the even stripes and every test crop (good or defective) from the odd ones, so test
  normals are new views of the same surface, never the training pixels again. (Halves were
  tried first: on the dahlia and the blurred leaves the two halves differ enough that the
  frozen ImageNet control scored test normals as *more* anomalous than the defects, image
  AUC 0.37 and 0.45; a benchmark of that shift says nothing about defects.)
- **Objects** are the whole subject, re-shot with a small shift, scale, rotation and
  lighting change; the gift is composited on a plain, unevenly lit background.
- **Defects** are the procedural kinds of ``trainables.data.generated.defects`` (strokes, blobs,
  stains, warps, discolouring), drawn on the photo with their pixel masks.

Written as ``<category>/{train/good,test/<defect>,ground_truth/<defect>}`` with a manifest
naming the dataset ``photo@<fingerprint>``; the fingerprint covers the spec, this module,
the defect code and the photographs' bytes. Built once, atomically, under a lock.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from trainables.data.generated import defects as synth_defects
from trainables.data.generated.procedural import MANIFEST, SynthSpec, _rng, _save, _to_u8, built_once
from trainables.data.generated.defects import DEFECTS
from trainables.data.generated.provenance import source_bytes

NAME = "photo"


def _sklearn_image(name: str) -> Path:
    import sklearn.datasets
    return Path(sklearn.datasets.__file__).parent / "images" / name


def _matplotlib_image(name: str) -> Path:
    import matplotlib
    return Path(matplotlib.get_data_path()) / "sample_data" / name


SOURCES = {"china.jpg": _sklearn_image, "flower.jpg": _sklearn_image,
           "grace_hopper.jpg": _matplotlib_image, "Minduka_Present_Blue_Pack.png": _matplotlib_image}


@dataclass(frozen=True)
class PhotoCategory:
    """One category: which photo, which region, how it is re-shot, and its defect types.

    ``box`` is (left, top, right, bottom) in the photo's pixels: for a texture the region
    whose halves (split across its longer side) give training and test crops of ``crop``
    pixels, cut into alternating training and test stripes (``_stripe``); for an object
    the square that frames it.
    """
    name: str
    photo: str
    kind: str                     # "texture" or "object"
    box: tuple[int, int, int, int]
    defects: tuple[tuple[str, str], ...]   # (defect type as an inspector names it, DEFECTS kind)
    crop: int = 0                 # textures: crop side in photo pixels
    shift: float = 0.03           # objects: max shift as a fraction of the box side
    rotation: float = 3.0         # objects: max rotation, degrees


PHOTO_CATEGORIES: dict[str, PhotoCategory] = {c.name: c for c in (
    # the blurred leaves left of the dahlia (flower.jpg): a soft, low-contrast surface
    PhotoCategory("photo_bokeh", "flower.jpg", "texture", (0, 0, 165, 427),
                  (("hole", "hole"), ("color", "color"), ("scratch", "scratch")), crop=64),
    # the pagoda's painted storeys: a structured, repeating facade (railings, beams, roofs)
    PhotoCategory("photo_facade", "china.jpg", "texture", (90, 130, 330, 370),
                  (("crack", "crack"), ("contamination", "contamination"), ("color", "color")), crop=48),
    # the dahlia's petals (flower.jpg): a natural repeating pattern, left vs right of the bloom
    PhotoCategory("photo_petals", "flower.jpg", "texture", (185, 100, 435, 330),
                  (("crack", "crack"), ("stain", "stain"), ("contamination", "contamination")), crop=48),
    # a portrait (grace_hopper.jpg): an aligned object with fine detail
    PhotoCategory("photo_portrait", "grace_hopper.jpg", "object", (0, 40, 512, 552),
                  (("scratch", "scratch"), ("stain", "stain"), ("deform", "deform"))),
    # a gift box (Minduka_Present_Blue_Pack.png, with alpha) on a plain background
    PhotoCategory("photo_gift", "Minduka_Present_Blue_Pack.png", "object", (0, 0, 128, 128),
                  (("missing", "missing"), ("color", "color"), ("crack", "crack")), shift=0.04),
)}
CATEGORIES = tuple(PHOTO_CATEGORIES)


def photo_path(name: str) -> Path:
    path = SOURCES[name](name)
    if not path.is_file():
        raise FileNotFoundError(
            f"photo {name} not found at {path}: it ships with scikit-learn / matplotlib; "
            "reinstall the project's dependencies")
    return path


def fingerprint(spec: SynthSpec, categories: tuple[str, ...] = CATEGORIES) -> str:
    h = hashlib.sha256(json.dumps({"spec": asdict(spec), "categories": list(categories)},
                                  sort_keys=True).encode())
    h.update(source_bytes(__file__))
    h.update(source_bytes(synth_defects.__file__))
    for photo in sorted({PHOTO_CATEGORIES[c].photo for c in categories}):
        h.update(photo_path(photo).read_bytes())
    return h.hexdigest()[:12]


def default_root(spec: SynthSpec = SynthSpec(), categories: tuple[str, ...] = CATEGORIES) -> Path:
    base = Path(os.environ.get("CUTPASTE_CACHE", Path.home() / ".cache" / "cutpaste-study"))
    return base / f"photo-{fingerprint(spec, categories)}"


def _relight(rng: np.random.Generator, img: np.ndarray, amount: float = 0.05) -> np.ndarray:
    """A new exposure: global gain, a soft gradient and sensor noise, as between shots."""
    size = img.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    gy, gx = rng.uniform(-amount, amount, 2)
    gain = 1 + rng.uniform(-amount, amount) + gy * yy + gx * xx
    return np.clip(img * gain[..., None] + rng.normal(0, 0.006, img.shape), 0, 1)


def _stripe(cat: PhotoCategory, split: str, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """One stripe of the region for ``split``: the region is cut across its longer side into
    stripes a little wider than a crop; even stripes are training's, odd ones the test's. Both
    sets see every part of the surface, and no test pixel was ever a training pixel."""
    x0, y0, x1, y1 = cat.box
    along_x = x1 - x0 >= y1 - y0
    length = (x1 - x0) if along_x else (y1 - y0)
    n = max(2, int(length // (cat.crop * 1.1)))
    mine = [i for i in range(n) if i % 2 == (0 if split == "train" else 1)]
    i = int(rng.choice(mine))
    a, b = (x0, x1) if along_x else (y0, y1)
    lo, hi = a + i * length // n, a + (i + 1) * length // n
    return (lo, y0, hi, y1) if along_x else (x0, lo, x1, hi)


def _texture(cat: PhotoCategory, photo: Image.Image, rng: np.random.Generator, split: str,
             size: int) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = _stripe(cat, split, rng)
    side = int(round(min(cat.crop * rng.uniform(0.9, 1.0), x1 - x0, y1 - y0)))
    left = int(rng.integers(x0, x1 - side + 1))
    top = int(rng.integers(y0, y1 - side + 1))
    crop = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    img = np.asarray(crop, dtype=np.float32)[..., :3] / 255.0
    return _relight(rng, img), np.ones((size, size), bool)


def _object(cat: PhotoCategory, photo: Image.Image, rng: np.random.Generator,
            size: int) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = cat.box
    side = x1 - x0
    dx, dy = rng.uniform(-cat.shift, cat.shift, 2) * side
    scale = rng.uniform(0.97, 1.03)
    angle = rng.uniform(-cat.rotation, cat.rotation)
    cx, cy = (x0 + x1) / 2 + dx, (y0 + y1) / 2 + dy
    half = side * scale / 2
    rgba = photo.convert("RGBA").rotate(angle, resample=Image.BICUBIC, center=(cx, cy))
    view = rgba.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half))).resize(
        (size, size), Image.BICUBIC)
    arr = np.asarray(view, dtype=np.float32) / 255.0
    rgb, alpha = arr[..., :3], arr[..., 3:]
    if photo.mode == "RGBA":        # a cut-out subject: composite on a plain, lit background
        level = rng.uniform(0.78, 0.86)
        background = np.full_like(rgb, level) * np.array([1.0, 0.99, 0.96], np.float32)
        rgb = rgb * alpha + background * (1 - alpha)
        obj = alpha[..., 0] > 0.5
    else:                           # a framed subject: defects land on its central region
        yy, xx = np.mgrid[0:size, 0:size] / size
        obj = ((yy - 0.55) / 0.42) ** 2 + ((xx - 0.5) / 0.4) ** 2 < 1
    return _relight(rng, rgb), obj


def draw(cat: PhotoCategory, photo: Image.Image, rng: np.random.Generator, split: str,
         size: int) -> tuple[np.ndarray, np.ndarray]:
    """A normal image of ``cat`` for ``split`` ("train" or "test") and its object mask."""
    if cat.kind == "texture":
        return _texture(cat, photo, rng, split, size)
    return _object(cat, photo, rng, size)


def generate_category(root: Path, category: str, spec: SynthSpec) -> None:
    cat, size = PHOTO_CATEGORIES[category], spec.image_size
    photo = Image.open(photo_path(cat.photo))
    photo.load()
    for i in range(spec.n_train):
        img, _ = draw(cat, photo, _rng(spec, category, "train", i), "train", size)
        _save(root / category / "train" / "good" / f"{i:03d}.png", _to_u8(img))
    for i in range(spec.n_test_good):
        img, _ = draw(cat, photo, _rng(spec, category, "test_good", i), "test", size)
        _save(root / category / "test" / "good" / f"{i:03d}.png", _to_u8(img))
    for defect_name, kind in cat.defects:
        for i in range(spec.n_per_defect):
            rng = _rng(spec, category, defect_name, i)
            img, obj = draw(cat, photo, rng, "test", size)
            for _ in range(20):  # a defect that changed too few pixels is drawn again
                bad, mask = DEFECTS[kind](rng, img, obj)
                if mask.sum() >= max(4, size * size // 2000):
                    break
            _save(root / category / "test" / defect_name / f"{i:03d}.png", _to_u8(bad))
            _save(root / category / "ground_truth" / defect_name / f"{i:03d}_mask.png",
                  (mask * 255).astype(np.uint8))


def _generate_one(args: tuple[str, str, SynthSpec]) -> str:
    root, category, spec = args
    generate_category(Path(root), category, spec)
    return category


def generate_photos(root: Path | None = None, spec: SynthSpec = SynthSpec(),
                    categories: tuple[str, ...] = CATEGORIES, workers: int | None = None,
                    verbose: bool = True) -> Path:
    """Make the photo categories at ``root`` (default: the cache) unless already complete."""
    unknown = [c for c in categories if c not in PHOTO_CATEGORIES]
    if unknown:
        raise ValueError(f"unknown photo categories {unknown}; known: {list(PHOTO_CATEGORIES)}")
    fp = fingerprint(spec, categories)
    root = Path(root) if root is not None else default_root(spec, categories)
    with built_once(root) as tmp:
        if tmp is None:
            return root
        t0 = time.perf_counter()
        if verbose:
            print(f"[data] building {len(categories)} photo categories at {root} ...", flush=True)
        jobs = [(str(tmp), c, spec) for c in categories]
        workers = workers or min(len(categories), os.cpu_count() or 1)
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for cat in pool.map(_generate_one, jobs):
                    if verbose:
                        print(f"[data]   {cat}", flush=True)
        else:
            for job in jobs:
                _generate_one(job)
        manifest = {"name": NAME, "fingerprint": fp, "spec": asdict(spec), "categories": list(categories),
                    "photos": sorted({PHOTO_CATEGORIES[c].photo for c in categories})}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if verbose:
        print(f"[data] built in {time.perf_counter() - t0:.1f}s", flush=True)
    return root
