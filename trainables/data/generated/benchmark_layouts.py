"""The generated dataset in the other benchmarks' layouts: VisA, MVTec LOCO AD, MVTec AD 2.

Same procedural scenes and defects as ``trainables.data.generated.procedural`` (drawn by the
MVTec-named scene of a similar object), written file for file in each dataset's own layout (see
``trainables.data.layouts``) under a few of its real category names (the dataset module's
``GENERATED``: category -> scene and defect kinds), so the real loaders, the category groups and
every table run on it offline:

- ``visa``: ``<cat>/Data/Images/{Normal,Anomaly}/*.JPG``, label-image masks holding 0/1 at
  ``<cat>/Data/Masks/Anomaly/*.png``, and the split file ``split_csv/1cls.csv``.
- ``mvtec_loco``: ``train/good``, ``validation/good``, ``test/{good,logical_anomalies,
  structural_anomalies}``; a logical anomaly removes part of the scene and its ground truth
  comes as two mask files in ``ground_truth/<defect>/<stem>/`` (their union is the defect).
- ``mvtec_ad2``: ``train/good``, ``validation/good``, ``test_public/{good,bad}`` with
  ``test_public/ground_truth/bad/<stem>_mask.png``, and unlabelled ``test_private`` /
  ``test_private_mixed`` images, which the loader ignores as it does on the real data.

The logical anomalies here are procedural stand-ins (missing parts, wrong colour), not the
constraint violations of the real LOCO scenes. Built in a temporary folder under a file lock
and renamed into place, like the MVTec-layout generator; deterministic by seed. The
fingerprint covers the spec, this module and the dataset's module (its ``GENERATED`` table and
layout).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np
from PIL import Image

from trainables.data import mvtec_ad2, mvtec_loco, visa
from trainables.data.generated.defects import DEFECTS
from trainables.data.generated.procedural import MANIFEST, SynthSpec, _rng, _save, _to_u8, built_once
from trainables.data.generated.scenes import SCENES


def _normal(scene: str, spec: SynthSpec, cat: str, split: str, i: int) -> np.ndarray:
    img, _ = SCENES[scene](_rng(spec, cat, split, i), spec.image_size)
    return _to_u8(img)


def _defective(scene: str, kind: str, spec: SynthSpec, cat: str, split: str, i: int):
    rng = _rng(spec, cat, split, i)
    img, obj = SCENES[scene](rng, spec.image_size)
    for _ in range(20):  # a defect that changed too few pixels is drawn again
        bad, mask = DEFECTS[kind](rng, img, obj)
        if mask.sum() >= max(4, spec.image_size ** 2 // 2000):
            break
    return _to_u8(bad), mask.astype(bool)


def _save_jpg(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="JPEG", quality=95)


def _visa_category(root: Path, cat: str, spec: SynthSpec) -> list[list[str]]:
    scene, kinds = visa.GENERATED[cat]
    rows = []
    for i in range(spec.n_train + spec.n_test_good):
        rel = f"{cat}/Data/Images/Normal/{i:04d}.JPG"
        _save_jpg(root / rel, _normal(scene, spec, cat, "normal", i))
        rows.append([cat, "train" if i < spec.n_train else "test", "normal", rel, ""])
    for i in range(spec.n_per_defect * len(kinds)):
        img, mask = _defective(scene, kinds[i % len(kinds)], spec, cat, "anomaly", i)
        rel, mrel = f"{cat}/Data/Images/Anomaly/{i:03d}.JPG", f"{cat}/Data/Masks/Anomaly/{i:03d}.png"
        _save_jpg(root / rel, img)
        _save(root / mrel, mask.astype(np.uint8))          # a label image: 1 = defect, as VisA's
        rows.append([cat, "test", "anomaly", rel, mrel])
    return rows


def _halves(mask: np.ndarray) -> list[np.ndarray]:
    """The mask split at its centre column into two files (LOCO annotates regions separately)."""
    cols = np.nonzero(mask.any(0))[0]
    cut = int(cols.mean()) + 1 if len(cols) else 0
    left, right = mask.copy(), mask.copy()
    left[:, cut:], right[:, :cut] = False, False
    return [m for m in (left, right) if m.any()]


def _loco_category(root: Path, cat: str, spec: SynthSpec) -> list:
    scene, logical, structural = mvtec_loco.GENERATED[cat]
    folder = root / cat
    n_val = max(4, spec.n_train // 8)
    for split, folder_name, n in (("train", "train", spec.n_train), ("validation", "validation", n_val),
                                  ("test_good", "test", spec.n_test_good)):
        for i in range(n):
            _save(folder / folder_name / "good" / f"{i:03d}.png", _normal(scene, spec, cat, split, i))
    for defect, kinds in (("logical_anomalies", logical), ("structural_anomalies", structural)):
        for i in range(spec.n_per_defect * len(kinds)):
            img, mask = _defective(scene, kinds[i % len(kinds)], spec, cat, defect, i)
            _save(folder / "test" / defect / f"{i:03d}.png", img)
            parts = _halves(mask) if defect == "logical_anomalies" else [mask]
            for k, part in enumerate(parts):
                _save(folder / "ground_truth" / defect / f"{i:03d}" / f"{k:03d}.png", part.astype(np.uint8) * 255)
    return []


def _ad2_category(root: Path, cat: str, spec: SynthSpec) -> list:
    scene, kinds = mvtec_ad2.GENERATED[cat]
    folder = root / cat
    n_val = max(4, spec.n_train // 8)
    for split, sub, n in (("train", "train/good", spec.n_train), ("validation", "validation/good", n_val),
                          ("test_good", "test_public/good", spec.n_test_good),
                          ("private", "test_private", 2), ("private_mixed", "test_private_mixed", 2)):
        for i in range(n):
            _save(folder / sub / f"{i:03d}_regular.png", _normal(scene, spec, cat, split, i))
    for i in range(spec.n_per_defect * len(kinds)):
        img, mask = _defective(scene, kinds[i % len(kinds)], spec, cat, "bad", i)
        _save(folder / "test_public" / "bad" / f"{i:03d}_regular.png", img)
        _save(folder / "test_public" / "ground_truth" / "bad" / f"{i:03d}_regular_mask.png",
              mask.astype(np.uint8) * 255)
    return []


def _visa_split_file(root: Path, rows: list[list[str]]) -> None:
    """VisA's one-class split, ``split_csv/1cls.csv``, in the columns its reader expects."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([list(visa.COLUMNS), *rows])
    (root / visa.SPLIT_FILE).parent.mkdir(parents=True)
    (root / visa.SPLIT_FILE).write_text(buf.getvalue())


