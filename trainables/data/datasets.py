"""The dataset registry: each dataset's module, its categories and the groups its tables report.

A dataset is one module (``mvtec_ad``, ``visa``, ``mvtec_loco``, ``photo``, ``mvtec_ad2``)
holding what the project knows of it: ``NAME``, ``GROUPS`` (group -> categories, in table
order), ``ALIGNED`` (categories with one GDE per patch location), and where they exist its
layout (``trainables.data.layouts``), published counts (``COUNTS`` and ``count``), archive
(``ARCHIVE``) and generator hooks (``GENERATED``, ``generate``). Adding a dataset is one module
and one line of ``DATASETS``.

MVTec AD groups its categories into textures and objects (CutPaste paper, Table 1), VisA into
complex structure, multiple instances and single instance; MVTec LOCO AD and MVTec AD 2 report
no grouping, so each is one group named after the dataset. Category names differ across the
datasets (``capsule`` is MVTec AD's, ``capsules`` VisA's), so a name alone finds its dataset and
group. Categories a user's dataset brings that no registry knows are allowed: they are grouped
as ``other`` and share one GDE over patch locations.

``resolve_data_root`` turns ``--data-root`` into a folder: the user's, or a dataset the project
generates offline (``GENERATED_ROOTS``), built once and cached.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

from trainables.data import mvtec_ad, mvtec_ad2, mvtec_loco, photo, visa
from trainables.data.errors import DatasetNotFoundError
from trainables.data.fetch import Archive
from trainables.data.generated.procedural import generate_dataset

# in the order tables list their groups
DATASETS: dict[str, ModuleType] = {m.NAME: m for m in (mvtec_ad, visa, mvtec_loco, photo, mvtec_ad2)}
ARCHIVES: dict[str, Archive] = {name: m.ARCHIVE for name, m in DATASETS.items() if hasattr(m, "ARCHIVE")}
# ``--data-root`` values that name a dataset the project builds itself, when no folder of that
# name exists: the procedural MVTec-named scenes (also the default) and the photo categories
GENERATED_ROOTS: dict[str, Callable[..., Path]] = {"generated": generate_dataset, photo.NAME: photo.generate}

DATASET_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {name: m.GROUPS for name, m in DATASETS.items()}
DATASET_CATEGORIES = {d: tuple(c for cats in g.values() for c in cats) for d, g in DATASET_GROUPS.items()}
GROUPS: dict[str, tuple[str, ...]] = {g: cats for groups in DATASET_GROUPS.values() for g, cats in groups.items()}
GROUP_ORDER = tuple(GROUPS)                       # texture, object, complex_structure, ...
KNOWN_CATEGORIES = tuple(c for cats in DATASET_CATEGORIES.values() for c in cats)
MVTEC_CATEGORIES = mvtec_ad.CATEGORIES
ALIGNED_OBJECTS = frozenset().union(*(m.ALIGNED for m in DATASETS.values()))
_GROUP_OF = {c: g for g, cats in GROUPS.items() for c in cats}
_DATASET_OF = {c: d for d, cats in DATASET_CATEGORIES.items() for c in cats}


@dataclass(frozen=True)
class CategoryInfo:
    name: str
    group: str  # a GROUPS key, or "other"
    per_location_gde: bool
    dataset: str = ""   # the registry dataset that names it ("" for a user's own category)


def category_info(name: str) -> CategoryInfo:
    """Registry lookup; unknown names are a user's own category (group ``other``)."""
    return CategoryInfo(name, _GROUP_OF.get(name, "other"), name in ALIGNED_OBJECTS, _DATASET_OF.get(name, ""))


def category_group(name: str) -> str:
    return category_info(name).group


def resolve_data_root(data_root: str | Path | None, verbose: bool = True) -> Path:
    """The user's dataset, or a generated one (made once per node, cached): ``None`` or
    ``generated`` for the procedural scenes, ``photo`` for the categories cut from photographs
    (``trainables.data.generated.photos``). An existing folder of that name wins over the name."""
    if data_root is None:
        return GENERATED_ROOTS["generated"](verbose=verbose)
    root = Path(data_root).expanduser()
    if not root.is_dir() and str(data_root) in GENERATED_ROOTS:
        return GENERATED_ROOTS[str(data_root)](verbose=verbose)
    if not root.is_dir():
        raise DatasetNotFoundError(f"--data-root {root} does not exist or is not a folder "
                                   f"(or name a generated dataset: {', '.join(GENERATED_ROOTS)})")
    return root
