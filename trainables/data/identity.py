"""Which data a number came from: ``dataset_id`` names a dataset root, recorded with every result.

A generated dataset carries its own manifest (``generated@…`` for the MVTec-layout one,
``generated_visa@…``, ``generated_mvtec_loco@…``, ``generated_mvtec_ad2@…`` for the others).
Anything else is named after its layout's dataset (``mvtec_ad``, ``visa``, ``mvtec_loco``,
``mvtec_ad2``) only when it *is* that dataset: its archive checksum was verified by
``fetch-<dataset>`` (the marker names the dataset), or every category's file counts match the
published ones (a dataset module's ``COUNTS`` file and ``count``: ``mvtec_ad_counts.csv``,
``visa_counts.csv``, ``mvtec_loco_counts.csv``; MVTec AD 2 publishes no per-category counts we
could check, so only its verified download is named ``mvtec_ad2``). Otherwise the root is named after its folder: a layout alone says
nothing about which images are in it.
"""
from __future__ import annotations

import csv
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from trainables.data import mvtec_ad
from trainables.data.datasets import DATASETS
from trainables.data.fetch import VERIFIED_MARKER
from trainables.data.listing import IMAGE_EXTENSIONS
from trainables.data.layouts import layout_of, list_categories


def published_counts(dataset: str) -> dict[str, tuple[int, ...]]:
    """A dataset's published images per category, in its count file's column order."""
    lines = [line for line in DATASETS[dataset].COUNTS.read_text().splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    cols = [c for c in rows[0] if c not in ("category", "kind")]
    return {r["category"]: tuple(int(r[c]) for c in cols) for r in rows}


def mvtec_ad_counts() -> dict[str, tuple[int, int, int]]:
    """MVTec AD's published images per category: (train good, test good, test defective)."""
    return published_counts(mvtec_ad.NAME)  # type: ignore[return-value]


def _marker_dataset(root: Path) -> str | None:
    """The dataset a verified download was of; markers written before datasets were named
    are MVTec AD's (``fetch-mvtec`` was the only fetch then)."""
    marker = root / VERIFIED_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text()).get("dataset", "mvtec_ad")
    except (ValueError, AttributeError):
        return None


def is_dataset(root: Path, dataset: str) -> tuple[bool, str]:
    """Whether ``root`` is the published ``dataset``, and why (or why not).

    Category names are not enough: the generated data, or a copy of it without its manifest,
    uses the real names. A dataset is recognised by the checksum its fetch verified, or by
    every category's file counts matching the published ones (a user may have copied it).
    """
    root = Path(root)
    if _marker_dataset(root) == dataset:
        return True, f"archive checksum verified by fetch ({VERIFIED_MARKER})"
    module = DATASETS.get(dataset)
    if module is None or not hasattr(module, "COUNTS"):
        return False, f"no verified {dataset} download ({VERIFIED_MARKER}) and no published per-category counts"
    expected = published_counts(dataset)
    missing = sorted(set(expected) - set(list_categories(root)))
    if missing:
        return False, f"categories {missing} missing"
    for cat, want in expected.items():
        got = module.count(root, cat)
        if got != want:
            return False, f"{cat}: file counts {got}, {dataset} has {want}"
    return True, f"per-category file counts match {dataset}'s published counts"


def is_mvtec_ad(root: Path) -> tuple[bool, str]:
    return is_dataset(root, mvtec_ad.NAME)


@lru_cache(maxsize=32)
def dataset_id(root: str | Path) -> str:
    """``name@fingerprint`` recorded with every result: which data a number came from.

    The fingerprint hashes relative paths and sizes of the categories' images (and VisA's
    split file), so it is stable across copies and changes with any file.
    """
    root = Path(root).resolve()
    manifest = root / "DATASET.json"
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        return f"{m['name']}@{m['fingerprint']}"
    layout = layout_of(root)
    name = layout.NAME if is_dataset(root, layout.NAME)[0] else root.name
    h = hashlib.sha256()
    for extra in getattr(layout, "EXTRA_FILES", ()):      # VisA's split file
        if (root / extra).is_file():
            h.update((root / extra).read_bytes())
    for cat in list_categories(root):
        for p in sorted((root / cat).rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                h.update(f"{p.relative_to(root)}\0{p.stat().st_size}\n".encode())
    return f"{name}@{h.hexdigest()[:12]}"


def dataset_name(identity: str) -> str:
    """The name part of a ``dataset`` column value: ``mvtec_ad`` of ``mvtec_ad@3f2a…`` (compare it
    with a dataset module's ``NAME``, ``DATASETS`` keys, or ``generated``/``generated_<layout>``)."""
    return str(identity).partition("@")[0]
