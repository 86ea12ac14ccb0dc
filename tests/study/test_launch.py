import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from study.launch import main

REQUIRED = ["trial_key", "study", "variant", "category", "seed", "dataset", "image_size", "steps",
            "batch_size", "lr", "backbone", "pretrained", "area_ratio_min", "area_ratio_max",
            "aspect_ratio_min", "scar_width_min", "image_auc", "pixel_auc", "val_auc", "auc_by_defect",
            "status", "error", "train_seconds", "eval_seconds", "images_per_second", "device", "node_id",
            "hostname", "started_at", "finished_at", "code_version", "torch_version", "ray_version"]
TINY = ["--set", "steps=2", "--set", "image_size=32", "--set", "batch_size=4"]


def test_dry_run_counts_trials_and_starts_nothing(small_dataset, tmp_path, capsys):
    assert main(["--study", "table5_heads", "--data-root", str(small_dataset), "--dry-run",
                 "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    # 4 variants x 2 categories x 5 seeds, and one untrained control per category and seed
    assert "trials: 50" in out and "machine-hours" in out
    assert "   40 x resnet18 trained from scratch" in out and "   10 x resnet18 untrained + GDE" in out
    assert not (tmp_path / "r").exists()


def test_category_missing_from_the_dataset_fails_before_any_trial(small_dataset, tmp_path, capsys):
    assert main(["--data-root", str(small_dataset), "--categories", "bottle,zipper",
                 "--results", str(tmp_path / "r")]) == 2
    assert "zipper" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_small_study_on_real_ray_writes_rows_and_a_rerun_skips_them(table5_carpet):
    # the study as the launcher that won the lock ran it (tests/study/conftest.py; the lock test
    # reads the same run)
    n = table5_carpet["trials"]
    first = next((r for r in table5_carpet["runs"] if r.returncode == 0), table5_carpet["runs"][0])
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    results = table5_carpet["results"]
    df = pd.read_parquet(results / "trials")
    assert len(df) == n and df["trial_key"].nunique() == n and set(df["status"]) == {"ok"}
    assert not set(REQUIRED) - set(df.columns)
    assert df["image_auc"].between(0, 1).all()
    scores = pd.read_parquet(results / "scores")
    assert len(scores) == n * 15
    second = subprocess.run(table5_carpet["cmd"], capture_output=True, text=True, env=table5_carpet["env"],
                            timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{n} already done (skipped), 0 to run" in second.stdout
    again = pd.read_parquet(results / "trials")
    assert len(again) == n and again["trial_key"].nunique() == n


@pytest.mark.slow
def test_sigkilled_launcher_resumes_and_keeps_each_trial_key_once(small_dataset, table5_carpet_args, tmp_path):
    import signal
    import time
    n = table5_carpet_args["trials"]
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "study.launch", "--data-root", str(small_dataset), "--results", str(results),
           *table5_carpet_args["args"]]
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and not list((results / "trials").rglob("*.parquet")):
            time.sleep(0.5)
        assert list((results / "trials").rglob("*.parquet")), (tmp_path / "first.log").read_text()[-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its embedded Ray, mid-study
        proc.wait()
    killed_rows = len(pd.read_parquet(results / "trials"))
    assert 1 <= killed_rows < n
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"{killed_rows} already done (skipped), {n - killed_rows} to run" in second.stdout
    df = pd.read_parquet(results / "trials")
    assert len(df) == n and df["trial_key"].nunique() == n and set(df["status"]) == {"ok"}


@pytest.mark.slow
def test_hpo_study_stops_some_trials_early_and_records_val_and_test_auc(small_dataset, tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "study.launch", "--study", "hpo_cutpaste", "--categories", "bottle",
           "--budget", "smoke", "--data-root", str(small_dataset), "--results", str(results),
           "--set", "steps=8", "--set", "eval_interval=2", "--set", "image_size=32", "--set", "batch_size=4",
           "--set", "val_fraction=0.25"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    df = pd.read_parquet(results / "trials")
    assert len(df) == 8 and df["trial_key"].nunique() == 8
    assert df["val_auc"].notna().all() and df["image_auc"].notna().all()
    assert (df["status"] == "stopped").any() and (df["status"] == "ok").any()
    assert df["lr"].nunique() == 8  # Optuna sampled a different lr each time
    assert "best configuration per category" in out.stdout
    assert (results / "hpo" / "hpo_cutpaste" / "best.json").exists()
    # a search keeps its best model without --keep-models: the ok trial with the best val_auc
    from study.results.models import kept_keys
    kept = sorted(p.name for p in (results / "models" / "hpo_cutpaste").iterdir())
    assert kept == sorted(kept_keys(df, "best")) and len(kept) == 1
    assert (results / "models" / "hpo_cutpaste" / kept[0] / "bundle.json").is_file()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "8 of 8 search trials done, running 0" in again.stdout
    assert "starting an embedded Ray" not in again.stdout      # nothing left to run: no Ray start
    assert json.loads((results / "hpo" / "hpo_cutpaste" / "best.json").read_text())   # rewritten, not lost


@pytest.mark.slow
def test_keep_models_best_keeps_one_bundle_per_category_chosen_by_val_auc(small_dataset, tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "study.launch", "--study", "demo", "--categories", "bottle,carpet",
           "--data-root", str(small_dataset), "--results", str(results), "--keep-models", "best",
           "--set", "head_steps=1"] + TINY
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    df = pd.read_parquet(results / "trials")
    assert len(df) == 4                                     # a fine-tuned trial and its control per category
    models = results / "models" / "demo"
    kept = {p.name for p in models.iterdir()}
    best = {cat: g.sort_values("val_auc").iloc[-1]["trial_key"]
            for cat, g in df[(df["status"] == "ok") & (df["pretrained"] == "finetune")].groupby("category")}
    assert kept == set(best.values())
    assert "[study] kept models: 2 bundle(s)" in out.stdout
