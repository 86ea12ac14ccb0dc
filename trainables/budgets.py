"""Budgets, and the one place a trial's effective config is built.

A trial's config is, in this order: the dataclass defaults (``TrialConfig``: the paper's
values), then the budget's block for the model the values name (below), then the values a
spec, a search or ``--set`` gives, which win over both. ``effective_config`` does exactly that
and validates the result; the launcher, the controls, ``python -m trainables.run`` and the
benchmarks all build configs through it.

A budget sets compute only (image size, steps, batch, learning rate, evaluation interval and
the like), never the model: backbone and pretrained mode come from the spec or the flags, so
"Table 1 at smoke" still trains a ResNet-18 from scratch (DESIGN.md, "Comparisons a reader can
trust"). ``paper`` is exactly the dataclass defaults. Each smoke number names its evidence
(docs/budgets.md; the measurements pages are dated). Smoke sizes each kind of model on its own:
ResNet-18 from scratch, ImageNet-pretrained encoders (frozen or fine-tuned), and patch-level
variants of either.
"""
from __future__ import annotations

from typing import Any, Mapping

from trainables.augment import VARIANTS
from trainables.config import ConfigError, TrialConfig
from trainables.models import PRETRAINED_MODES

BUDGETS = ("smoke", "reduced", "paper")
MODEL_FIELDS = ("backbone", "pretrained")      # what a budget may never set

# ---------------------------------------------------------------------------------- the budgets
PAPER: dict[str, Any] = {}     # the dataclass defaults: Li et al. 2021, Sec. 4 and App. A
REDUCED = {                    # one GPU, hours: the paper's resolution, a fraction of its steps
    "image_size": 256,         # the paper's (Sec. 4)
    "steps": 8192,             # 1/8 of the paper's 65,536; no measurement behind the fraction
    "eval_interval": 2048,     # four points of the learning curve with AUCs
}
SMOKE_SCRATCH = {              # ResNet-18 from scratch (pretrained=none) on 2 CPU cores: ~2 min a trial
    "image_size": 64,          # with batch 16 and lr 0.1: 2 min per trial on 2 bf16 cores, 6 min contended
    "batch_size": 16,          # source images per step (48 trained in 3-way); with lr 0.1 it beat
    "lr": 0.1,                 # batch 32 / lr 0.03 on 3 categories (measured before the 768 steps)
    "steps": 768,              # the learning_curve study (measurements 2026-11-30, "Where training from
    #                            scratch starts to pay"): every category and seed above its untrained
    #                            control from 768 steps on; at 256-512 steps bottle was not
    "eval_interval": 0,        # one evaluation, at the end
    "embedding_sample": 32,    # a smaller t-SNE sample (figures only)
}
SMOKE_PRETRAINED = {           # ImageNet encoders (frozen or finetune): the paper's Table 3 recipe shortened
    "image_size": 160,         # measurements 2026-11-30, "The demo on a CPU without bf16": 128 px with 20
    #                            steps cost about as much as 160 px with 10 and lost more AUC (metal_nut
    #                            0.78 against 0.91 at 160 px, the model and its control alike)
    "batch_size": 8,           # so that the demo (15 fine-tuned + 15 frozen controls, two at a time)
    #                            fits 12 minutes on 2 cores without bf16 (same page)
    "head_steps": 10,          # head-only steps at lr (App. A's first phase), same page
    "steps": 10,               # all-layer steps at finetune_lr 1e-4: 20 barely moved the encoder at this
    #                            budget, so halving them changed little beside the control (same page)
    "eval_interval": 0,        # one evaluation, at the end
    "embedding_sample": 32,    # a smaller t-SNE sample (figures only)
}
SMOKE_PATCH = {                # patch-level variants (*_patch): measurements 2026-11-29, "Localization,
    "image_size": 128,         # smoke budget": 128 px images, 32 px windows at stride 8 (13 x 13 windows
    "patch_size": 32,          # per image), local features of stages 2 and 3; 11-27 s a trial on one
    "patch_stride": 8,         # core (a fine-tuned EfficientNet-Lite0 then)
    "batch_size": 16,
    "feature_layers": "layer2,layer3",
    "eval_interval": 0,        # one evaluation, at the end
    "embedding_sample": 32,    # a smaller t-SNE sample (figures only)
}
SMOKE_PATCH_SCRATCH = {**SMOKE_PATCH, "steps": 512, "lr": 0.1}         # no measurement recorded for these
SMOKE_PATCH_PRETRAINED = {**SMOKE_PATCH, "head_steps": 10, "steps": 20}   # no measurement recorded for these


def budget_defaults(budget: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The budget's compute defaults for the model that ``values`` names.

    The model (backbone, pretrained mode, and whether the variant is patch-level) is read
    from ``values`` or the dataclass defaults, never chosen here: smoke sizes a scratch
    ResNet-18 differently from a pretrained encoder, but does not swap one for the other.
    """
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of {list(BUDGETS)}")
    if budget == "paper":
        return dict(PAPER)
    if budget == "reduced":
        return dict(REDUCED)
    values = values or {}
    mode = PRETRAINED_MODES.get(str(values.get("pretrained", TrialConfig.pretrained)))
    imagenet = mode is None or mode.imagenet     # an unknown mode fails validation after this
    variant = VARIANTS.get(str(values.get("variant", TrialConfig.variant)))
    if variant is not None and variant.patch_level:
        return dict(SMOKE_PATCH_PRETRAINED if imagenet else SMOKE_PATCH_SCRATCH)
    return dict(SMOKE_PRETRAINED if imagenet else SMOKE_SCRATCH)


def effective_config(values: Mapping[str, Any], budget: str | None = None, *,
                     where: str = "config") -> TrialConfig:
    """A trial's config: the dataclass defaults, then ``budget``'s block for the model ``values``
    names, then ``values``; validated (unknown keys and bad values raise ConfigError naming
    them, prefixed by ``where``)."""
    merged = {**(budget_defaults(budget, values) if budget is not None else {}), **values}
    return TrialConfig.from_dict(merged, where=where)
