"""MVTec LOCO AD (Bergmann et al., IJCV 2022, "Beyond Dents and Scratches"): 5 categories.

Checked against anomalib's MVTec LOCO dataset code and the dataset's own description: a
category holds ``train/good``, ``validation/good`` (normal images only, meant for model
selection) and ``test/{good,logical_anomalies,structural_anomalies}``. A defective test
image ``test/<defect>/<stem>.png`` has a *folder* of masks, ``ground_truth/<defect>/<stem>/``
with ``000.png``, ``001.png`` ...: one per annotated region, each region's pixels holding a
per-defect-type grey value (the sPRO saturation lookup); the image's defect is their union,
any nonzero pixel. The two test folder names are the defect types that
``image_auc_logical`` / ``image_auc_structural`` are computed over.
"""
from __future__ import annotations

from pathlib import Path

from trainables.errors import MissingMaskError
from trainables.layouts.common import Listing, folder_test_set, images_in, require_train

NAME = "mvtec_loco"
DEFECT_TYPES = ("logical_anomalies", "structural_anomalies")


def categories(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "train" / "good").is_dir()
                  and any((p / "test" / d).is_dir() for d in DEFECT_TYPES))


def expected_folder(root: Path, category: str) -> str:
    return f"{root / category}/train/good and {root / category}/test/logical_anomalies"


def list_files(root: Path, category: str) -> Listing:
    folder = root / category
    train = require_train(folder / "train" / "good")

    def mask_of(defect: str, img: Path) -> list[Path]:
        masks_dir = folder / "ground_truth" / defect / img.stem
        masks = images_in(masks_dir)
        if not masks:
            raise MissingMaskError(f"defect image {img} has no masks (expected a folder {masks_dir} "
                                   f"holding 000.png, 001.png ...)")
        return masks
    return Listing(train, folder_test_set(folder / "test", mask_of),
                   images_in(folder / "validation" / "good"), layout=NAME)
