"""Datasets: one module per dataset, their registry, and one category loaded, cached, the same
way whatever its layout.

Each dataset module (``mvtec_ad``, ``visa``, ``mvtec_loco``, ``mvtec_ad2``, ``photo``) holds its
layout, published counts, groups, archive and generator hooks; ``datasets`` is the registry
(``DATASETS``, the categories' groups, ``resolve_data_root``) and ``layouts`` the registry of
layouts (``layout_of`` recognises a root from its files). ``cache`` decodes a category once
(``load_category`` -> ``CategoryData``), ``identity`` names the data a number came from
(``dataset_id``), ``fetch`` downloads an archive, ``generated`` builds the offline datasets and
``cli`` is ``python -m trainables.data``. Errors name the path at fault (``errors``).
"""
from trainables.data.cache import CategoryData, cache_dir, load_category, native_test_mask
from trainables.data.datasets import (DATASETS, GROUP_ORDER, GROUPS, KNOWN_CATEGORIES, MVTEC_CATEGORIES,
                                      CategoryInfo, category_group, category_info, resolve_data_root)
from trainables.data.errors import DatasetError, DatasetNotFoundError, UnknownCategoryError
from trainables.data.identity import dataset_id, dataset_name, is_dataset, is_mvtec_ad
from trainables.data.layouts import LAYOUTS, layout_of, list_categories, list_files
from trainables.data.listing import Listing

__all__ = ["CategoryData", "CategoryInfo", "DATASETS", "DatasetError", "DatasetNotFoundError", "GROUPS",
           "GROUP_ORDER", "KNOWN_CATEGORIES", "LAYOUTS", "Listing", "MVTEC_CATEGORIES", "UnknownCategoryError",
           "cache_dir", "category_group", "category_info", "dataset_id", "dataset_name", "is_dataset", "is_mvtec_ad", "layout_of",
           "list_categories", "list_files", "load_category", "native_test_mask", "resolve_data_root"]
