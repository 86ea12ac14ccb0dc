"""AP, F1-max, AUPRO and the deployable threshold, against hand computations and brute force."""
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, f1_score

from trainables.metrics import (aupro, detection_metrics, f1_max, flag_rates, image_ap, pixel_ap,
                                        pro_curve, threshold_at_fpr, threshold_metrics)
from trainables.evaluate.validation import held_out_normals, split_category


# ------------------------------------------------------------------ AUPRO
def brute_force_aupro(maps: np.ndarray, regions: list[np.ndarray], limit: float = 0.3) -> float:
    """PRO and FPR at every distinct score by thresholding the maps anew, regions given by hand."""
    defect = np.zeros(maps.shape, bool)
    for r in regions:
        defect |= r
    points = [(0.0, 0.0)]
    for t in np.unique(maps)[::-1]:
        flagged = maps >= t
        fpr = (flagged & ~defect).sum() / (~defect).sum()
        pro = np.mean([(flagged & r).sum() / r.sum() for r in regions])
        points.append((fpr, pro))
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 >= limit:
            break
        if x1 > limit:                               # cut the last segment at the limit
            y1 = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            x1 = limit
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


def region(shape, image, rows, cols) -> np.ndarray:
    r = np.zeros(shape, bool)
    r[image, rows, cols] = True
    return r


def test_aupro_on_two_regions_of_different_sizes_equals_a_brute_force_computation():
    shape = (3, 12, 12)
    small = region(shape, 0, slice(1, 3), slice(1, 3))          # 4 pixels
    large = region(shape, 0, slice(5, 10), slice(4, 11))        # 35 pixels, same image
    other = region(shape, 2, slice(0, 3), slice(8, 12))         # 12 pixels, another image; image 1 is good
    masks = (small | large | other).astype(np.uint8)
    rng = np.random.default_rng(0)
    for trial in range(5):
        # integer scores give ties: a threshold must take all pixels of one score at once
        maps = rng.integers(0, 30, shape).astype(float) + masks * rng.integers(0, 25)
        expected = brute_force_aupro(maps, [small, large, other])
        assert aupro(maps, masks) == pytest.approx(expected, abs=1e-12)
        assert 0 <= expected <= 1
    # a region's PRO is its own covered share: the small region found alone gives 1/3, not 4/51
    maps = np.zeros(shape)
    maps[small] = 1.0
    fpr, pro = pro_curve(maps, masks)
    assert fpr[1] == 0 and pro[1] == pytest.approx(1 / 3)


def test_aupro_by_hand_on_one_row():
    # pixels 0-1 are one region, pixel 5 another, pixels 2-4 are normal
    masks = np.array([[[1, 1, 0, 0, 0, 1]]])
    maps = np.array([[[0.9, 0.5, 0.8, 0.1, 0.2, 0.7]]])
    # 0.9: FPR 0, PRO (1/2 + 0)/2 = 0.25; 0.8: FPR 1/3 > 0.3, PRO 0.25: the area to 0.3 is 0.3 * 0.25
    assert aupro(maps, masks) == pytest.approx(0.25)
    assert aupro(np.where(masks, 1.0, 0.0), masks) == pytest.approx(1.0)      # a perfect map


def test_regions_are_8_connected_as_in_mvtecs_evaluation_code():
    masks = np.zeros((1, 4, 4), np.uint8)
    masks[0, 0, 0] = masks[0, 1, 1] = masks[0, 1, 2] = 1      # diagonal neighbours: one region of 3
    maps = np.zeros((1, 4, 4))
    maps[0, 0, 0] = 1.0
    _, pro = pro_curve(maps, masks)
    assert pro[1] == pytest.approx(1 / 3)                       # 4-connected would give (1 + 0) / 2


def test_aupro_and_pixel_ap_over_images_of_different_sizes_count_every_pixel_once():
    # native resolution: one [H_i, W_i] map and mask per image, sizes differ
    rng = np.random.default_rng(3)
    shapes = [(5, 7), (9, 4), (6, 6)]
    masks = [np.zeros(s, np.uint8) for s in shapes]
    masks[0][1:3, 2:5] = 1
    masks[2][4:6, 0:2] = 1                                      # image 1 is good
    maps = [rng.integers(0, 12, s).astype(float) + m * 4 for s, m in zip(shapes, masks)]
    flat_maps = np.concatenate([m.ravel() for m in maps])
    offsets = np.cumsum([0] + [m.size for m in masks])
    regions = []
    for i in (0, 2):
        r = np.zeros(offsets[-1], bool)
        r[offsets[i]:offsets[i + 1]] = masks[i].ravel() > 0
        regions.append(r)
    assert aupro(maps, masks) == pytest.approx(brute_force_aupro(flat_maps, regions), abs=1e-12)
    flat_masks = np.concatenate([m.ravel() for m in masks])
    assert pixel_ap(maps, masks) == pytest.approx(average_precision_score(flat_masks, flat_maps), abs=1e-12)
    with pytest.raises(ValueError, match="one shape"):
        aupro(maps, [masks[0], masks[1].T, masks[2]])


