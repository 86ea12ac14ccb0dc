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


def test_a_budget_sizes_the_model_asked_for_and_never_swaps_it():
    from trainables.config import MODEL_FIELDS, budget_defaults
    scratch = TrialConfig.from_dict({}, budget="smoke")           # the default model: ResNet-18 from scratch
    assert (scratch.backbone, scratch.pretrained, scratch.image_size, scratch.lr) == ("resnet18", "none", 64, 0.1)
    assert scratch.steps == budget_defaults("smoke")["steps"] > 0
    pre = TrialConfig.from_dict({"backbone": "efficientnet_lite0", "pretrained": "finetune"}, budget="smoke")
    assert (pre.backbone, pre.pretrained, pre.image_size, pre.head_steps, pre.steps) == (
        "efficientnet_lite0", "finetune", 160, 10, 10)
    assert TrialConfig.from_dict({"pretrained": "frozen"}, budget="smoke").backbone == "resnet18"
    patch = TrialConfig.from_dict({"variant": "cutpaste_3way_patch"}, budget="smoke")
    assert (patch.backbone, patch.pretrained, patch.patch_size) == ("resnet18", "none", 32)
    for budget in ("smoke", "reduced", "paper"):
        for values in ({}, {"pretrained": "finetune"}, {"variant": "cutpaste_patch"}):
            assert not set(budget_defaults(budget, values)) & set(MODEL_FIELDS)
    assert TrialConfig.from_dict({}, budget="paper") == TrialConfig()


def test_validation_asks_the_registries_and_lists_their_names():
    from trainables.augmentations import VARIANTS, is_patch_level
    from trainables.backbones import BACKBONES
    from trainables.density import DENSITIES, DensityEstimator
    with pytest.raises(ConfigError, match=r"backbone.*'resnet18', 'efficientnet_lite0'.*timm/<model>"):
        TrialConfig(backbone="vgg16")
    assert TrialConfig(backbone="timm/resnet10t").backbone == "timm/resnet10t"      # the prefix rule
    with pytest.raises(ConfigError, match=r"density.*'ledoit_wolf', 'full', 'gmm', 'kde'"):
        TrialConfig(density="gauss")
    with pytest.raises(ValueError, match="choose ledoit_wolf, full, gmm or kde"):
        DensityEstimator("gauss").fit([[0.0, 1.0], [1.0, 0.0]])
    assert list(BACKBONES) == ["resnet18", "efficientnet_lite0"]
    assert set(DENSITIES) == {"ledoit_wolf", "full", "gmm", "kde"}
    # patch-level is the variant's own flag, not its name
    for name, v in VARIANTS.items():
        assert is_patch_level(name) == v.patch_level
        assert TrialConfig(variant=name, image_size=128, patch_size=32).train_size == (32 if v.patch_level else 128)
    assert not is_patch_level("not_a_variant_patch")


def test_pixel_resolution_defaults_to_image_size_and_rejects_unknown_values():
    from trainables.config import PIXEL_RESOLUTIONS
    assert TrialConfig().pixel_resolution == "image"
    for value in PIXEL_RESOLUTIONS:
        assert TrialConfig.from_dict({"pixel_resolution": value}).pixel_resolution == value
    with pytest.raises(ConfigError, match="pixel_resolution.*'image', 'native'"):
        TrialConfig.from_dict({"pixel_resolution": "full"})
    assert parse_set_args(["pixel_resolution=native"]) == {"pixel_resolution": "native"}