@dataclass(frozen=True)
class GeneratedLayout:
    """A dataset's layout the generator writes: its module (``NAME``, ``GENERATED``), the writer
    of one category (its split-file rows, if any) and what is written once the categories are."""
    module: ModuleType
    write: Callable[[Path, str, SynthSpec], list]
    finish: Callable[[Path, list], None] | None = None

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.module.GENERATED)


GENERATED_LAYOUTS: dict[str, GeneratedLayout] = {g.module.NAME: g for g in (
    GeneratedLayout(visa, _visa_category, _visa_split_file),
    GeneratedLayout(mvtec_loco, _loco_category),
    GeneratedLayout(mvtec_ad2, _ad2_category),
)}
LAYOUT_CATEGORIES = {name: g.categories for name, g in GENERATED_LAYOUTS.items()}


def _write_one(args: tuple[str, str, str, SynthSpec]) -> list:
    layout, root, cat, spec = args
    return GENERATED_LAYOUTS[layout].write(Path(root), cat, spec)


def layout_fingerprint(layout: str, spec: SynthSpec, categories: tuple[str, ...]) -> str:
    h = hashlib.sha256(f"{spec.fingerprint()}/{layout}/{','.join(categories)}".encode())
    h.update(Path(__file__).read_bytes())
    h.update(Path(GENERATED_LAYOUTS[layout].module.__file__).read_bytes())
    return h.hexdigest()[:12]


def generate_layout(layout: str, root: Path | None = None, spec: SynthSpec = SynthSpec(),
                    categories: tuple[str, ...] | None = None, workers: int | None = None,
                    verbose: bool = True) -> Path:
    """Make the ``layout`` dataset at ``root`` unless it is already complete; returns ``root``."""
    if layout not in GENERATED_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; generated layouts: {sorted(GENERATED_LAYOUTS)}")
    categories = tuple(categories or LAYOUT_CATEGORIES[layout])
    unknown = sorted(set(categories) - set(LAYOUT_CATEGORIES[layout]))
    if unknown:
        raise ValueError(f"{layout} generator has no categories {unknown}; it draws {LAYOUT_CATEGORIES[layout]}")
    fp = layout_fingerprint(layout, spec, categories)
    if root is None:
        base = Path(os.environ.get("CUTPASTE_CACHE", Path.home() / ".cache" / "cutpaste-study"))
        root = base / f"generated-{layout}-{fp}"
    root = Path(root)
    with built_once(root) as tmp:
        if tmp is None:
            return root
        if verbose:
            print(f"[data] generating {layout} layout ({', '.join(categories)}) at {root} ...", flush=True)
        jobs = [(layout, str(tmp), c, spec) for c in categories]
        workers = workers or min(len(jobs), os.cpu_count() or 1)
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                rows = [r for part in pool.map(_write_one, jobs) for r in part]
        else:
            rows = [r for job in jobs for r in _write_one(job)]
        finish = GENERATED_LAYOUTS[layout].finish
        if finish is not None:
            finish(tmp, rows)
        manifest = {"name": f"generated_{layout}", "fingerprint": fp, "layout": layout,
                    "spec": asdict(spec), "categories": list(categories)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return root
