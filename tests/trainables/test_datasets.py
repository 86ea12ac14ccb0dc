"""The dataset and layout registries: every dataset module answers the same questions, and
adding one is one module and one registry line."""
import pytest

from trainables.data import DATASETS, LAYOUTS, category_info
from trainables.data.datasets import ARCHIVES, DATASET_CATEGORIES, GENERATED_ROOTS, resolve_data_root
from trainables.data.errors import DatasetNotFoundError
from trainables.data.generated import GENERATED_LAYOUTS
from trainables.data.identity import published_counts


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_module_names_its_groups_and_aligned_categories(name):
    module = DATASETS[name]
    assert module.NAME == name and module.GROUPS
    categories = DATASET_CATEGORIES[name]
    assert len(categories) == len(set(categories)) and module.ALIGNED <= set(categories)
    for group, cats in module.GROUPS.items():
        for c in cats:
            info = category_info(c)
            assert (info.group, info.dataset, info.per_location_gde) == (group, name, c in module.ALIGNED)


@pytest.mark.parametrize("name", [n for n, m in DATASETS.items() if hasattr(m, "COUNTS")])
def test_published_counts_cover_exactly_the_registry_categories(name):
    counts = published_counts(name)
    assert set(counts) == set(DATASET_CATEGORIES[name])
    assert all(n > 0 for row in counts.values() for n in row)


@pytest.mark.parametrize("name", list(ARCHIVES))
def test_every_archive_is_its_datasets_and_has_its_own_command(name):
    archive = ARCHIVES[name]
    assert archive.name == name and archive.command.startswith("fetch-") and len(archive.sha256) == 64
    assert len({a.command for a in ARCHIVES.values()}) == len(ARCHIVES)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_layout_reads_a_root_and_is_a_registered_dataset(name):
    layout = LAYOUTS[name]
    assert DATASETS[name] is layout
    for function in ("categories", "expected_folder", "list_files"):
        assert callable(getattr(layout, function))
    assert list(LAYOUTS)[-1] == "mvtec_ad"          # the fallback is tried last


@pytest.mark.parametrize("name", list(GENERATED_LAYOUTS))
def test_a_generated_layout_draws_real_category_names_of_its_dataset(name):
    assert set(GENERATED_LAYOUTS[name].categories) <= set(DATASET_CATEGORIES[name])


def test_a_data_root_is_a_folder_or_the_name_of_a_generated_dataset(tmp_path):
    assert resolve_data_root(tmp_path) == tmp_path
    assert set(GENERATED_ROOTS) == {"generated", "photo"}
    with pytest.raises(DatasetNotFoundError, match="or name a generated dataset: generated, photo"):
        resolve_data_root(tmp_path / "missing")


def test_a_dataset_column_value_names_its_dataset():
    from trainables.data import dataset_name
    assert [dataset_name(v) for v in ("mvtec_ad@3f2a", "generated_visa@00", "my_folder")] == \
        ["mvtec_ad", "generated_visa", "my_folder"]
    assert dataset_name("visa@1") in DATASETS
