"""``val_auc``: the objective a search may tune on, with no real anomaly in sight.

Normal images held out of ``train/good`` (never trained on, never in the GDE) are scored
as they are and with a synthetic defect drawn on them. The defects come from the
procedural family in ``trainables.data.generated.defects`` (cracks, scratches, holes, stains,
contamination): strokes and blobs, a different family from the cut-and-paste patches
the model trains on, so a search cannot win by rewarding the training task itself.
Caveat recorded in README: on the *generated* dataset its test defects come from the
same procedural family, so there val_auc is optimistic; on real data they differ.

The same held-out normal images give the deployable threshold (``trainables.metrics.threshold``:
the score at ``threshold_fpr`` on them). Where a dataset ships its own validation split of
normal images (``CategoryData.validation``: MVTec LOCO AD, MVTec AD 2), those are the
held-out normals and all of ``train/good`` trains the model and fits the GDE; otherwise
``val_fraction`` of ``train/good`` (default 0.1) is held out of both.

This module owns the held-out split and the validation images; scoring them with a model
and its density (``val_auc``) is evaluation's (``trainables.evaluate.pipeline``).
"""
from __future__ import annotations

import numpy as np
import torch

from trainables.data.generated.defects import DEFECTS

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


def own_validation(data) -> torch.Tensor | None:
    """The dataset's own validation/good images, or None (MVTec AD, VisA, generated data)."""
    images = getattr(data, "validation", None)
    return images if images is not None and len(images) else None


def split_category(data, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) indices of ``data.train``: nothing is held out of ``train/good`` when the
    dataset has its own validation split (that split is the held-out set), else ``fraction``."""
    return split_train(len(data.train), 0.0 if own_validation(data) is not None else fraction, seed)


def held_out_normals(data, val_idx: np.ndarray | None) -> tuple[torch.Tensor, str] | None:
    """Normal images no model or GDE of the trial has seen, and where they came from
    (``validation_good:64`` or ``train_good_holdout:8``); None when there are none."""
    own = own_validation(data)
    if own is not None:
        return own, f"validation_good:{len(own)}"
    if val_idx is not None and len(val_idx):
        return data.train[val_idx], f"train_good_holdout:{len(val_idx)}"
    return None

