"""Patch-level localization: crops, dense window scoring, upsampling, pixel AUC, GradCAM."""
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from trainables.augment_ops import PixelStore
from trainables.augmentations import create_variant, source_batch
from trainables.config import TrialConfig
from trainables.localization import (WindowDensity, dense_window_features, pixel_auc, per_location,
                                     upsample_window_scores, window_grid)
from trainables.model import build_model
from trainables.trial import run_trial

TINY = {"image_size": 32, "batch_size": 4, "steps": 3, "embedding_sample": 4, "threads": 1,
        "patch_size": 16, "patch_stride": 8, "pretrained": "none", "backbone": "resnet18"}


def test_patch_variants_train_on_crops_taken_from_the_source_images():
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).view(2, 3, 32, 32)
    cfg = TrialConfig(image_size=32, patch_size=16, jitter=0.0, variant="cutpaste_3way_patch")
    gen = torch.Generator().manual_seed(0)
    pb = source_batch(PixelStore(images), torch.tensor([0, 1, 1]), cfg, gen, crop=16)
    normal = pb.normal()
    assert normal.shape == (3, 3, 16, 16)
    for b, src in enumerate([0, 1, 1]):
        full = images[src].float() / 255
        hits = [(y, x) for y in range(17) for x in range(17)
                if torch.allclose(full[:, y:y + 16, x:x + 16], normal[b], atol=1e-5)]
        assert hits, f"crop {b} is not a window of its source image"
    batch, labels = create_variant("cutpaste_3way_patch").make_batch(pb, cfg)
    assert batch.shape == (9, 3, 16, 16) and labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_dense_window_features_equal_features_of_each_cropped_window():
    cfg = TrialConfig(image_size=32, patch_size=16, patch_stride=8, variant="cutpaste_3way_patch")
    torch.manual_seed(0)
    model = build_model(cfg, 3).eval()
    images = torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8)
    dense = dense_window_features(model, images, cfg, torch.device("cpu"), bf16=False)
    assert dense.shape[:2] == (2, 9) and window_grid(32, cfg) == (3, 3)
    with torch.inference_mode():
        crop = images[1:2, :, 8:24, 16:32].float() / 255          # window row 1, column 2
        direct = model.features(crop, cfg.feature_layer_list).double().numpy()[0]
    assert np.allclose(dense[1, 1 * 3 + 2], direct, atol=1e-4)


def test_upsampling_puts_a_windows_score_where_that_window_is():
    cfg = TrialConfig(image_size=64, patch_size=16, patch_stride=8, variant="cutpaste_3way_patch")
    gh, gw = window_grid(64, cfg)
    scores = np.zeros((1, gh * gw))
    scores[0, 2 * gw + 5] = 1.0                                  # window at rows 16..32, cols 40..56
    m = upsample_window_scores(scores, 64, cfg)[0]
    assert m.shape == (64, 64)
    y, x = np.unravel_index(m.argmax(), m.shape)
    assert 16 <= y < 32 and 40 <= x < 56
    assert m[0:8, 0:8].max() == 0 and m.min() >= 0


def test_pixel_auc_is_sklearns_over_all_pixels_of_all_images():
    rng = np.random.default_rng(0)
    masks = (rng.random((3, 8, 8)) > 0.8).astype(np.uint8)
    maps = rng.random((3, 8, 8)) + masks
    assert pixel_auc(maps, masks) == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()))


def test_aligned_objects_get_a_gde_per_location_and_textures_share_one():
    assert per_location(TrialConfig(category="bottle"))
    assert not per_location(TrialConfig(category="carpet"))
    assert not per_location(TrialConfig(category="screw"))
    assert not per_location(TrialConfig(category="bottle", patch_gde="shared"))
    train = np.random.default_rng(0).normal(size=(20, 4, 6))
    assert len(WindowDensity(TrialConfig(category="bottle")).fit(train).estimators) == 4
    assert len(WindowDensity(TrialConfig(category="carpet")).fit(train).estimators) == 1


def test_patch_trial_reports_pixel_auc_and_image_score_from_the_worst_window(small_dataset):
    r = run_trial({"category": "bottle", "variant": "cutpaste_3way_patch", **TINY}, data_root=small_dataset)
    assert 0 <= r.metrics["pixel_auc"] <= 1 and 0 <= r.metrics["image_auc"] <= 1
    assert r.heatmaps["kind"][0] == "patch" and len(r.heatmaps["heatmap"][0]) == 32 * 32


def test_gradcam_gives_image_level_models_a_pixel_auc(small_dataset):
    r = run_trial({"category": "carpet", "variant": "cutpaste_3way", "gradcam": True, **TINY},
                  data_root=small_dataset)
    assert 0 <= r.metrics["pixel_auc"] <= 1
    assert r.heatmaps["kind"][0] == "gradcam"
    plain = run_trial({"category": "carpet", "variant": "cutpaste_3way", **TINY}, data_root=small_dataset)
    assert plain.metrics.get("pixel_auc") is None
