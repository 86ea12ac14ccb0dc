"""bench.launcher's per-trial overhead: slot time (from the end of the previous trial its actor
ran to the trial's end) minus training and evaluation."""
from __future__ import annotations

import datetime as dt

import pytest

from bench.launcher import quantiles, slot_overheads

T0 = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)


def row(key: str, actor: str, start: float, end: float, train: float = 0.0, evaluation: float = 0.0,
        control: bool = False):
    return {"trial_key": key, "actor": actor, "started_at": T0 + dt.timedelta(seconds=start),
            "finished_at": T0 + dt.timedelta(seconds=end), "train_seconds": train, "eval_seconds": evaluation,
            "control": control}


def test_two_actors_charge_the_gap_between_trials_to_the_trial_after_it():
    rows = [row("a", "p1", 0, 20, train=18, evaluation=1),       # actor 1, first: not measured
            row("b", "p2", 0.5, 5, evaluation=3, control=True),  # actor 2, first: not measured
            row("c", "p2", 6, 9, evaluation=2.5, control=True),  # after b: 4 s of slot, 1.5 s overhead
            row("d", "p2", 10, 30, train=18, evaluation=1),      # after c: 21 s, 2 s overhead
            row("e", "p1", 21, 24, evaluation=2, control=True)]  # after a: 4 s, 2 s overhead
    per = {p["trial_key"]: p for p in slot_overheads(rows)}
    assert set(per) == {"c", "d", "e"}
    assert per["c"]["slot_s"] == pytest.approx(4) and per["c"]["overhead_s"] == pytest.approx(1.5)
    assert per["d"]["slot_s"] == pytest.approx(21) and per["d"]["overhead_s"] == pytest.approx(2)
    assert per["e"]["slot_s"] == pytest.approx(4) and per["e"]["overhead_s"] == pytest.approx(2)
    assert per["e"]["control"] and not per["d"]["control"]
    assert quantiles([1.5, 2, 2]) == {"median_s": 2.0, "p90_s": 2.0, "n": 3}
