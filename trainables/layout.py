"""The MVTec AD folder layout: which folders are categories and which files make one.

``<root>/<category>/train/good/*.png``, ``<root>/<category>/test/<defect>/*.png`` (with
``test/good``), masks at ``<root>/<category>/ground_truth/<defect>/<stem>_mask.png``. Listing
a category checks the layout and raises a named error (``trainables.errors``) for a missing
category, an empty ``train/good``, missing test images or a defect image without a mask.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainables.errors import DatasetNotFoundError, EmptyTrainSetError, MissingMaskError, UnknownCategoryError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


def list_categories(root: Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"dataset root {root} does not exist or is not a folder")
    return sorted(p.name for p in root.iterdir() if (p / "train" / "good").is_dir())


def check_category(root: Path, category: str) -> Path:
    cats = list_categories(root)
    folder = root / category
    if category not in cats:
        raise UnknownCategoryError(
            f"category '{category}' not found under {root} (expected {folder}/train/good); "
            f"categories there: {cats or 'none'}")
    return folder


@dataclass(frozen=True)
class Listing:
    train: list[Path]
    test: list[tuple[Path, str, Path | None]]  # image, defect type, mask


def list_files(root: Path, category: str) -> Listing:
    folder = check_category(root, category)
    train = images_in(folder / "train" / "good")
    if not train:
        raise EmptyTrainSetError(f"{folder / 'train' / 'good'} holds no images "
                                 f"({', '.join(IMAGE_EXTENSIONS)})")
    test: list[tuple[Path, str, Path | None]] = []
    test_dir = folder / "test"
    if not test_dir.is_dir():
        raise DatasetNotFoundError(f"{test_dir} does not exist: a category needs test images")
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        defect = defect_dir.name
        for img in images_in(defect_dir):
            mask = None
            if defect != "good":
                mask = folder / "ground_truth" / defect / f"{img.stem}_mask.png"
                if not mask.is_file():
                    raise MissingMaskError(f"defect image {img} has no mask (expected {mask})")
            test.append((img, defect, mask))
    if not test:
        raise DatasetNotFoundError(f"{test_dir} holds no test images")
    return Listing(train, test)
