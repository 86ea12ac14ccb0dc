"""Trial configuration: one frozen dataclass, the only place defaults live.

Every field is a flat snake_case name, because every field becomes a column of the
results table (DESIGN.md). Paper values (METHOD.md, Li et al. 2021) are the defaults;
a *budget* (``trainables.budgets``) is a named set of overrides for a compute scale, and a
study spec or a ``--set key=value`` flag overrides any field after that.

One cohesive module of a trial's parameters: the dataclass with its defaults, their
validation, and the reading of values from YAML or the command line (``trainables.typed``
parses each type); they change together when a field is added. Which variants, backbones, pretrained modes and densities exist is not
decided here: validation asks their registries (``trainables.augment.VARIANTS``,
``trainables.models.BACKBONES``, ``PRETRAINED_MODES`` and ``DENSITIES``), imported at the top;
none of them imports this module. Fields a control trial keeps from its trained trial (the
model, the data, the evaluation) are marked ``kept()``: ``kept_by_controls`` lists them.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from trainables.augment import VARIANTS
from trainables.models import BACKBONES, DENSITIES, PRETRAINED_MODES, TIMM_PREFIX, PretrainedMode, find_backbone
from trainables.models.backbones import EFFICIENTNET_LEVELS, STAGES
from trainables.typed import PARSERS

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "bf16", "fp32")
# where pixel metrics (pixel_auc, pixel_ap, aupro) are scored: "image" at image_size against
# masks shrunk to it (NEAREST, as the cache keeps them), "native" with the maps upsampled
# (bilinear) to each test image's own resolution against its masks read from disk at that size;
# trainables.evaluate.PIXEL_TARGETS implements each
PIXEL_RESOLUTIONS = ("image", "native")


class ConfigError(ValueError):
    """A config key or value is not acceptable; the message names the field."""


def kept(default: Any) -> Any:
    """A field a control trial keeps from its trained trial (``study.controls``); it resets the others."""
    return field(default=default, metadata={"kept_by_controls": True})


@dataclass(frozen=True)
class TrialConfig:
    # kept(default): a control trial keeps the field (the model, the data, the evaluation)
    # what is run
    variant: str = "cutpaste_3way"
    category: str = kept("bottle")
    seed: int = kept(0)
    # optimisation (paper Sec. 4 / App. A: SGD, momentum 0.9, lr 0.03, cosine, wd 3e-5)
    image_size: int = kept(256)
    batch_size: int = 32          # source images per step; 3-way trains 3x this many
    steps: int = 65536            # 256 "epochs" of 256 steps
    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 3e-5
    # model
    backbone: str = kept("resnet18")
    pretrained: str = "none"      # a PRETRAINED_MODES name: none (from scratch), frozen, finetune (App. A)
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
    # CutPaste-Scar (Sec. 3.1), sizes in pixels at 256 px, scaled to the side of the image the
    # scar is drawn on: image_size, or the patch_size crop of *_patch variants (scar_scale)
    scar_width_min: float = 2.0
    scar_width_max: float = 16.0
    scar_length_min: float = 10.0
    scar_length_max: float = 25.0
    scar_rotation: float = 45.0   # degrees, uniform in (-r, r)
    # Confetti baseline (Tables 1 and 4) = FCDD's "confetti" noise for MVTec AD (Liznerski et al.,
    # ICLR 2021; fcdd/datasets/noise_modes.py + noise.py confetti_noise/smooth_noise, applied by
    # online_supervisor.py "malformed_normal"). Pixel sizes are at FCDD's 240 px MVTec images,
    # scaled to the augmented image's side.
    confetti_colored_blobs: float = 1.0368   # FCDD p=1.8e-5 blob centres per pixel x 240^2: mean coloured blobs (>= 1 drawn)
    confetti_white_blobs: float = 0.6912     # FCDD p=1.2e-5 x 240^2: mean white (fillval 255) blobs (>= 1 drawn); 0 = none
    confetti_max_blobs: int = 6              # blob slots per kind (FCDD has no cap; P(count > 6) < 2e-4)
    confetti_size_min: float = 8.0           # FCDD blobshaperange ((8, 8), (54, 54)): square side, px at 240
    confetti_size_max: float = 54.0
    confetti_rotation: float = 45.0          # FCDD rotation=45: degrees, uniform in (-r, r)
    confetti_blur_kernel: int = 25           # FCDD smooth_noise(noise, 25, 5): Gaussian kernel, px at 240
    confetti_blur_sigma: float = 5.0         # FCDD smooth_noise std, px at 240; 0 = no smoothing
    confetti_invert_threshold: float = 0.025  # FCDD OnlineSupervisor.invert_threshold (grey levels of 255)
    # patch-level variants (*_patch, Sec. 4.2 / App. A.5): crops, dense scoring, localization
    patch_size: int = kept(64)        # training crop and scoring window (App. A.5 uses 32)
    patch_stride: int = kept(4)       # stride of dense patch scoring over the test image
    patch_gde: str = kept("auto")     # auto: per-location GDE for aligned objects (registry), else shared
    gradcam: bool = kept(False)       # image-level variants: GradCAM heatmaps and pixel_auc (Table 2)
    heatmap_sample: int = kept(4)     # test images whose heatmaps are kept for Figure 4
    pixel_resolution: str = "image"   # pixel metrics at image_size, or "native": each test image's own
    #                                   size (a 2 px scratch can vanish from a mask shrunk to 256 px)
    # density estimator on L2-normalised pooled features of un-augmented train/good
    density: str = kept("ledoit_wolf")
    feature_layers: str = kept("layer4")   # comma list of encoder stages pooled for the GDE: layer1..layer4
    #                                        (strides 4-32), or for EfficientNet level1..level9 (backbones.py)
    # evaluation / bookkeeping
    eval_interval: int = 0        # steps between evaluations; 0 = only at the end
    log_interval: int = 0         # steps between learning-curve points (loss, accuracy, lr); 0 = auto:
    #                               about 100 points per trial, every step for trials under 100 steps
    val_fraction: float = kept(0.1)     # share of train/good held out of training and the GDE, for val_auc
    #                                     and the deployable threshold (unused where the dataset has validation/good)
    threshold_fpr: float = kept(0.01)   # the threshold flags at most this share of the held-out normal images
    embedding_sample: int = kept(64)    # embeddings kept for t-SNE figures
    device: str = kept("auto")
    threads: int = kept(0)              # torch CPU threads; 0 = torch's default
    compile: bool = kept(False)         # torch.compile the model (off by default on CPU)
    precision: str = kept("auto")       # auto: bf16 autocast + channels-last on CUDA and bf16-capable CPUs

    # ------------------------------------------------------------------ checks
    def __post_init__(self) -> None:
        # the registries are the authority on what exists
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
        backbone = find_backbone(self.backbone)
        need(backbone is not None, "backbone",
             f"must be one of {list(BACKBONES)} or {TIMM_PREFIX}<model> with weights in the local cache")
        need(self.head_steps >= 0, "head_steps", "must be >= 0")
        need(self.finetune_lr > 0, "finetune_lr", "must be > 0")
        need(self.pretrained in PRETRAINED_MODES, "pretrained", f"must be one of {list(PRETRAINED_MODES)}")
        need(not PRETRAINED_MODES[self.pretrained].imagenet or backbone.pretrainable, "pretrained",
             f"backbone={self.backbone} has no pretrained weights; only pretrained=none")
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
        need(self.confetti_colored_blobs >= 0, "confetti_colored_blobs", "must be >= 0 (mean blobs per image)")
        need(self.confetti_white_blobs >= 0, "confetti_white_blobs", "must be >= 0 (mean blobs per image)")
        need(self.confetti_colored_blobs + self.confetti_white_blobs > 0, "confetti_colored_blobs",
             "confetti_colored_blobs and confetti_white_blobs cannot both be 0")
        need(1 <= self.confetti_max_blobs <= 32, "confetti_max_blobs", "must be in [1, 32]")
        need(0 < self.confetti_size_min <= self.confetti_size_max, "confetti_size_max",
             "need 0 < confetti_size_min <= confetti_size_max")
        need(0 <= self.confetti_rotation <= 90, "confetti_rotation", "must be in [0, 90] degrees")
        need(self.confetti_blur_kernel >= 0, "confetti_blur_kernel", "must be >= 0 (0 or 1: no smoothing)")
        need(self.confetti_blur_sigma >= 0, "confetti_blur_sigma", "must be >= 0 (0: no smoothing)")
        need(self.confetti_invert_threshold >= 0, "confetti_invert_threshold", "must be >= 0")
        need(self.density in DENSITIES, "density", f"must be one of {list(DENSITIES)}")
        layers = self.feature_layer_list
        need(bool(layers) and all(l in STAGES or l in EFFICIENTNET_LEVELS for l in layers), "feature_layers",
             "comma list of layer1..layer4, or of EfficientNet levels level1..level9")
        lacking = [l for l in layers if l not in backbone.features]     # only levels can be lacking
        with_levels = " or ".join(f"backbone={n}" for n, b in BACKBONES.items() if set(lacking) <= set(b.features))
        need(not lacking, "feature_layers",
             f"{', '.join(lacking)} name EfficientNet levels (Rippel et al. 2020, the paper's Table 3 'level-7'), "
             f"defined for {with_levels} or {TIMM_PREFIX}<EfficientNet>; "
             f"backbone={self.backbone} has layer1..layer4 only")
        need(self.eval_interval >= 0, "eval_interval", "must be >= 0")
        need(self.log_interval >= 0, "log_interval", "must be >= 0 (0: about 100 points per trial)")
        need(0 <= self.val_fraction < 0.9, "val_fraction", "must be in [0, 0.9)")
        need(0 < self.threshold_fpr < 1, "threshold_fpr", "must be in (0, 1)")
        need(self.device in DEVICES, "device", f"must be one of {list(DEVICES)}")
        need(self.threads >= 0, "threads", "must be >= 0")
        need(self.precision in PRECISIONS, "precision", f"must be one of {list(PRECISIONS)}")
        if VARIANTS[self.variant].patch_level:
            need(8 <= self.patch_size <= self.image_size, "patch_size", "must be in [8, image_size]")
        need(1 <= self.patch_stride <= self.patch_size, "patch_stride", "must be in [1, patch_size]")
        need(self.patch_gde in ("auto", "per_location", "shared"), "patch_gde",
             "must be auto, per_location or shared")
        need(self.heatmap_sample >= 0, "heatmap_sample", "must be >= 0")
        need(self.pixel_resolution in PIXEL_RESOLUTIONS, "pixel_resolution",
             f"must be one of {list(PIXEL_RESOLUTIONS)} (image: at image_size; native: at each test image's size)")

    @property
    def feature_layer_list(self) -> list[str]:
        return [s.strip() for s in self.feature_layers.split(",") if s.strip()]

    @property
    def train_size(self) -> int:
        """Side of the images a training step augments: the ``patch_size`` crop for
        patch-level variants (Sec. 4.2), else ``image_size``."""
        return self.patch_size if VARIANTS[self.variant].patch_level else self.image_size

    def scar_scale(self, side: int | None = None) -> float:
        """Scar sizes are given at 256 px (the paper's resolution); scale them to the side of
        the image the scar is drawn on (default ``train_size``), so that a scar covers the
        same share of a patch variant's crop as of a full 256 px image."""
        return (self.train_size if side is None else side) / 256.0

    # ------------------------------------------------------------- builders
    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "config") -> "TrialConfig":
        """Validate a mapping: unknown keys and bad values raise ConfigError naming them.

        Fields ``values`` lacks take the dataclass defaults; a budget's defaults come first
        in ``trainables.budgets.effective_config``, the one way to build a trial's config.
        """
        unknown = [k for k in values if k not in FIELD_TYPES]
        if unknown:
            raise ConfigError(f"{where}: unknown config key(s) {', '.join(_hint(k) for k in unknown)}")
        merged = {k: coerce(k, v, where=where) for k, v in values.items()}
        try:
            return cls(**merged)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TrialConfig":
        return dataclasses.replace(self, **changes)


