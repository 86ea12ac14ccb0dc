"""Control trials: the encoder without the training under study, at the same budget.

At small budgets the question a table must answer first is whether training helped at
all. So every trained configuration gets a control with the same model, data, image size,
density estimator and seed, minus the training:

- trained from scratch (``pretrained=none``): the same network untrained (``steps=0``),
  features of its random initialisation + GDE;
- fine-tuned from ImageNet (``pretrained=finetune``): the ImageNet encoder frozen + GDE.

A control trains nothing, so the self-supervised task and its training-only parameters
(learning rate, patch sizes, jitter, ...) cannot change it: they are reset to the
budget's defaults and the variant to a canonical one, so one control serves every column
of a table that shares the model (Table 1's six variants share one untrained control).
Controls are ordinary trials: keyed, resumable and written as rows like any other.
"""
from __future__ import annotations

from typing import Any

from trainables.augmentations import VARIANTS
from trainables.config import TrialConfig, steps_trained

# what a control keeps from its trained trial: the model, the data, the evaluation
KEPT_FIELDS = ("category", "seed", "backbone", "image_size", "feature_layers", "density",
               "patch_size", "patch_stride", "patch_gde", "gradcam", "heatmap_sample",
               "val_fraction", "threshold_fpr", "embedding_sample", "device", "threads", "precision", "compile")


def is_control(config: dict[str, Any]) -> bool:
    """True for a configuration that trains nothing: untrained or ImageNet-frozen."""
    return steps_trained(config) == 0


def control_kind(config: dict[str, Any]) -> str:
    """How a control is labelled in tables: what its encoder is."""
    return "ImageNet-frozen" if str(config.get("pretrained")) == "frozen" else "untrained"


def control_of(config: dict[str, Any], budget: str) -> dict[str, Any] | None:
    """The control trial's full config for a trained ``config``; None if it is a control."""
    if is_control(config):
        return None
    patch = VARIANTS[config["variant"]].patch_level
    values = {k: config[k] for k in KEPT_FIELDS if k in config}
    values["variant"] = "cutpaste_3way_patch" if patch else "cutpaste_3way"
    if config.get("pretrained") == "none":
        values.update(pretrained="none", steps=0)
    else:
        values.update(pretrained="frozen", steps=0, head_steps=0)
    return TrialConfig.from_dict(values, budget=budget, where="control").to_dict()
