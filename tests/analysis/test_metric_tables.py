"""AUROC per defect type, and AUPRO beside pixel AUROC in Table 2: numbers equal a hand computation."""
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis.tables.metrics import defect_table
from analysis.tables.formats import render, render_defects, wide, wide_defects
from analysis.tables.build import build_table


def se(values):
    return np.std(values, ddof=1) / math.sqrt(len(values))


def _row(study, var, cat, seed, **metrics):
    return {"trial_key": f"{study}-{cat}-{var}-{seed}", "study": study, "variant": var, "category": cat,
            "seed": seed, "steps": 65536, "dataset": "generated@abc", "budget": "smoke", "status": "ok",
            "train_score_mean": 0.0, "train_score_std": 1.0, **metrics}


def test_defect_table_is_mean_and_se_over_seeds_per_category_and_defect_type():
    by_defect = {("bottle", "cutpaste_3way"): [{"broken": 0.9, "contamination": 0.7}, {"broken": 0.8, "contamination": 0.5}],
                 ("bottle", "cutpaste"): [{"broken": 0.6, "contamination": 0.4}],
                 ("carpet", "cutpaste_3way"): [{"hole": 1.0}, {"hole": 0.96}]}
    rows = [_row("table1", v, c, s, image_auc=0.5, auc_by_defect=list(d.items()) if s else d)   # Parquet gives pairs
            for (c, v), seeds in by_defect.items() for s, d in enumerate(seeds)]
    rows.append({**_row("table1", "cutpaste", "carpet", 9, image_auc=None), "status": "failed"})   # ignored
    t = defect_table("table1", pd.DataFrame(rows), "generated@abc")
    d = t.data.set_index(["category", "defect_type", "column"])
    assert d.loc[("bottle", "broken", "cutpaste_3way"), "mean"] == pytest.approx(0.85)
    assert d.loc[("bottle", "contamination", "cutpaste_3way"), "se"] == pytest.approx(se([0.7, 0.5]))
    assert d.loc[("bottle", "broken", "cutpaste"), "n"] == 1 and np.isnan(d.loc[("bottle", "broken", "cutpaste"), "se"])
    assert ("carpet", "hole", "cutpaste") not in d.index
    w = wide_defects(t)
    # MVTec order: carpet (texture) before bottle (object); one line per (category, defect type)
    assert w[["category", "defect type"]].values.tolist() == [["carpet", "hole"], ["bottle", "broken"],
                                                              ["bottle", "contamination"]]
    assert w.loc[1, "cutpaste_3way"] == "85.0 ± 5.0" and w.loc[1, "cutpaste"] == "60.0 (n=1)"
    assert w.loc[0, "cutpaste"] == ""
    md = render_defects(t, "markdown")
    assert "AUROC per defect type" in md and "| bottle | contamination | 60.0 ± 10.0 | 40.0 (n=1) |" in md
    assert defect_table("nope", pd.DataFrame(rows)) is None


def test_table2_shows_aupro_beside_pixel_auroc_averaged_like_it():
    known = {("carpet", "cutpaste_3way_patch"): ([0.90, 0.94], [0.70, 0.80]),
             ("grid", "cutpaste_3way_patch"): ([0.80, 0.84], [0.60, 0.64]),
             ("bottle", "cutpaste_3way_patch"): ([0.96, 0.98], [0.85, 0.95]),
             ("carpet", "cutpaste_3way"): ([0.70, 0.72], [None, None])}    # GradCAM trials with no AUPRO
    rows = [_row("table2_localization", v, c, s, image_auc=0.9, pixel_auc=p, aupro=a,
                 gradcam=v == "cutpaste_3way")
            for (c, v), (ps, aus) in known.items() for s, (p, a) in enumerate(zip(ps, aus))]
    t = build_table("table2_localization", pd.DataFrame(rows))
    d = t.data.set_index(["row", "column"])
    patch = "variant=cutpaste_3way_patch, gradcam=False"
    assert patch in t.columns, t.columns
    assert d.loc[("carpet", patch), "aupro_mean"] == pytest.approx(0.75)
    assert d.loc[("carpet", patch), "aupro_se"] == pytest.approx(se([0.70, 0.80]))
    assert d.loc[("carpet", patch), "mean"] == pytest.approx(0.92)          # pixel AUROC unchanged
    assert d.loc[("texture", patch), "aupro_mean"] == pytest.approx((0.75 + 0.62) / 2)
    assert d.loc[("all", patch), "aupro_se"] == pytest.approx((se([0.7, 0.8]) + se([0.6, 0.64]) + se([0.85, 0.95])) / 3)
    w = wide(t).set_index("")
    assert w.loc["carpet", f"{patch} AUPRO (at 256 px)"] == "75.0 ± 5.0"      # rows without image_size: the default
    gradcam = "variant=cutpaste_3way, gradcam=True"
    assert not [c for c in w.columns if c.startswith(f"{gradcam} AUPRO")]   # no AUPRO: no empty column
    assert "AUPRO" in t.caption and "Bergmann" in t.caption
    assert "AUPRO" not in wide(build_table("table1", pd.DataFrame([{**r, "study": "table1"} for r in rows]))).columns


def test_tables_cli_prints_the_per_defect_table_and_aupro_beside_pixel_auroc(results_dir, tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "analysis", "tables", "--results", str(results_dir), *a],
                                    capture_output=True, text=True, timeout=300)
    md = run()
    assert md.returncode == 0, md.stderr
    assert "AUROC per defect type (%), study 'table1'" in md.stdout
    assert "| carpet | hole |" in md.stdout and "| bottle | broken_large |" in md.stdout
    table2 = md.stdout.split("Table 2: pixel-level localization AUC")[1].split("\n\n")[1]
    header = table2.splitlines()[0]
    assert "| cutpaste_3way_patch AUPRO (at 32 px) |" in header and "| cutpaste_3way AUPRO (at 32 px) |" in header
    r = run("--format", "csv", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    csv = pd.read_csv(tmp_path / "table1_by_defect.csv")
    assert {"category", "defect_type", "column", "mean", "se", "n"} <= set(csv.columns)
    assert csv["mean"].between(0, 1).all()
    t2 = pd.read_csv(tmp_path / "table2_localization.csv")
    assert t2["aupro_mean"].dropna().between(0, 1).all() and t2["aupro_mean"].notna().any()
