"""``study.launch --report PATH``: rewrite the study report after every finished trial.

The report is ``analysis``'s (``python -m analysis report``), and ``study`` may not import
``analysis``, so the driver runs it as a subprocess. Writes are coalesced: at most one runs,
and trials that finish meanwhile ask for one more, which then reads every row written by
then; a study of many short trials never queues a write per trial, and the trial loop never
waits for one. While the study runs the page reloads itself (``--running``); the launcher's
final write (:func:`write_now`) omits that, so the finished page stays still.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from ray import tune


def report_command(results: str, out: str, running: bool, figures: bool = True) -> list[str]:
    return [sys.executable, "-m", "analysis", "report", "--results", results, "--out", out] + \
        (["--running"] if running else []) + ([] if figures else ["--no-figures"])


def write_now(results: str, out: str, running: bool = False, figures: bool = True) -> bool:
    """One write, waited for; a failed write is reported, never raised: the study's results
    are on disk either way and ``python -m analysis report`` can rebuild the page."""
    done = subprocess.run(report_command(results, out, running, figures), capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        print(f"[study] report {out} not written: {tail[0]}", file=sys.stderr, flush=True)
        return False
    return True


class ReportRefresh(tune.Callback):
    """Driver-side: after ``SinkCallback`` has written a finished trial's row, ask for a
    rewrite; one background thread does the writes, one at a time."""

    def __init__(self, results: str, out: str) -> None:
        self.results, self.out = results, os.path.abspath(out)
        self.writes = 0
        self._start_state()

    def _start_state(self) -> None:
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __getstate__(self) -> dict:
        # Tune pickles the run config (callbacks included) with the experiment state;
        # events and threads do not pickle and belong to this driver process only
        return {"results": self.results, "out": self.out, "writes": self.writes}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._start_state()

    def _loop(self) -> None:
        first = True                       # the page as Tune starts only has to exist soon: no figures
        while True:
            self._wanted.wait()
            self._wanted.clear()           # requests from here on queue exactly one more write
            if self._stop.is_set():
                return                     # the final write replaces this one
            if write_now(self.results, self.out, running=True, figures=not first):
                self.writes += 1
            first = False

    def request(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="report-refresh", daemon=True)
            self._thread.start()
        self._wanted.set()

    def setup(self, *args, **kwargs) -> None:
        self.request()                     # the page exists (with earlier rows) from the start

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.request()

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.request()

    def close(self) -> None:
        """Let the write in flight finish, drop a queued one (the final write follows)."""
        if self._thread is not None:
            self._stop.set()
            self._wanted.set()
            self._thread.join()

    def on_experiment_end(self, trials, **info) -> None:
        self.close()