def test_aupro_and_pixel_ap_are_null_without_defective_pixels_and_reject_mismatched_shapes():
    assert aupro(np.random.rand(2, 4, 4), np.zeros((2, 4, 4))) is None
    assert pixel_ap(np.random.rand(2, 4, 4), np.zeros((2, 4, 4))) is None
    with pytest.raises(ValueError, match="one shape"):
        aupro(np.random.rand(2, 4, 4), np.zeros((2, 4, 5)))


# ------------------------------------------------------------------ AP and F1-max
def test_image_ap_and_f1_max_equal_sklearn_and_a_search_over_every_threshold():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.normal(size=60) + labels, 1)          # rounded: ties
    assert image_ap(labels, scores) == average_precision_score(labels, scores)
    f1, threshold = f1_max(labels, scores)
    candidates = np.unique(scores)                              # ascending, like sklearn's thresholds
    f1s = [f1_score(labels, (scores >= t).astype(int)) for t in candidates]
    assert f1 == pytest.approx(max(f1s))
    assert threshold == candidates[int(np.argmax(f1s))]
    pixels = rng.random((3, 5, 5))
    masks = (pixels + rng.random((3, 5, 5)) > 1.3).astype(np.uint8)
    assert pixel_ap(pixels, masks) == average_precision_score(masks.ravel(), pixels.ravel())


def test_loco_columns_take_the_logical_and_structural_defect_aucs_and_are_null_elsewhere():
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    loco = detection_metrics(labels, scores, {"logical_anomalies": 0.5, "structural_anomalies": 1.0})
    assert (loco["image_auc_logical"], loco["image_auc_structural"]) == (0.5, 1.0)
    mvtec = detection_metrics(labels, scores, {"crack": 0.75})
    assert mvtec["image_auc_logical"] is None and mvtec["image_auc_structural"] is None


# ------------------------------------------------------------------ the deployable threshold
def test_threshold_at_one_percent_fpr_on_held_out_normals_and_its_test_rates_by_hand():
    normals = np.arange(1.0, 201.0)                             # 200 held-out normal scores 1..200
    m = threshold_metrics(normals, 0.01, np.array([0, 0, 0, 0, 1, 1, 1, 1]),
                          np.array([2.0, 198.5, 199.0, 250.0, 198.0, 198.2, 300.0, 199.5]), "train_good_holdout:200")
    # 1% of 200 = 2 normals may be flagged (199, 200): the threshold sits just above 198
    assert 198 < m["threshold"] < 198.0001 and m["threshold_heldout_fpr"] == 0.01
    # test: good 198.5, 199, 250 flagged of 4 -> FPR 3/4; defective 198.2, 300, 199.5 of 4 -> TPR 3/4
    assert m["threshold_test_fpr"] == 0.75 and m["threshold_test_tpr"] == 0.75
    assert m["threshold_source"] == "train_good_holdout:200"


def test_with_fewer_than_100_held_out_normals_a_one_percent_threshold_flags_none_of_them():
    normals = np.array([3.0, 7.0, 5.0, 7.0])
    t = threshold_at_fpr(normals, 0.01)
    assert t > 7 and t == np.nextafter(7.0, np.inf)
    assert flag_rates(t, np.array([0, 1]), np.array([7.0, t])) == (1.0, 0.0)   # flagged when score >= t
    with pytest.raises(ValueError, match="at least one"):
        threshold_at_fpr(np.array([]), 0.01)


def test_a_dataset_validation_split_is_the_held_out_set_else_a_share_of_train_good_is():
    train = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 3, 2, 2)
    own = SimpleNamespace(train=train, validation=torch.full((3, 3, 2, 2), 99, dtype=torch.uint8))
    fit, held = split_category(own, 0.2, seed=0)
    assert fit.tolist() == list(range(10)) and len(held) == 0   # all of train/good trains and fits
    images, source = held_out_normals(own, held)
    assert source == "validation_good:3" and (images == 99).all()
    plain = SimpleNamespace(train=train)                        # MVTec AD, VisA: no `validation` field
    fit, held = split_category(plain, 0.2, seed=0)
    assert len(held) == 2 and not set(fit) & set(held) and len(fit) + len(held) == 10
    images, source = held_out_normals(plain, held)
    assert source == "train_good_holdout:2" and sorted(images[:, 0, 0, 0].tolist()) == sorted(held.tolist())
    assert held_out_normals(plain, split_category(plain, 0.0, 0)[1]) is None


