"""Every dataset layout read from its files: VisA, MVTec LOCO AD, MVTec AD 2 (generated), with
the named errors bad input gets and the names results carry."""
import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainables.data import layout_of, list_categories, load_category
from trainables.data.errors import ChecksumError, MaskSizeError, MissingImageError, MissingMaskError
from trainables.data.fetch import VERIFIED_MARKER, fetch_archive
from trainables.data.generated import GENERATED_LAYOUTS, LAYOUT_CATEGORIES, generate_layout
from trainables.data.identity import dataset_id, is_dataset

LAYOUTS = tuple(GENERATED_LAYOUTS)          # visa, mvtec_loco, mvtec_ad2


@pytest.fixture(scope="session")
def generated(tmp_path_factory, small_spec) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("layouts")
    return {lay: generate_layout(lay, base / lay, small_spec, workers=1, verbose=False) for lay in LAYOUTS}


@pytest.fixture()
def copy_of(generated, tmp_path):
    def make(layout: str) -> Path:
        dst = tmp_path / layout
        shutil.copytree(generated[layout], dst)
        return dst
    return make


def cached(cache_root: Path) -> list[Path]:
    return sorted(p for p in cache_root.glob("*") if not p.name.endswith(".lock")) if cache_root.exists() else []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_generated_layout_is_recognised_and_named(generated, layout):
    root = generated[layout]
    assert layout_of(root).NAME == layout
    assert list_categories(root) == sorted(LAYOUT_CATEGORIES[layout])
    assert dataset_id(root).startswith(f"generated_{layout}@")


def test_visa_split_file_decides_train_and_test_and_label_masks_count_as_defects(generated, small_spec):
    root = generated["visa"]
    d = load_category(root, "pcb1", 32)
    n_bad = small_spec.n_per_defect * 3
    assert d.train.shape == (small_spec.n_train, 3, 32, 32)
    assert len(d.test) == small_spec.n_test_good + n_bad and int(d.test_labels.sum()) == n_bad
    assert set(d.test_defects) == {"good", "anomaly"} and d.validation is None
    raw = np.asarray(Image.open(root / "pcb1" / "Data" / "Masks" / "Anomaly" / "000.png"))
    assert raw.max() == 1                                   # VisA's masks hold 1, not 255
    bad = d.test_labels == 1
    assert (d.test_masks[bad].flatten(1).sum(1) > 0).all() and d.test_masks[~bad].sum() == 0
    assert all(p.startswith("pcb1/Data/Images/") for p in d.test_paths)


