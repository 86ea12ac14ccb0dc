"""MVTec LOCO AD (Bergmann et al., IJCV 2022, "Beyond Dents and Scratches"): 5 categories.

Checked against anomalib's MVTec LOCO dataset code and the dataset's own description: a
category holds ``train/good``, ``validation/good`` (normal images only, meant for model
selection) and ``test/{good,logical_anomalies,structural_anomalies}``. A defective test
image ``test/<defect>/<stem>.png`` has a *folder* of masks, ``ground_truth/<defect>/<stem>/``
with ``000.png``, ``001.png`` ...: one per annotated region, each region's pixels holding a
per-defect-type grey value (the sPRO saturation lookup); the image's defect is their union,
any nonzero pixel. The two test folder names are the defect types that
``image_auc_logical`` / ``image_auc_structural`` are computed over.

It publishes no grouping of its categories, so they are one group named after the dataset.
Published images per category: ``mvtec_loco_counts.csv``; the archive as anomalib records it.
``GENERATED`` is what the offline generator draws in this layout (its logical anomalies are
procedural stand-ins: missing parts, wrong colour).
"""
from __future__ import annotations

from pathlib import Path

from trainables.data.errors import MissingMaskError
from trainables.data.fetch import Archive
from trainables.data.listing import Listing, folder_test_set, images_in, require_train

NAME = "mvtec_loco"
DEFECT_TYPES = ("logical_anomalies", "structural_anomalies")
GROUPS = {NAME: ("breakfast_box", "juice_bottle", "pushpins", "screw_bag", "splicing_connectors")}
ALIGNED: frozenset[str] = frozenset()
COUNTS = Path(__file__).parent / "mvtec_loco_counts.csv"
COUNTED = ("train/good", "validation/good", "test/good", "test/logical_anomalies", "test/structural_anomalies")
ARCHIVE = Archive(NAME, "https://www.mydrive.ch/shares/48237/1b9106ccdfbb09a0c414bd49fe44a14a/download/"
                        "430647091-1646842701/mvtec_loco_anomaly_detection.tar.xz",
                  "9e7c84dba550fd2e59d8e9e231c929c45ba737b6b6a6d3814100f54d63aae687", command="fetch-mvtec-loco")
# generated categories: (the MVTec-named scene drawn, logical kinds, structural kinds)
GENERATED = {"breakfast_box": ("bottle", ("missing", "color"), ("scratch", "contamination")),
             "pushpins": ("metal_nut", ("missing", "color"), ("crack", "deform"))}


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


def count(root: Path, category: str) -> tuple[int, ...]:
    """A category's images as ``COUNTS`` lists them: one number per folder of ``COUNTED``."""
    return tuple(len(images_in(root / category / sub)) for sub in COUNTED)
