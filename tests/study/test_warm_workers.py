"""Trials in a reused worker: each trial's numbers exactly those of the same trial run alone.

A reused Ray Tune actor (``study.tune.runtime.REUSE_ACTORS``) runs trial after trial in one
process that keeps torch imported, the ImageNet weights read and the categories decoded
(``trainables.worker``). Here three trials run one after another in one process, with the
global state a trial can leave behind (RNGs, torch and BLAS threads, grad mode, autocast,
cuDNN and matmul flags) disturbed before each, and every trial's ``image_auc`` and scores
must equal those of the same config run alone in a fresh process. A trial that raises must
leave the process able to run the next one just as well. The Ray version runs the real
trainable in one reused actor (slow: it starts Ray).
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from trainables.data import cache as data_cache
from trainables.trial import run_trial
from trainables.worker import begin_trial

TINY = {"image_size": 32, "batch_size": 4, "embedding_sample": 4, "threads": 1}
TRIALS = [   # a scratch ResNet-18, a fine-tuned and a frozen ImageNet EfficientNet-Lite0 (weights read once)
    {"category": "bottle", "variant": "cutpaste_3way", "seed": 3, "steps": 3, **TINY},
    {"category": "carpet", "variant": "cutpaste", "seed": 1, "backbone": "efficientnet_lite0",
     "pretrained": "finetune", "head_steps": 1, "steps": 2, **TINY},
    {"category": "bottle", "variant": "scar", "seed": 4, "backbone": "efficientnet_lite0",
     "pretrained": "frozen", "steps": 0, **TINY},
]
ALONE = """
import json, sys
from trainables.trial import run_trial
r = run_trial(json.loads(sys.argv[1]), data_root=sys.argv[2])
print("RESULT " + json.dumps({"image_auc": r.metrics["image_auc"], "scores": r.scores["score"]}))
"""


def alone(configs: list[dict], data_root) -> list[dict]:
    """Each config run alone, each in its own fresh process (started together)."""
    procs = [subprocess.Popen([sys.executable, "-c", ALONE, json.dumps(c), str(data_root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy()) for c in configs]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        out.append(json.loads(next(x for x in stdout.splitlines() if x.startswith("RESULT "))[7:]))
    return out


def disturb(i: int) -> None:
    """What a previous trial (or anything else in the process) may have left behind."""
    torch.set_num_threads(2 if torch.get_num_threads() == 1 else 1)
    threadpool_limits(2, user_api="blas")             # NumPy's and SciPy's BLAS: the GDE's eigh
    torch.manual_seed(1000 + i)
    torch.rand(7)
    np.random.seed(i)
    random.seed(i)
    torch.set_grad_enabled(False)
    torch.set_autocast_enabled("cpu", True)          # bf16 autocast left switched on
    torch.backends.cudnn.benchmark = not torch.backends.cudnn.benchmark
    torch.set_float32_matmul_precision("medium")


@pytest.fixture()
def restore_process():
    """Leave this test process as the tests found it."""
    threads = torch.get_num_threads()
    yield
    begin_trial(0, threads)


@pytest.fixture(scope="module")
def expected(small_dataset) -> list[dict]:
    """Every trial of TRIALS run alone, each in a fresh process."""
    return alone(TRIALS, small_dataset)


def cached_checksums() -> dict[str, int]:
    return {key: sum(int(t.to(torch.int64).sum()) for t in ts.values()) for key, ts in data_cache.MEMORY.entries.items()}


def test_three_trials_in_one_process_match_each_run_alone(small_dataset, expected, restore_process):
    for i, config in enumerate(TRIALS):
        disturb(i)
        r = run_trial(config, data_root=small_dataset)
        assert r.metrics["image_auc"] == expected[i]["image_auc"], config
        assert r.scores["score"] == expected[i]["scores"], config
    # the categories stayed decoded in memory, keyed as on disk, and no trial wrote into them
    keys = [k for k in data_cache.MEMORY.entries if "-32-" in os.path.basename(k)]
    assert {os.path.basename(k).split("-")[0] for k in keys} >= {"bottle", "carpet"}
    before = cached_checksums()
    run_trial(TRIALS[0], data_root=small_dataset)
    assert cached_checksums() == before


def test_a_trial_that_raises_leaves_the_process_able_to_run_the_next(small_dataset, expected, restore_process):

    def dies(metrics, state):
        # a trial failing midway, with the process's state changed under it
        disturb(7)
        raise RuntimeError("the trial died")

    with pytest.raises(RuntimeError, match="the trial died"):
        run_trial({**TRIALS[0], "eval_interval": 1}, data_root=small_dataset, report=dies)
    with pytest.raises(Exception):
        run_trial({**TRIALS[1], "category": "no_such_category"}, data_root=small_dataset)
    r = run_trial(TRIALS[1], data_root=small_dataset)
    assert r.metrics["image_auc"] == expected[1]["image_auc"]
    assert r.scores["score"] == expected[1]["scores"]


@pytest.mark.slow
def test_one_reused_ray_actor_runs_the_trials_as_each_runs_alone_and_a_failed_one_costs_nothing(
        small_dataset, expected, tmp_path):
    """The launcher's trainable on Ray Tune, one trial at a time: the three trials share one
    actor process, each writes the row it gets alone; a trial that raises (its category is
    missing) is written as failed and the trials after it still match."""
    import ray
    from ray import tune

    from study.results.sink import read_trials
    from study.spec import trial_key
    from study.tune.jobs import JOB
    from study.tune.runtime import RunOptions, job, start_ray, tuner
    from trainables.config import TrialConfig
    opts = RunOptions(results=str(tmp_path / "results"), data_root=str(small_dataset), max_concurrent=1)
    fitted = start_ray(opts, {"cpu": 1})
    configs = [TrialConfig.from_dict(c).to_dict() for c in TRIALS]
    broken = {**configs[0], "category": "no_such_category"}
    order = [configs[0], configs[1], broken, configs[2]]
    jobs = [job(opts, fitted, "warm", c, trial_key("warm", c), "smoke") for c in order]
    try:
        grid = tuner("warm", {JOB: tune.grid_search(jobs)}, opts, fitted, len(jobs)).fit()
        pids = [r.metrics.get("pid") for r in grid if r.error is None]
    finally:
        ray.shutdown()
    rows = read_trials(opts.results).set_index("trial_key")
    assert rows.loc[trial_key("warm", broken), "status"] == "failed"
    for config, want in zip(configs, expected):
        assert rows.loc[trial_key("warm", config), "image_auc"] == want["image_auc"], config["variant"]
    # the trials before the failure ran in one process; Tune replaces an actor whose trial raised
    assert len(pids) == 3 and len(set(pids[:2])) == 1
