"""Table 2: the untrained controls beside the trained localizers (pixel AUC and AUPRO), only
the paper's two models beside the paper's numbers, and the resolution pixel metrics were taken at."""
import numpy as np
import pandas as pd
import pytest

from analysis.paper.protocols import MVTEC_CATEGORIES, TABLE_KINDS
from analysis.tables.formats import render, wide
from analysis.tables.build import build_table
from trainables.config import FIELD_TYPES, TrialConfig

PAPER = {k: v for k, v in TrialConfig(val_fraction=0.0).to_dict().items() if k not in ("variant", "category", "seed")}
STUDY = "table2_localization"
# (variant, steps) -> (pixel AUC, AUPRO) around which the seeds scatter
MODELS = {("cutpaste_3way_patch", 65536): (0.95, 0.80), ("cutpaste_3way_patch", 0): (0.70, 0.40),
          ("cutpaste_3way", 65536): (0.88, 0.60), ("cutpaste_3way", 0): (0.60, 0.30)}


def table2_trials(categories=MVTEC_CATEGORIES, models=MODELS, dataset="mvtec_ad@abc", seeds=5, **changes):
    rng = np.random.default_rng(5)
    rows = []
    for cat in categories:
        for (variant, steps), (pix, pro) in models.items():
            for seed in range(seeds):
                rows.append({**PAPER, "gradcam": True, "trial_key": f"{cat}-{variant}-{steps}-{seed}", "study": STUDY,
                             "variant": variant, "category": cat, "seed": seed, "dataset": dataset,
                             "budget": "paper", "status": "ok", "image_auc": 0.9, "steps": steps,
                             "pixel_auc": pix + rng.uniform(-0.02, 0.02), "aupro": pro + rng.uniform(-0.05, 0.05),
                             **changes})
    return pd.DataFrame(rows)


PATCH, GRADCAM = "cutpaste_3way_patch", "cutpaste_3way"     # columns are named by the variant alone
PATCH_CTL, GRADCAM_CTL = "control: untrained (patch-level)", "control: untrained (image-level)"


def test_untrained_patch_model_sits_beside_the_trained_one_with_pixel_auc_and_aupro():
    trials = table2_trials(categories=["carpet", "grid", "bottle"], seeds=3, dataset="generated@x")
    t = build_table(STUDY, trials, meta={"table": "2"})
    assert sorted(t.controls) == sorted([PATCH_CTL, GRADCAM_CTL])
    d = t.data.set_index(["row", "column"])
    mean = lambda cat, variant, steps, m: trials[(trials.category == cat) & (trials.variant == variant) &
                                                 (trials.steps == steps)][m].mean()
    # each trained localizer is paired with the untrained model of its own kind, in both metrics
    for col, ctl, variant in ((PATCH, PATCH_CTL, "cutpaste_3way_patch"), (GRADCAM, GRADCAM_CTL, "cutpaste_3way")):
        assert d.loc[("carpet", ctl), "mean"] == pytest.approx(mean("carpet", variant, 0, "pixel_auc"))
        assert d.loc[("carpet", ctl), "aupro_mean"] == pytest.approx(mean("carpet", variant, 0, "aupro"))
        assert d.loc[("carpet", col), "control_diff"] == pytest.approx(
            mean("carpet", variant, 65536, "pixel_auc") - mean("carpet", variant, 0, "pixel_auc"))
        assert d.loc[("carpet", col), "aupro_control_diff"] == pytest.approx(
            mean("carpet", variant, 65536, "aupro") - mean("carpet", variant, 0, "aupro"))
    per_cat = [mean(c, "cutpaste_3way_patch", 65536, "aupro") - mean(c, "cutpaste_3way_patch", 0, "aupro")
               for c in ("carpet", "grid", "bottle")]
    assert d.loc[("all", PATCH), "aupro_control_diff"] == pytest.approx(np.mean(per_cat))
    assert set(t.tests["baseline"]) == {PATCH_CTL, GRADCAM_CTL}
    w = wide(t).set_index("")
    for header in (f"{PATCH} Δ ctrl", f"{PATCH_CTL} AUPRO (at 256 px)", f"{PATCH} AUPRO (at 256 px) Δ ctrl",
                   f"{GRADCAM_CTL} AUPRO (at 256 px)"):
        assert header in w.columns, list(w.columns)
    assert w.loc["carpet", PATCH_CTL] != ""


