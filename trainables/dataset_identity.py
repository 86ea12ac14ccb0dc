"""Which data a number came from: ``dataset_id`` names a dataset root, recorded with every result.

The generated dataset carries its own manifest. Anything else is named ``mvtec_ad`` only when
it is MVTec AD: its archive checksum was verified by ``fetch-mvtec``, or every category's
(train good, test good, test defective) file counts match the published ones
(``mvtec_ad_counts.csv``); otherwise it is named after its folder.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from trainables.fetch import VERIFIED_MARKER
from trainables.layout import IMAGE_EXTENSIONS, images_in, list_categories


MVTEC_COUNTS = Path(__file__).with_name("mvtec_ad_counts.csv")   # Bergmann et al. 2019, Table 1


def mvtec_ad_counts() -> dict[str, tuple[int, int, int]]:
    """MVTec AD's published images per category: (train good, test good, test defective)."""
    import csv
    rows = [r for r in csv.DictReader(line for line in MVTEC_COUNTS.read_text().splitlines()
                                      if not line.startswith("#"))]
    return {r["category"]: (int(r["train_good"]), int(r["test_good"]), int(r["test_defective"])) for r in rows}


def _file_counts(root: Path, category: str) -> tuple[int, int, int]:
    folder = root / category
    train = len(images_in(folder / "train" / "good"))
    test_good = test_bad = 0
    if (folder / "test").is_dir():
        for d in (p for p in (folder / "test").iterdir() if p.is_dir()):
            n = len(images_in(d))
            if d.name == "good":
                test_good += n
            else:
                test_bad += n
    return train, test_good, test_bad


def is_mvtec_ad(root: Path) -> tuple[bool, str]:
    """Whether ``root`` is MVTec AD, and why (or why not).

    Category names are not enough: the generated dataset, or any copy of it without its
    manifest, has the same 15 folder names. MVTec AD is recognised by the checksum that
    ``fetch-mvtec`` verified, or by every category's train/test file counts matching the
    published ones (a user may have copied the data from elsewhere).
    """
    if (root / VERIFIED_MARKER).is_file():
        return True, f"archive checksum verified by fetch-mvtec ({VERIFIED_MARKER})"
    expected = mvtec_ad_counts()
    cats = set(list_categories(root))
    missing = sorted(set(expected) - cats)
    if missing:
        return False, f"categories {missing} missing"
    for cat, want in expected.items():
        got = _file_counts(root, cat)
        if got != want:
            return False, (f"{cat}: (train good, test good, test defective) = {got}, "
                           f"MVTec AD has {want}")
    return True, "per-category file counts match MVTec AD's published counts"


@lru_cache(maxsize=32)
def dataset_id(root: str | Path) -> str:
    """``name@fingerprint`` recorded with every result: which data a number came from.

    The generated dataset carries its own manifest; otherwise the name is ``mvtec_ad``
    only when ``is_mvtec_ad`` says so (checksum or published file counts), else the
    folder's name. The fingerprint hashes relative paths and sizes (stable across copies).
    """
    root = Path(root).resolve()
    manifest = root / "DATASET.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        return f"{m['name']}@{m['fingerprint']}"
    cats = list_categories(root)
    name = "mvtec_ad" if is_mvtec_ad(root)[0] else root.name
    h = hashlib.sha256()
    for cat in cats:
        for p in sorted((root / cat).rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                h.update(f"{p.relative_to(root)}\0{p.stat().st_size}\n".encode())
    return f"{name}@{h.hexdigest()[:12]}"
