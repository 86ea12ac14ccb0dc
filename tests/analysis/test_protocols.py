"""A protocol is the whole method: a paper number sits beside a cell only when every config
field that changes the method is the paper's, and the caption names any that is not."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.paper.protocols import METHOD_FIELDS, MVTEC_CATEGORIES, NOT_METHOD_FIELDS, TABLE_KINDS, Protocol
from analysis.tables.formats import render
from analysis.tables.build import build_table
from trainables.config import TrialConfig

PAPER = {k: v for k, v in TrialConfig(val_fraction=0.0).to_dict().items() if k not in ("variant", "category", "seed")}


def table1_trials(seeds: int = 5, categories=MVTEC_CATEGORIES, variants=("cutpaste_3way", "cutpaste"),
                  dataset: str = "mvtec_ad@abc", controls: bool = True, **changes) -> pd.DataFrame:
    """Table 1 at the paper's protocol (every config column, as the sink writes it), made-up AUCs."""
    rng = np.random.default_rng(7)
    rows = []
    for cat in categories:
        for var in variants:
            for seed in range(seeds):
                rows.append({**PAPER, "trial_key": f"{cat}-{var}-{seed}", "study": "table1", "variant": var,
                             "category": cat, "seed": seed, "dataset": dataset, "budget": "paper", "status": "ok",
                             "image_auc": 0.93 + rng.uniform(-0.03, 0.03), **changes})
        for seed in range(seeds if controls else 0):
            rows.append({**PAPER, "trial_key": f"{cat}-ctl-{seed}", "study": "table1", "variant": "cutpaste_3way",
                         "category": cat, "seed": seed, "dataset": dataset, "budget": "paper", "status": "ok",
                         "image_auc": 0.75 + rng.uniform(-0.03, 0.03), **changes, "steps": 0})
    return pd.DataFrame(rows)


def test_compared_fields_are_every_trialconfig_field_but_the_named_bookkeeping():
    names = [f.name for f in dataclasses.fields(TrialConfig)]
    assert list(METHOD_FIELDS) == [n for n in names if n not in NOT_METHOD_FIELDS]
    assert set(NOT_METHOD_FIELDS) < set(names)
    for f in ("lr", "momentum", "weight_decay", "density", "feature_layers", "head_depth", "head_width",
              "embed_dim", "area_ratio_max", "scar_width_max", "patch_size", "val_fraction", "finetune_lr"):
        assert f in METHOD_FIELDS
    for f in ("seed", "category", "precision", "eval_interval", "threshold_fpr", "heatmap_sample", "device"):
        assert f not in METHOD_FIELDS
    # the paper's values are TrialConfig's defaults with a table's own changes
    assert TABLE_KINDS["1"].protocol.fields["lr"] == 0.03 and TABLE_KINDS["1"].protocol.fields["val_fraction"] == 0
    assert TABLE_KINDS["3"].protocol.fields["backbone"] == "timm/efficientnet_b4"
    assert "lr" not in TABLE_KINDS["7"].protocol.fields and "jitter" not in TABLE_KINDS["8"].protocol.fields
    with pytest.raises(ValueError, match="lrr"):
        Protocol({"lrr": 0.1})


def test_table1_at_the_papers_protocol_shows_the_paper_column():
    t = build_table("table1", table1_trials())
    d = t.data.set_index(["row", "column"])
    assert d.loc[("carpet", "cutpaste_3way"), "paper"] == pytest.approx(0.931)
    assert d.loc[("all", "cutpaste"), "paper"] == pytest.approx(0.909)
    assert d.loc[("all", "cutpaste_3way"), "paper"] == pytest.approx(0.952)
    assert t.data.loc[~t.data["is_control"], "paper"].notna().all()
    assert "cutpaste_3way paper" in render(t, "markdown") and "do not follow" not in t.caption


