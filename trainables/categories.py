"""Category registry: each dataset's categories, the groups its tables report, and how
localization treats them.

MVTec AD groups its categories into textures and objects (CutPaste paper, Table 1).
VisA's README and paper group its 12 objects into complex structure (the four PCBs),
multiple instances per view (capsules, candles, two macaroni sets) and single, roughly
aligned instances (cashew, chewing gum, two fryums). MVTec LOCO AD and MVTec AD 2 report no
grouping of categories, so each is one group named after the dataset. Category names differ
across the four datasets (``capsule`` is MVTec AD's, ``capsules`` VisA's), so a name alone
finds its dataset and group. Patch-level localization fits one GDE per patch location for
MVTec's aligned objects and one shared GDE for textures, hazelnut and screw (paper Sec. 4.2 /
App. A.5); every other category shares one GDE. Categories a user's dataset brings that no
registry knows are allowed: they are grouped as ``other``.
"""
from __future__ import annotations

from dataclasses import dataclass

TEXTURES = ("carpet", "grid", "leather", "tile", "wood")
OBJECTS = (
    "bottle", "cable", "capsule", "hazelnut", "metal_nut",
    "pill", "screw", "toothbrush", "transistor", "zipper",
)
MVTEC_CATEGORIES = TEXTURES + OBJECTS
# Objects photographed in a fixed pose: a GDE per patch location pays off.
ALIGNED_OBJECTS = frozenset(
    {"bottle", "cable", "capsule", "metal_nut", "pill", "toothbrush", "transistor", "zipper"}
)

# the categories cut from photographs (trainables.synth_photos): three textures, two objects
# shot in a fixed pose (one GDE per patch location pays off there, as for MVTec's aligned ones)
PHOTO_TEXTURES = ("photo_bokeh", "photo_facade", "photo_petals")
PHOTO_OBJECTS = ("photo_portrait", "photo_gift")
ALIGNED_OBJECTS = ALIGNED_OBJECTS | frozenset(PHOTO_OBJECTS)

# dataset -> {group: categories}, in the order tables list them
DATASET_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "mvtec_ad": {"texture": TEXTURES, "object": OBJECTS},
    "visa": {"complex_structure": ("pcb1", "pcb2", "pcb3", "pcb4"),
             "multiple_instances": ("candle", "capsules", "macaroni1", "macaroni2"),
             "single_instance": ("cashew", "chewinggum", "fryum", "pipe_fryum")},
    "mvtec_loco": {"mvtec_loco": ("breakfast_box", "juice_bottle", "pushpins", "screw_bag",
                                  "splicing_connectors")},
    "photo": {"photo_texture": PHOTO_TEXTURES, "photo_object": PHOTO_OBJECTS},
    "mvtec_ad2": {"mvtec_ad2": ("can", "fabric", "fruit_jelly", "rice", "sheet_metal", "vial",
                                "wallplugs", "walnuts")},
}
DATASET_CATEGORIES = {d: tuple(c for cats in g.values() for c in cats) for d, g in DATASET_GROUPS.items()}
GROUPS: dict[str, tuple[str, ...]] = {g: cats for groups in DATASET_GROUPS.values() for g, cats in groups.items()}
GROUP_ORDER = tuple(GROUPS)                       # texture, object, complex_structure, ...
KNOWN_CATEGORIES = tuple(c for cats in DATASET_CATEGORIES.values() for c in cats)
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
