import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainables.data import dataset_id, load_category
from trainables.data.errors import (DatasetNotFoundError, EmptyTrainSetError, ImageReadError,
                               MaskSizeError, MissingMaskError, UnknownCategoryError)


@pytest.fixture()
def dataset_copy(small_dataset, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(small_dataset, dst)
    return dst


def cache_files(cache_root: Path) -> list[Path]:
    """Cache entries and leftovers, lock files aside."""
    return sorted(p for p in cache_root.glob("*") if not p.name.endswith(".lock")) if cache_root.exists() else []


def test_loads_mvtec_layout_with_labels_defects_and_masks(small_dataset):
    d = load_category(small_dataset, "bottle", 32)
    assert d.train.shape == (12, 3, 32, 32) and d.train.dtype.is_floating_point is False
    assert d.test.shape[0] == 6 + 3 * 3 == len(d.test_paths) == len(d.test_defects)
    assert int(d.test_labels.sum()) == 9
    good = d.test_labels == 0
    assert d.test_masks[good].sum() == 0 and all(d.test_masks[~good].flatten(1).sum(1) > 0)
    assert all(p.startswith("bottle/test/") for p in d.test_paths)
    assert dataset_id(small_dataset).startswith("generated@")


def test_grayscale_images_become_three_channels(dataset_copy):
    p = next((dataset_copy / "carpet" / "train" / "good").glob("*.png"))
    Image.open(p).convert("L").save(p)
    d = load_category(dataset_copy, "carpet", 32, use_cache=False)
    assert d.train.shape[1] == 3


def test_second_load_comes_from_the_cache_and_a_changed_file_invalidates_it(dataset_copy, cache_root):
    load_category(dataset_copy, "carpet", 40)
    first = [p for p in cache_files(cache_root) if p.name.startswith("carpet-40-")]
    assert len(first) == 1
    load_category(dataset_copy, "carpet", 40)
    assert [p for p in cache_files(cache_root) if p.name.startswith("carpet-40-")] == first
    p = next((dataset_copy / "carpet" / "train" / "good").glob("*.png"))
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(p)
    d = load_category(dataset_copy, "carpet", 40)
    assert len([p for p in cache_files(cache_root) if p.name.startswith("carpet-40-")]) == 2
    assert d.train.float().mean() > 0


def test_two_processes_preparing_the_cache_at_once_agree(dataset_copy, cache_root):
    code = ("import sys, torch; from trainables.data import load_category; "
            "d = load_category(sys.argv[1], 'bottle', 48); print(int(d.train.long().sum()))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(dataset_copy)], stdout=subprocess.PIPE,
                              env=os.environ.copy(), text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outs[0] == outs[1]
    files = [p for p in cache_files(cache_root) if p.name.startswith("bottle-48-")]
    assert len(files) == 1
    assert not [p for p in cache_files(cache_root) if p.name.endswith(".tmp")]


def test_missing_root_names_the_path(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nowhere"):
        load_category(tmp_path / "nowhere", "bottle", 32)


def test_unknown_category_names_it_and_lists_the_known_ones(small_dataset):
    with pytest.raises(UnknownCategoryError, match="'bottel'.*bottle"):
        load_category(small_dataset, "bottel", 32)


def test_empty_train_good_names_the_folder(dataset_copy, cache_root):
    for p in (dataset_copy / "carpet" / "train" / "good").glob("*"):
        p.unlink()
    with pytest.raises((EmptyTrainSetError, UnknownCategoryError), match="carpet"):
        load_category(dataset_copy, "carpet", 32)


def test_truncated_image_names_the_file_and_writes_no_cache(dataset_copy, cache_root):
    before = cache_files(cache_root)
    p = sorted((dataset_copy / "bottle" / "test" / "crack").glob("*.png"))[1]
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=str(p.name)):
        load_category(dataset_copy, "bottle", 36)
    assert cache_files(cache_root) == before


def test_defect_image_without_mask_names_the_expected_mask(dataset_copy):
    mask = dataset_copy / "bottle" / "ground_truth" / "crack" / "001_mask.png"
    mask.unlink()
    with pytest.raises(MissingMaskError, match="001_mask.png"):
        load_category(dataset_copy, "bottle", 32)


def test_mask_of_another_size_names_both_files(dataset_copy):
    mask = dataset_copy / "bottle" / "ground_truth" / "crack" / "002_mask.png"
    Image.fromarray(np.zeros((50, 70), np.uint8)).save(mask)
    with pytest.raises(MaskSizeError, match="002_mask.png.*002.png"):
        load_category(dataset_copy, "bottle", 32, use_cache=False)


def _mvtec_shaped_tree(root: Path, counts: dict[str, tuple[int, int, int]], drop_one: bool = False) -> Path:
    """Tiny PNGs laid out with exactly the given per-category counts (no real MVTec image)."""
    png = root / "px.png"
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(png)
    for cat, (train, test_good, test_bad) in counts.items():
        for folder, n in ((root / cat / "train" / "good", train), (root / cat / "test" / "good", test_good),
                          (root / cat / "test" / "crack", test_bad - (1 if drop_one and cat == "zipper" else 0))):
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                os.link(png, folder / f"{i:03d}.png")
    return root


def test_only_data_with_mvtec_ad_file_counts_is_named_mvtec_ad(tmp_path, dataset_copy):
    from trainables.data.identity import is_mvtec_ad, mvtec_ad_counts
    counts = mvtec_ad_counts()
    assert len(counts) == 15 and counts["bottle"] == (209, 20, 63)
    assert sum(c[0] for c in counts.values()) == 3629          # the published totals
    exact = _mvtec_shaped_tree(tmp_path / "exact", counts)
    assert is_mvtec_ad(exact)[0] and dataset_id(exact).startswith("mvtec_ad@")
    off_by_one = _mvtec_shaped_tree(tmp_path / "off", counts, drop_one=True)
    ok, why = is_mvtec_ad(off_by_one)
    assert not ok and "zipper" in why
    assert dataset_id(off_by_one).startswith("off@")
    # the generated data copied without its manifest carries MVTec's names but is not MVTec AD
    (dataset_copy / "DATASET.json").unlink()
    assert dataset_id(dataset_copy).startswith("copy@")


def test_a_checksum_verified_download_is_mvtec_ad(tmp_path):
    from trainables.data.identity import is_mvtec_ad
    from trainables.data.fetch import VERIFIED_MARKER
    root = _mvtec_shaped_tree(tmp_path / "mvtec", {"bottle": (3, 1, 1)})
    assert not is_mvtec_ad(root)[0]
    (root / VERIFIED_MARKER).write_text('{"sha256": "x"}')
    assert is_mvtec_ad(root)[0]
