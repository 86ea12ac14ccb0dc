"""``val_auc``: the objective a search may tune on, with no real anomaly in sight.

Normal images held out of ``train/good`` (never trained on, never in the GDE) are scored
as they are and with a synthetic defect drawn on them. The defects come from the
procedural family in ``synth_defects`` (cracks, scratches, holes, stains,
contamination): strokes and blobs, a different family from the cut-and-paste patches
the model trains on, so a search cannot win by rewarding the training task itself.
Caveat recorded in README: on the *generated* dataset its test defects come from the
same procedural family, so there val_auc is optimistic; on real data they differ.

This module owns the held-out split and the validation images; scoring them with a model
and its density (``val_auc``) is evaluation's (``trainables.evaluation``).
"""
from __future__ import annotations

import numpy as np
import torch

from trainables.synth_defects import DEFECTS

VAL_DEFECT_KINDS = ("crack", "scratch", "hole", "stain", "contamination")
VAL_DEFECT_FAMILY = "procedural:" + ",".join(VAL_DEFECT_KINDS)


def defective_copies(images_u8: torch.Tensor, seed: int) -> torch.Tensor:
    """One procedural defect on each image (kinds in turn), deterministic by seed."""
    out = []
    full = np.ones(images_u8.shape[2:], bool)
    for i, img in enumerate(images_u8.permute(0, 2, 3, 1).numpy()):
        rng = np.random.default_rng([seed, i])
        kind = VAL_DEFECT_KINDS[i % len(VAL_DEFECT_KINDS)]
        bad, _ = DEFECTS[kind](rng, img.astype(np.float64) / 255, full)
        out.append((np.clip(bad, 0, 1) * 255 + 0.5).astype(np.uint8))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def split_train(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) indices of ``n`` training images: the held-out share is for val_auc; the
    rest train the model and fit the GDE. Sorted, deterministic by seed."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def validation_set(normal_u8: torch.Tensor, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """The held-out normal images followed by their defective copies, and labels (0 normal, 1 defect)."""
    bad = defective_copies(normal_u8, seed)
    return torch.cat([normal_u8, bad]), np.r_[np.zeros(len(normal_u8)), np.ones(len(bad))]
