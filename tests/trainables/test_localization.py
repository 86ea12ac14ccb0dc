"""Patch-level localization: crops, dense window scoring, upsampling, pixel AUC, GradCAM."""
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from trainables.augment import PixelStore, create_variant, source_batch
from trainables.config import TrialConfig
from trainables.evaluate.patches import (WindowDensity, dense_window_features, per_location, upsample_window_scores,
                                         window_grid)
from trainables.metrics import pixel_auc
from trainables.models import build_model
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


# ------------------------------------------------------------------ pixel_resolution
def _png(path, array) -> None:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def thin_defect_dataset(root):
    """An MVTec-layout category whose test images are larger than the 32 px it is loaded at:
    a 1 px vertical scratch (lost when the mask is shrunk by NEAREST), a 2 px horizontal one
    (kept, thinned), and a good image of another size. Returns the native masks, test order."""
    rng = np.random.default_rng(0)
    h, w = 64, 96
    noise = lambda hh, ww: rng.integers(0, 256, (hh, ww, 3), dtype=np.uint8)
    cat = root / "thin"
    for k in range(2):
        _png(cat / "train" / "good" / f"{k:03d}.png", noise(h, w))
    _png(cat / "test" / "good" / "000.png", noise(48, 80))
    vertical, horizontal = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    vertical[8:56, 36] = 255                  # 1 px wide: 32 px NEAREST samples columns 1, 4, ..., 94
    horizontal[20:22, 10:80] = 255            # 2 px high: one sampled row keeps it
    for k, mask in enumerate((vertical, horizontal)):
        _png(cat / "test" / "scratch" / f"{k:03d}.png", noise(h, w))
        _png(cat / "ground_truth" / "scratch" / f"{k:03d}_mask.png", mask)
    return [np.zeros((48, 80), np.uint8), (vertical > 0).astype(np.uint8), (horizontal > 0).astype(np.uint8)]


def test_native_pixel_metrics_score_a_thin_defect_that_the_image_size_mask_loses(tmp_path):
    from sklearn.metrics import average_precision_score

    from trainables.metrics import aupro, localization_metrics
    from trainables.data import load_category
    from trainables.evaluate import pixel_metrics

    native_masks = thin_defect_dataset(tmp_path)
    data = load_category(tmp_path, "thin", 32, use_cache=False)
    assert data.test_defects == ["good", "scratch", "scratch"]
    assert data.test_masks[1].sum() == 0 and data.test_masks[2].sum() > 0   # the 1 px scratch vanished

    rng = np.random.default_rng(1)
    maps = rng.random((3, 32, 32))
    maps[1, 4:28, 12] += 1.0                  # a map that finds the thin scratch
    native = pixel_metrics(maps, data, TrialConfig(pixel_resolution="native"))
    image = pixel_metrics(maps, data, TrialConfig())

    # the reference: each map upsampled (bilinear) to its image's size, against the masks drawn above
    up = [torch.nn.functional.interpolate(torch.from_numpy(m)[None, None], size=mask.shape, mode="bilinear",
                                          align_corners=False)[0, 0].numpy() for m, mask in zip(maps, native_masks)]
    y = np.concatenate([m.ravel() for m in native_masks])
    s = np.concatenate([m.ravel() for m in up])
    assert len(y) == 48 * 80 + 2 * 64 * 96
    assert native["pixel_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert native["pixel_ap"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert native["aupro"] == pytest.approx(aupro(up, native_masks), abs=1e-12)
    # "image" is today's computation: the 32 px maps against the cached (NEAREST) masks
    cached = data.test_masks.numpy()
    assert image == {"pixel_auc": pixel_auc(maps, cached), **localization_metrics(maps, cached)}
    assert image["pixel_auc"] == roc_auc_score(cached.ravel(), maps.ravel())
    assert native["pixel_auc"] != image["pixel_auc"]


def test_native_masks_are_read_at_the_image_size_and_several_masks_are_united(tmp_path):
    from dataclasses import replace

    from trainables.data import load_category, native_test_mask

    native_masks = thin_defect_dataset(tmp_path)
    data = load_category(tmp_path, "thin", 32, use_cache=False)
    for i, expected in enumerate(native_masks):
        np.testing.assert_array_equal(native_test_mask(data, i), expected)
    # a second mask file for the same image (as LOCO ships) adds its defect pixels
    both = replace(data, test_mask_paths=[(), data.test_mask_paths[1] + data.test_mask_paths[2], ()])
    np.testing.assert_array_equal(native_test_mask(both, 1), native_masks[1] | native_masks[2])


def test_patch_trial_scores_pixels_at_native_resolution_when_asked(small_dataset, monkeypatch):
    import trainables.evaluate.pipeline as evaluation
    from trainables.data import native_test_mask
    read = []
    monkeypatch.setattr(evaluation, "native_test_mask",
                        lambda data, i: read.append(i) or native_test_mask(data, i))
    r = run_trial({"category": "bottle", "variant": "cutpaste_3way_patch", "pixel_resolution": "native", **TINY},
                  data_root=small_dataset)
    assert 0 <= r.metrics["pixel_auc"] <= 1 and r.config.pixel_resolution == "native"
    assert sorted(read) == list(range(len(r.scores["label"])))     # every test image, at its own size


def test_every_pixel_resolution_the_config_accepts_has_pixel_targets():
    from trainables.config import PIXEL_RESOLUTIONS
    from trainables.evaluate import PIXEL_TARGETS
    assert list(PIXEL_TARGETS) == list(PIXEL_RESOLUTIONS)
