"""Trial configuration: one frozen dataclass, the only place defaults live.

Every field is a flat snake_case name, because every field becomes a column of the
results table (DESIGN.md). Paper values (METHOD.md, Li et al. 2021) are the defaults;
a *budget* is a named set of overrides for a compute scale, and a study spec or a
``--set key=value`` flag overrides any field after that.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, fields
from typing import Any, Mapping

BUDGETS = ("smoke", "reduced", "paper")
BACKBONES = ("resnet18", "efficientnet_lite0")
PRETRAINED_MODES = ("none", "frozen", "finetune")
DENSITIES = ("ledoit_wolf", "full", "gmm", "kde")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "bf16", "fp32")


class ConfigError(ValueError):
    """A config key or value is not acceptable; the message names the field."""


@dataclass(frozen=True)
class TrialConfig:
    # what is run
    variant: str = "cutpaste_3way"
    category: str = "bottle"
    seed: int = 0
    # optimisation (paper Sec. 4 / App. A: SGD, momentum 0.9, lr 0.03, cosine, wd 3e-5)
    image_size: int = 256
    batch_size: int = 32          # source images per step; 3-way trains 3x this many
    steps: int = 65536            # 256 "epochs" of 256 steps
    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 3e-5
    # model
    backbone: str = "resnet18"
    pretrained: str = "none"      # none: from scratch; frozen: features only; finetune: App. A
    head_steps: int = 2560        # finetune: head-only steps at lr first (10 epochs of 256)
    finetune_lr: float = 1e-4     # finetune: lr of the all-layer phase, BN statistics frozen
    head_depth: int = 2           # hidden 512-wide layers of the MLP head (paper silent)
    head_width: int = 512
    embed_dim: int = 128
    # base augmentation on every image (Table 8 sweeps jitter 0, 0.1, 0.2, 0.3)
    jitter: float = 0.1
    translate: float = 0.1        # max shift as a fraction of the image side
    # CutPaste patch (Sec. 3.1): area ratio (0.02, 0.15), aspect (0.3, 1) U (1, 3.3)
    area_ratio_min: float = 0.02
    area_ratio_max: float = 0.15
    aspect_ratio_min: float = 0.3
    aspect_ratio_max: float = 3.3
    patch_jitter: float = 0.1     # colour jitter on the pasted patch
    # CutPaste-Scar (Sec. 3.1), sizes in pixels at 256 px, scaled to image_size
    scar_width_min: float = 2.0
    scar_width_max: float = 16.0
    scar_length_min: float = 10.0
    scar_length_max: float = 25.0
    scar_rotation: float = 45.0   # degrees, uniform in (-r, r)
    confetti_blobs: int = 8       # Confetti baseline: blobs per image
    # patch-level variants (*_patch, Sec. 4.2 / App. A.5): crops, dense scoring, localization
    patch_size: int = 64          # training crop and scoring window (App. A.5 uses 32)
    patch_stride: int = 4         # stride of dense patch scoring over the test image
    patch_gde: str = "auto"       # auto: per-location GDE for aligned objects (registry), else shared
    gradcam: bool = False         # image-level variants: GradCAM heatmaps and pixel_auc (Table 2)
    heatmap_sample: int = 4       # test images whose heatmaps are kept for Figure 4
    # density estimator on L2-normalised pooled features of un-augmented train/good
    density: str = "ledoit_wolf"
    feature_layers: str = "layer4"   # comma list of encoder stages pooled for the GDE
    # evaluation / bookkeeping
    eval_interval: int = 0        # steps between evaluations; 0 = only at the end
    val_fraction: float = 0.0     # share of train/good held out for val_auc (HPO studies)
    embedding_sample: int = 64    # embeddings kept for t-SNE figures
    device: str = "auto"
    threads: int = 0              # torch CPU threads; 0 = torch's default
    compile: bool = False         # torch.compile the model (off by default on CPU)
    precision: str = "auto"       # auto: bf16 autocast + channels-last on CUDA and bf16-capable CPUs

    # ------------------------------------------------------------------ checks
    def __post_init__(self) -> None:
        from trainables.augmentations import VARIANTS  # registry is the authority

        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ConfigError(f"config field '{name}' = {getattr(self, name)!r}: {rule}")

        need(self.variant in VARIANTS, "variant", f"must be one of {sorted(VARIANTS)}")
        need(isinstance(self.category, str) and self.category != "", "category", "must be a name")
        need(self.image_size >= 32, "image_size", "must be >= 32")
        need(self.batch_size >= 2, "batch_size", "must be >= 2")
        need(self.steps >= 0, "steps", "must be >= 0")
        need(self.lr > 0, "lr", "must be > 0")
        need(0 <= self.momentum < 1, "momentum", "must be in [0, 1)")
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(self.backbone in BACKBONES or self.backbone.startswith("timm/"), "backbone",
             f"must be one of {list(BACKBONES)} or timm/<model> with weights in the local cache")
        need(self.head_steps >= 0, "head_steps", "must be >= 0")
        need(self.finetune_lr > 0, "finetune_lr", "must be > 0")
        need(self.pretrained in PRETRAINED_MODES, "pretrained", f"must be one of {list(PRETRAINED_MODES)}")
        need(self.head_depth >= 0, "head_depth", "must be >= 0")
        need(0 <= self.jitter <= 1, "jitter", "must be in [0, 1]")
        need(0 <= self.translate < 0.5, "translate", "must be in [0, 0.5)")
        need(0 < self.area_ratio_min <= self.area_ratio_max < 1, "area_ratio_max",
             "need 0 < area_ratio_min <= area_ratio_max < 1")
        need(0 < self.aspect_ratio_min <= 1 <= self.aspect_ratio_max, "aspect_ratio_min",
             "need 0 < aspect_ratio_min <= 1 <= aspect_ratio_max")
        need(0 <= self.patch_jitter <= 1, "patch_jitter", "must be in [0, 1]")
        need(0 < self.scar_width_min <= self.scar_width_max, "scar_width_max",
             "need 0 < scar_width_min <= scar_width_max")
        need(0 < self.scar_length_min <= self.scar_length_max, "scar_length_max",
             "need 0 < scar_length_min <= scar_length_max")
        need(0 <= self.scar_rotation <= 180, "scar_rotation", "must be in [0, 180] degrees")
        need(self.confetti_blobs >= 1, "confetti_blobs", "must be >= 1")
        need(self.density in DENSITIES, "density", f"must be one of {list(DENSITIES)}")
        layers = self.feature_layer_list
        need(bool(layers) and all(l in ("layer1", "layer2", "layer3", "layer4") for l in layers),
             "feature_layers", "comma list of layer1..layer4")
        need(self.eval_interval >= 0, "eval_interval", "must be >= 0")
        need(0 <= self.val_fraction < 0.9, "val_fraction", "must be in [0, 0.9)")
        need(self.device in DEVICES, "device", f"must be one of {list(DEVICES)}")
        need(self.threads >= 0, "threads", "must be >= 0")
        need(self.precision in PRECISIONS, "precision", f"must be one of {list(PRECISIONS)}")
        if self.variant.endswith("_patch"):
            need(8 <= self.patch_size <= self.image_size, "patch_size", "must be in [8, image_size]")
        need(1 <= self.patch_stride <= self.patch_size, "patch_stride", "must be in [1, patch_size]")
        need(self.patch_gde in ("auto", "per_location", "shared"), "patch_gde",
             "must be auto, per_location or shared")
        need(self.heatmap_sample >= 0, "heatmap_sample", "must be >= 0")

    @property
    def feature_layer_list(self) -> list[str]:
        return [s.strip() for s in self.feature_layers.split(",") if s.strip()]

    def scar_scale(self) -> float:
        """Scar sizes are given at 256 px (the paper's resolution); scale to ours."""
        return self.image_size / 256.0

    # ------------------------------------------------------------- builders
    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, budget: str | None = None,
                  where: str = "config") -> "TrialConfig":
        """Validate a mapping: unknown keys and bad values raise ConfigError naming them.

        ``budget`` applies that budget's defaults first; ``values`` win over it.
        """
        merged: dict[str, Any] = {}
        if budget is not None:
            merged.update(budget_defaults(budget, values))
        unknown = [k for k in values if k not in FIELD_TYPES]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, FIELD_TYPES, n=1)
                hints.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise ConfigError(f"{where}: unknown config key(s) {', '.join(hints)}")
        for k, v in values.items():
            merged[k] = coerce(k, v, where=where)
        try:
            return cls(**merged)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TrialConfig":
        return dataclasses.replace(self, **changes)


