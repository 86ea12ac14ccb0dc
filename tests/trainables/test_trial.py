import json
import os
import subprocess
import sys

import pytest

from trainables.trial import run_trial

TINY = {"image_size": 32, "batch_size": 4, "steps": 3, "embedding_sample": 4, "threads": 1}


def test_same_seed_gives_the_same_auc_and_scores(small_dataset):
    a = run_trial({"category": "bottle", "seed": 5, **TINY}, data_root=small_dataset)
    b = run_trial({"category": "bottle", "seed": 5, **TINY}, data_root=small_dataset)
    assert a.metrics["image_auc"] == b.metrics["image_auc"]
    assert a.scores["score"] == b.scores["score"]
    c = run_trial({"category": "bottle", "seed": 6, **TINY}, data_root=small_dataset)
    assert c.scores["score"] != a.scores["score"]


def test_trial_reports_each_evaluation_and_scores_every_test_image(small_dataset):
    seen = []
    r = run_trial({"category": "carpet", "eval_interval": 1, **TINY}, data_root=small_dataset,
                  report=lambda m, state: seen.append((m["step"], state["step"])))
    assert seen == [(1, 1), (2, 2), (3, 3)]
    assert 0 <= r.metrics["image_auc"] <= 1
    assert len(r.scores["score"]) == len(r.scores["label"]) == 6 + 9
    assert set(r.metrics["auc_by_defect"]) == {"hole", "color", "thread"}
    assert r.metrics["images_per_second"] > 0 and r.metrics["dataset"].startswith("generated@")
    # 3-way trains 3 images per source image
    assert r.metrics["train_score_std"] > 0
    # out-of-fold null statistics of the 12 fit images: not the in-sample ones
    assert r.metrics["null_score_method"] == "crossfit5:train_good" and r.metrics["null_score_std"] > 0
    assert r.metrics["null_score_mean"] != pytest.approx(r.metrics["train_score_mean"])
    assert [h["step"] for h in r.history] == [1, 2, 3] and r.history[-1]["image_auc"] == r.metrics["image_auc"]
    assert r.history_columns("k")["trial_key"] == ["k"] * 3


def test_resuming_from_a_reported_state_matches_an_uninterrupted_run(small_dataset):
    states = []
    full = run_trial({"category": "bottle", "eval_interval": 1, **TINY}, data_root=small_dataset,
                     report=lambda m, s: states.append(s))
    resumed = run_trial({"category": "bottle", "eval_interval": 1, **TINY}, data_root=small_dataset,
                        initial_state=states[0])
    assert resumed.scores["score"] == pytest.approx(full.scores["score"])
    assert [h["step"] for h in resumed.history] == [1, 2, 3]   # the checkpoint carries the curve so far


def test_cli_prints_json_with_the_documented_keys(small_dataset):
    out = subprocess.run(
        [sys.executable, "-m", "trainables.run", "--data-root", str(small_dataset), "--category", "carpet",
         "--variant", "cutpaste", "--budget", "smoke", "--json"] + sum([["--set", f"{k}={v}"] for k, v in TINY.items()], []),
        capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("image_auc", "auc_by_defect", "train_seconds", "eval_seconds", "images_per_second", "config",
                "null_score_mean", "null_score_std", "null_score_method"):
        assert key in result
    assert result["config"]["variant"] == "cutpaste" and result["config"]["steps"] == 3


def test_cli_names_an_unknown_category_and_exits_2(small_dataset):
    out = subprocess.run([sys.executable, "-m", "trainables.run", "--data-root", str(small_dataset),
                          "--category", "bottel"], capture_output=True, text=True, env=os.environ.copy())
    assert out.returncode == 2 and "bottel" in out.stderr and "bottle" in out.stderr
