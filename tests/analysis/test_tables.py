"""Tables: the numbers equal a hand computation, and the paper sits beside only MVTec results."""
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analysis.stats.ensemble import ensemble_auc
from analysis.tables.formats import render, wide
from analysis.tables.build import build_table

# per (category, variant): AUCs of seeds
KNOWN = {
    ("carpet", "cutpaste_3way"): [0.90, 0.94, 0.92],
    ("grid", "cutpaste_3way"): [0.80, 0.84],
    ("bottle", "cutpaste_3way"): [1.00, 0.98, 0.99],
    ("carpet", "cutpaste"): [0.70, 0.72, 0.74],
    ("grid", "cutpaste"): [0.60, 0.64, 0.62],
    ("bottle", "cutpaste"): [0.95, 0.97, 0.96],
}


def known_trials(dataset: str = "mvtec_ad@abc") -> pd.DataFrame:
    rows = []
    for (cat, var), aucs in KNOWN.items():
        for seed, auc in enumerate(aucs):
            rows.append({"trial_key": f"{cat}-{var}-{seed}", "study": "table1", "variant": var, "category": cat,
                         "seed": seed, "lr": 0.03, "steps": 65536, "dataset": dataset, "budget": "paper",
                         "status": "ok", "image_auc": auc, "train_score_mean": 0.0, "train_score_std": 1.0})
    return pd.DataFrame(rows)


def se(values):
    return np.std(values, ddof=1) / math.sqrt(len(values))


def cell(table, row, column):
    d = table.data
    return d[(d["row"] == row) & (d["column"] == column)].iloc[0]


def test_cells_are_mean_and_standard_error_over_seeds():
    t = build_table("table1", known_trials())
    c = cell(t, "carpet", "cutpaste_3way")
    assert c["mean"] == pytest.approx(0.92) and c["n"] == 3
    assert c["se"] == pytest.approx(se([0.90, 0.94, 0.92]))


def test_group_rows_average_per_category_means_and_ses_like_the_paper():
    t = build_table("table1", known_trials())
    tex = cell(t, "texture", "cutpaste")
    assert tex["mean"] == pytest.approx((0.72 + 0.62) / 2)
    assert tex["se"] == pytest.approx((se([0.70, 0.72, 0.74]) + se([0.60, 0.64, 0.62])) / 2)
    allrow = cell(t, "all", "cutpaste_3way")
    assert allrow["mean"] == pytest.approx((0.92 + 0.82 + 0.99) / 3)
    assert allrow["se"] == pytest.approx((se([0.90, 0.94, 0.92]) + se([0.80, 0.84]) + se([1.0, 0.98, 0.99])) / 3)
    obj = cell(t, "object", "cutpaste")
    assert obj["mean"] == pytest.approx(0.96)
    assert list(wide(t)[""]) == ["carpet", "grid", "bottle", "texture", "object", "all"]


def _paper_config() -> dict:
    """Every config column a real row carries, at the paper's values (TrialConfig's defaults,
    val_fraction 0): the protocol check compares them all, and a missing one is 'unrecorded'."""
    from trainables.config import TrialConfig
    values = TrialConfig(val_fraction=0.0).to_dict()
    return {k: v for k, v in values.items() if k not in ("variant", "category", "seed")}


PROTOCOL = _paper_config()


def protocol_trials(dataset: str = "mvtec_ad@abc", seeds: int = 5, categories=None, **changes) -> pd.DataFrame:
    """Table 1 at the paper's protocol: 15 categories x 5 seeds, made-up AUCs, plus controls."""
    from trainables.data import MVTEC_CATEGORIES
    rng = np.random.default_rng(1)
    rows = []
    for cat in categories or MVTEC_CATEGORIES:
        for var, base in (("cutpaste_3way", 0.95), ("cutpaste", 0.90)):
            for seed in range(seeds):
                rows.append({"trial_key": f"{cat}-{var}-{seed}", "study": "table1", "variant": var, "category": cat,
                             "seed": seed, "dataset": dataset, "budget": "paper", "status": "ok",
                             "image_auc": base + rng.uniform(-0.03, 0.03), **PROTOCOL, **changes})
        for seed in range(seeds):
            rows.append({"trial_key": f"{cat}-ctl-{seed}", "study": "table1", "variant": "cutpaste_3way",
                         "category": cat, "seed": seed, "dataset": dataset, "budget": "paper", "status": "ok",
                         "image_auc": 0.75 + rng.uniform(-0.03, 0.03), **{**PROTOCOL, **changes, "steps": 0}})
    return pd.DataFrame(rows)


