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
description: the four heads and their untrained control on one category (the live report test)
budget: smoke
base: {backbone: resnet18, pretrained: none}
axes:
  variant: [cutpaste, cutpaste_scar, cutpaste_union, cutpaste_3way]
controls: true
categories: [bottle]
seeds: 1
resources: {cpu: 1, gpu: 0}
"""
# Four trained heads + one untrained control, one at a time: after the first finishes, the other
# four outlast the rewrite it asks for (a `python -m analysis report` subprocess that reads the
# rows seconds after it starts). With two trials left (the test's former three) a 6-step trial
# at 32 px could end before that read, and no page showed a study in progress. With warm workers
# even four 6-step trials ended before it once (2026-12-03: pages with 0, 5, 5 rows), so each
# trial trains 150 steps (a few seconds at 32 px): the four outlast the write.
N_TRIALS = 5
TINY = ["--set", "steps=150", "--set", "image_size=32", "--set", "batch_size=4"]


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
    seen: list[tuple[str, bool]] = []      # (each distinct page, read while the launcher still ran)
    try:
        # every page the report passes through, until the launcher exits (or the deadline); the
        # checks below ask what those pages were, not in which order the trials finished
        deadline = time.time() + 900
        while time.time() < deadline and proc.poll() is None:
            if report.exists():
                text = report.read_text()             # written whole: a temporary file renamed
                if not seen or text != seen[-1][0]:
                    seen.append((text, proc.poll() is None))
            time.sleep(0.1)
        proc.wait(timeout=max(1.0, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    out = (tmp_path / "launch.log").read_text()
    assert proc.returncode == 0, out[-3000:]
    rows = [len(_trial_rows(text)) for text, _ in seen]
    # the first page, from the start of the study: written before the study ends, reloading
    assert seen and seen[0][1] and rows[0] < N_TRIALS and "location.reload()" in seen[0][0], out[-2000:]
    # a page rewritten after a trial finished, built while others were pending (it shows fewer
    # rows than the study has; each write reads every row on disk) and read while the launcher ran
    during = [text for (text, alive), n in zip(seen, rows) if alive and 1 <= n < N_TRIALS]
    assert during, f"no page of a study in progress among pages with {rows} trial rows"
    text = during[0]
    n = len(_trial_rows(text))
    assert "location.reload()" in text and f'<meta name="report-trials" content="{n}">' in text
    assert re.search(r'<table class="results" data-study="report_live">.*?<tr class="category" '
                     r'data-row="bottle">', text, re.S)   # the study's table has the trials' row
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
