"""The photo categories: three textures and two objects cut from photographs that install with
the project's dependencies, with procedural defects, in the MVTec AD layout (read as MVTec AD).

Built offline, once, by ``trainables.data.generated.photos`` (``--data-root photo``); this
module is what the registry knows of them: the groups its tables report (textures, objects)
and the objects shot in a fixed pose (one GDE per patch location pays off there, as for
MVTec's aligned objects).
"""
from __future__ import annotations

from trainables.data.generated.photos import NAME, PHOTO_CATEGORIES
from trainables.data.generated.photos import generate_photos as generate

GROUPS = {f"photo_{kind}": tuple(c.name for c in PHOTO_CATEGORIES.values() if c.kind == kind)
          for kind in ("texture", "object")}
ALIGNED = frozenset(GROUPS["photo_object"])

__all__ = ["ALIGNED", "GROUPS", "NAME", "generate"]
