"""``study.launch --report``: a real study on a real local Ray rewrites the report after its
first finished trial, while the others are still pending, and the final page stops reloading."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

SPEC = """\
name: report_live
description: two heads and their untrained control on one category (the live report test)
budget: smoke
base: {backbone: resnet18, pretrained: none}
axes:
  variant: [cutpaste, cutpaste_3way]
controls: true
categories: [bottle]
seeds: 1
resources: {cpu: 1, gpu: 0}
"""
N_TRIALS = 3        # two trained variants + one untrained control
TINY = ["--set", "steps=6", "--set", "image_size=32", "--set", "batch_size=4"]


def _trial_rows(text: str) -> list[str]:
    return re.findall(r'<tr data-key="([0-9a-f]+)"', text)


@pytest.mark.slow
def test_launch_report_is_rewritten_after_the_first_trial_and_finalised_at_the_end(small_dataset, tmp_path):
    spec = tmp_path / "report_live.yaml"
    spec.write_text(SPEC)
    results, report = tmp_path / "results", tmp_path / "report.html"
    cmd = [sys.executable, "-m", "study.launch", "--study", str(spec), "--data-root", str(small_dataset),
           "--results", str(results), "--max-concurrent", "1", "--report", str(report)] + TINY
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    log = open(tmp_path / "launch.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    seen: list[tuple[str, bool, int]] = []      # (page, launcher still running, rows on disk)
    try:
        deadline = time.time() + 900
        while time.time() < deadline and proc.poll() is None:
            if report.exists():
                text = report.read_text()
                if not seen or text != seen[-1][0]:
                    rows_on_disk = len(list((results / "trials").rglob("*.parquet")))
                    seen.append((text, proc.poll() is None, rows_on_disk))
            time.sleep(0.2)
        proc.wait(timeout=max(1.0, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    out = (tmp_path / "launch.log").read_text()
    assert proc.returncode == 0, out[-3000:]
    # the first page, from the start of the study: written before the study ends, reloading
    assert seen and len(_trial_rows(seen[0][0])) < N_TRIALS and "location.reload()" in seen[0][0], out[-2000:]
    one = [(text, alive, on_disk) for text, alive, on_disk in seen if len(_trial_rows(text)) == 1]
    assert one, f"no page with exactly one trial among {[len(_trial_rows(t)) for t, _, _ in seen]}"
    text, alive, on_disk = one[0]
    assert alive and on_disk < N_TRIALS                 # written while other trials were still pending
    assert "location.reload()" in text and '<meta name="report-trials" content="1">' in text
    assert re.search(r'<table class="results" data-study="report_live">.*?<tr class="category" '
                     r'data-row="bottle">', text, re.S)   # the study's table has that trial's row
    final = report.read_text()
    assert len(_trial_rows(final)) == N_TRIALS and "location.reload()" not in final
    assert f"[study] report: {report}" in out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.html")]


def test_refresh_runs_one_write_at_a_time_and_queues_at_most_one_more(tmp_path):
    from study.tune.report_refresh import ReportRefresh
    out = tmp_path / "page.html"
    refresh = ReportRefresh(str(tmp_path / "no-results-yet"), str(out))
    refresh.request()
    deadline = time.time() + 120
    while refresh._wanted.is_set() and time.time() < deadline:    # the first write has started
        time.sleep(0.01)
    for _ in range(5):                                             # five trials finish meanwhile
        refresh.request()
    while refresh.writes < 2 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert refresh.writes == 2                                     # not 6: the five became one
    assert "No finished trials yet" in out.read_text() and "location.reload()" in out.read_text()
    refresh.close()
    assert not refresh._thread.is_alive()
