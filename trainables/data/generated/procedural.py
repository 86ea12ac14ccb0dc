"""Generate the offline dataset: the 15 MVTec AD category names, drawn procedurally.

Written in exactly the MVTec AD layout (``train/good``, ``test/<defect>``,
``ground_truth/<defect>/<stem>_mask.png``) so that the real loader reads it like
MVTec. Deterministic by seed; the fingerprint also covers the generator's own source,
so results from a changed generator never pass for the old one. Built in a temporary
folder and renamed into place, under a file lock, so concurrent trials see either
nothing or the whole dataset.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from filelock import FileLock
from PIL import Image

from trainables.data.generated import defects as synth_defects, scenes as synth_scenes
from trainables.data.mvtec_ad import CATEGORIES as MVTEC_CATEGORIES
from trainables.data.generated.defects import CATEGORY_DEFECTS, DEFECTS
from trainables.data.generated.provenance import source_bytes
from trainables.data.generated.scenes import SCENES

MANIFEST = "DATASET.json"


@dataclass(frozen=True)
class SynthSpec:
    seed: int = 0
    image_size: int = 256
    n_train: int = 80
    n_test_good: int = 20
    n_per_defect: int = 8

    def fingerprint(self) -> str:
        h = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        for mod in (synth_scenes, synth_defects):
            h.update(source_bytes(mod.__file__))
        h.update(source_bytes(__file__))
        return h.hexdigest()[:12]


def default_root(spec: SynthSpec = SynthSpec()) -> Path:
    base = Path(os.environ.get("CUTPASTE_CACHE", Path.home() / ".cache" / "cutpaste-study"))
    return base / f"generated-{spec.fingerprint()}"


def _rng(spec: SynthSpec, category: str, split: str, index: int) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(f"{category}/{split}/{index}".encode()).digest()[:8], "little")
    return np.random.default_rng([spec.seed, key])


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, compress_level=1)


def _to_u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def generate_category(root: Path, category: str, spec: SynthSpec) -> None:
    draw, size = SCENES[category], spec.image_size
    for i in range(spec.n_train):
        img, _ = draw(_rng(spec, category, "train", i), size)
        _save(root / category / "train" / "good" / f"{i:03d}.png", _to_u8(img))
    for i in range(spec.n_test_good):
        img, _ = draw(_rng(spec, category, "test_good", i), size)
        _save(root / category / "test" / "good" / f"{i:03d}.png", _to_u8(img))
    for defect_name, kind in CATEGORY_DEFECTS[category].items():
        for i in range(spec.n_per_defect):
            rng = _rng(spec, category, defect_name, i)
            img, obj = draw(rng, size)
            for _ in range(20):  # a defect that changed too few pixels is drawn again
                bad, mask = DEFECTS[kind](rng, img, obj)
                if mask.sum() >= max(4, size * size // 2000):
                    break
            _save(root / category / "test" / defect_name / f"{i:03d}.png", _to_u8(bad))
            _save(root / category / "ground_truth" / defect_name / f"{i:03d}_mask.png",
                  (mask * 255).astype(np.uint8))


def _generate_one(args: tuple[str, str, SynthSpec]) -> str:
    root, category, spec = args
    generate_category(Path(root), category, spec)
    return category


def generate_dataset(root: Path | None = None, spec: SynthSpec = SynthSpec(),
                     categories: tuple[str, ...] = MVTEC_CATEGORIES, workers: int | None = None,
                     verbose: bool = True) -> Path:
    """Make the dataset at ``root`` unless it is already complete; returns ``root``."""
    root = Path(root) if root is not None else default_root(spec)
    with built_once(root) as tmp:
        if tmp is None:
            return root
        t0 = time.perf_counter()
        if verbose:
            print(f"[data] generating {len(categories)} categories at {root} ...", flush=True)
        workers = workers or min(len(categories), os.cpu_count() or 1)
        jobs = [(str(tmp), c, spec) for c in categories]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for done, cat in enumerate(pool.map(_generate_one, jobs), 1):
                    if verbose:
                        print(f"[data]   {cat} ({done}/{len(categories)})", flush=True)
        else:
            for job in jobs:
                _generate_one(job)
        manifest = {"name": "generated", "fingerprint": spec.fingerprint(),
                    "spec": asdict(spec), "categories": list(categories)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if verbose:
        print(f"[data] generated in {time.perf_counter() - t0:.1f}s", flush=True)
    return root


@contextmanager
def built_once(root: Path) -> Iterator[Path | None]:
    """Build a dataset folder at most once, atomically: under a lock beside ``root``, yields
    None when ``root`` is already complete (has its manifest), else a fresh temporary folder
    to fill, renamed to ``root`` when the block ends. Concurrent trials wait for one builder,
    and nobody ever reads half a dataset."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if (root / MANIFEST).exists():
            yield None
            return
        tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        yield tmp
        os.replace(tmp, root)