def test_paper_numbers_and_differences_sit_beside_trials_at_the_papers_protocol():
    trials = protocol_trials()
    t = build_table("table1", trials)
    c = cell(t, "carpet", "cutpaste_3way")
    assert c["paper"] == pytest.approx(0.931) and c["paper_se"] == pytest.approx(0.011)
    mine = trials[(trials.category == "carpet") & (trials.variant == "cutpaste_3way") & (trials.steps > 0)]
    assert c["mean"] == pytest.approx(mine.image_auc.mean()) and c["diff"] == pytest.approx(mine.image_auc.mean() - 0.931)
    # group rows: average of the per-category means, beside the paper's group value
    trained = trials[(trials.steps > 0) & (trials.variant == "cutpaste")]
    per_cat = trained.groupby("category").image_auc.mean()
    textures = ["carpet", "grid", "leather", "tile", "wood"]
    tex = cell(t, "texture", "cutpaste")
    assert tex["mean"] == pytest.approx(per_cat[textures].mean()) and tex["paper"] == pytest.approx(0.917)
    allrow = cell(t, "all", "cutpaste")
    assert allrow["mean"] == pytest.approx(per_cat.mean()) and allrow["paper"] == pytest.approx(0.909)
    assert allrow["diff"] == pytest.approx(per_cat.mean() - 0.909)
    # the control column has no paper counterpart, and the untrained control is never "CutPaste_3way"
    assert t.data.loc[t.data["column"] == "control: untrained", "paper"].isna().all()
    md = render(t, "markdown")
    assert "mvtec_ad@abc" in md and "budget paper" in md and "resnet18 trained from scratch" in md
    assert "cutpaste_3way paper" in md and "(n=" not in md


@pytest.mark.parametrize("change,why", [
    ({"steps": 30}, "steps 30 vs 65,536"), ({"backbone": "efficientnet_lite0"}, "backbone efficientnet_lite0 vs resnet18"),
    ({"seeds": 1}, "seeds 1 vs 5"), ({"val_fraction": 0.1}, "val_fraction 0.1 vs 0"), ({"dataset": "generated@f00"}, "dataset generated vs MVTec AD"),
    ({"categories": ["carpet", "bottle"]}, "texture row has 1 of its 5 categories")])
def test_any_departure_from_the_protocol_drops_paper_values_and_the_caption_says_which(change, why):
    kwargs = dict(change)
    trials = protocol_trials(dataset=kwargs.pop("dataset", "mvtec_ad@abc"), seeds=kwargs.pop("seeds", 5),
                             categories=kwargs.pop("categories", None), **kwargs)
    t = build_table("table1", trials)
    md = render(t, "markdown")
    assert why in t.caption
    if "categories" in change:       # the present categories follow the protocol; the groups do not
        assert cell(t, "carpet", "cutpaste")["paper"] == pytest.approx(0.679)
        assert t.data.loc[t.data["row_type"] == "group", "paper"].isna().all()
    else:
        assert t.data["paper"].isna().all() and "paper |" not in md


def test_a_small_smoke_run_with_mvtec_names_gets_no_paper_values():
    t = build_table("table1", known_trials("copy@f00"))
    assert t.data["paper"].isna().all() and t.data["diff"].isna().all()
    assert "dataset copy vs MVTec AD" in t.caption and "paper |" not in render(t, "markdown")


def test_one_seed_cells_show_no_standard_error_and_the_caption_warns():
    trials = protocol_trials(seeds=1, categories=["carpet", "bottle"])
    t = build_table("table1", trials)
    md = render(t, "markdown")
    assert " ± " not in md.split("\n\n", 1)[1].split("Tests:")[0]
    assert cell(t, "carpet", "cutpaste")["se"] != cell(t, "carpet", "cutpaste")["se"]   # NaN
    assert "one seed" in t.caption


