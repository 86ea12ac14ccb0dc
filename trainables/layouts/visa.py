"""VisA (Zou et al., ECCV 2022, "SPot-the-Difference"): 12 categories, split by a CSV file.

Checked against the dataset's README (github.com/amazon-science/spot-diff) and anomalib's
VisA datamodule: images sit at ``<category>/Data/Images/{Normal,Anomaly}/*.JPG`` and masks at
``<category>/Data/Masks/Anomaly/*.png``; which image trains and which tests is decided only by
the standard one-class split ``split_csv/1cls.csv`` at the dataset root, with columns
``object, split, label, image, mask`` (split ``train``/``test``, label ``normal``/``anomaly``,
paths relative to the root, the mask cell empty for normal images). Masks are label images
that hold small values rather than 255 (anomalib's preparation binarises them with
``mask != 0``, and users note a ``> 127`` threshold finds nothing): any nonzero pixel is a
defect. The split has no defect types, so every anomalous image has type ``anomaly``. VisA
ships no validation split.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from trainables.errors import DatasetError, EmptyTrainSetError, MissingImageError, MissingMaskError
from trainables.layouts.common import Listing, require_test

NAME = "visa"
SPLIT_FILE = Path("split_csv") / "1cls.csv"
COLUMNS = ("object", "split", "label", "image", "mask")


def detect(root: Path) -> bool:
    return (root / SPLIT_FILE).is_file()


@lru_cache(maxsize=8)
def _rows(split_file: Path, mtime_ns: int) -> tuple[tuple[int, dict], ...]:
    with open(split_file, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{split_file} lacks column(s) {missing}; VisA's split file has {list(COLUMNS)}")
        return tuple((line, {k: (row[k] or "").strip() for k in COLUMNS}) for line, row in enumerate(reader, 2))


def rows(root: Path) -> tuple[tuple[int, dict], ...]:
    """(line number, row) of the split file; read once per file version."""
    path = root / SPLIT_FILE
    return _rows(path, path.stat().st_mtime_ns)


def categories(root: Path) -> list[str]:
    return sorted({r["object"] for _, r in rows(root)})


def expected_folder(root: Path, category: str) -> str:
    return f"rows with object '{category}' in {root / SPLIT_FILE}"


def _existing(root: Path, rel: str, line: int, what: str, error=MissingImageError) -> Path:
    path = root / rel
    if not rel or not path.is_file():
        raise error(f"{root / SPLIT_FILE} line {line} names {what} {rel or '(empty)'} "
                    f"but {path} does not exist")
    return path


def list_files(root: Path, category: str) -> Listing:
    train, test = [], []
    for line, r in rows(root):
        if r["object"] != category:
            continue
        if r["split"] not in ("train", "test") or r["label"] not in ("normal", "anomaly"):
            raise DatasetError(f"{root / SPLIT_FILE} line {line}: split {r['split']!r} / label {r['label']!r}; "
                               "the one-class split has train/test and normal/anomaly")
        image = _existing(root, r["image"], line, "image")
        if r["split"] == "train":
            if r["label"] != "normal":
                raise DatasetError(f"{root / SPLIT_FILE} line {line}: anomalous image {r['image']} in the "
                                   "train split; one-class training needs normal images only")
            train.append(image)
        elif r["label"] == "normal":
            test.append((image, "good", ()))
        else:
            test.append((image, "anomaly", (_existing(root, r["mask"], line, "mask", MissingMaskError),)))
    if not train:
        raise EmptyTrainSetError(f"{root / SPLIT_FILE} has no train rows for '{category}'")
    return Listing(sorted(train), require_test(sorted(test), root / SPLIT_FILE), layout=NAME)