METHOD_CHANGES = [("lr", 0.1, "lr 0.1 vs 0.03"), ("density", "gmm", "density gmm vs ledoit_wolf"),
                  ("feature_layers", "layer3,layer4", "feature_layers layer3,layer4 vs layer4"),
                  ("head_depth", 1, "head_depth 1 vs 2"), ("area_ratio_max", 0.2, "area_ratio_max 0.2 vs 0.15"),
                  ("scar_width_max", 8.0, "scar_width_max 8 vs 16"),
                  ("weight_decay", 1e-4, "weight_decay 0.0001 vs 3e-05"), ("momentum", 0.8, "momentum 0.8 vs 0.9"),
                  ("jitter", 0.2, "jitter 0.2 vs 0.1"), ("embed_dim", 64, "embed_dim 64 vs 128"),
                  ("patch_size", 32, "patch_size 32 vs 64"), ("translate", 0.0, "translate 0 vs 0.1")]


@pytest.mark.parametrize("name,value,why", METHOD_CHANGES, ids=[c[0] for c in METHOD_CHANGES])
def test_changing_any_method_field_removes_the_paper_column_and_the_caption_names_it(name, value, why):
    t = build_table("table1", table1_trials(**{name: value}))
    assert t.data["paper"].isna().all() and t.data["diff"].isna().all()
    assert why in t.caption, t.caption
    assert "paper |" not in render(t, "markdown")


@pytest.mark.parametrize("name,value", [("eval_interval", 4096), ("threads", 4), ("heatmap_sample", 0),
                                        ("threshold_fpr", 0.05), ("embedding_sample", 8), ("gradcam", True)])
def test_bookkeeping_fields_do_not_remove_the_paper_column(name, value):
    t = build_table("table1", table1_trials(**{name: value}))
    assert t.data.loc[~t.data["is_control"], "paper"].notna().all()


def test_precision_is_not_compared_but_named_in_the_caption():
    trials = table1_trials()
    trials["precision"] = np.where(trials["seed"] % 2 == 0, "bf16", "fp32")
    t = build_table("table1", trials)
    assert t.data.loc[~t.data["is_control"], "paper"].notna().all()
    assert "Precision (recorded, not part of the protocol check): bf16, fp32." in t.caption


def test_a_field_older_rows_did_not_record_is_an_unrecorded_mismatch():
    # absent column: no guessing that the old code ran the default
    t = build_table("table1", table1_trials().drop(columns=["head_depth"]))
    assert t.data["paper"].isna().all() and "head_depth unrecorded vs 2" in t.caption
    # present but null in some rows (files from before and after the field, read together)
    trials = table1_trials()
    trials.loc[trials["seed"] == 0, "density"] = None
    t = build_table("table1", trials)
    assert t.data["paper"].isna().all() and "density ledoit_wolf, unrecorded vs ledoit_wolf" in t.caption
    # an integer column read back as float next to nulls is still compared by value
    trials = table1_trials()
    trials["steps"] = trials["steps"].astype(float)
    assert build_table("table1", trials).data.loc[lambda d: ~d["is_control"], "paper"].notna().all()


def test_a_tables_free_fields_stay_free():
    t = build_table("table7_optim", table1_trials(variants=("cutpaste_3way",), controls=False, lr=0.1)
                    .assign(study="table7_optim"), meta={"table": "7"})
    assert t.data["paper"].notna().any() and "lr 0.1" not in t.caption
    t = build_table("table7_optim", table1_trials(variants=("cutpaste_3way",), controls=False, lr=0.1, density="gmm")
                    .assign(study="table7_optim"), meta={"table": "7"})
    assert t.data["paper"].isna().all() and "density gmm vs ledoit_wolf" in t.caption


# --------------------------------------------------------------------- ensembles


def with_scores(trials: pd.DataFrame, n_good: int = 6, n_defect: int = 4, drop_seed: int | None = None):
    """Per-image scores for every trained trial (the same images per category) and null stats."""
    rng = np.random.default_rng(3)
    trials = trials.assign(null_score_mean=0.0, null_score_std=1.0, null_score_method="crossfit5:train_good")
    labels = np.r_[np.zeros(n_good, int), np.ones(n_defect, int)]
    parts = []
    for r in trials[(trials["steps"] > 0) & (trials["seed"] != drop_seed)].itertuples():
        parts.append(pd.DataFrame({"trial_key": r.trial_key, "image_path": [f"{r.category}/{i}.png" for i in
                                                                            range(len(labels))],
                                   "label": labels, "defect_type": np.where(labels, "crack", "good"),
                                   "score": rng.normal(1.5 * labels, 1.0)}))
    return trials, pd.concat(parts, ignore_index=True)


