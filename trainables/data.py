"""Load one category of a dataset in the MVTec AD layout, decoded once and cached.

Layout: ``<root>/<category>/train/good/*.png``, ``<root>/<category>/test/<defect>/*.png``
(with ``test/good``), masks at ``<root>/<category>/ground_truth/<defect>/<stem>_mask.png``.
Images are resized to the training resolution once and kept as uint8 tensors: the
trainer moves the whole category to its device and never decodes again. The cache is
keyed by a fingerprint of the file list (names, sizes, mtimes) and the image size, is
written under a lock to a temporary name and renamed, so concurrent trials on a node
share one decode and nobody reads a half-written file.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from PIL import Image

from trainables.categories import MVTEC_CATEGORIES
from trainables.errors import (DatasetNotFoundError, EmptyTrainSetError, ImageReadError,
                               MaskSizeError, MissingMaskError, UnknownCategoryError)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
CACHE_VERSION = 1


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


def cache_dir() -> Path:
    base = Path(os.environ.get("CUTPASTE_CACHE", Path.home() / ".cache" / "cutpaste-study"))
    return base / "categories"


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


def list_categories(root: Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"dataset root {root} does not exist or is not a folder")
    return sorted(p.name for p in root.iterdir() if (p / "train" / "good").is_dir())


def _check_category(root: Path, category: str) -> Path:
    cats = list_categories(root)
    folder = root / category
    if category not in cats:
        raise UnknownCategoryError(
            f"category '{category}' not found under {root} (expected {folder}/train/good); "
            f"categories there: {cats or 'none'}")
    return folder


@dataclass(frozen=True)
class _Listing:
    train: list[Path]
    test: list[tuple[Path, str, Path | None]]  # image, defect type, mask


def _list_files(root: Path, category: str) -> _Listing:
    folder = _check_category(root, category)
    train = _images_in(folder / "train" / "good")
    if not train:
        raise EmptyTrainSetError(f"{folder / 'train' / 'good'} holds no images "
                                 f"({', '.join(IMAGE_EXTENSIONS)})")
    test: list[tuple[Path, str, Path | None]] = []
    test_dir = folder / "test"
    if not test_dir.is_dir():
        raise DatasetNotFoundError(f"{test_dir} does not exist: a category needs test images")
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        defect = defect_dir.name
        for img in _images_in(defect_dir):
            mask = None
            if defect != "good":
                mask = folder / "ground_truth" / defect / f"{img.stem}_mask.png"
                if not mask.is_file():
                    raise MissingMaskError(f"defect image {img} has no mask (expected {mask})")
            test.append((img, defect, mask))
    if not test:
        raise DatasetNotFoundError(f"{test_dir} holds no test images")
    return _Listing(train, test)


def fingerprint_files(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _read(path: Path, size: int, mode: str) -> tuple[np.ndarray, tuple[int, int]]:
    try:
        with Image.open(path) as im:
            im.load()  # forces a full decode: truncated files fail here, not later
            original = im.size
            im = im.convert(mode)
            resample = Image.NEAREST if mode == "L" else Image.BILINEAR
            arr = np.asarray(im.resize((size, size), resample))
    except Exception as e:  # PIL raises several types for bad files
        raise ImageReadError(f"cannot read image {path}: {e}") from None
    return arr, original


def _decode(listing: _Listing, size: int) -> dict:
    def rgb(p: Path):
        return _read(p, size, "RGB")

    def test_item(item):
        img_path, defect, mask_path = item
        img, img_size = rgb(img_path)
        if mask_path is None:
            return img, np.zeros((size, size), np.uint8)
        mask, mask_size = _read(mask_path, size, "L")
        if mask_size != img_size:
            raise MaskSizeError(f"mask {mask_path} is {mask_size[0]}x{mask_size[1]} but its image "
                                f"{img_path} is {img_size[0]}x{img_size[1]}")
        return img, (mask > 127).astype(np.uint8)

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        train = [a for a, _ in pool.map(rgb, listing.train)]
        tests = list(pool.map(test_item, listing.test))
    to_t = lambda arrs: torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).contiguous()
    return {
        "train": to_t(train),
        "test": to_t([a for a, _ in tests]),
        "test_masks": torch.from_numpy(np.stack([m for _, m in tests])),
    }


def load_category(root: str | Path, category: str, image_size: int,
                  use_cache: bool = True, verbose: bool = False) -> CategoryData:
    """Decode (or fetch from the node's cache) one category at ``image_size``."""
    root = Path(root).resolve()
    listing = _list_files(root, category)
    all_paths = listing.train + [p for p, _, _ in listing.test] + [m for _, _, m in listing.test if m]
    fp = fingerprint_files(all_paths, f"v{CACHE_VERSION}/{image_size}")
    rel = lambda p: str(p.relative_to(root))
    meta = dict(
        train_paths=[rel(p) for p in listing.train],
        test_paths=[rel(p) for p, _, _ in listing.test],
        test_defects=[d for _, d, _ in listing.test],
    )
    cache_file = cache_dir() / f"{category}-{image_size}-{fp}.pt"
    tensors = None
    if use_cache and cache_file.exists():
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
    labels = np.array([0 if d == "good" else 1 for d in meta["test_defects"]], dtype=np.int64)
    return CategoryData(category=category, root=root, image_size=image_size, fingerprint=fp,
                        test_labels=labels, **meta, **tensors)


MVTEC_COUNTS = Path(__file__).with_name("mvtec_ad_counts.csv")   # Bergmann et al. 2019, Table 1


def mvtec_ad_counts() -> dict[str, tuple[int, int, int]]:
    """MVTec AD's published images per category: (train good, test good, test defective)."""
    import csv
    rows = [r for r in csv.DictReader(line for line in MVTEC_COUNTS.read_text().splitlines()
                                      if not line.startswith("#"))]
    return {r["category"]: (int(r["train_good"]), int(r["test_good"]), int(r["test_defective"])) for r in rows}


def _file_counts(root: Path, category: str) -> tuple[int, int, int]:
    folder = root / category
    train = len(_images_in(folder / "train" / "good"))
    test_good = test_bad = 0
    if (folder / "test").is_dir():
        for d in (p for p in (folder / "test").iterdir() if p.is_dir()):
            n = len(_images_in(d))
            if d.name == "good":
                test_good += n
            else:
                test_bad += n
    return train, test_good, test_bad


def is_mvtec_ad(root: Path) -> tuple[bool, str]:
    """Whether ``root`` is MVTec AD, and why (or why not).

    Category names are not enough: the generated dataset, or any copy of it without its
    manifest, has the same 15 folder names. MVTec AD is recognised by the checksum that
    ``fetch-mvtec`` verified, or by every category's train/test file counts matching the
    published ones (a user may have copied the data from elsewhere).
    """
    from trainables.fetch import VERIFIED_MARKER
    if (root / VERIFIED_MARKER).is_file():
        return True, f"archive checksum verified by fetch-mvtec ({VERIFIED_MARKER})"
    expected = mvtec_ad_counts()
    cats = set(list_categories(root))
    missing = sorted(set(expected) - cats)
    if missing:
        return False, f"categories {missing} missing"
    for cat, want in expected.items():
        got = _file_counts(root, cat)
        if got != want:
            return False, (f"{cat}: (train good, test good, test defective) = {got}, "
                           f"MVTec AD has {want}")
    return True, "per-category file counts match MVTec AD's published counts"


@lru_cache(maxsize=32)
def dataset_id(root: str | Path) -> str:
    """``name@fingerprint`` recorded with every result: which data a number came from.

    The generated dataset carries its own manifest; otherwise the name is ``mvtec_ad``
    only when ``is_mvtec_ad`` says so (checksum or published file counts), else the
    folder's name. The fingerprint hashes relative paths and sizes (stable across copies).
    """
    root = Path(root).resolve()
    manifest = root / "DATASET.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        return f"{m['name']}@{m['fingerprint']}"
    cats = list_categories(root)
    name = "mvtec_ad" if is_mvtec_ad(root)[0] else root.name
    h = hashlib.sha256()
    for cat in cats:
        for p in sorted((root / cat).rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                h.update(f"{p.relative_to(root)}\0{p.stat().st_size}\n".encode())
    return f"{name}@{h.hexdigest()[:12]}"


def resolve_data_root(data_root: str | Path | None, verbose: bool = True) -> Path:
    """The user's dataset, or the generated one (made once per node, cached)."""
    if data_root is None:
        from trainables.synth import generate_dataset
        return generate_dataset(verbose=verbose)
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(f"--data-root {root} does not exist or is not a folder")
    return root


def main(argv: list[str] | None = None) -> int:
    import argparse
    from trainables.fetch import MVTEC_SHA256, MVTEC_URL, fetch_archive
    from trainables.synth import SynthSpec, generate_dataset

    ap = argparse.ArgumentParser(prog="python -m trainables.data",
                                 description="Dataset tools: fetch MVTec AD, generate the offline dataset.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch-mvtec", help="download, verify and extract MVTec AD (needs a network)")
    f.add_argument("--to", required=True, help="folder to extract into")
    f.add_argument("--url", default=MVTEC_URL)
    f.add_argument("--sha256", default=MVTEC_SHA256)
    g = sub.add_parser("generate", help="make the procedural MVTec-layout dataset")
    g.add_argument("--to", default=None, help="folder (default: the cache)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--image-size", type=int, default=256)
    args = ap.parse_args(argv)
    if args.cmd == "fetch-mvtec":
        out = fetch_archive(args.url, Path(args.to), sha256=args.sha256)
        print(f"MVTec AD ready at {out}")
    else:
        out = generate_dataset(Path(args.to) if args.to else None,
                               SynthSpec(seed=args.seed, image_size=args.image_size))
        print(f"generated dataset at {out} ({dataset_id(out)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
