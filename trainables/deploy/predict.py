"""Score new images with an exported model, on ONNX Runtime alone (no torch is imported here).

Images are read as the trial's cache reads them (PIL: decode, RGB, resize to the model's image
size with bilinear resampling, uint8), fed in batches, and scored by the graph; an image is
flagged when its score is >= the threshold (the model's, or ``--threshold``). For models with
maps, each image's map maximum is reported and ``--heatmaps DIR`` writes an overlay PNG at the
image's own size and the raw map (``.npy``, float32 at the model's image size). An image that
cannot be read is named in a warning and skipped; the others are scored.
"""
from __future__ import annotations

import csv
import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import onnxruntime as ort
from PIL import Image
from tqdm import tqdm

from trainables.deploy.metadata import INPUT, MAP, SCORE, read_metadata

# the image files a folder contributes (trainables.data.listing's, repeated: importing
# trainables.data would import torch)
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
PROGRESS_FROM = 64      # a progress bar from this many images on (on a terminal)


class ImageUnreadable(ValueError):
    """An image file cannot be decoded."""


@dataclass
class Model:
    """An exported model and its metadata."""
    path: Path
    session: ort.InferenceSession
    meta: dict[str, Any]

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])

    @property
    def has_maps(self) -> bool:
        return MAP in self.meta["outputs"].split(",")

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        names = [SCORE, MAP] if self.has_maps else [SCORE]
        out = self.session.run(names, {INPUT: batch})
        return out[0], (out[1] if self.has_maps else None)


def load_model(path: str | Path, threads: int = 0) -> Model:
    """An ONNX Runtime session on the CPU and the model's metadata (``threads`` 0: ORT's default)."""
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return Model(Path(path), session, read_metadata(path))


def read_image(path: Path, size: int) -> tuple[np.ndarray, Image.Image]:
    """``[S, S, 3]`` uint8 as the trial's cache resizes it, and the RGB image at its own size."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except Exception as e:  # PIL raises several types for bad files
        raise ImageUnreadable(f"cannot read image {path}: {e}") from None
    return np.asarray(rgb.resize((size, size), Image.BILINEAR)), rgb


def find_images(inputs: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (their image files, recursively, sorted) and glob patterns, in order and
    without repeats; and the inputs that matched nothing."""
    found: list[Path] = []
    empty: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            hits = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.exists():
            hits = [p]
        else:
            hits = sorted(Path(q) for q in glob.glob(item, recursive=True) if Path(q).is_file())
        (found.extend(hits) if hits else empty.append(item))
    seen: set[Path] = set()
    return [p for p in found if not (p in seen or seen.add(p))], empty


@dataclass
class Prediction:
    path: Path
    score: float
    map: np.ndarray | None = None
    image: Image.Image | None = field(default=None, repr=False)   # kept only for overlays


def predict(model: Model, paths: Sequence[Path], batch_size: int = 16, keep_images: bool = False,
            failed: list[tuple[Path, str]] | None = None) -> Iterator[Prediction]:
    """Score ``paths`` in batches; unreadable images go to ``failed`` (path, message) and a
    warning on stderr, and scoring goes on."""
    failed = failed if failed is not None else []
    bar = tqdm(total=len(paths), unit="img", desc="predict", file=sys.stderr,
               disable=True if len(paths) < PROGRESS_FROM else None)
    try:
        for i in range(0, len(paths), batch_size):
            arrays, good = [], []
            for p in paths[i:i + batch_size]:
                try:
                    arr, rgb = read_image(p, model.image_size)
                except ImageUnreadable as e:
                    failed.append((p, str(e)))
                    tqdm.write(f"warning: {e}; skipped", file=sys.stderr)
                    continue
                arrays.append(arr)
                good.append((p, rgb if keep_images else None))
            if arrays:
                scores, maps = model.run(np.stack(arrays))
                for j, (p, rgb) in enumerate(good):
                    yield Prediction(p, float(scores[j]), None if maps is None else maps[j], rgb)
            bar.update(len(paths[i:i + batch_size]))
    finally:
        bar.close()


def overlay(image: Image.Image, heat: np.ndarray, threshold: float | None) -> Image.Image:
    """The map over the image at the image's size: red, opaque where the map reaches the
    threshold (or the map's own maximum without one), clear at 0."""
    top = threshold if threshold and threshold > 0 else float(heat.max()) or 1.0
    a = Image.fromarray(np.clip(heat / top, 0, 1).astype(np.float32), mode="F").resize(image.size, Image.BILINEAR)
    alpha = 0.6 * np.asarray(a)[..., None]
    rgb = np.asarray(image, dtype=np.float32)
    red = np.zeros_like(rgb)
    red[..., 0] = 255
    return Image.fromarray((rgb * (1 - alpha) + red * alpha + 0.5).astype(np.uint8))


def map_name(path: Path, base: Path | None) -> str:
    """A flat file name for an image's map: its path below ``base`` with ``/`` as ``__``."""
    try:
        rel = path.resolve().relative_to(base) if base is not None else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    return "__".join(rel.with_suffix("").parts)


def common_base(paths: Sequence[Path]) -> Path | None:
    """The deepest folder holding every path (maps are named below it)."""
    try:
        return Path(os.path.commonpath([str(p.resolve().parent) for p in paths])) if paths else None
    except ValueError:
        return None


def write_predictions(model: Model, paths: Sequence[Path], out: Path, threshold: float | None,
                      heatmaps: Path | None = None, batch_size: int = 16) -> tuple[int, list[tuple[Path, str]]]:
    """Score ``paths`` into the CSV ``out``: ``path, score, threshold, anomalous`` and, for
    models with maps, ``map_max`` (and ``heatmap``, the overlay PNG, with ``heatmaps``).
    Returns the rows written and the images that failed."""
    failed: list[tuple[Path, str]] = []
    cols = ["path", "score", "threshold", "anomalous"] + (["map_max"] if model.has_maps else []) \
        + (["heatmap"] if model.has_maps and heatmaps is not None else [])
    base = common_base(paths)
    if heatmaps is not None and model.has_maps:
        heatmaps.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for pred in predict(model, paths, batch_size, keep_images=heatmaps is not None, failed=failed):
            flag = "" if threshold is None else int(pred.score >= threshold)
            row = [str(pred.path), repr(pred.score), "" if threshold is None else repr(threshold), flag]
            if pred.map is not None:
                row.append(repr(float(pred.map.max())))
                if heatmaps is not None:
                    name = map_name(pred.path, base)
                    np.save(heatmaps / f"{name}.npy", pred.map.astype(np.float32))
                    overlay(pred.image, pred.map, threshold).save(heatmaps / f"{name}.png")
                    row.append(str(heatmaps / f"{name}.png"))
            w.writerow(row)
            n += 1
    return n, failed
