"""What a CutPaste detector is made of: an encoder, a head, and a density over its features.

``backbones`` is the encoder registry (``BACKBONES``: ResNet-18, EfficientNet-Lite0, ``timm/<model>``),
``weights`` finds their ImageNet weights offline, ``pretrained`` the registry of pretrained modes
(``PRETRAINED_MODES``: how an encoder starts and which phases train it), ``net`` the encoder +
projection head + classifier trained on the self-supervised task, and ``density`` the registry
of density estimators fitted on the encoder's features (``DENSITIES``; the paper's GDE).
"""
from trainables.models.backbones import BACKBONES, TIMM_PREFIX, BackboneSpec, build_encoder, find_backbone
from trainables.models.density import DENSITIES, DensityEstimator
from trainables.models.net import CutPasteNet, ModelParams, build_model
from trainables.models.pretrained import PRETRAINED_MODES, Phase, PretrainedMode, pretrained_mode
from trainables.models.weights import MissingWeightsError

__all__ = ["BACKBONES", "BackboneSpec", "CutPasteNet", "DENSITIES", "DensityEstimator", "MissingWeightsError",
           "ModelParams", "PRETRAINED_MODES", "Phase", "PretrainedMode", "TIMM_PREFIX", "build_encoder",
           "build_model", "find_backbone", "pretrained_mode"]
