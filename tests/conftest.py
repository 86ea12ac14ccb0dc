"""Shared fixtures: a small generated dataset in MVTec layout and a private cache."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

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
