"""Watching a study: a real 2-trial study on Ray with --mlflow (a real tracking server on
127.0.0.1, SQLite backend) and --tensorboard, its stdout piped as in CI.

One study serves every end-to-end check (module-scoped fixture); the early-error checks
need no Ray and take a second.
"""
import http.client
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from study.launch import main

SPEC = """\
name: tracking_check
description: two tiny trials, a learning-curve point every 2 steps, GradCAM heatmaps
budget: smoke
base: {variant: cutpaste, backbone: resnet18, pretrained: none, steps: 6, image_size: 32, batch_size: 4,
       log_interval: 2, eval_interval: 3, gradcam: true, embedding_sample: 4, heatmap_sample: 2}
controls: false
categories: [bottle]
seeds: 2
resources: {cpu: 1, gpu: 0}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command() -> list[str] | None:
    """How to start a real MLflow tracking server, or None where none is installed.

    The server runs from its own environment: full ``mlflow`` pins pyarrow below 26, which this
    project's environment does not take, so the project's ``mlflow`` extra is the client,
    ``mlflow-skinny``. ``CUTPASTE_MLFLOW_SERVER`` names the ``mlflow`` executable of an
    environment with ``pip install mlflow`` (.ci/run makes one); an environment that has the
    full package (its SQL store and server) serves as well.
    """
    exe = os.environ.get("CUTPASTE_MLFLOW_SERVER")
    if exe:
        assert shutil.which(exe), f"CUTPASTE_MLFLOW_SERVER={exe} is not an executable"
        return [exe]
    if all(importlib.util.find_spec(m) for m in ("mlflow", "sqlalchemy", "alembic", "flask")):
        return [sys.executable, "-m", "mlflow"]
    return None


def start_mlflow(d: Path) -> tuple[subprocess.Popen, str] | None:
    """An MLflow server on a free port, or None if the port was taken before it bound (another
    process, e.g. a Ray node of a parallel test, can grab it between choosing and binding)."""
    port = free_port()
    log = open(d / "server.log", "a")
    proc = subprocess.Popen([*server_command(), "server", "--backend-store-uri",
                             f"sqlite:///{d / 'mlflow.db'}", "--artifacts-destination", str(d / "artifacts"),
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while proc.poll() is None and time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{uri}/health", timeout=2).read() == b"OK":
                return proc, uri
        except (OSError, http.client.HTTPException):   # not up yet, or someone else's port
            pass
        time.sleep(1)
    stop(proc)
    return None


def stop(proc: subprocess.Popen) -> None:
    import signal
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)            # the server and its uvicorn worker
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:                  # a contended machine: then for good
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """The server's URI, or None (then the study runs without --mlflow and the MLflow check
    skips, saying how to get a server)."""
    if server_command() is None or importlib.util.find_spec("mlflow") is None:
        yield None
        return
    d = tmp_path_factory.mktemp("mlflow")
    started = next(filter(None, (start_mlflow(d) for _ in range(3))), None)
    assert started is not None, (d / "server.log").read_text()[-3000:]
    proc, uri = started
    try:
        yield uri
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def study(small_dataset, mlflow_server, tmp_path_factory):
    d = tmp_path_factory.mktemp("tracked")
    (d / "tracking_check.yaml").write_text(SPEC)
    cmd = [sys.executable, "-m", "study.launch", "--study", str(d / "tracking_check.yaml"),
           "--data-root", str(small_dataset), "--results", str(d / "results"),
           *(["--mlflow", mlflow_server] if mlflow_server else []), "--tensorboard", str(d / "tb")]
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "CUTPASTE_PROGRESS_INTERVAL": "2"}
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:]
    return {"out": out.stdout, "results": d / "results", "tb": d / "tb", "mlflow": mlflow_server}


@pytest.mark.slow
def test_piped_output_has_a_status_line_with_an_eta_before_the_first_trial_finishes(study):
    lines = study["out"].splitlines()
    first_done = next(i for i, line in enumerate(lines) if line.startswith("[study] 1/2 "))
    before = [line for line in lines[:first_done] if line.startswith("[study] progress: ")]
    assert before and all(" ETA " in line for line in before)
    assert "0/2 done" in before[0] and "pending" in before[0] and "elapsed" in before[0]
    assert any("starting an embedded Ray" in line for line in lines[:first_done])


@pytest.mark.slow
def test_mlflow_has_a_run_per_trial_with_params_curves_and_the_parquet_aucs(study):
    if study["mlflow"] is None:
        pytest.skip("no MLflow tracking server here: set CUTPASTE_MLFLOW_SERVER to the mlflow "
                    "executable of an environment with `pip install mlflow` (.ci/run makes one)")
    from mlflow import MlflowClient
    client = MlflowClient(study["mlflow"])
    experiment = client.get_experiment_by_name("tracking_check")
    runs = client.search_runs([experiment.experiment_id])
    trials = pd.read_parquet(study["results"] / "trials")
    assert len(runs) == 2 and len(trials) == 2
    assert {r.data.tags["trial_key"] for r in runs} == set(trials["trial_key"])
    for run in runs:
        row = trials[trials["trial_key"] == run.data.tags["trial_key"]].iloc[0]
        assert run.info.status == "FINISHED"
        assert run.info.run_name == f"tracking_check/bottle/cutpaste/seed{row['seed']}-{row['trial_key'][:8]}"
        assert run.data.params["steps"] == "6" and run.data.params["seed"] == str(row["seed"])
        assert run.data.params["log_interval"] == "2" and run.data.params["variant"] == "cutpaste"
        assert run.data.tags["dataset"] == row["dataset"] and run.data.tags["code_version"] == row["code_version"]
        loss = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in sorted(loss, key=lambda m: m.step)] == [2, 3, 4, 6]
        assert len(client.get_metric_history(run.info.run_id, "lr")) >= 3
        for auc in ("image_auc", "val_auc", "pixel_auc"):
            assert run.data.metrics[auc] == row[auc]
        assert [m.step for m in client.get_metric_history(run.info.run_id, "image_auc")] == [3, 6]
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "heatmaps")}
        assert artifacts == {"heatmaps/heatmaps.png", "heatmaps/heatmaps.parquet"}


@pytest.mark.slow
def test_tensorboard_runs_hold_a_loss_curve_per_trial_equal_to_the_history_table(study):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    trials = pd.read_parquet(study["results"] / "trials")
    history = pd.read_parquet(study["results"] / "history")
    runs = sorted(p.parent for p in Path(study["tb"]).rglob("events.out.tfevents.*"))
    assert len(runs) == 2
    for run in runs:
        key_prefix = run.name.split("-")[-1]
        [key] = [k for k in trials["trial_key"] if k.startswith(key_prefix)]
        acc = EventAccumulator(str(run))
        acc.Reload()
        loss = [(e.step, e.value) for e in acc.Scalars("train/loss")]
        curve = history[history["trial_key"] == key].sort_values("step")
        assert [s for s, _ in loss] == curve["step"].tolist() == [2, 3, 4, 6]
        assert [v for _, v in loss] == pytest.approx(curve["loss"].tolist(), rel=1e-6)
        assert {"train/accuracy", "train/lr", "eval/image_auc", "final/image_auc"} <= set(acc.Tags()["scalars"])
        row = trials[trials["trial_key"] == key].iloc[0]
        assert acc.Scalars("final/image_auc")[-1].value == pytest.approx(row["image_auc"], rel=1e-6)


def test_missing_mlflow_names_the_extra_before_anything_starts(tmp_path, capsys, monkeypatch, small_dataset):
    monkeypatch.setitem(sys.modules, "mlflow", None)          # as if not installed
    assert main(["--data-root", str(small_dataset), "--results", str(tmp_path / "r"),
                 "--mlflow", "http://127.0.0.1:1"]) == 2
    assert '.[mlflow]' in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.parquet"))


def test_an_mlflow_server_that_does_not_answer_fails_in_seconds(tmp_path, capsys, small_dataset):
    pytest.importorskip("mlflow")
    t0 = time.time()
    assert main(["--data-root", str(small_dataset), "--results", str(tmp_path / "r"),
                 "--mlflow", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "no MLflow tracking server answers" in capsys.readouterr().err and time.time() - t0 < 15
