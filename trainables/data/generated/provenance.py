"""What a generated dataset's fingerprint reads of the generator's source.

A generated dataset is named ``<name>@<fingerprint>`` and built once into a folder named after
it; the fingerprint hashes the generator's own source, so data from a changed generator never
passes for the old one. Moving the generators into this package (issue 20: ``synth.py``,
``synth_defects.py``, ``synth_photos.py`` became ``procedural``, ``defects``, ``photos``)
changed only their first-party import lines, the lines that read their sources and one
docstring reference. :func:`source_bytes` reads a module with exactly those lines as they were
before the move (``BEFORE_THE_MOVE``; a ``None`` line did not exist), so the move renamed no
dataset: the default specs stayed ``generated@a0195deaa314`` and ``photo@e00ffe3e507e``
(``tests/trainables/test_synth.py`` pins the current ones). Any other edit of a generator
changes its fingerprint, as it should (the photo generator's stripes, later, did); so does
editing one of these lines.
"""
from __future__ import annotations

from pathlib import Path

# module file -> {line as it is now: the line as it was fingerprinted before the move}
BEFORE_THE_MOVE: dict[str, dict[str, str | None]] = {
    "defects.py": {
        "from trainables.data.generated.scenes import smooth_noise": "from trainables.synth_scenes import smooth_noise",
    },
    "procedural.py": {
        "from trainables.data.generated import defects as synth_defects, scenes as synth_scenes":
            "from trainables import synth_defects, synth_scenes",
        "from trainables.data.mvtec_ad import CATEGORIES as MVTEC_CATEGORIES":
            "from trainables.categories import MVTEC_CATEGORIES",
        "from trainables.data.generated.defects import CATEGORY_DEFECTS, DEFECTS":
            "from trainables.synth_defects import CATEGORY_DEFECTS, DEFECTS",
        "from trainables.data.generated.provenance import source_bytes": None,
        "from trainables.data.generated.scenes import SCENES": "from trainables.synth_scenes import SCENES",
        "            h.update(source_bytes(mod.__file__))": "            h.update(Path(mod.__file__).read_bytes())",
        "        h.update(source_bytes(__file__))": "        h.update(Path(__file__).read_bytes())",
    },
    "photos.py": {
        "- **Defects** are the procedural kinds of ``trainables.data.generated.defects`` (strokes, blobs,":
            "- **Defects** are the procedural kinds of ``trainables.synth_defects`` (strokes, blobs,",
        "from trainables.data.generated import defects as synth_defects": "from trainables import synth_defects",
        "from trainables.data.generated.procedural import MANIFEST, SynthSpec, _rng, _save, _to_u8, built_once":
            "from trainables.synth import MANIFEST, SynthSpec, _rng, _save, _to_u8, built_once",
        "from trainables.data.generated.defects import DEFECTS": "from trainables.synth_defects import DEFECTS",
        "from trainables.data.generated.provenance import source_bytes": None,
        "    h.update(source_bytes(__file__))": "    h.update(Path(__file__).read_bytes())",
        "    h.update(source_bytes(synth_defects.__file__))": "    h.update(Path(synth_defects.__file__).read_bytes())",
    },
}


def source_bytes(path: str | Path) -> bytes:
    """The bytes of a generator module as its fingerprint reads them (see the module docstring)."""
    path = Path(path)
    data = path.read_bytes()
    moved = BEFORE_THE_MOVE.get(path.name) if path.resolve().parent == Path(__file__).resolve().parent else None
    if not moved:
        return data
    lines = [moved.get(line, line) for line in data.decode("utf-8").split("\n")]
    return "\n".join(line for line in lines if line is not None).encode("utf-8")