FIELD_TYPES: dict[str, type] = {
    f.name: {t.__name__: t for t in PARSERS}[f.type]  # type: ignore[index]
    for f in fields(TrialConfig)
}


def _hint(key: str) -> str:
    """``'lrr' (did you mean 'lr'?)``: an unknown key and the closest field name."""
    close = difflib.get_close_matches(key, FIELD_TYPES, n=1)
    return f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else "")


def coerce(key: str, value: Any, *, where: str = "config") -> Any:
    """Turn a YAML or command-line value into the field's type, or say why not."""
    if key not in FIELD_TYPES:
        raise ConfigError(f"{where}: unknown config key {_hint(key)}")
    typ = FIELD_TYPES[key]
    try:
        return PARSERS[typ](value)
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


def mode_of(config: TrialConfig | Mapping[str, Any]) -> PretrainedMode:
    """The pretrained mode of a config or a mapping (a results row); a missing or unknown value
    (an empty cell of a failed trial's row) reads as the default mode."""
    name = config.pretrained if isinstance(config, TrialConfig) else config.get("pretrained")
    return PRETRAINED_MODES.get(str(name), PRETRAINED_MODES[TrialConfig.pretrained])


def steps_trained(config: TrialConfig | Mapping[str, Any]) -> int:
    """How many optimizer steps a config trains: its pretrained mode's phases, ``head_steps +
    steps`` when fine-tuning (head only, then all layers), 0 for a frozen encoder, else ``steps``.

    The one answer for everything that sizes a trial: the cost projection, a scheduler's
    ``max_t`` and whether a config is a control (trains nothing). A mapping may lack fields;
    they take the dataclass defaults.
    """
    def get(name: str) -> Any:
        if isinstance(config, TrialConfig):
            return getattr(config, name)
        return config.get(name, getattr(TrialConfig, name))

    phases = mode_of(config).phases(int(get("steps") or 0), int(get("head_steps") or 0), lr=0.0, finetune_lr=0.0)
    return sum(p.steps for p in phases)


def kept_by_controls(config_class: type = TrialConfig) -> tuple[str, ...]:
    """The fields marked ``kept()``: what a control trial keeps from its trained trial."""
    return tuple(f.name for f in fields(config_class) if f.metadata.get("kept_by_controls"))
