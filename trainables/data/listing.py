"""What every dataset layout hands the loader: a ``Listing`` of one category's files.

A layout module (``mvtec_ad``, ``visa``, ``mvtec_loco``, ``mvtec_ad2``) turns a dataset root
into this one shape, so ``trainables.data.cache`` decodes and caches every dataset the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainables.data.errors import DatasetNotFoundError, EmptyTrainSetError, MissingMaskError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def images_in(folder: Path) -> list[Path]:
    """Image files of ``folder`` (none when it does not exist), sorted, hidden files skipped."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


@dataclass(frozen=True)
class Listing:
    """One category's files. ``test`` holds (image, defect type, masks): a good image has no
    mask, a defective one at least one (MVTec LOCO AD ships several per image; their union
    is the defect). ``validation`` is the dataset's own normal validation split, empty when
    it ships none (MVTec AD, VisA)."""
    train: list[Path]
    test: list[tuple[Path, str, tuple[Path, ...]]]
    validation: list[Path] = field(default_factory=list)
    layout: str = "mvtec_ad"

    def all_paths(self) -> list[Path]:
        """Every file the category is made of (what its cache key covers)."""
        return (self.train + self.validation + [p for p, _, _ in self.test]
                + [m for _, _, masks in self.test for m in masks])


def require_train(folder: Path) -> list[Path]:
    train = images_in(folder)
    if not train:
        raise EmptyTrainSetError(f"{folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return train


def require_test(test: list, test_dir: Path) -> list:
    if not test:
        raise DatasetNotFoundError(f"{test_dir} holds no test images")
    return test


def require_mask(mask: Path, image: Path) -> Path:
    if not mask.is_file():
        raise MissingMaskError(f"defect image {image} has no mask (expected {mask})")
    return mask


def folder_test_set(test_dir: Path, mask_of, skip: tuple[str, ...] = ()) -> list[tuple[Path, str, tuple[Path, ...]]]:
    """Test images from ``test_dir/<defect>/``: ``good`` has no mask, any other folder (but
    ``skip``) is a defect type whose masks ``mask_of(defect, image)`` names (raising when one
    is missing)."""
    if not test_dir.is_dir():
        raise DatasetNotFoundError(f"{test_dir} does not exist: a category needs test images")
    test = []
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir() and p.name not in skip):
        defect = defect_dir.name
        for img in images_in(defect_dir):
            test.append((img, defect, () if defect == "good" else tuple(mask_of(defect, img))))
    return require_test(test, test_dir)
