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

Its 12 objects are grouped as VisA's README and paper group them: complex structure (the four
PCBs), multiple instances per view (capsules, candles, two macaroni sets) and single, roughly
aligned instances (cashew, chewing gum, two fryums). Published images per category:
``visa_counts.csv``; the archive's URL and checksum as anomalib's datamodule records them.
``GENERATED`` is what the offline generator draws in this layout
(``trainables.data.generated.benchmark_layouts``).
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from trainables.data.errors import DatasetError, EmptyTrainSetError, MissingImageError, MissingMaskError
from trainables.data.fetch import Archive
from trainables.data.listing import Listing, images_in, require_test

NAME = "visa"
SPLIT_FILE = Path("split_csv") / "1cls.csv"
COLUMNS = ("object", "split", "label", "image", "mask")
EXTRA_FILES = (SPLIT_FILE,)      # dataset files besides the category folders (in its fingerprint)
GROUPS = {"complex_structure": ("pcb1", "pcb2", "pcb3", "pcb4"),
          "multiple_instances": ("candle", "capsules", "macaroni1", "macaroni2"),
          "single_instance": ("cashew", "chewinggum", "fryum", "pipe_fryum")}
ALIGNED: frozenset[str] = frozenset()
COUNTS = Path(__file__).parent / "visa_counts.csv"        # (normal images, anomalous images)
ARCHIVE = Archive(NAME, "https://amazon-visual-anomaly.s3.us-west-2.amazonaws.com/VisA_20220922.tar",
                  "2eb8690c803ab37de0324772964100169ec8ba1fa3f7e94291c9ca673f40f362", command="fetch-visa")
# generated categories: (the MVTec-named scene drawn, defect kinds)
GENERATED = {"pcb1": ("transistor", ("scratch", "missing", "contamination")),
             "capsules": ("capsule", ("crack", "stain", "deform")),
             "cashew": ("hazelnut", ("hole", "crack", "stain"))}


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


def count(root: Path, category: str) -> tuple[int, ...]:
    """A category's images as ``COUNTS`` lists them: (normal, anomalous)."""
    images = root / category / "Data" / "Images"
    return len(images_in(images / "Normal")), len(images_in(images / "Anomaly"))