def test_evaluation_fits_the_gde_without_the_held_out_images_and_thresholds_on_them(small_dataset):
    from trainables.config import TrialConfig
    from trainables.data import load_category
    from trainables.models.density import DensityEstimator
    from trainables.evaluate import evaluate, extract_features
    from trainables.models import build_model

    cfg = TrialConfig(category="bottle", image_size=32, steps=0, val_fraction=0.25, threshold_fpr=0.2, threads=1)
    data = load_category(small_dataset, "bottle", 32, verbose=False)
    fit_idx, val_idx = split_category(data, cfg.val_fraction, cfg.seed)
    torch.manual_seed(0)
    model, device = build_model(cfg, 3), torch.device("cpu")
    ev = evaluate(model, data, fit_idx, cfg, device, val_idx)
    gde = DensityEstimator(cfg.density, seed=cfg.seed).fit(extract_features(model, data.train[fit_idx], cfg, device))
    held_scores = gde.score(extract_features(model, data.train[val_idx], cfg, device))
    assert ev["threshold"] == threshold_at_fpr(held_scores, 0.2)
    assert ev["threshold_source"] == "train_good_holdout:3" and ev["threshold_heldout_fpr"] == 0.0
    labels = np.asarray(data.test_labels)
    assert (ev["threshold_test_tpr"], ev["threshold_test_fpr"]) == flag_rates(ev["threshold"], labels, ev["scores"])
    assert ev["image_ap"] == average_precision_score(labels, ev["scores"]) and 0 <= ev["val_auc"] <= 1


# ------------------------------------------------------------------ real trials
def _in_range(m: dict, localizing: bool) -> None:
    for k in ("image_ap", "image_f1_max", "threshold_test_tpr", "threshold_test_fpr"):
        assert 0 <= m[k] <= 1, k
    assert 0 <= m["threshold_heldout_fpr"] <= 0.01          # the default threshold_fpr
    assert np.isfinite(m["threshold"]) and np.isfinite(m["image_f1_threshold"])
    assert m["threshold_source"].startswith("train_good_holdout:")
    assert m["image_auc_logical"] is None and m["image_auc_structural"] is None
    if localizing:
        assert 0 <= m["pixel_ap"] <= 1 and 0 <= m["aupro"] <= 1


def test_a_patch_trial_reports_every_new_metric_in_range(small_dataset):
    from trainables.trial import run_trial
    r = run_trial({"category": "bottle", "variant": "cutpaste_3way_patch", "image_size": 32, "batch_size": 4,
                   "steps": 3, "embedding_sample": 4, "threads": 1, "patch_size": 16, "patch_stride": 8},
                  data_root=small_dataset)
    _in_range(r.metrics, localizing=True)
    labels, scores = np.array(r.scores["label"]), np.array(r.scores["score"])
    assert (r.metrics["threshold_test_tpr"], r.metrics["threshold_test_fpr"]) == \
        flag_rates(r.metrics["threshold"], labels, scores)


def test_on_mvtec_loco_the_validation_split_gives_the_threshold_and_logical_structural_aucs(tmp_path, small_spec):
    from trainables.data.generated import generate_layout
    from trainables.trial import run_trial
    root = generate_layout("mvtec_loco", tmp_path / "loco", small_spec, categories=("breakfast_box",), workers=1,
                           verbose=False)
    r = run_trial({"category": "breakfast_box", "image_size": 32, "batch_size": 4, "steps": 2, "embedding_sample": 4,
                   "threads": 1}, data_root=root)
    m = r.metrics
    assert m["threshold_source"].startswith("validation_good:") and 0 <= m["threshold_test_fpr"] <= 1
    assert m["image_auc_logical"] == m["auc_by_defect"]["logical_anomalies"]
    assert m["image_auc_structural"] == m["auc_by_defect"]["structural_anomalies"]
    assert 0 <= m["val_auc"] <= 1


@pytest.mark.slow
def test_smoke_patch_trial_on_generated_grid_prints_the_new_metrics_in_its_json(tmp_path, small_spec):
    """The acceptance command (``trainables.run --category grid --variant cutpaste_3way_patch
    --budget smoke --json``) on a small generated grid: the smoke budget's patch block (128 px,
    32 px windows at stride 8, stages 2 and 3), with 8 of its 512 steps on one thread (the whole
    budget took 5 CPU-minutes; the metrics checked here come from the evaluation, not from
    training long; two threads on a busy 2-core machine trained 10 times slower than one)."""
    from trainables.data.generated import generate_dataset
    root = generate_dataset(tmp_path / "generated", small_spec, categories=("grid",), workers=1, verbose=False)
    out = subprocess.run([sys.executable, "-m", "trainables.run", "--data-root", str(root), "--category", "grid",
                          "--variant", "cutpaste_3way_patch", "--budget", "smoke", "--set", "steps=8",
                          "--set", "threads=1", "--json"],
                         capture_output=True, text=True, env=os.environ.copy(), timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    m = json.loads(out.stdout.strip().splitlines()[-1])
    _in_range(m, localizing=True)
    c = m["config"]
    assert c["threshold_fpr"] == 0.01 and c["val_fraction"] == 0.1
    assert (c["image_size"], c["patch_size"], c["patch_stride"], c["feature_layers"], c["lr"], c["steps"]) == \
        (128, 32, 8, "layer2,layer3", 0.03, 8)               # the budget's block, then --set
    assert "AUPRO" in out.stdout and "threshold" in out.stdout
