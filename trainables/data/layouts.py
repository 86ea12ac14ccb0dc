"""The layout registry: which files make a category, recognised from the files of a root.

A layout is a dataset module (``trainables.data.mvtec_ad``, ``visa``, ``mvtec_loco``,
``mvtec_ad2``). Each gives ``NAME``, ``categories(root)``, ``expected_folder(root, category)`` and
``list_files(root, category) -> Listing``, and ``detect(root)`` where a file other than the
category folders marks the layout (VisA's split CSV); elsewhere a root is of a layout when
that layout finds categories in it. ``layout_of`` picks the first match, in ``LAYOUTS``
order: the distinctive files first (VisA's split CSV, LOCO's anomaly folders, AD 2's
``test_public``), MVTec AD (plain ``train/good``) last, as the others contain ``train/good``
too.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

from trainables.data import mvtec_ad, mvtec_ad2, mvtec_loco, visa
from trainables.data.errors import DatasetNotFoundError, UnknownCategoryError
from trainables.data.listing import IMAGE_EXTENSIONS, Listing, images_in

LAYOUTS: dict[str, ModuleType] = {m.NAME: m for m in (visa, mvtec_loco, mvtec_ad2, mvtec_ad)}

__all__ = ["IMAGE_EXTENSIONS", "LAYOUTS", "Listing", "check_category", "images_in", "layout_of",
           "list_categories", "list_files"]


def _root(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"dataset root {root} does not exist or is not a folder")
    return root


def layout_of(root: Path) -> ModuleType:
    """The layout module of ``root`` (MVTec AD when nothing more specific matches)."""
    root = _root(root)
    return next((m for m in LAYOUTS.values() if _matches(m, root)), mvtec_ad)


def _matches(layout: ModuleType, root: Path) -> bool:
    detect = getattr(layout, "detect", None)
    return detect(root) if detect is not None else bool(layout.categories(root))


def list_categories(root: Path) -> list[str]:
    return layout_of(root).categories(_root(root))


def check_category(root: Path, category: str) -> Path:
    layout = layout_of(root)
    cats = layout.categories(Path(root))
    if category not in cats:
        raise UnknownCategoryError(
            f"category '{category}' not found under {root} ({layout.NAME} layout: expected "
            f"{layout.expected_folder(Path(root), category)}); categories there: {cats or 'none'}")
    return Path(root) / category


def list_files(root: Path, category: str) -> Listing:
    check_category(root, category)
    return layout_of(root).list_files(Path(root), category)
