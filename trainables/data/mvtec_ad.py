"""MVTec AD (Bergmann et al., CVPR 2019 / IJCV 2021): the layout the other datasets copy.

``<root>/<category>/train/good/*.png``, ``test/<defect>/*.png`` (with ``test/good``), one
binary mask per defective image at ``ground_truth/<defect>/<stem>_mask.png``. No
validation split: a trial holds some ``train/good`` images out (``trainables.evaluate.validation``).
This is also the fallback layout: any root whose folders hold ``train/good`` reads as it.

Its 15 categories are grouped into textures and objects (CutPaste paper, Table 1); the
objects photographed in a fixed pose get one GDE per patch location (paper Sec. 4.2 /
App. A.5), textures, hazelnut and screw one shared GDE. The published images per category
(Bergmann et al. 2019, Table 1) are ``mvtec_ad_counts.csv``. The procedural dataset the
project generates offline (``trainables.data.generated.procedural``) uses these names.
"""
from __future__ import annotations

from pathlib import Path

from trainables.data.fetch import Archive
from trainables.data.listing import Listing, folder_test_set, images_in, require_mask, require_train

NAME = "mvtec_ad"
TEXTURES = ("carpet", "grid", "leather", "tile", "wood")
OBJECTS = (
    "bottle", "cable", "capsule", "hazelnut", "metal_nut",
    "pill", "screw", "toothbrush", "transistor", "zipper",
)
CATEGORIES = TEXTURES + OBJECTS
GROUPS = {"texture": TEXTURES, "object": OBJECTS}
# Objects photographed in a fixed pose: a GDE per patch location pays off.
ALIGNED = frozenset({"bottle", "cable", "capsule", "metal_nut", "pill", "toothbrush", "transistor", "zipper"})
COUNTS = Path(__file__).parent / "mvtec_ad_counts.csv"   # (train good, test good, test defective)
ARCHIVE = Archive(NAME, "https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/"
                        "download/420938113-1629952094/mvtec_anomaly_detection.tar.xz",
                  "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d", command="fetch-mvtec")


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


def count(root: Path, category: str) -> tuple[int, ...]:
    """A category's images as ``COUNTS`` lists them: (train good, test good, test defective)."""
    folder = root / category
    test_good = test_bad = 0
    if (folder / "test").is_dir():
        for d in (p for p in (folder / "test").iterdir() if p.is_dir()):
            n = len(images_in(d))
            test_good, test_bad = (test_good + n, test_bad) if d.name == "good" else (test_good, test_bad + n)
    return len(images_in(folder / "train" / "good")), test_good, test_bad