def test_loco_unites_an_images_masks_and_ships_its_validation_split(generated, small_spec):
    root = generated["mvtec_loco"]
    d = load_category(root, "pushpins", 48)
    assert set(d.test_defects) == {"good", "logical_anomalies", "structural_anomalies"}
    assert d.validation is not None and d.validation.shape == (max(4, small_spec.n_train // 8), 3, 48, 48)
    assert all(p.startswith("pushpins/validation/good/") for p in d.validation_paths)
    # an image with two mask files: its mask is their union, at the loader's size
    folder = next(p for p in sorted((root / "pushpins" / "ground_truth" / "logical_anomalies").iterdir())
                  if len(list(p.glob("*.png"))) == 2)
    parts = [np.asarray(Image.open(m).resize((48, 48), Image.NEAREST)) > 0 for m in sorted(folder.glob("*.png"))]
    assert parts[0].any() and parts[1].any()
    i = d.test_paths.index(f"pushpins/test/logical_anomalies/{folder.name}.png")
    assert np.array_equal(d.test_masks[i].numpy().astype(bool), parts[0] | parts[1])


def test_ad2_reads_test_public_and_ignores_the_private_test_sets(generated):
    root = generated["mvtec_ad2"]
    assert (root / "can" / "test_private").is_dir()
    d = load_category(root, "can", 32)
    assert set(d.test_defects) == {"good", "bad"}
    assert all(p.startswith("can/test_public/") for p in d.test_paths)
    assert d.validation is not None and len(d.validation) >= 4


def test_visa_split_naming_a_missing_image_is_named_and_caches_nothing(copy_of, cache_root):
    root = copy_of("visa")
    before = cached(cache_root)
    (root / "cashew" / "Data" / "Images" / "Normal" / "0001.JPG").unlink()
    with pytest.raises(MissingImageError, match=r"1cls\.csv line \d+ names image cashew/Data/Images/Normal/0001\.JPG"):
        load_category(root, "cashew", 32)
    assert cached(cache_root) == before


def test_visa_split_naming_a_missing_mask_is_named(copy_of):
    root = copy_of("visa")
    (root / "cashew" / "Data" / "Masks" / "Anomaly" / "002.png").unlink()
    with pytest.raises(MissingMaskError, match="cashew/Data/Masks/Anomaly/002.png"):
        load_category(root, "cashew", 32)


MASKS = {"visa": "pcb1/Data/Masks/Anomaly/001.png",
         "mvtec_loco": "breakfast_box/ground_truth/structural_anomalies/001/000.png",
         "mvtec_ad2": "fabric/test_public/ground_truth/bad/001_regular_mask.png"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_mask_of_the_wrong_size_is_named_and_caches_nothing(copy_of, cache_root, layout):
    root = copy_of(layout)
    before = cached(cache_root)
    mask = root / MASKS[layout]
    Image.fromarray(np.zeros((30, 50), np.uint8)).save(mask)
    with pytest.raises(MaskSizeError, match=f"{mask.name}.* is 50x30 but its image"):
        load_category(root, MASKS[layout].split("/")[0], 32)
    assert cached(cache_root) == before


def test_loco_image_without_its_mask_folder_is_named_and_caches_nothing(copy_of, cache_root):
    root = copy_of("mvtec_loco")
    before = cached(cache_root)
    shutil.rmtree(root / "pushpins" / "ground_truth" / "logical_anomalies" / "003")
    with pytest.raises(MissingMaskError, match="logical_anomalies/003.png.*logical_anomalies/003 holding 000.png"):
        load_category(root, "pushpins", 32)
    assert cached(cache_root) == before


def test_a_copy_without_manifest_is_named_after_its_folder_and_a_verified_download_after_its_dataset(
        copy_of, tmp_path):
    root = copy_of("mvtec_ad2").rename(tmp_path / "line7")
    (root / "DATASET.json").unlink()
    assert dataset_id(root).startswith("line7@")
    (root / VERIFIED_MARKER).write_text(json.dumps({"dataset": "mvtec_ad2", "sha256": "x"}))
    assert is_dataset(root, "mvtec_ad2")[0] and not is_dataset(root, "mvtec_ad")[0]


def test_visa_is_named_visa_only_with_its_published_counts(tmp_path):
    from trainables.data.identity import published_counts
    counts = published_counts("visa")
    assert sum(n for n, _ in counts.values()) == 9621 and sum(a for _, a in counts.values()) == 1200
    root, png = tmp_path / "VisA", tmp_path / "px.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(png)
    rows = [["object", "split", "label", "image", "mask"]]
    for cat, (normal, anomaly) in counts.items():
        for kind, n in (("Normal", normal), ("Anomaly", anomaly)):
            folder = root / cat / "Data" / "Images" / kind
            folder.mkdir(parents=True)
            for i in range(n):
                os.link(png, folder / f"{i:04d}.JPG")
        rows.append([cat, "train", "normal", f"{cat}/Data/Images/Normal/0000.JPG", ""])
    (root / "split_csv").mkdir()
    with open(root / "split_csv" / "1cls.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    assert is_dataset(root, "visa")[0] and dataset_id(root).startswith("visa@")
    (root / "pcb4" / "Data" / "Images" / "Anomaly" / "0000.JPG").unlink()
    ok, why = is_dataset(root, "visa")
    assert not ok and "pcb4" in why


def test_a_failed_checksum_names_the_dataset_and_extracts_nothing(tmp_path):
    archive = tmp_path / "fake.tar"
    archive.write_bytes(b"not the dataset")
    with pytest.raises(ChecksumError, match="mvtec_loco download from file://.*fake.tar has SHA-256"):
        fetch_archive(archive.as_uri(), tmp_path / "loco", sha256="0" * 64, quiet=True, dataset="mvtec_loco")
    assert not (tmp_path / "loco").exists()


def test_a_verified_archive_with_one_top_folder_is_lifted_and_marked(tmp_path):
    import hashlib
    import tarfile
    src = tmp_path / "src" / "mvtec_ad_2" / "can" / "train" / "good"
    src.mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src / "000_regular.png")
    archive = tmp_path / "ad2.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "mvtec_ad_2", arcname="mvtec_ad_2")
    out = fetch_archive(archive.as_uri(), tmp_path / "ad2", hashlib.sha256(archive.read_bytes()).hexdigest(),
                        quiet=True, dataset="mvtec_ad2")
    assert (out / "can" / "train" / "good" / "000_regular.png").is_file()
    assert json.loads((out / VERIFIED_MARKER).read_text())["dataset"] == "mvtec_ad2"


def test_generate_command_writes_a_layout(tmp_path):
    from trainables.data.cli import main
    assert main(["generate", "--layout", "mvtec_loco", "--to", str(tmp_path / "loco"), "--image-size", "32"]) == 0
    assert layout_of(tmp_path / "loco").NAME == "mvtec_loco"


def test_category_names_are_unique_across_datasets_and_groups_cover_them():
    from trainables.data.datasets import DATASET_CATEGORIES, KNOWN_CATEGORIES, category_group
    assert {d: len(c) for d, c in DATASET_CATEGORIES.items()} == {
        "mvtec_ad": 15, "visa": 12, "mvtec_loco": 5, "photo": 5, "mvtec_ad2": 8}
    assert len(KNOWN_CATEGORIES) == len(set(KNOWN_CATEGORIES)) == 15 + 12 + 5 + 5 + 8
    assert [category_group(c) for c in ("pcb3", "macaroni2", "pipe_fryum", "screw_bag", "walnuts")] == \
        ["complex_structure", "multiple_instances", "single_instance", "mvtec_loco", "mvtec_ad2"]
    for layout, cats in LAYOUT_CATEGORIES.items():      # the generator uses the real names
        assert set(cats) <= set(DATASET_CATEGORIES[layout])


def test_fetch_commands_name_the_dataset_when_the_download_fails(tmp_path, capsys):
    from trainables.data.cli import main
    missing = (tmp_path / "nowhere" / "VisA_20220922.tar").as_uri()
    assert main(["fetch-visa", "--to", str(tmp_path / "visa"), "--url", missing]) == 2
    assert "visa: cannot download file://" in capsys.readouterr().err
    assert not (tmp_path / "visa").exists()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_native_masks_shrunk_as_the_cache_shrinks_them_are_the_cached_masks(generated, layout):
    from trainables.data import native_test_mask
    root = generated[layout]
    d = load_category(root, list_categories(root)[0], 24)
    for i, path in enumerate(d.test_paths):
        native = native_test_mask(d, i)
        assert native.shape == np.asarray(Image.open(root / path)).shape[:2] and set(np.unique(native)) <= {0, 1}
        assert native.any() == bool(d.test_labels[i])
        shrunk = np.asarray(Image.fromarray(native * 255).resize((24, 24), Image.NEAREST)) > 0
        assert np.array_equal(shrunk, d.test_masks[i].numpy() > 0), path
