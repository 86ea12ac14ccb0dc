"""The prepared GPU check (``bench/gpu.sh``) and the benchmark command lines it runs.

These run the benchmarks as subprocesses only: ``bench`` is the top-level package next to
``bench/gpu.sh`` (nothing in ``trainables``, ``study`` or ``analysis`` imports it).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_script_runs_on_cpu_with_small_sizes(small_dataset):
    # the smoke trial on the session's small dataset, not the generated one (a minute to make)
    r = subprocess.run(["bash", str(REPO / "bench" / "gpu.sh"), "--device", "cpu", "--data-root", str(small_dataset)],
                       capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHON": sys.executable})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for needle in ("== device", "K=1: aggregate", "K=2: aggregate", "speed-up", "image AUC"):
        assert needle in r.stdout, needle


def test_bench_command_takes_its_flags():
    r = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True, text=True, cwd=REPO,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "usage: python -m bench" in r.stdout
    for flag in ("--device", "--image-size", "--end-to-end", "--concurrent", "--save", "--json"):
        assert flag in r.stdout, flag


def test_the_trainables_bench_alias_is_gone():
    """Benchmarks are ``python -m bench`` only (issue 20 removed the ``trainables.bench`` alias)."""
    r = subprocess.run([sys.executable, "-m", "trainables.bench", "--help"], capture_output=True, text=True,
                       cwd=REPO, timeout=300)
    assert r.returncode != 0 and "No module named trainables.bench" in r.stderr
