"""The self-supervised tasks a model trains on: batched, on-device augmentations.

``variants`` is the registry (``VARIANTS``: CutPaste, Scar, 3-way, union, Cutout, Confetti,
Rotation and their patch-level twins; ``create_variant`` is the one way in); ``ops`` holds the
batched pixel operations behind them (``PixelStore``, ``PixelBatch``) and ``confetti`` FCDD's
confetti noise. ``params`` names the config fields the augmentations read.
"""
from trainables.augment.ops import PixelBatch, PixelStore
from trainables.augment.params import AugmentParams
from trainables.augment.variants import (AUGMENTATIONS, PATCH_TASKS, VARIANTS, Variant, create_variant,
                                         is_patch_level, source_batch)

__all__ = ["AUGMENTATIONS", "AugmentParams", "PATCH_TASKS", "PixelBatch", "PixelStore", "VARIANTS", "Variant",
           "create_variant", "is_patch_level", "source_batch"]
