"""GradCAM heatmaps for image-level models (paper Table 2): the gradient of the GDE's
Mahalanobis score with respect to the last stage's feature maps weights those maps.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from trainables.config import TrialConfig
from trainables.models.backbones import deepest
from trainables.models.density import DensityEstimator


def gradcam_maps(model, density: DensityEstimator, images_u8: torch.Tensor, cfg: TrialConfig,
                 device: torch.device, batch: int = 32) -> np.ndarray:
    """[M, S, S] GradCAM of the GDE score w.r.t. the encoder's last stage (fp32, eval mode)."""
    est = density._est
    if not hasattr(est, "precision_") or not hasattr(est, "location_"):
        raise ValueError("GradCAM needs a Gaussian density (density=ledoit_wolf or full)")
    mu = torch.as_tensor(est.location_, dtype=torch.float32, device=device)
    prec = torch.as_tensor(est.precision_, dtype=torch.float32, device=device)
    layers = cfg.feature_layer_list
    model.eval()
    out = []
    for i in range(0, len(images_u8), batch):
        x = images_u8[i:i + batch].to(device).float().div_(255)
        with torch.enable_grad():
            maps = model.encoder.stages(model.normalise(x), upto=deepest(layers))
            acts = maps["layer4"] if "layer4" in maps else maps[layers[-1]]
            acts.retain_grad()
            feats = torch.cat([maps[n].mean(dim=(2, 3)) for n in layers], dim=1)
            f = feats / feats.norm(dim=1, keepdim=True).clamp_min(1e-12)
            d = f - mu
            score = ((d @ prec) * d).sum()
            score.backward()
        weights = acts.grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * acts).sum(dim=1, keepdim=True)).detach()
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
        out.append(cam[:, 0].cpu())
        model.zero_grad(set_to_none=True)
    return torch.cat(out).numpy()
