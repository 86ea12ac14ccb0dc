"""Encoder + projection head + classifier (paper Sec. 4: ResNet-18 from scratch, MLP head).

The encoder's average-pooled features are what the density estimator sees; the MLP
head and the classifier exist only to train the encoder on the self-supervised task.
Inputs are images in [0, 1]; ImageNet normalisation happens inside the model so every
caller (training, evaluation, figures) feeds the same thing.
"""
from __future__ import annotations

import torch
import torchvision
from torch import Tensor, nn

from trainables.config import TrialConfig

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")


def projection_head(in_dim: int, depth: int, width: int, out_dim: int) -> nn.Sequential:
    """``depth`` hidden layers (Linear, BatchNorm, ReLU) of ``width``, then Linear to ``out_dim``."""
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(depth):
        layers += [nn.Linear(dim, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
        dim = width
    layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)


class ResNetEncoder(nn.Module):
    """torchvision ResNet-18 trunk that can pool any of its four stages."""

    def __init__(self) -> None:
        super().__init__()
        net = torchvision.models.resnet18(weights=None)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.out_dim = 512
        self.stage_dims = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}

    def stages(self, x: Tensor, upto: str = "layer4") -> dict[str, Tensor]:
        out, x = {}, self.stem(x)
        for name in RESNET_STAGES:
            x = getattr(self, name)(x)
            out[name] = x
            if name == upto:
                break
        return out

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(x)["layer4"].mean(dim=(2, 3))


class CutPasteNet(nn.Module):
    def __init__(self, num_classes: int, cfg: TrialConfig) -> None:
        super().__init__()
        self.encoder = ResNetEncoder()
        self.head = projection_head(self.encoder.out_dim, cfg.head_depth, cfg.head_width, cfg.embed_dim)
        self.classifier = nn.Linear(cfg.embed_dim, num_classes)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalise(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the self-supervised classes."""
        return self.classifier(self.head(self.encoder(self.normalise(x))))

    def features(self, x: Tensor, layers: list[str]) -> Tensor:
        """Average-pooled features of the chosen stages, concatenated (input to the GDE)."""
        last = max(layers, key=RESNET_STAGES.index)
        maps = self.encoder.stages(self.normalise(x), upto=last)
        return torch.cat([maps[name].mean(dim=(2, 3)) for name in layers], dim=1)


def build_model(cfg: TrialConfig, num_classes: int) -> CutPasteNet:
    if cfg.backbone != "resnet18":
        raise NotImplementedError(f"backbone {cfg.backbone!r} is not available yet")
    return CutPasteNet(num_classes, cfg)
