"""``val_auc``: the objective a search may tune on, with no real anomaly in sight.

Normal images held out of ``train/good`` (never trained on, never in the GDE) are scored
as they are and with a synthetic defect drawn on them. The defects come from the
procedural family in ``synth_defects`` (cracks, scratches, holes, stains,
contamination): strokes and blobs, a different family from the cut-and-paste patches
the model trains on, so a search cannot win by rewarding the training task itself.
Caveat recorded in README: on the *generated* dataset its test defects come from the
same procedural family, so there val_auc is optimistic; on real data they differ.
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


def val_auc(density, model, data, val_idx: np.ndarray, cfg, device: torch.device) -> float:
    from sklearn.metrics import roc_auc_score

    from trainables.trial import extract_features
    normal = data.train[val_idx]
    bad = defective_copies(normal, cfg.seed)
    scores = density.score(extract_features(model, torch.cat([normal, bad]), cfg, device))
    labels = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
    return float(roc_auc_score(labels, scores))
