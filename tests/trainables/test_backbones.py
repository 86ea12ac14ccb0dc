"""Pretrained backbones: offline weights that really are ImageNet weights, clear errors otherwise."""
import pytest
import torch
import torch.nn.functional as F

from trainables.backbones import EfficientNetLite0Encoder, MissingWeightsError, build_encoder
from trainables.trial import run_trial

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
        assert [m.shape[-1] for m in maps.values()] == [16, 8, 4, 2]
        assert {k: m.shape[1] for k, m in maps.items()} == enc.stage_dims


def test_uncached_torchvision_weights_name_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError, match=r"resnet18-[0-9a-f]+\.pth.*never downloads"):
        build_encoder("resnet18", pretrained=True)


def test_uncached_timm_weights_fail_fast_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="resnet10t.*not in the local cache"):
        build_encoder("timm/resnet10t", pretrained=True)


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
