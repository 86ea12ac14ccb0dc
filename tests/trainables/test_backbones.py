"""Pretrained backbones: offline weights that really are ImageNet weights, clear errors otherwise."""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from trainables.models.backbones import EFFICIENTNET_LEVELS, STAGES, EfficientNetLite0Encoder, build_encoder
from trainables.config import ConfigError, TrialConfig
from trainables.models import build_model
from trainables.trial import run_trial
from trainables.models import MissingWeightsError

TINY = {"image_size": 64, "batch_size": 4, "embedding_sample": 4, "threads": 1}
EGYPTIAN_CAT, CAT_CLASSES = 285, {281, 282, 283, 284, 285}   # tabby, tiger, Persian, Siamese, Egyptian


def test_efficientnet_lite0_package_weights_classify_chelsea_as_a_cat():
    skimage_data = pytest.importorskip("skimage.data")
    enc = EfficientNetLite0Encoder(pretrained=True).eval()
    img = torch.tensor(skimage_data.chelsea()).permute(2, 0, 1).float()[None] / 255
    x = F.interpolate(img, size=(224, 224), mode="bilinear", antialias=True)
    x = (x - torch.tensor(enc.mean).view(1, 3, 1, 1)) / torch.tensor(enc.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        probs = enc.classify(x).softmax(dim=1)[0]
    assert int(probs.argmax()) == EGYPTIAN_CAT
    assert float(probs[list(CAT_CLASSES)].sum()) > 0.8
    # an untrained network is not a cat detector: the check would catch unloaded weights
    with torch.inference_mode():
        untrained = EfficientNetLite0Encoder(pretrained=False).eval().classify(x).softmax(dim=1)[0]
    assert float(untrained[list(CAT_CLASSES)].sum()) < 0.1


def test_encoders_give_four_stages_at_strides_4_to_32():
    for backbone in ("resnet18", "efficientnet_lite0"):
        enc = build_encoder(backbone, pretrained=False).eval()
        with torch.inference_mode():
            maps = enc.stages(torch.zeros(1, 3, 64, 64))
        assert [maps[k].shape[-1] for k in STAGES] == [16, 8, 4, 2]
        assert {k: m.shape[1] for k, m in maps.items()} == enc.stage_dims


def test_efficientnet_levels_are_rippels_one_indexed_levels_on_timm_blocks():
    """level1 = stem, level2..level8 = the seven MBConv stages (timm blocks[0..6]), level9 = head
    conv: so the paper's "level-7" features are blocks[5]'s output, 192 channels in Lite0, and
    blocks[6] (320 channels, the input of conv_head) is level 8."""
    assert EFFICIENTNET_LEVELS["level7"] == 5 and EFFICIENTNET_LEVELS["level8"] == 6
    enc = EfficientNetLite0Encoder(pretrained=False).eval()
    seen: dict[str, torch.Tensor] = {}
    hooks = [enc.net.blocks[i].register_forward_hook(lambda m, i, o, i_=i: seen.__setitem__(f"blocks{i_}", o))
             for i in range(7)]
    hooks += [enc.net.bn1.register_forward_hook(lambda m, i, o: seen.__setitem__("stem", o)),
              enc.net.conv_head.register_forward_hook(lambda m, i, o: seen.__setitem__("conv_head", o))]
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        maps = enc.stages(x, upto="level7")
    assert "conv_head" not in seen and "blocks6" not in seen, "level7 stops after blocks[5]"
    assert torch.equal(maps["level7"], seen["blocks5"])
    assert maps["level7"].shape[1] == enc.stage_dims["level7"] == 192
    assert maps["level7"].shape[-1] == 2                    # stride 32
    with torch.inference_mode():
        maps = enc.stages(x)
    for k in range(2, 9):
        assert torch.equal(maps[f"level{k}"], seen[f"blocks{k - 2}"])
    assert torch.equal(maps["level1"], seen["stem"])
    assert torch.equal(maps["level8"], seen["blocks6"]) and maps["level8"].shape[1] == enc.stage_dims["level8"] == 320
    assert maps["level9"].shape[1] == 1280 and torch.equal(maps["level9"], maps["layer4"])
    # B0/Lite0 stage widths (EfficientNet Table 1, stages 2..8)
    assert [enc.stage_dims[f"level{k}"] for k in range(2, 9)] == [16, 24, 40, 80, 112, 192, 320]
    for h in hooks:
        h.remove()


def test_level7_gde_features_are_pooled_blocks5_output():
    cfg = TrialConfig(backbone="efficientnet_lite0", pretrained="none", feature_layers="level7", image_size=64)
    model = build_model(cfg, 3).eval()
    out = {}
    hook = model.encoder.net.blocks[5].register_forward_hook(lambda m, i, o: out.__setitem__("b5", o))
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        f = model.features(x, cfg.feature_layer_list)
    hook.remove()
    assert f.shape == (2, 192)
    assert torch.allclose(f, out["b5"].mean(dim=(2, 3)))


def test_timm_efficientnet_b4_has_the_same_levels():
    """The paper's Table 3 network: level7 = blocks[5] (272 channels in B4), layer4 = head conv."""
    enc = build_encoder("timm/efficientnet_b4", pretrained=False).eval()
    out = {}
    hook = enc.net.blocks[5].register_forward_hook(lambda m, i, o: out.__setitem__("b5", o))
    with torch.inference_mode():
        maps = enc.stages(torch.randn(1, 3, 64, 64), upto="level7")
    hook.remove()
    assert torch.equal(maps["level7"], out["b5"]) and maps["level7"].shape[1] == enc.stage_dims["level7"] == 272
    assert enc.stage_dims["layer4"] == enc.out_dim == 1792
    TrialConfig(backbone="timm/efficientnet_b4", feature_layers="level7")     # accepted


def test_levels_are_refused_for_backbones_without_them():
    with pytest.raises(ConfigError, match="feature_layers.*efficientnet_lite0"):
        TrialConfig(backbone="resnet18", feature_layers="level7")
    with pytest.raises(ConfigError, match="feature_layers"):
        TrialConfig(backbone="timm/resnet10t", feature_layers="level7")
    with pytest.raises(ConfigError, match="feature_layers"):
        TrialConfig(backbone="efficientnet_lite0", feature_layers="level10")
    assert TrialConfig(backbone="efficientnet_lite0", feature_layers="layer4,level7").feature_layer_list == \
        ["layer4", "level7"]


def test_uncached_torchvision_weights_name_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError, match=r"resnet18-[0-9a-f]+\.pth.*never downloads"):
        build_encoder("resnet18", pretrained=True)