def test_controls_get_a_column_a_paired_difference_and_a_test():
    trials = protocol_trials(dataset="generated@x")
    t = build_table("table1", trials)
    assert t.controls == ["control: untrained"] and t.columns[-1] == "control: untrained"
    c, ctl = cell(t, "grid", "cutpaste_3way"), cell(t, "grid", "control: untrained")
    assert c["control_diff"] == pytest.approx(c["mean"] - ctl["mean"])
    tests = t.tests.set_index("column")
    assert set(tests.index) == {"cutpaste_3way", "cutpaste"} and set(tests["baseline"]) == {"control: untrained"}
    from scipy.stats import wilcoxon
    means = t.data[t.data.row_type == "category"].pivot(index="row", columns="column", values="mean")
    p = wilcoxon(means["cutpaste_3way"] - means["control: untrained"]).pvalue
    assert tests.at["cutpaste_3way", "p_value"] == pytest.approx(p)
    assert tests["significant"].all()               # +15-20 points on every one of 15 categories
    md = render(t, "markdown")
    assert "cutpaste_3way †" in md and "Δ ctrl" in md and "Holm" in md and "Friedman" in md


def test_ensemble_auc_equals_a_direct_computation_from_standardised_scores():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(20), np.ones(10)]
    paths = [f"img{i}.png" for i in range(30)]
    trials, scores = [], []
    stats = {"a": (5.0, 2.0), "b": (-1.0, 0.5), "c": (100.0, 10.0)}
    for key, (mu, sd) in stats.items():
        s = mu + sd * (rng.normal(size=30) + labels * rng.uniform(0.5, 1.5))
        trials.append({"trial_key": key, "null_score_mean": mu, "null_score_std": sd})
        scores.append(pd.DataFrame({"trial_key": key, "image_path": paths, "label": labels, "score": s}))
    trials, scores = pd.DataFrame(trials), pd.concat(scores)
    z = sum((scores[scores.trial_key == k]["score"].to_numpy() - mu) / sd for k, (mu, sd) in stats.items()) / 3
    assert ensemble_auc(trials, scores, ["a", "b", "c"]) == pytest.approx(roc_auc_score(labels, z))
    # without standardisation the large-scale model "c" would dominate: the results differ
    raw = sum(scores[scores.trial_key == k]["score"].to_numpy() for k in stats) / 3
    assert roc_auc_score(labels, raw) != pytest.approx(roc_auc_score(labels, z))


def test_table1_from_real_trials_has_an_ensemble_column(results_dir):
    from study.results.sink import read_scores, read_trials
    t = build_table("table1", read_trials(str(results_dir)), read_scores(str(results_dir)))
    assert t.columns[-1] == "ensemble of 2 seeds (cutpaste_3way)"
    ens = cell(t, "carpet", t.columns[-1])
    assert 0 <= ens["mean"] <= 1 and ens["n"] == 2
    assert "control: untrained" in t.columns
    # every trained cell has a bootstrap interval over its test images (and seeds) around its mean
    for col in ("cutpaste_3way", "cutpaste", "control: untrained"):
        c = cell(t, "bottle", col)
        assert c["ci_low"] - 1e-9 <= c["mean"] <= c["ci_high"] + 1e-9 and c["ci_high"] - c["ci_low"] > 0


def test_tables_cli_prints_markdown_and_writes_latex_and_csv(results_dir, tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "analysis", "tables", "--results", str(results_dir), *a],
                                    capture_output=True, text=True, timeout=120)
    md = run()
    assert md.returncode == 0, md.stderr
    assert "| carpet |" in md.stdout and "| all |" in md.stdout and "generated@" in md.stdout
    for fmt, ext in (("latex", "tex"), ("csv", "csv")):
        r = run("--format", fmt, "--out", str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / f"table1.{ext}").stat().st_size > 200
    assert r"\begin{tabular}" in (tmp_path / "table1.tex").read_text()
    csv = pd.read_csv(tmp_path / "table1.csv")
    assert {"row", "column", "mean", "se", "n", "paper", "diff"} <= set(csv.columns)
    bad = run("--study", "nope")
    assert bad.returncode != 0 and "nope" in bad.stderr
