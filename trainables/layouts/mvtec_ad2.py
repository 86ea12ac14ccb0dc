"""MVTec AD 2 (Heckler-Kram et al., arXiv 2503.21622, 2025): 8 categories.

Checked against MVTec's own dataset class shipped with the data (``mvtec_ad_2_public_offline.py``
in the public code utilities) and anomalib's ``MVTecAD2`` datamodule: a category holds
``train/good``, ``validation/good``, ``test_public/{good,bad}`` and the masks of the bad
public test images at ``test_public/ground_truth/bad/<stem>_mask.png`` (255 = defect). The
images are numbered PNGs. ``test_private`` and ``test_private_mixed`` carry no labels (they
are scored by MVTec's evaluation server), so they are ignored here: every number this
project reports for MVTec AD 2 is on ``test_public``.
"""
from __future__ import annotations

from pathlib import Path

from trainables.layouts.common import Listing, folder_test_set, images_in, require_mask, require_train

NAME = "mvtec_ad2"
IGNORED = ("test_private", "test_private_mixed")   # no ground truth: not evaluated here


def categories(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()
                  if (p / "train" / "good").is_dir() and (p / "test_public").is_dir())


def expected_folder(root: Path, category: str) -> str:
    return f"{root / category}/train/good and {root / category}/test_public"


def list_files(root: Path, category: str) -> Listing:
    folder = root / category
    train = require_train(folder / "train" / "good")
    test_dir = folder / "test_public"

    def mask_of(defect: str, img: Path) -> list[Path]:
        return [require_mask(test_dir / "ground_truth" / defect / f"{img.stem}_mask.png", img)]
    # ground_truth sits beside good/ and bad/: a mask folder, not a defect type
    test = folder_test_set(test_dir, mask_of, skip=("ground_truth",))
    return Listing(train, test, images_in(folder / "validation" / "good"), layout=NAME)
