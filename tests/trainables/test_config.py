import pytest

from trainables.config import ConfigError, TrialConfig, parse_set_args


def test_paper_budget_is_the_paper_settings():
    c = TrialConfig.from_dict({}, budget="paper")
    assert (c.image_size, c.batch_size, c.steps, c.lr, c.momentum, c.weight_decay) == \
        (256, 32, 65536, 0.03, 0.9, 3e-5)
    assert (c.area_ratio_min, c.area_ratio_max, c.aspect_ratio_min) == (0.02, 0.15, 0.3)
    assert (c.scar_width_min, c.scar_width_max, c.scar_length_min, c.scar_length_max, c.scar_rotation) == \
        (2, 16, 10, 25, 45)


def test_unknown_key_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match="'lrr'.*did you mean 'lr'"):
        TrialConfig.from_dict({"lrr": 0.1})


def test_bad_value_names_the_field_and_the_rule():
    with pytest.raises(ConfigError, match="area_ratio_max"):
        TrialConfig.from_dict({"area_ratio_min": 0.3, "area_ratio_max": 0.2})
    with pytest.raises(ConfigError, match="variant.*cutpaste_3way"):
        TrialConfig.from_dict({"variant": "cutpasta"})
    with pytest.raises(ConfigError, match="'steps' expects int"):
        TrialConfig.from_dict({"steps": "many"})


def test_set_arguments_are_typed_and_win_over_the_budget():
    values = parse_set_args(["lr=0.1", "steps=12", "compile=false", "density=gmm"])
    assert values == {"lr": 0.1, "steps": 12, "compile": False, "density": "gmm"}
    c = TrialConfig.from_dict(values, budget="smoke")
    assert c.steps == 12 and c.image_size == TrialConfig.from_dict({}, budget="smoke").image_size
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_args(["lr"])


def test_smoke_budget_fine_tunes_efficientnet_unless_scratch_is_asked_for():
    pre = TrialConfig.from_dict({}, budget="smoke")
    assert (pre.backbone, pre.pretrained, pre.image_size) == ("efficientnet_lite0", "finetune", 224)
    scratch = TrialConfig.from_dict({"pretrained": "none"}, budget="smoke")
    assert (scratch.backbone, scratch.image_size, scratch.steps, scratch.lr) == ("resnet18", 64, 160, 0.1)
    assert TrialConfig.from_dict({"pretrained": "frozen"}, budget="smoke").backbone == "efficientnet_lite0"
    assert TrialConfig.from_dict({}, budget="paper") == TrialConfig()