def test_only_the_papers_two_localizers_get_the_papers_numbers():
    kind = TABLE_KINDS["2"]
    assert kind.paper_column({"variant": "cutpaste_3way_patch", "gradcam": False}) == "CutPaste_3way_patch"
    assert kind.paper_column({"variant": "cutpaste_3way", "gradcam": True}) == "GradCAM"
    for params in ({"variant": "cutpaste_3way", "gradcam": False}, {"variant": "cutpaste_patch", "gradcam": True},
                   {"variant": "cutpaste_scar_patch"}, {"variant": "cutpaste", "gradcam": True}):
        assert kind.paper_column(params) is None, params
    models = {("cutpaste_3way_patch", 65536): (0.95, 0.8), ("cutpaste_patch", 65536): (0.93, 0.7),
              ("cutpaste_3way", 65536): (0.88, 0.6)}
    t = build_table(STUDY, table2_trials(models=models), meta={"table": "2"})
    d = t.data.set_index(["row", "column"])
    assert d.loc[("carpet", PATCH), "paper"] == pytest.approx(0.983)
    assert d.loc[("all", GRADCAM), "paper"] == pytest.approx(0.883)
    assert t.data.loc[t.data["column"] == "cutpaste_patch", "paper"].isna().all()


def test_table2_compares_the_whole_method_too():
    t = build_table(STUDY, table2_trials(patch_stride=8), meta={"table": "2"})
    assert t.data["paper"].isna().all() and "patch_stride 8 vs 4" in t.caption


def test_pixel_metrics_name_the_resolution_they_were_taken_at():
    t = build_table(STUDY, table2_trials(categories=["carpet", "bottle"], seeds=2, image_size=128,
                                         dataset="generated@x"), meta={"table": "2"})
    assert "Pixel metrics (pixel AUC, AUPRO) at 128 px" in t.caption
    assert f"{PATCH} AUPRO (at 128 px)" in render(t, "markdown")
    # pixel_resolution 'native': each test image's own resolution; rows may lack the column
    trials = table2_trials(categories=["carpet", "bottle"], seeds=2, dataset="generated@x")
    trials["pixel_resolution"] = np.where(trials["variant"] == "cutpaste_3way", "native", "image")
    t = build_table(STUDY, trials, meta={"table": "2"})
    trained = [c for c in t.columns if c not in t.controls]      # named by pixel_resolution too, once a field
    patch = next(c for c in trained if "cutpaste_3way_patch" in c)
    gradcam = next(c for c in trained if c != patch)
    assert t.pixel_at[patch] == "256 px" and t.pixel_at[gradcam] == "native resolution"
    assert "native resolution for" in t.caption and f"{gradcam} AUPRO (at native resolution)" in wide(t).columns
    old = build_table(STUDY, table2_trials(categories=["carpet"], seeds=2, dataset="generated@x")
                      .drop(columns="pixel_resolution", errors="ignore"), meta={"table": "2"})
    assert set(old.pixel_at.values()) == {"256 px"}
    assert "Pixel metrics" not in build_table("table1", trials.assign(study="table1"), meta={"table": "1"}).caption


def test_rows_from_before_pixel_resolution_count_as_image_resolution():
    t = build_table(STUDY, table2_trials().drop(columns="pixel_resolution", errors="ignore"), meta={"table": "2"})
    d = t.data.set_index(["row", "column"])
    assert t.data.loc[t.data["column"] == PATCH, "paper"].notna().all(), t.caption
    assert d.loc[("all", GRADCAM), "paper"] == pytest.approx(0.883)   # the paper's only GradCAM number


@pytest.mark.skipif("pixel_resolution" not in FIELD_TYPES, reason="pixel_resolution is not a config field yet")
def test_native_pixel_resolution_is_not_table2s_protocol_but_leaves_image_auc_tables_alone():
    t = build_table(STUDY, table2_trials(pixel_resolution="native"), meta={"table": "2"})
    assert t.data["paper"].isna().all() and "pixel_resolution native vs image" in t.caption
    t1 = table2_trials(models={("cutpaste_3way", 65536): (0.9, 0.6)}, pixel_resolution="native")
    t = build_table("table1", t1.assign(study="table1"), meta={"table": "1"})
    assert t.data["paper"].notna().all(), t.caption
