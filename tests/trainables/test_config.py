import pytest

from trainables.budgets import effective_config
from trainables.config import ConfigError, TrialConfig, parse_set_args


def test_paper_budget_is_the_paper_settings():
    c = effective_config({}, "paper")
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
    c = effective_config(values, "smoke")
    assert c.steps == 12 and c.image_size == effective_config({}, "smoke").image_size
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_args(["lr"])


def test_a_budget_sizes_the_model_asked_for_and_never_swaps_it():
    from trainables.budgets import MODEL_FIELDS, budget_defaults
    scratch = effective_config({}, "smoke")           # the default model: ResNet-18 from scratch
    assert (scratch.backbone, scratch.pretrained, scratch.image_size, scratch.lr, scratch.steps) == ("resnet18", "none", 64, 0.03, 1536)
    assert scratch.steps == budget_defaults("smoke")["steps"] > 0
    pre = effective_config({"backbone": "efficientnet_lite0", "pretrained": "finetune"}, "smoke")
    assert (pre.backbone, pre.pretrained, pre.image_size, pre.head_steps, pre.steps) == (
        "efficientnet_lite0", "finetune", 160, 10, 10)
    assert effective_config({"pretrained": "frozen"}, "smoke").backbone == "resnet18"
    patch = effective_config({"variant": "cutpaste_3way_patch"}, "smoke")
    assert (patch.backbone, patch.pretrained, patch.patch_size) == ("resnet18", "none", 32)
    for budget in ("smoke", "reduced", "paper"):
        for values in ({}, {"pretrained": "finetune"}, {"variant": "cutpaste_patch"}):
            assert not set(budget_defaults(budget, values)) & set(MODEL_FIELDS)
    assert effective_config({}, "paper") == TrialConfig()


def test_validation_asks_the_registries_and_lists_their_names():
    from trainables.augment import VARIANTS, is_patch_level
    from trainables.models.backbones import BACKBONES
    from trainables.models.density import DENSITIES, DensityEstimator
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


def test_the_effective_config_is_defaults_then_the_budget_block_then_the_values():
    from trainables.budgets import SMOKE_SCRATCH
    c = effective_config({"lr": 0.5, "category": "grid"}, "smoke")
    assert (c.lr, c.category, c.steps, c.momentum) == (0.5, "grid", SMOKE_SCRATCH["steps"], TrialConfig.momentum)
    assert effective_config({"steps": 3}) == TrialConfig(steps=3)           # no budget: the dataclass defaults
    with pytest.raises(ConfigError, match="where-it-came-from: unknown config key"):
        effective_config({"lrr": 1}, "smoke", where="where-it-came-from")
    with pytest.raises(ConfigError, match="unknown budget 'huge'"):
        effective_config({}, "huge")


def test_controls_keep_exactly_the_fields_marked_kept():
    from trainables.config import kept_by_controls
    assert set(kept_by_controls()) == {
        "category", "seed", "backbone", "image_size", "feature_layers", "density", "patch_size", "patch_stride",
        "patch_gde", "gradcam", "heatmap_sample", "val_fraction", "threshold_fpr", "embedding_sample", "device",
        "threads", "precision", "compile"}


def test_the_config_has_every_field_the_augmentations_and_the_model_read():
    from typing import get_type_hints

    from trainables.augment import AugmentParams
    from trainables.models import ModelParams
    for protocol in (AugmentParams, ModelParams):
        fields = set(get_type_hints(protocol))
        assert fields <= set(TrialConfig.__dataclass_fields__), protocol
        assert all(get_type_hints(protocol)[f] is type(getattr(TrialConfig(), f)) for f in fields), protocol
    assert TrialConfig(image_size=128).scar_scale(64) == 0.25


@pytest.mark.parametrize("typ, good, bad", [(bool, {"yes": True, "OFF": False, True: True}, ["maybe", 1.5]),
                                            (int, {"12": 12, 1e3: 1000, "1e3": 1000}, ["1.5", True, "ten"]),
                                            (float, {"0.5": 0.5, 3: 3.0}, [False, "half"]),
                                            (str, {"layer4": "layer4", 7: "7"}, [])])
def test_each_field_type_parses_yaml_and_command_line_values(typ, good, bad):
    from trainables.typed import PARSERS
    for value, parsed in good.items():
        assert PARSERS[typ](value) == parsed and type(PARSERS[typ](value)) is typ
    for value in bad:
        with pytest.raises(ValueError):
            PARSERS[typ](value)


def test_a_onednn_cap_below_bf16_makes_auto_precision_fp32(monkeypatch):
    # how a bf16 machine stands in for an AVX2-only one; and on a real bf16 CPU capped by the
    # user, bf16 would run emulated, slower than fp32
    import torch
    from trainables.train.devices import cpu_has_native_bf16, use_bf16
    cfg = TrialConfig(category="bottle", precision="auto")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert not cpu_has_native_bf16() and not use_bf16(cfg, torch.device("cpu"))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    native = cpu_has_native_bf16()                    # what the CPU itself has
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert cpu_has_native_bf16() is native            # a cap at or above bf16 changes nothing
    assert use_bf16(TrialConfig(category="bottle", precision="bf16"), torch.device("cpu"))