FIELD_TYPES: dict[str, type] = {
    f.name: {"int": int, "float": float, "str": str, "bool": bool}[f.type]  # type: ignore[index]
    for f in fields(TrialConfig)
}


def coerce(key: str, value: Any, *, where: str = "config") -> Any:
    """Turn a YAML or command-line value into the field's type, or say why not."""
    if key not in FIELD_TYPES:
        close = difflib.get_close_matches(key, FIELD_TYPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{where}: unknown config key '{key}'{hint}")
    typ = FIELD_TYPES[key]
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            if isinstance(value, bool):
                raise ValueError
            f = float(value)
            if f != int(f):
                raise ValueError
            return int(f)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: config field '{key}' expects {typ.__name__}, got {value!r}") from None


def parse_set_args(pairs: list[str] | None, *, where: str = "--set") -> dict[str, Any]:
    """``["lr=0.1", "steps=100"]`` -> typed dict; a malformed pair names itself."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"{where}: expected key=value, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k.strip()] = coerce(k.strip(), v.strip(), where=where)
    return out


# Budgets: a named compute scale. "paper" is exactly the dataclass defaults.
# "smoke" was chosen by measurement on 2 CPU cores (README, "Choosing the smoke budget"):
# at CPU budgets a ResNet-18 trained from scratch is no better than an untrained one, so
# the smoke budget fine-tunes ImageNet EfficientNet-Lite0 with the chosen CutPaste task
# (the paper's Table 3 recipe, shortened): 10 head-only steps at lr 0.03, then 20 steps of
# all layers at lr 1e-4 with BatchNorm statistics frozen, 8 source images per step, 224 px.
_BUDGETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "reduced": {"image_size": 256, "steps": 8192, "eval_interval": 2048},
    "smoke": {"backbone": "efficientnet_lite0", "pretrained": "finetune", "image_size": 224,
              "batch_size": 8, "head_steps": 10, "steps": 20, "eval_interval": 0, "embedding_sample": 32},
}
# The smoke budget for a model trained from scratch (pretrained=none): 64 px, 16 source
# images per step (48 trained in 3-way), lr 0.1, 160 steps (~90 s on one core). It beat
# batch 32 / lr 0.03 on 3 categories (grid 0.85 vs 0.52); it is the scratch control.
_SCRATCH_SMOKE = {"backbone": "resnet18", "image_size": 64, "batch_size": 16, "steps": 160, "lr": 0.1,
                  "eval_interval": 0, "embedding_sample": 32}


# Patch-level variants at the smoke budget: 32 px windows of 128 px images scored at stride
# 8 (13 x 13 windows per image), local features (stages 2 and 3) of EfficientNet-Lite0
# fine-tuned on crops; chosen by measurement (README, "Localization").
_PATCH_SMOKE = {"backbone": "efficientnet_lite0", "pretrained": "finetune", "image_size": 128,
                "patch_size": 32, "patch_stride": 8, "batch_size": 16, "head_steps": 10, "steps": 20,
                "feature_layers": "layer2,layer3", "eval_interval": 0, "embedding_sample": 32}


def budget_defaults(budget: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The budget's defaults for a config whose own ``values`` are given.

    A budget sizes the model that is asked for: ``smoke`` with ``pretrained=none`` trains a
    ResNet-18 from scratch at 64 px instead of fine-tuning EfficientNet-Lite0 at 224 px.
    """
    if budget not in _BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of {list(BUDGETS)}")
    values = values or {}
    if budget == "smoke" and str(values.get("pretrained")) == "none":
        return dict(_SCRATCH_SMOKE)
    if budget == "smoke" and str(values.get("variant", "")).endswith("_patch"):
        return dict(_PATCH_SMOKE)
    return dict(_BUDGETS[budget])
