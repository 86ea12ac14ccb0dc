"""Encoder + projection head + classifier (paper Sec. 4: ResNet-18 from scratch, MLP head).

The encoder's average-pooled features are what the density estimator sees; the MLP
head and the classifier exist only to train the encoder on the self-supervised task.
Inputs are images in [0, 1]; the encoder's normalisation happens inside the model so every
caller (training, evaluation, figures) feeds the same thing. The model reads five fields of a
trial's config (``ModelParams``); it does not import ``trainables.config``, which imports this
package's registries.
"""
from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from trainables.models.backbones import build_encoder, deepest
from trainables.models.pretrained import pretrained_mode


class ModelParams(Protocol):
    """The fields of ``TrialConfig`` the model is built from."""
    backbone: str
    pretrained: str
    head_depth: int
    head_width: int
    embed_dim: int


def projection_head(in_dim: int, depth: int, width: int, out_dim: int) -> nn.Sequential:
    """``depth`` hidden layers (Linear, BatchNorm, ReLU) of ``width``, then Linear to ``out_dim``."""
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(depth):
        layers += [nn.Linear(dim, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
        dim = width
    layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)


class CutPasteNet(nn.Module):
    def __init__(self, num_classes: int, cfg: ModelParams) -> None:
        super().__init__()
        self.encoder = build_encoder(cfg.backbone, pretrained=pretrained_mode(cfg.pretrained).imagenet)
        self.head = projection_head(self.encoder.out_dim, cfg.head_depth, cfg.head_width, cfg.embed_dim)
        self.classifier = nn.Linear(cfg.embed_dim, num_classes)
        self.register_buffer("mean", torch.tensor(self.encoder.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.encoder.std).view(1, 3, 1, 1), persistent=False)

    def normalise(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the self-supervised classes."""
        pooled = self.encoder.stages(self.normalise(x))["layer4"].mean(dim=(2, 3))
        return self.classifier(self.head(pooled))

    def features(self, x: Tensor, layers: list[str]) -> Tensor:
        """Average-pooled features of the chosen stages (``layerN``, or ``levelN`` of EfficientNet),
        concatenated (input to the GDE)."""
        maps = self.encoder.stages(self.normalise(x), upto=deepest(layers))
        return torch.cat([maps[name].mean(dim=(2, 3)) for name in layers], dim=1)


def build_model(cfg: ModelParams, num_classes: int) -> CutPasteNet:
    return CutPasteNet(num_classes, cfg)


def freeze_backbone(model: CutPasteNet, frozen: bool) -> None:
    """Fine-tuning (App. A): train the head alone first, then everything with BN stats fixed."""
    for p in model.encoder.parameters():
        p.requires_grad_(not frozen)


def freeze_batchnorm_stats(module: nn.Module) -> None:
    """Put every BatchNorm of ``module`` in eval mode: it normalises with ImageNet statistics."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
