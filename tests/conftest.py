"""Shared fixtures: a small generated dataset in MVTec layout and a private cache."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# One OpenMP/OpenBLAS thread per process (this one, the launchers and trials it starts) unless the
# caller chose: the tests check results, not speed, and on a busy 2-core machine a second BLAS
# thread spins against the other process (a 512-dim Ledoit-Wolf fit took 3.8 s instead of 0.1 s;
# four files of trial tests 411 s instead of 51 s beside a running study, 59 s instead of 51 s on
# a quieter machine; 2026-12-02, 2-core AMD EPYC AVX2). Set before numpy or torch is loaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Every test run gets its own cache, so tests never touch (or trust) the user's.
_CACHE = Path(tempfile.mkdtemp(prefix="cutpaste-test-cache-"))
os.environ["CUTPASTE_CACHE"] = str(_CACHE)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def small_spec():
    from trainables.data.generated import SynthSpec
    return SynthSpec(seed=0, image_size=64, n_train=12, n_test_good=6, n_per_defect=3)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, small_spec) -> Path:
    """Two categories (a texture and an object) of the generated dataset at 64 px."""
    from trainables.data.generated import generate_dataset
    root = tmp_path_factory.mktemp("data") / "generated"
    return generate_dataset(root, small_spec, categories=("carpet", "bottle"), workers=1, verbose=False)


@pytest.fixture()
def cache_root() -> Path:
    from trainables.data import cache_dir
    return cache_dir()
