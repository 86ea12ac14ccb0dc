"""The datasets the project builds offline, deterministic by seed, each built once, atomically.

``procedural``: the 15 MVTec AD category names drawn procedurally (``scenes``) with procedural
defects and masks (``defects``), in the MVTec AD layout (``generated@<fingerprint>``, the
default ``--data-root``); ``photos``: five categories cut from photographs that install with
the dependencies (``photo@<fingerprint>``); ``benchmark_layouts``: the procedural scenes in
VisA's, MVTec LOCO AD's and MVTec AD 2's layouts (``generated_<layout>@<fingerprint>``).
A fingerprint covers the generator's source (``provenance``).
"""
from trainables.data.generated.benchmark_layouts import GENERATED_LAYOUTS, LAYOUT_CATEGORIES, generate_layout
from trainables.data.generated.photos import generate_photos
from trainables.data.generated.procedural import MANIFEST, SynthSpec, built_once, generate_dataset

__all__ = ["GENERATED_LAYOUTS", "LAYOUT_CATEGORIES", "MANIFEST", "SynthSpec", "built_once", "generate_dataset",
           "generate_layout", "generate_photos"]
