"""MVTec AD (Bergmann et al., CVPR 2019 / IJCV 2021): the layout the other datasets copy.

``<root>/<category>/train/good/*.png``, ``test/<defect>/*.png`` (with ``test/good``), one
binary mask per defective image at ``ground_truth/<defect>/<stem>_mask.png``. No
validation split: a trial holds some ``train/good`` images out (``trainables.validation``).
This is also the fallback layout: any root whose folders hold ``train/good`` reads as it.
"""
from __future__ import annotations

from pathlib import Path

from trainables.layouts.common import Listing, folder_test_set, require_mask, require_train

NAME = "mvtec_ad"


def categories(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "train" / "good").is_dir())


def expected_folder(root: Path, category: str) -> str:
    return f"{root / category}/train/good"


def list_files(root: Path, category: str) -> Listing:
    folder = root / category
    train = require_train(folder / "train" / "good")

    def mask_of(defect: str, img: Path) -> list[Path]:
        return [require_mask(folder / "ground_truth" / defect / f"{img.stem}_mask.png", img)]
    return Listing(train, folder_test_set(folder / "test", mask_of), layout=NAME)
