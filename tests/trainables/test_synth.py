import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from trainables.data import MVTEC_CATEGORIES
from trainables.data.generated.defects import CATEGORY_DEFECTS
from trainables.data.generated.procedural import SynthSpec, generate_category


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.png")):
        h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_generator_is_deterministic_by_seed(tmp_path):
    spec = SynthSpec(seed=3, image_size=48, n_train=2, n_test_good=1, n_per_defect=1)
    generate_category(tmp_path / "a", "tile", spec)
    generate_category(tmp_path / "b", "tile", spec)
    generate_category(tmp_path / "c", "tile", SynthSpec(seed=4, image_size=48, n_train=2,
                                                        n_test_good=1, n_per_defect=1))
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
    assert spec.fingerprint() != SynthSpec(seed=4).fingerprint()


def test_every_category_has_several_defect_types_with_nonempty_masks(tmp_path):
    assert set(CATEGORY_DEFECTS) == set(MVTEC_CATEGORIES)
    spec = SynthSpec(image_size=64, n_train=1, n_test_good=1, n_per_defect=2)
    for cat in MVTEC_CATEGORIES:
        generate_category(tmp_path, cat, spec)
        defects = sorted(p.name for p in (tmp_path / cat / "test").iterdir() if p.name != "good")
        assert len(defects) >= 3
        for d in defects:
            for img in (tmp_path / cat / "test" / d).glob("*.png"):
                mask = np.asarray(Image.open(tmp_path / cat / "ground_truth" / d / f"{img.stem}_mask.png"))
                assert mask.shape == (64, 64)
                frac = (mask > 127).mean()
                # a visible defect, not the whole image
                assert 0.0005 < frac < 0.2, (cat, d, frac)


def test_moving_the_generators_renamed_no_generated_dataset():
    """``generated@…`` and ``photo@…`` name the same images as before issue 20 moved the generators
    into ``trainables.data.generated`` (``provenance``). A change to a generator's code changes these
    on purpose: then update the values here, and expect its datasets to be built again."""
    from trainables.data.generated.photos import fingerprint as photo_fingerprint
    assert SynthSpec().fingerprint() == "a0195deaa314"
    assert SynthSpec(image_size=64, n_train=8).fingerprint() == "33231160b561"
    assert SynthSpec(seed=3).fingerprint() == "0ce2dc1587ae"
    # photo@e00ffe3e507e survived the move; 00f88ed changed the photo generator (stripes) on purpose
    assert photo_fingerprint(SynthSpec()) == "fcc015579b61"
    assert photo_fingerprint(SynthSpec(image_size=64, n_train=8)) == "263ca4b09ee8"
