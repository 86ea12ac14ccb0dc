"""Category registry: MVTec AD's 15 categories and how tables and localization treat them.

Tables group categories into textures and objects (paper Table 1). Patch-level
localization fits one GDE per patch location for aligned objects and one shared
GDE for textures, hazelnut and screw (paper Sec. 4.2 / App. A.5), so the registry
records that too. Categories a user's dataset brings that MVTec does not know are
allowed: they are grouped as ``other`` and use a shared GDE.
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


@dataclass(frozen=True)
class CategoryInfo:
    name: str
    group: str  # "texture", "object" or "other"
    per_location_gde: bool


def category_info(name: str) -> CategoryInfo:
    """Registry lookup; unknown names are a user's own category (group ``other``)."""
    if name in TEXTURES:
        return CategoryInfo(name, "texture", False)
    if name in OBJECTS:
        return CategoryInfo(name, "object", name in ALIGNED_OBJECTS)
    return CategoryInfo(name, "other", False)


def category_group(name: str) -> str:
    return category_info(name).group
