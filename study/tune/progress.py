"""A study's console progress: done, running, pending and failed trials, elapsed time and an ETA.

A study is hours of trials, and a finished-trial line alone leaves minutes of silence
while the first trials train. :class:`Progress` keeps the counts and estimates the time
left; :class:`Display` shows it: a tqdm bar on a terminal, or one plain status line every
``CUTPASTE_PROGRESS_INTERVAL`` seconds (default 30) when stdout is a pipe or a log (CI,
``ray job submit``), the first one as soon as trials start.

The ETA has two sources. Before any trial has finished it is the plan's projection (what
``--dry-run`` prints): the images each remaining trial trains over the device's measured
throughput (``study.throughput``), training only. Once trials finish it is their measured
wall time, grouped by budget, image size and whether the trial trains at all (a control
only fits the density, so it would drag a trained trial's estimate down), divided by the
trials running at once; a group not yet measured is projected and scaled by how the
measured trials compared to their projection.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence, TextIO

from study.plan import trained_images
from study.throughput import projection_devices, rate_for

INTERVAL_ENV = "CUTPASTE_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 30.0

Group = tuple[Any, int, bool]        # (budget, image size, trains): trials expected to cost alike


@dataclass(frozen=True)
class Planned:
    """A trial still to run, as far as the ETA cares."""
    group: Group
    projected_seconds: float | None  # device-seconds of training from the throughput table; None: not measured


def planned(configs: Iterable[dict[str, Any]], budget: str | None, resources: dict[str, float]) -> list[Planned]:
    """The ETA's view of configs a study will run, projected like ``study.plan.projected_cost``."""
    device = projection_devices(resources)[0]            # the spec's own device
    out = []
    for cfg in configs:
        images = trained_images(cfg)
        found = rate_for(device.type, cfg["image_size"], max_k=device.packing(resources))
        out.append(Planned((budget, cfg["image_size"], images > 0),
                           None if found is None else images / found[0]))
    return out


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class Progress:
    """Counts and ETA of one study run (one Tuner); trials are identified by any hashable id."""

    def __init__(self, plan: Sequence[Planned], total: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.clock, self.t0 = clock, clock()
        self.plan = list(plan)
        self.total = total if total is not None else len(self.plan)
        self.running: dict[Any, tuple[Group | None, float]] = {}      # id -> (group, start)
        self.finished: list[tuple[Group | None, float]] = []          # (group, wall seconds) of done trials
        self.untrained: list[float] = []     # wall minus training seconds of done trials: a control's cost
        self.failed = 0
        self.peak = 0

    @property
    def done(self) -> int:
        return len(self.finished)

    @property
    def pending(self) -> int:
        return max(self.total - self.done - len(self.running), 0)

    def start(self, trial: Any, group: Group | None = None) -> None:
        if trial not in self.running:
            self.running[trial] = (group, self.clock())
            self.peak = max(self.peak, len(self.running))

    def finish(self, trial: Any, group: Group | None = None, failed: bool = False,
               train_seconds: float | None = None) -> None:
        g, started = self.running.pop(trial, (group, self.clock()))
        self.finished.append((g if g is not None else group, self.clock() - started))
        if train_seconds is not None:
            self.untrained.append(max(self.clock() - started - train_seconds, 0.0))
        self.failed += failed

    def _remaining_groups(self) -> list[Planned]:
        """The plan's trials not yet started: the plan minus one of each group per started trial."""
        left = list(self.plan)
        for g in [g for g, _ in self.finished] + [g for g, _ in self.running.values()]:
            i = next((i for i, p in enumerate(left) if g is None or p.group == g), None)
            if i is not None:
                left.pop(i)
        return left[:self.pending]

    def eta(self) -> tuple[float | None, str]:
        """(seconds left or None, where the number comes from).

        Per remaining trial a wall time: its group's measured mean; else its projection scaled
        like the measured trials (a control, which trains nothing: the finished trials' time
        outside training); else, before any has finished, the projection per trial (the
        device-seconds times the trials sharing the device) or, if longer, the age of the
        oldest running trial, which its own trial will take at least. The sum over pending
        trials and the rest of the running ones, over the trials running at once.
        """
        now = self.clock()
        pending = self._remaining_groups()
        by_group: dict[Group, list[float]] = {}
        for g, s in self.finished:
            if g is not None:
                by_group.setdefault(g, []).append(s)
        parallel = max(1, min(self.peak, len(self.running) + len(pending)))
        oldest = max((now - s for _, s in self.running.values()), default=0.0)
        mean_all = sum(s for _, s in self.finished) / len(self.finished) if self.finished else None
        scale = self._measured_over_projected(by_group)

        def cost(group: Group | None, projected: float | None) -> float | None:
            if group in by_group:
                return sum(by_group[group]) / len(by_group[group])
            if projected is not None and scale is not None and (group is None or group[2]):
                return projected * scale
            if group is not None and not group[2] and self.untrained:
                return sum(self.untrained) / len(self.untrained)
            if mean_all is not None:
                return mean_all
            return None if projected is None else max(projected * parallel, oldest)

        costs = [cost(p.group, p.projected_seconds) for p in pending]
        running = [(cost(g, self._projected(g)), now - started) for g, started in self.running.values()]
        if any(c is None for c in costs) or any(c is None for c, _ in running):
            return None, "after the first trial finishes (throughput not measured for this device)"
        work = sum(costs) + sum(max(c - age, 0.1 * c) for c, age in running)  # one over its estimate has some left
        if not self.finished:
            how = "no trial finished yet: projected from the throughput table, training only"
            return work / parallel, how + (", at least the running trials' age" if oldest > 0 else "")
        n = len(self.finished)
        return work / parallel, f"from {n} finished trial{'s' if n != 1 else ''}, by budget and image size"

    def _projected(self, group: Group | None) -> float | None:
        return next((p.projected_seconds for p in self.plan if p.group == group), None)

    def _measured_over_projected(self, by_group: dict[Group, list[float]]) -> float | None:
        """Measured wall seconds per projected device-second over the trained groups measured so far."""
        pairs = [(sum(s) / len(s), self._projected(g)) for g, s in by_group.items() if g[2]]
        pairs = [(m, p) for m, p in pairs if p]
        return sum(m for m, _ in pairs) / sum(p for _, p in pairs) if pairs else None

    def status(self) -> str:
        eta, how = self.eta()
        left = f"ETA {duration(eta)} ({how})" if eta is not None else f"ETA {how}"
        return (f"{self.done}/{self.total} done, {len(self.running)} running, {self.pending} pending, "
                f"{self.failed} failed; elapsed {duration(self.clock() - self.t0)}; {left}")


def interval_from_env() -> float:
    raw = os.environ.get(INTERVAL_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        raise ValueError(f"{INTERVAL_ENV}={raw!r}: give the seconds between status lines, e.g. 30") from None
    if value <= 0:
        raise ValueError(f"{INTERVAL_ENV}={raw!r}: must be > 0 seconds")
    return value


class Display:
    """Where progress goes: a tqdm bar on a terminal, plain ``[study] progress:`` lines otherwise.

    Other output (a finished trial's line) goes through :meth:`write`, so it lands above the
    bar instead of through it.
    """

    def __init__(self, progress: Progress, stream: TextIO | None = None, tty: bool | None = None,
                 interval: float | None = None) -> None:
        self.progress, self.stream = progress, stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval_from_env() if interval is None else interval
        self.last = None
        self.bar = None
        if self.tty:
            import shutil

            from tqdm import tqdm
            # a terminal that reports no size (a bare pty, e.g. under `script`) would hide the
            # bar (tqdm draws nothing at 0 rows): 100 x 20 then
            size = shutil.get_terminal_size((100, 20))
            self.bar = tqdm(total=progress.total, file=self.stream, unit="trial", ncols=size.columns,
                            nrows=size.lines,
                            bar_format="[study] {n_fmt}/{total_fmt} done |{bar}| {desc}")

    def tick(self, force: bool = False) -> None:
        """Refresh the bar, or print a status line when the interval has passed (or ``force``)."""
        now = time.monotonic()
        if self.bar is not None:
            if force or self.last is None or now - self.last >= 1.0:
                p = self.progress
                self.bar.n = p.done
                eta, how = p.eta()
                self.bar.set_description_str(f"{len(p.running)} running, {p.pending} pending, {p.failed} failed, "
                                             f"elapsed {duration(p.clock() - p.t0)}, "
                                             f"ETA {duration(eta) if eta is not None else '?'}", refresh=True)
                self.last = now
        elif force or self.last is None or now - self.last >= self.interval:
            print(f"[study] progress: {self.progress.status()}", file=self.stream, flush=True)
            self.last = now

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.tick(force=True)
            self.bar.close()
            self.bar = None
