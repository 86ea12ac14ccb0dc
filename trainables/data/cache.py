"""Load one category of a dataset, decoded once and cached, whatever its layout.

Which files make a category is ``trainables.data.layouts`` (MVTec AD, VisA, MVTec LOCO AD, MVTec
AD 2, recognised from their files); which dataset a root is, ``trainables.data.identity``.
Images are resized to the training resolution once and kept as uint8 tensors: the trainer
moves the whole category to its device and never decodes again. A defect's masks are
read as label images (any nonzero pixel is a defect: VisA's masks hold 1, LOCO's a grey
value per defect type) and several masks of one image are united (LOCO). Masks are cached at
the image size (NEAREST); ``native_test_mask`` reads one at its image's own resolution, for
pixel metrics at native resolution (``pixel_resolution=native``). The cache is keyed
by a fingerprint of the file list (names, sizes, mtimes) and the image size, is written under
a lock to a temporary name and renamed, so concurrent trials on a node share one decode and
nobody reads a half-written file; bad input raises before anything is written.

A process that runs trial after trial (a reused Ray Tune actor, ``trainables.worker``) also
keeps the decoded tensors in memory under the same key (the cache file's path: category,
image size, fingerprint), most recently used first, up to ``CUTPASTE_MEMORY_CACHE_MB``
(default 256: the demo's 15 generated categories at 160 px take 160 MB; 0 turns it off).
Changed files change the fingerprint, so a stale entry is never found, only aged out. Trials
index into these tensors (copies) and never write to them (``tests/study/test_warm_workers.py``).
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from PIL import Image

from trainables.data.errors import ImageReadError, MaskSizeError
from trainables.data.layouts import list_files
from trainables.data.listing import Listing

CACHE_VERSION = 2      # 2: masks are nonzero-is-defect unions; the dataset's validation split is cached


@dataclass
class CategoryData:
    """A category at one resolution; tensors are uint8 on the CPU until the trainer moves them."""
    category: str
    root: Path
    image_size: int
    fingerprint: str
    train: torch.Tensor            # [N, 3, S, S] uint8, train/good
    train_paths: list[str]         # relative to root
    test: torch.Tensor             # [M, 3, S, S] uint8
    test_paths: list[str]
    test_labels: np.ndarray        # [M] int, 0 good, 1 defect
    test_defects: list[str]        # defect type per test image ("good" for good ones)
    test_masks: torch.Tensor       # [M, S, S] uint8 in {0, 1}
    test_mask_paths: list[tuple[str, ...]] = field(default_factory=list)   # per test image, relative to root
    validation_paths: list[str] = field(default_factory=list)
    validation: torch.Tensor | None = None   # [V, 3, S, S] uint8: the dataset's own validation/good (LOCO, AD 2)


class _MemoryCache:
    """Decoded categories kept in this process, least recently used dropped first past the limit."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()

    @staticmethod
    def limit_bytes() -> int:
        return int(float(os.environ.get("CUTPASTE_MEMORY_CACHE_MB", "256")) * 2**20)

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        tensors = self.entries.get(key)
        if tensors is not None:
            self.entries.move_to_end(key)
        return tensors

    def put(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        limit = self.limit_bytes()
        self.entries[key] = tensors
        self.entries.move_to_end(key)
        size = lambda ts: sum(t.numel() * t.element_size() for t in ts.values())
        while self.entries and sum(size(ts) for ts in self.entries.values()) > limit:
            self.entries.popitem(last=False)


MEMORY = _MemoryCache()


def cache_dir() -> Path:
    base = Path(os.environ.get("CUTPASTE_CACHE", Path.home() / ".cache" / "cutpaste-study"))
    return base / "categories"


def fingerprint_files(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _read(path: Path, size: int | None, mode: str) -> tuple[np.ndarray, tuple[int, int]]:
    """The image as an array, resized to ``size`` x ``size`` (None: as it is), and its (w, h)."""
    try:
        with Image.open(path) as im:
            im.load()  # forces a full decode: truncated files fail here, not later
            original = im.size
            im = im.convert(mode)
            if size is not None:
                resample = Image.NEAREST if mode == "L" else Image.BILINEAR
                im = im.resize((size, size), resample)
            arr = np.asarray(im)
    except Exception as e:  # PIL raises several types for bad files
        raise ImageReadError(f"cannot read image {path}: {e}") from None
    return arr, original


def _mask(mask_paths: tuple[Path, ...], img_path: Path, img_size: tuple[int, int], size: int | None) -> np.ndarray:
    """The union of an image's masks at ``size`` (None: the image's own (w, h) ``img_size``);
    each must match its image's size."""
    union = np.zeros((size, size) if size is not None else (img_size[1], img_size[0]), bool)
    for mask_path in mask_paths:
        mask, mask_size = _read(mask_path, size, "L")
        if mask_size != img_size:
            raise MaskSizeError(f"mask {mask_path} is {mask_size[0]}x{mask_size[1]} but its image "
                                f"{img_path} is {img_size[0]}x{img_size[1]}")
        union |= mask > 0
    return union.astype(np.uint8)


def native_test_mask(data: CategoryData, i: int) -> np.ndarray:
    """Test image ``i``'s mask at that image's own resolution, read from disk (not cached):
    [H, W] uint8 in {0, 1}, the union of its masks; all zeros for a good image (its header
    gives the size)."""
    img_path = data.root / data.test_paths[i]
    try:
        with Image.open(img_path) as im:   # reads the header only
            img_size = im.size
    except Exception as e:  # PIL raises several types for bad files
        raise ImageReadError(f"cannot read image {img_path}: {e}") from None
    return _mask(tuple(data.root / m for m in data.test_mask_paths[i]), img_path, img_size, None)


def _decode(listing: Listing, size: int) -> dict:
    def rgb(p: Path):
        return _read(p, size, "RGB")

    def test_item(item):
        img_path, _, mask_paths = item
        img, img_size = rgb(img_path)
        return img, _mask(mask_paths, img_path, img_size, size)

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        train = [a for a, _ in pool.map(rgb, listing.train)]
        validation = [a for a, _ in pool.map(rgb, listing.validation)]
        tests = list(pool.map(test_item, listing.test))
    to_t = lambda arrs: torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).contiguous()
    out = {
        "train": to_t(train),
        "test": to_t([a for a, _ in tests]),
        "test_masks": torch.from_numpy(np.stack([m for _, m in tests])),
    }
    if validation:
        out["validation"] = to_t(validation)
    return out


def load_category(root: str | Path, category: str, image_size: int,
                  use_cache: bool = True, verbose: bool = False) -> CategoryData:
    """Decode (or fetch from the node's cache) one category at ``image_size``."""
    root = Path(root).resolve()
    listing = list_files(root, category)
    all_paths = listing.all_paths()
    fp = fingerprint_files(all_paths, f"v{CACHE_VERSION}/{image_size}")
    rel = lambda p: str(p.relative_to(root))
    meta = dict(
        train_paths=[rel(p) for p in listing.train],
        test_paths=[rel(p) for p, _, _ in listing.test],
        test_defects=[d for _, d, _ in listing.test],
        test_mask_paths=[tuple(rel(m) for m in masks) for _, _, masks in listing.test],
        validation_paths=[rel(p) for p in listing.validation],
    )
    cache_file = cache_dir() / f"{category}-{image_size}-{fp}.pt"
    tensors = MEMORY.get(str(cache_file)) if use_cache else None
    if tensors is None and use_cache and cache_file.exists():
        tensors = torch.load(cache_file, weights_only=True)
    if tensors is None:
        lock_ctx = FileLock(str(cache_file) + ".lock") if use_cache else None
        if lock_ctx is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            lock_ctx.acquire()
        try:
            if use_cache and cache_file.exists():  # another trial finished it meanwhile
                tensors = torch.load(cache_file, weights_only=True)
            else:
                if verbose:
                    print(f"[data] decoding {category} ({len(all_paths)} files) at {image_size}px",
                          flush=True)
                tensors = _decode(listing, image_size)
                if use_cache:
                    tmp = cache_file.parent / f".{cache_file.name}.{os.getpid()}.tmp"
                    torch.save(tensors, tmp)
                    os.replace(tmp, cache_file)
        finally:
            if lock_ctx is not None:
                lock_ctx.release()
    if use_cache:
        MEMORY.put(str(cache_file), tensors)
    labels = np.array([0 if d == "good" else 1 for d in meta["test_defects"]], dtype=np.int64)
    return CategoryData(category=category, root=root, image_size=image_size, fingerprint=fp,
                        test_labels=labels, **meta, **tensors)
