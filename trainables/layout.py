"""Which files make a category, for every dataset layout (kept for its importers).

The layouts themselves live in ``trainables.layouts`` (MVTec AD, VisA, MVTec LOCO AD,
MVTec AD 2, recognised from their files); this module re-exports the names the rest of the
project has always imported from here. Listing a category checks the layout and raises a
named error (``trainables.errors``) for a missing category, an empty train set, missing test
images, a split file naming a missing image, or a defect image without its mask(s).
"""
from __future__ import annotations

from trainables.layouts import (IMAGE_EXTENSIONS, LAYOUTS, Listing, check_category, images_in, layout_of,
                                list_categories, list_files)

__all__ = ["IMAGE_EXTENSIONS", "LAYOUTS", "Listing", "check_category", "images_in", "layout_of",
           "list_categories", "list_files"]
