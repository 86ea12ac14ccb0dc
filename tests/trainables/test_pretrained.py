"""The pretrained-mode registry: every mode's phases, steps, control and label, looked up by name."""
import pytest

from trainables.budgets import effective_config
from trainables.config import ConfigError, TrialConfig, mode_of, steps_trained
from trainables.models import PRETRAINED_MODES, pretrained_mode
from trainables.train import training_phases


@pytest.mark.parametrize("name", list(PRETRAINED_MODES))
def test_every_mode_builds_a_valid_config_and_trains_the_steps_of_its_phases(name):
    mode = PRETRAINED_MODES[name]
    cfg = effective_config({"pretrained": name, "backbone": "efficientnet_lite0", "steps": 7, "head_steps": 3},
                           "smoke")
    phases = training_phases(cfg)
    assert steps_trained(cfg) == sum(p.steps for p in phases) == (0 if mode.is_control else
                                                                  7 + 3 if mode.head_first else 7)
    assert mode.trains == bool(phases) and mode_of(cfg) is mode
    assert mode.control_label in ("untrained", "ImageNet-frozen") and mode.label


@pytest.mark.parametrize("name", [n for n, m in PRETRAINED_MODES.items() if not m.is_control])
def test_a_trained_mode_names_a_control_that_trains_nothing(name):
    control = dict(PRETRAINED_MODES[name].control)
    cfg = effective_config({"pretrained": name, "backbone": "efficientnet_lite0", **control}, "smoke")
    assert steps_trained(cfg) == 0
    assert PRETRAINED_MODES[cfg.pretrained].imagenet == PRETRAINED_MODES[name].imagenet   # same encoder start


def test_fine_tuning_trains_the_head_first_then_all_layers_with_frozen_batchnorm():
    phases = training_phases(TrialConfig(pretrained="finetune", backbone="efficientnet_lite0", head_steps=4, steps=6,
                                         lr=0.03, finetune_lr=1e-4))
    assert [(p.name, p.steps, p.lr, p.train_backbone, p.freeze_bn) for p in phases] == [
        ("head", 4, 0.03, False, True), ("all", 6, 1e-4, True, True)]
    assert [p.name for p in training_phases(TrialConfig(steps=5))] == ["all"]


def test_an_unknown_mode_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="known modes: \\['none', 'frozen', 'finetune'\\]"):
        pretrained_mode("imagenet")
    with pytest.raises(ConfigError, match="pretrained.*must be one of"):
        TrialConfig(pretrained="imagenet")
    assert mode_of({"pretrained": float("nan")}) is PRETRAINED_MODES[TrialConfig.pretrained]   # an empty row cell
