"""What an augmentation reads from a trial's config: the fields of ``TrialConfig`` it uses.

``trainables.config`` imports the variant registry to validate ``variant``, so the registry
does not import the config back: its transforms take any object with these attributes (a
``TrialConfig`` in a trial; ``tests/trainables/test_augmentations.py`` checks that it has
every one). Meanings, defaults and the paper's values are the config's.
"""
from __future__ import annotations

from typing import Protocol


class AugmentParams(Protocol):
    translate: float                 # base augmentation of every source image (Sec. 4)
    jitter: float
    area_ratio_min: float            # CutPaste patch (Sec. 3.1)
    area_ratio_max: float
    aspect_ratio_min: float
    aspect_ratio_max: float
    patch_jitter: float
    scar_width_min: float            # CutPaste-Scar (Sec. 3.1), px at 256
    scar_width_max: float
    scar_length_min: float
    scar_length_max: float
    scar_rotation: float
    confetti_colored_blobs: float    # FCDD's confetti noise (Tables 1 and 4), px at 240
    confetti_white_blobs: float
    confetti_max_blobs: int
    confetti_size_min: float
    confetti_size_max: float
    confetti_rotation: float
    confetti_blur_kernel: int
    confetti_blur_sigma: float
    confetti_invert_threshold: float

    def scar_scale(self, side: int | None = None) -> float:
        """Scar sizes are given at 256 px: the factor to the side of the image drawn on."""
