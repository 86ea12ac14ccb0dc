"""One small real study on a real embedded Ray, shared by the tests that only read what it wrote."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest



@pytest.fixture(scope="session")
def table5_carpet_args() -> dict:
    """A small real study: table5_heads with one seed on carpet at 32 px, 2 steps (4 heads + the
    untrained control). One category: each trial of this spec takes both CPUs, so trials run one
    after another; the grid over both categories is counted without Ray by test_launch's dry run."""
    return {"args": ["--study", "table5_heads", "--seeds", "1", "--categories", "carpet", "--budget", "smoke",
                     "--set", "steps=2", "--set", "image_size=32", "--set", "batch_size=4"],
            "trials": 4 + 1}


@pytest.fixture(scope="session")
def table5_carpet(small_dataset, table5_carpet_args, tmp_path_factory) -> dict:
    """That study, started by two launchers at once on one results folder: the study lock lets
    one run it and refuses the other.

    The lock test reads both outcomes; the launcher test reads the rows and reruns the command.
    One run serves both: each launcher run that trains is a Ray start and five trials (on the
    busy 2-core machine the two tests ran a study each)."""
    results = tmp_path_factory.mktemp("table5_carpet") / "results"
    cmd = [sys.executable, "-m", "study.launch", "--data-root", str(small_dataset), "--results", str(results),
           *table5_carpet_args["args"]]
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              start_new_session=True) for _ in range(2)]
    try:
        outs = [p.communicate(timeout=1800) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)   # the launcher and its embedded Ray
                p.wait()
    return {"cmd": cmd, "env": env, "results": results, "trials": table5_carpet_args["trials"],
            "runs": [subprocess.CompletedProcess(cmd, p.returncode, out, err) for p, (out, err) in zip(procs, outs)]}
