"""MVTec AD 2 (Heckler-Kram et al., arXiv 2503.21622, 2025): 8 categories.

Checked against MVTec's own dataset class shipped with the data (``mvtec_ad_2_public_offline.py``
in the public code utilities) and anomalib's ``MVTecAD2`` datamodule: a category holds
``train/good``, ``validation/good``, ``test_public/{good,bad}`` and the masks of the bad
public test images at ``test_public/ground_truth/bad/<stem>_mask.png`` (255 = defect). The
images are numbered PNGs. ``test_private`` and ``test_private_mixed`` carry no labels (they
are scored by MVTec's evaluation server), so they are ignored here: every number this
project reports for MVTec AD 2 is on ``test_public``.

It publishes no grouping of its categories (one group named after the dataset) and no
per-category counts we could check, so only a fetch-verified download is named ``mvtec_ad2``.
``GENERATED`` is what the offline generator draws in this layout.
"""
from __future__ import annotations

from pathlib import Path

from trainables.data.fetch import Archive
from trainables.data.listing import Listing, folder_test_set, images_in, require_mask, require_train

NAME = "mvtec_ad2"
IGNORED = ("test_private", "test_private_mixed")   # no ground truth: not evaluated here
GROUPS = {NAME: ("can", "fabric", "fruit_jelly", "rice", "sheet_metal", "vial", "wallplugs", "walnuts")}
ALIGNED: frozenset[str] = frozenset()
ARCHIVE = Archive(NAME, "https://www.mydrive.ch/shares/121573/7f68fe2c4f7c2ceaa08f463aaeb2f414/download/"
                        "466712769-1743422799/mvtec_ad_2.tar.gz",
                  "c0ded99ef32bfc8e352d52beb44515e5b292b8598cb963aadfa91ca0763505e4", command="fetch-mvtec-ad2")
# generated categories: (the MVTec-named scene drawn, defect kinds)
GENERATED = {"fabric": ("carpet", ("hole", "stain", "contamination")),
             "can": ("bottle", ("crack", "scratch", "missing"))}


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
