"""Tables: the numbers equal a hand computation, and the paper sits beside only MVTec results."""
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analysis.stats import ensemble_auc
from analysis.tables import build_table, render, wide

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


def test_paper_numbers_and_differences_sit_beside_mvtec_results():
    t = build_table("table1", known_trials())
    c = cell(t, "carpet", "cutpaste_3way")
    assert c["paper"] == pytest.approx(0.931) and c["paper_se"] == pytest.approx(0.011)
    assert c["diff"] == pytest.approx(0.92 - 0.931)
    assert cell(t, "all", "cutpaste")["paper"] == pytest.approx(0.909)
    md = render(t, "markdown")
    assert "mvtec_ad@abc" in md and "budget paper" in md
    assert "| carpet | 92.0 ± 1.2 (n=3) | 93.1 | -1.1 |" in md   # n is shown where it is not the paper's 5
    assert "(n=2)" in md


def test_other_datasets_get_no_paper_columns_and_the_caption_says_why():
    t = build_table("table1", known_trials("generated@f00"))
    assert t.data["paper"].isna().all()
    md = render(t, "markdown")
    assert "generated@f00" in md and "not on MVTec AD" in md and "paper |" not in md


def test_table7_columns_map_to_the_papers_lr_and_epoch_rows():
    rows = []
    for lr, steps in ((0.1, 65536), (0.03, 65536), (0.03, 32768)):
        for cat in ("carpet", "bottle"):
            rows.append({"trial_key": f"{lr}{steps}{cat}", "study": "table7_optim", "variant": "cutpaste_3way",
                         "category": cat, "seed": 0, "lr": lr, "steps": steps, "dataset": "mvtec_ad@x",
                         "status": "ok", "image_auc": 0.9})
    t = build_table("table7_optim", pd.DataFrame(rows))
    assert cell(t, "all", "steps=65536, lr=0.1")["paper"] == pytest.approx(0.953)
    assert cell(t, "all", "steps=32768, lr=0.03")["paper"] == pytest.approx(0.954)   # epochs=128


def test_ensemble_auc_equals_a_direct_computation_from_standardised_scores():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(20), np.ones(10)]
    paths = [f"img{i}.png" for i in range(30)]
    trials, scores = [], []
    stats = {"a": (5.0, 2.0), "b": (-1.0, 0.5), "c": (100.0, 10.0)}
    for key, (mu, sd) in stats.items():
        s = mu + sd * (rng.normal(size=30) + labels * rng.uniform(0.5, 1.5))
        trials.append({"trial_key": key, "train_score_mean": mu, "train_score_std": sd})
        scores.append(pd.DataFrame({"trial_key": key, "image_path": paths, "label": labels, "score": s}))
    trials, scores = pd.DataFrame(trials), pd.concat(scores)
    z = sum((scores[scores.trial_key == k]["score"].to_numpy() - mu) / sd for k, (mu, sd) in stats.items()) / 3
    assert ensemble_auc(trials, scores, ["a", "b", "c"]) == pytest.approx(roc_auc_score(labels, z))
    # without standardisation the large-scale model "c" would dominate: the results differ
    raw = sum(scores[scores.trial_key == k]["score"].to_numpy() for k in stats) / 3
    assert roc_auc_score(labels, raw) != pytest.approx(roc_auc_score(labels, z))


def test_table1_from_real_trials_has_an_ensemble_column(results_dir):
    from study.sink import read_scores, read_trials
    t = build_table("table1", read_trials(str(results_dir)), read_scores(str(results_dir)))
    assert t.columns[-1] == "ensemble of 2 seeds (cutpaste_3way)"
    ens = cell(t, "carpet", t.columns[-1])
    assert 0 <= ens["mean"] <= 1 and ens["n"] == 2


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
