"""Control trials: the encoder without the training under study, at the same budget.

At small budgets the question a table must answer first is whether training helped at
all. So every trained configuration gets a control with the same model, data, image size,
density estimator and seed, minus the training:

- trained from scratch (``pretrained=none``): the same network untrained (``steps=0``),
  features of its random initialisation + GDE;
- fine-tuned from ImageNet (``pretrained=finetune``): the ImageNet encoder frozen + GDE.

(Each pretrained mode says what its control sets: ``trainables.models.pretrained``.)

A control trains nothing, so the self-supervised task and its training-only parameters
(learning rate, patch sizes, jitter, ...) cannot change it: they are reset to the
budget's defaults and the variant to a canonical one, so one control serves every column
of a table that shares the model (Table 1's six variants share one untrained control).
Controls are ordinary trials: keyed, resumable and written as rows like any other.
"""
from __future__ import annotations

from typing import Any

from trainables.augment import VARIANTS
from trainables.budgets import effective_config
from trainables.config import TrialConfig, kept_by_controls, mode_of, steps_trained


def is_control(config: dict[str, Any]) -> bool:
    """True for a configuration that trains nothing: untrained or ImageNet-frozen."""
    return steps_trained(config) == 0


def control_kind(config: dict[str, Any]) -> str:
    """How a control is labelled in tables: what its encoder is (its pretrained mode's
    ``control_label``: ``untrained`` or ``ImageNet-frozen``)."""
    return mode_of(config).control_label


def control_values(config: dict[str, Any], config_class: type = TrialConfig) -> dict[str, Any]:
    """What a control of the trained ``config`` sets, before the budget fills the rest: the fields
    ``config_class`` marks ``kept()`` (the model, the data, the evaluation), a canonical variant of
    the same level, and the values its pretrained mode gives its control (no training)."""
    values = {k: config[k] for k in kept_by_controls(config_class) if k in config}
    values["variant"] = "cutpaste_3way_patch" if VARIANTS[config["variant"]].patch_level else "cutpaste_3way"
    values.update(mode_of(config).control)
    return values


def control_of(config: dict[str, Any], budget: str) -> dict[str, Any] | None:
    """The control trial's full config for a trained ``config``; None if it is a control."""
    if is_control(config):
        return None
    return effective_config(control_values(config), budget, where="control").to_dict()