def test_only_an_ensemble_of_five_protocol_matching_3way_models_gets_the_papers_ensemble():
    both = pd.concat([table1_trials(variants=("cutpaste_3way",), controls=False),
                      table1_trials(variants=("cutpaste_3way",), controls=False, lr=0.1)
                      .assign(trial_key=lambda d: d["trial_key"] + "-lr0.1")], ignore_index=True)
    trials, scores = with_scores(both)
    t = build_table("table1", trials, scores)
    paper_cfg, other = "ensemble of 5 seeds (cutpaste_3way, lr=0.03)", "ensemble of 5 seeds (cutpaste_3way, lr=0.1)"
    assert {paper_cfg, other} <= set(t.columns), t.columns
    d = t.data.set_index(["row", "column"])
    assert d.loc[("carpet", paper_cfg), "paper"] == pytest.approx(0.939)
    assert d.loc[("all", paper_cfg), "paper"] == pytest.approx(0.961)
    assert t.data.loc[t.data["column"] == other, "paper"].isna().all()     # its members are at lr 0.1


def test_an_ensemble_of_fewer_than_five_models_gets_no_paper_value():
    trials, scores = with_scores(table1_trials(variants=("cutpaste_3way",)), drop_seed=4)   # seed 4 has no scores
    t = build_table("table1", trials, scores)
    ens = [c for c in t.columns if c.startswith("ensemble")]
    assert ens == ["ensemble of 4 seeds (cutpaste_3way)"]
    assert t.data.loc[t.data["column"] == ens[0], "paper"].isna().all()
    assert t.data.loc[t.data["column"] == "cutpaste_3way", "paper"].notna().all()   # its 5 trained seeds match
    assert "ensemble of 4 models vs 5" in t.caption


# --------------------------------------------------------------------- power


@pytest.mark.parametrize("categories,says", [(MVTEC_CATEGORIES[:5], True), (MVTEC_CATEGORIES, False)])
def test_caption_says_when_no_comparison_can_reach_significance(categories, says):
    t = build_table("table1", table1_trials(categories=categories, dataset="generated@x"))
    assert len(t.tests) == 2                    # each trained column against the untrained control
    note = "No comparison in this table can reach significance with this many categories"
    assert (note in t.caption) is says
    if says:
        assert "n = 5 categories" in t.caption and "2/2^5 = 0.0625" in t.caption and "0.125" in t.caption
        assert not t.tests["significant"].any()


def test_table3_compares_its_own_recipe_and_leaves_the_unstated_image_size_free():
    rows = []
    for cat in MVTEC_CATEGORIES:
        for pretrained in ("frozen", "finetune"):
            for seed in range(5):
                rows.append({**PAPER, "backbone": "timm/efficientnet_b4", "batch_size": 24, "steps": 16384,
                             "image_size": 380, "pretrained": pretrained, "trial_key": f"{cat}-{pretrained}-{seed}",
                             "study": "table3_pretrained", "variant": "cutpaste_3way", "category": cat, "seed": seed,
                             "dataset": "mvtec_ad@abc", "budget": "paper", "status": "ok", "image_auc": 0.95})
    trials = pd.DataFrame(rows)
    t = build_table("table3_pretrained", trials, meta={"table": "3"})
    d = t.data.set_index(["row", "column"])
    frozen = next(c for c in t.columns if "ImageNet-frozen" in c)
    tuned = next(c for c in t.columns if c not in t.controls)
    assert d.loc[("carpet", frozen), "paper"] == pytest.approx(0.983)     # pool_pretrain: the table's control
    assert d.loc[("carpet", tuned), "paper"] == pytest.approx(1.0)       # pool_finetune
    t = build_table("table3_pretrained", trials.assign(finetune_lr=1e-3), meta={"table": "3"})
    assert t.data["paper"].isna().all() and "finetune_lr 0.001 vs 0.0001" in t.caption
