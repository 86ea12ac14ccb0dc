"""--cluster on a real two-node Ray cluster (two `ray start` nodes on this machine).

The cluster uses token authentication, each node offers one CPU so both receive trials,
and it is torn down (only its own processes) even when a test fails. The module's tests share
it; a test that finds its worker node gone (killed by the node-loss test) starts a new one.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

RAY = str(Path(sys.executable).with_name("ray"))
SMALL_STUDY = """\
name: {name}
description: two variants of one category, scratch ResNet-18 at 32 px
budget: smoke
base: {{variant: cutpaste, pretrained: none, image_size: 32, batch_size: 4, steps: {steps},
        eval_interval: {interval}, embedding_sample: 4}}
axes:
  variant: [cutpaste, cutpaste_scar]
categories: [bottle]
seeds: 1
resources: {{cpu: 1, gpu: 0}}
"""
NODE = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_processes_of(temp_dir: str, node_manager_port: int | None = None) -> None:
    """SIGKILL the cluster's processes (found by their session dir) and their children.

    With ``node_manager_port``, only that node: its raylet and everything under it.
    """
    import psutil
    marks = [f"--node_manager_port={node_manager_port}"] if node_manager_port else [temp_dir]
    procs = [p for p in psutil.process_iter(["cmdline"])
             if any(m in a for a in (p.info["cmdline"] or []) for m in marks)]
    victims = procs + [c for p in procs for c in p.children(recursive=True)]
    for p in victims:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=10)


def test_cluster_flag_without_a_cluster_fails_fast_with_instructions(small_dataset, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "study.launch", "--cluster", "--address", f"127.0.0.1:{free_port()}",
                        "--data-root", str(small_dataset), "--results", str(tmp_path / "r")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert time.time() - t0 < 30
    assert r.returncode == 2
    assert "no Ray cluster answers" in r.stderr and "ray start --head" in r.stderr
    assert not (tmp_path / "r").exists()


def _worker_processes(worker_port: int) -> list:
    """The worker node's raylet (found by its node manager port) and everything under it."""
    import psutil
    mark = f"--node_manager_port={worker_port}"
    raylets = [p for p in psutil.process_iter(["cmdline"]) if mark in " ".join(p.info["cmdline"] or [])]
    return raylets + [c for r in raylets for c in r.children(recursive=True)]


@pytest.fixture(scope="module")
def cluster():
    """A head node and a worker node, one CPU each, started once for this module's tests."""
    # short path: Ray's unix sockets live under it and must stay < 108 characters
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "1000",
           "RAY_health_check_failure_threshold": "3", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    c = {"address": f"127.0.0.1:{free_port()}", "env": env, "temp": temp, "worker_port": None}
    try:
        subprocess.run([RAY, "start", "--head", f"--port={c['address'].split(':')[1]}", "--include-dashboard=false",
                        f"--temp-dir={temp}", *NODE], env=env, check=True, capture_output=True, timeout=120)
        yield c
    finally:
        kill_processes_of(temp)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture()
def two_node_cluster(cluster):
    """The module's cluster with its worker node up: started again if a test killed it."""
    if cluster["worker_port"] is None or not _worker_processes(cluster["worker_port"]):
        cluster["worker_port"] = free_port()
        subprocess.run([RAY, "start", f"--address={cluster['address']}",
                        f"--node-manager-port={cluster['worker_port']}", *NODE],
                       env=cluster["env"], check=True, capture_output=True, timeout=120)
    return cluster


def launch_cmd(cluster, tmp_path: Path, data_root, name: str, steps: int, interval: int) -> tuple[list[str], Path]:
    """The launcher command for a small study written to ``tmp_path``, and its results folder."""
    spec, results = tmp_path / f"{name}.yaml", tmp_path / "results"
    spec.write_text(SMALL_STUDY.format(name=name, steps=steps, interval=interval))
    return [sys.executable, "-m", "study.launch", "--cluster", "--address", cluster["address"],
            "--study", str(spec), "--data-root", str(data_root), "--results", str(results)], results


@pytest.mark.slow
def test_study_runs_on_both_nodes_of_a_real_cluster(two_node_cluster, small_dataset, tmp_path):
    # two one-CPU trials, two one-CPU nodes: Tune places both at once, one on each node
    cmd, results = launch_cmd(two_node_cluster, tmp_path, small_dataset, "two_nodes", steps=20, interval=0)
    r = subprocess.run(cmd, env=two_node_cluster["env"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 nodes" in r.stdout
    trials = pd.read_parquet(results / "trials")
    assert len(trials) == 2 and (trials["status"] == "ok").all()
    assert trials["node_id"].nunique() == 2, trials[["category", "variant", "node_id"]]
    assert (trials["device"] == "cpu").all()


def _checkpoint_of_a_trial_on(worker_port: int, results: Path) -> Path | None:
    """The newest checkpoint of a trial running on the worker node, if it has saved one.

    Tune runs a trial in a working directory named after the trial's folder under
    ``<results>/ray/<experiment>/``, where its checkpoints are kept (one: ``num_to_keep=1``)."""
    import psutil
    for proc in _worker_processes(worker_port):
        try:
            if "ImplicitFunc" not in proc.name():
                continue
            trial_dir = Path(proc.cwd()).name
        except psutil.Error:
            continue
        saved = sorted((results / "ray").glob(f"*/{trial_dir}/checkpoint_*"))
        if saved:
            return saved[-1]
    return None


@pytest.mark.slow
def test_a_trial_on_a_killed_node_is_retried_from_its_checkpoint(two_node_cluster, small_dataset, tmp_path):
    steps, interval = 60, 10                  # six checkpoints a trial, at steps 10, 20, ..., 60
    cmd, results = launch_cmd(two_node_cluster, tmp_path, small_dataset, "node_loss", steps=steps, interval=interval)
    proc = subprocess.Popen(cmd, env=two_node_cluster["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        # wait until the trial on the second node has saved its second checkpoint, then kill the node:
        # the first is on disk before the driver has it, the second only once the driver took the first
        deadline, saved = time.time() + 600, None
        while time.time() < deadline and proc.poll() is None and (saved is None or saved.name.endswith("_000000")):
            saved = _checkpoint_of_a_trial_on(two_node_cluster["worker_port"], results)
            time.sleep(0.2)
        assert saved is not None and not saved.name.endswith("_000000"), \
            "never saw a trial with two checkpoints running on the second node"
        kill_processes_of(two_node_cluster["temp"], node_manager_port=two_node_cluster["worker_port"])
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-4000:]
    files = sorted(p.name for p in (results / "trials" / "node_loss").glob("*.parquet"))
    trials = pd.read_parquet(results / "trials")
    assert len(files) == 2 and len(trials) == 2 and trials["trial_key"].is_unique
    assert (trials["status"] == "ok").all() and (trials["steps"] == steps).all()
    retried = trials[trials["restored_from_step"].notna()]
    assert len(retried) == 1, "the trial on the lost node should resume from a checkpoint\n" + out[-4000:]
    # at least from the checkpoint before the one seen (checkpoint_00000k holds step interval * (k + 1))
    taken = interval * int(saved.name.split("_")[-1])
    assert taken <= retried["restored_from_step"].iloc[0] < steps, (saved, retried["restored_from_step"])
