"""End to end on a non-MVTec layout: the generated MVTec LOCO AD through launch and analysis."""
import os
import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

SPEC = """name: loco_e2e
table: 1
description: 3-way CutPaste, ResNet-18 from scratch, on two generated LOCO categories
budget: smoke
base:
  variant: cutpaste_3way
  backbone: resnet18
  pretrained: none
controls: false
categories: all
seeds: 1
resources:
  cpu: 1
  gpu: 0
"""


def test_loco_layout_runs_through_launch_and_tables_show_its_group(tmp_path, small_spec):
    from trainables.data.generated import generate_layout
    data = generate_layout("mvtec_loco", tmp_path / "loco", small_spec, workers=1, verbose=False)
    spec = tmp_path / "loco_e2e.yaml"
    spec.write_text(SPEC)
    results = str(tmp_path / "results")
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    run = subprocess.run([sys.executable, "-m", "study.launch", "--study", str(spec), "--data-root", str(data),
                          "--categories", "breakfast_box,pushpins", "--budget", "smoke", "--results", results,
                          "--set", "steps=2", "--set", "image_size=32", "--set", "batch_size=4"],
                         capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    df = pd.read_parquet(f"{results}/trials")
    assert sorted(df["category"]) == ["breakfast_box", "pushpins"] and set(df["status"]) == {"ok"}
    assert df["dataset"].str.startswith("generated_mvtec_loco@").all()
    for col in ("image_auc_logical", "image_auc_structural"):     # separate columns, both filled
        assert df[col].between(0, 1).all()
    assert df["threshold_source"].str.startswith("validation_good:").all()   # LOCO's own validation split
    tables = subprocess.run([sys.executable, "-m", "analysis", "tables", "--results", results],
                            capture_output=True, text=True, timeout=300)
    assert tables.returncode == 0, tables.stderr[-3000:]
    first = tables.stdout.split("\n\n**")[0]           # the study's table (per-defect tables follow)
    rows = [line.split("|")[1].strip() for line in first.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["breakfast_box", "pushpins", "mvtec_loco", "all"]
    assert "generated_mvtec_loco@" in tables.stdout