def test_uncached_timm_weights_fail_fast_without_downloading(tmp_path):
    """In a fresh process, as a trial builds its encoder: huggingface_hub reads HF_HOME and
    HF_HUB_OFFLINE once, when first imported, and this session imported it long ago (set here,
    they were ignored and the hub was asked over the network, retrying for 47 s). The user has
    not set HF_HUB_OFFLINE: the project's own offline switch must keep the hub from being asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    r = subprocess.run([sys.executable, "-c", "from trainables.models import build_encoder, MissingWeightsError\n"
                        "try:\n    build_encoder('timm/resnet10t', pretrained=True)\n"
                        "except MissingWeightsError as e:\n    print(e)\n"],
                       env={**env, "HF_HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resnet10t" in r.stdout and "not in the local cache" in r.stdout and str(tmp_path) in r.stdout
    assert "huggingface.co" not in r.stdout + r.stderr and "Retrying" not in r.stderr   # never asked the hub


def test_frozen_mode_trains_nothing_and_scores_with_pretrained_features(small_dataset):
    r = run_trial({"category": "carpet", "backbone": "efficientnet_lite0", "pretrained": "frozen",
                   "steps": 50, **TINY}, data_root=small_dataset)
    assert r.metrics["step"] == 0 and r.metrics["train_seconds"] < 0.01
    assert 0.0 <= r.metrics["image_auc"] <= 1.0


def test_finetune_moves_the_backbone_but_keeps_its_batchnorm_statistics(small_dataset):
    states = []
    run_trial({"category": "bottle", "backbone": "efficientnet_lite0", "pretrained": "finetune",
               "head_steps": 2, "steps": 2, "eval_interval": 2, **TINY}, data_root=small_dataset,
              report=lambda m, s: states.append(s))
    start = EfficientNetLite0Encoder(pretrained=True).state_dict()
    after_head, after_all = ({k[len("encoder."):]: v for k, v in s["model"].items() if k.startswith("encoder.")}
                             for s in states)
    conv = "net.conv_stem.weight"
    assert torch.equal(after_head[conv], start[conv]), "head phase must not touch the backbone"
    assert not torch.equal(after_all[conv], start[conv]), "second phase trains all layers"
    for k in start:
        if k.endswith(("running_mean", "running_var")):
            assert torch.equal(after_all[k], start[k]), f"BatchNorm statistic {k} changed"
