"""One launcher per study and results folder: refused early and clearly, never stuck after a crash."""
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from study.launch import main
from study.results.lock import StudyLocked, lock_path, study_lock

TINY = ["--set", "steps=2", "--set", "image_size=32", "--set", "batch_size=4"]
HOLD = ("import sys, time\nfrom study.results.lock import study_lock\n"
        "with study_lock(sys.argv[1], sys.argv[2]):\n    print('held', flush=True)\n    time.sleep(600)\n")


def _snapshot(folder):
    return sorted((p.relative_to(folder), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def _holder(results, study):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(results), study], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_launcher_is_refused_before_ray_and_writes_nothing(small_dataset, tmp_path, capsys):
    import ray
    results = tmp_path / "results"
    holder = _holder(results, "table5_heads")
    try:
        before = _snapshot(tmp_path)
        assert main(["--study", "table5_heads", "--data-root", str(small_dataset), "--results", str(results),
                     "--seeds", "1"] + TINY) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and "already being written" in err and "table5_heads" in err
        assert not ray.is_initialized() and _snapshot(tmp_path) == before
        # --dry-run takes no lock: planning is allowed while a study runs
        assert main(["--study", "table5_heads", "--data-root", str(small_dataset), "--results", str(results),
                     "--dry-run"]) == 0
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_sigkilled_launcher_does_not_block_the_next(tmp_path):
    holder = _holder(tmp_path, "demo")
    with pytest.raises(StudyLocked, match=f"pid {holder.pid}"):
        with study_lock(str(tmp_path), "demo"):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert lock_path(str(tmp_path), "demo").exists()          # the file stays; the kernel dropped the lock
    with study_lock(str(tmp_path), "demo", purpose="test") as path:
        assert path == lock_path(str(tmp_path), "demo")
    with study_lock(str(tmp_path), "other"):                  # other studies never wait on it
        with study_lock(str(tmp_path), "demo"):
            pass


@pytest.mark.slow
def test_two_launchers_started_at_once_one_runs_the_other_is_refused(table5_carpet):
    # tests/study/conftest.py starts both; the launcher test reads the same study's rows
    runs = table5_carpet["runs"]
    codes = sorted(r.returncode for r in runs)
    assert codes == [0, 2], [(r.returncode, r.stdout[-2000:], r.stderr[-2000:]) for r in runs]
    refused = next(r for r in runs if r.returncode == 2)
    assert "already being written by pid" in refused.stderr and "Ray" not in refused.stdout
    df = pd.read_parquet(table5_carpet["results"] / "trials")
    n = table5_carpet["trials"]
    assert len(df) == n and df["trial_key"].nunique() == n and set(df["status"]) == {"ok"}


def test_a_launcher_refused_before_the_holder_names_itself_still_names_it(tmp_path):
    # the holder takes the flock and writes its owner file a moment later; a launcher refused in
    # that gap (two started at once) waits for the name instead of printing "a process"
    import json
    import threading
    from filelock import FileLock
    path = lock_path(str(tmp_path), "demo")
    path.parent.mkdir(parents=True)
    raw = FileLock(str(path), timeout=0)
    raw.acquire()
    owner = {"pid": 4242, "hostname": "h", "purpose": "launcher", "started": "now"}
    timer = threading.Timer(0.5, lambda: path.with_suffix(".owner.json").write_text(json.dumps(owner)))
    timer.start()
    try:
        with pytest.raises(StudyLocked, match="pid 4242 on h"):
            with study_lock(str(tmp_path), "demo"):
                pass
    finally:
        timer.join()
        raw.release()
