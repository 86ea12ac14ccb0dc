"""What the results keep of an evaluation for figures: a t-SNE sample of features (paper
Fig. 3) and a few heatmaps of defective test images (Figure 4), at ``image_size`` whatever
``pixel_resolution`` says.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from trainables.augment import PixelStore, create_variant, source_batch
from trainables.config import TrialConfig
from trainables.data.cache import CategoryData
from trainables.evaluate.image import extract_features


def embedding_sample(model, data: CategoryData, store: PixelStore, test_feats: np.ndarray,
                     cfg: TrialConfig, device: torch.device) -> dict[str, np.ndarray]:
    """Features of a few normal and defective test images and of CutPaste / scar versions of
    training images, drawn with the real augmentation code (paper Fig. 3's t-SNE)."""
    n = cfg.embedding_sample
    if n <= 0:
        return {}
    rng = np.random.default_rng(cfg.seed)
    labels = np.asarray(data.test_labels)
    out = {}
    for kind, label in (("normal", 0), ("defect", 1)):
        idx = np.flatnonzero(labels == label)
        out[kind] = test_feats[np.sort(rng.permutation(idx)[:n])]
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    sources = torch.randint(0, store.n, (min(n, store.n),), generator=gen, device=device)
    images, classes = create_variant("cutpaste_3way").make_batch(source_batch(store, sources, cfg, gen), cfg)
    kept = classes > 0              # class 0 (the un-defaced copies) is not kept: not embedded either
    feats = extract_features(model, images[kept].mul(255).round().to(torch.uint8), cfg, device)
    classes = classes[kept].cpu().numpy()
    out["cutpaste"], out["scar"] = feats[classes == 1], feats[classes == 2]
    broken = [kind for kind, f in out.items() if not np.isfinite(f).all()]
    if broken:   # seen once on a bf16 CPU (a patch-level trial's image-level features), not reproduced
        warnings.warn(f"{cfg.category}/{cfg.variant} seed {cfg.seed}: non-finite features in the t-SNE "
                      f"sample ({', '.join(broken)}); figures leave this trial out", stacklevel=2)
    return out


def heatmap_rows(data: CategoryData, maps: np.ndarray, cfg: TrialConfig, kind: str) -> dict[str, list]:
    """A few defective test images with their mask and heatmap (Figure 4), at <= 128 px."""
    defect_idx = np.flatnonzero(np.asarray(data.test_labels) == 1)
    if cfg.heatmap_sample <= 0 or len(defect_idx) == 0:
        return {}
    pick = defect_idx[np.linspace(0, len(defect_idx) - 1, min(cfg.heatmap_sample, len(defect_idx))).round().astype(int)]
    size = min(data.image_size, 128)
    img = F.interpolate(data.test[pick].float(), size=(size, size), mode="area").round().to(torch.uint8)
    mask = F.interpolate(data.test_masks[pick].unsqueeze(1).float(), size=(size, size), mode="area")[:, 0]
    heat = F.interpolate(torch.as_tensor(maps[pick], dtype=torch.float32).unsqueeze(1), size=(size, size),
                         mode="area")[:, 0]
    return {"image_path": [data.test_paths[i] for i in pick], "defect_type": [data.test_defects[i] for i in pick],
            "kind": [kind] * len(pick), "size": [size] * len(pick),
            "image": [m.permute(1, 2, 0).reshape(-1).tolist() for m in img],
            "mask": [m.reshape(-1).tolist() for m in (mask > 0.5).to(torch.uint8)],
            "heatmap": [m.reshape(-1).tolist() for m in heat]}
