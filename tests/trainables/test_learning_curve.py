"""A trial's learning curve: loss, accuracy and lr every ``log_interval`` steps, AUCs at evaluations."""
import math
import os
import subprocess
import sys

import pytest

from trainables.trial import curve_steps, run_trial

TINY = {"category": "bottle", "variant": "cutpaste", "image_size": 32, "batch_size": 4, "steps": 6,
        "log_interval": 2, "eval_interval": 3, "embedding_sample": 4, "threads": 1}


def test_curve_points_default_to_about_a_hundred_and_every_step_for_short_trials():
    assert curve_steps(0, 768, 0)[:3] == [7, 14, 21] and len(curve_steps(0, 768, 0)) == 110
    assert curve_steps(0, 30, 0) == list(range(1, 31))
    assert curve_steps(2, 7, 4) == [6, 7]          # a resumed trial: only the steps still ahead, and the last
    assert curve_steps(0, 0, 0) == []              # a frozen control trains nothing


def test_history_has_loss_accuracy_lr_every_interval_and_aucs_where_evaluated(small_dataset):
    seen = []
    r = run_trial(TINY, data_root=small_dataset, report=lambda m, s: seen.append(s))
    assert [h["step"] for h in r.history] == [2, 3, 4, 6]
    for h in r.history:
        assert h["loss"] > 0
        # 2-class CutPaste: 8 images a step, so a mean over n steps is a multiple of 1 / (8 n)
        n = {2: 2, 3: 1, 4: 1, 6: 2}[h["step"]]
        assert h["accuracy"] * 8 * n == pytest.approx(round(h["accuracy"] * 8 * n)) and 0 <= h["accuracy"] <= 1
        # the lr the point's last step used: cosine over 6 steps from 0.03 (step k uses epoch k - 1)
        assert h["lr"] == pytest.approx(0.03 * (1 + math.cos(math.pi * (h["step"] - 1) / 6)) / 2)
    assert [h["image_auc"] is not None for h in r.history] == [False, True, False, True]
    assert r.history[-1]["image_auc"] == r.metrics["image_auc"] and r.history[-1]["val_auc"] == r.metrics["val_auc"]
    assert r.history[-1]["train_seconds"] == r.metrics["train_seconds"]
    # the checkpoint at step 3 carries the curve so far; a retry from it ends with the same points
    assert [h["step"] for h in seen[0]["history"]] == [2, 3]
    resumed = run_trial(TINY, data_root=small_dataset, initial_state=seen[0])
    assert [h["step"] for h in resumed.history] == [2, 3, 4, 6]
    assert resumed.history[:2] == r.history[:2]
    assert [h["loss"] for h in resumed.history[2:]] == pytest.approx([h["loss"] for h in r.history[2:]], rel=1e-4)


def test_the_loss_point_is_the_mean_of_the_step_losses_it_covers(small_dataset):
    import torch

    from trainables.augment import create_variant
    from trainables.config import TrialConfig
    from trainables.data import load_category
    from trainables.trial import start_training
    from trainables.evaluate.validation import split_train
    cfg = TrialConfig.from_dict({**TINY, "log_interval": 3, "eval_interval": 0})
    r = run_trial(cfg, data_root=small_dataset)
    data = load_category(small_dataset, cfg.category, cfg.image_size)
    fit_idx, _ = split_train(len(data.train), cfg.val_fraction, cfg.seed)
    trainer = start_training(cfg, create_variant(cfg.variant), data.train[fit_idx], torch.device("cpu"), None)
    losses = []
    for step in (1, 2, 3):
        trainer.train_until(step)
        losses.append(float(trainer.loss.detach()))
    assert r.history[0]["step"] == 3 and r.history[0]["loss"] == pytest.approx(sum(losses) / 3, rel=1e-5)


def test_single_trial_command_prints_phase_step_loss_and_images_per_second(small_dataset):
    sets = sum([["--set", f"{k}={v}"] for k, v in TINY.items() if k not in ("category", "variant")], [])
    out = subprocess.run([sys.executable, "-m", "trainables.run", "--data-root", str(small_dataset),
                          "--category", "bottle", "--variant", "cutpaste"] + sets,
                         capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("[trial] bottle/cutpaste phase all step")]
    assert lines[0].startswith("[trial] bottle/cutpaste phase all step 2/6  loss ")
    assert "accuracy" in lines[0] and " lr " in lines[0] and lines[0].endswith("img/s")
    assert any("step 6/6" in line and "image_auc" in line for line in lines)
