"""The study's status line and ETA (study.tune.progress), driven by a hand-set clock: no Ray."""
import io

import pytest

from study.tune.progress import Display, Planned, Progress, duration, interval_from_env, planned

SMALL, LARGE = ("smoke", 64, True), ("smoke", 256, True)
CONTROL = ("smoke", 64, False)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_before_any_trial_finishes_the_eta_is_the_projection_then_at_least_the_running_age():
    clock = Clock()
    p = Progress([Planned(SMALL, 10.0)] * 4, clock=clock)
    eta, how = p.eta()
    assert eta == pytest.approx(40.0) and "throughput table" in how          # nothing started: device-seconds
    p.start("a", SMALL)
    p.start("b", SMALL)
    clock.t += 5
    # two at once: each trial takes 10 s x 2 on the shared device; a, b have 15 s left, c, d 20 s each
    assert p.eta()[0] == pytest.approx((20 + 20 + 15 + 15) / 2)
    clock.t += 100                                   # running far past the projection: the age bounds it
    eta, how = p.eta()
    assert eta == pytest.approx((105 + 105 + 10.5 + 10.5) / 2) and "at least the running trials' age" in how


def test_after_trials_finish_the_eta_uses_their_measured_time_by_group():
    clock = Clock()
    p = Progress([Planned(SMALL, 1.0)] * 3 + [Planned(CONTROL, 0.0)] * 2, clock=clock)
    p.start("s1", SMALL)
    p.start("c1", CONTROL)
    clock.t += 30
    p.finish("c1")
    clock.t += 30
    p.finish("s1")                                   # small trial: 60 s, control: 30 s
    assert (p.done, len(p.running), p.pending, p.failed) == (2, 0, 3, 0)
    eta, how = p.eta()
    # peak concurrency 2: (two small trials x 60 s + one control x 30 s) / 2
    assert eta == pytest.approx((60 + 60 + 30) / 2) and "from 2 finished trials" in how


def test_a_group_not_yet_measured_is_projected_and_scaled_like_the_measured_ones():
    clock = Clock()
    p = Progress([Planned(SMALL, 2.0), Planned(LARGE, 20.0)], clock=clock)
    p.start("s", SMALL)
    clock.t += 10
    p.finish("s")                                    # measured 10 s for a projected 2 s: x5
    assert p.eta()[0] == pytest.approx(100.0)


def test_failed_trials_are_counted_and_the_status_line_says_everything():
    clock = Clock()
    p = Progress([Planned(SMALL, 1.0)] * 3, clock=clock)
    p.start("a", SMALL)
    clock.t += 65
    p.finish("a", failed=True)
    p.start("b", SMALL)
    line = p.status()
    assert line.startswith("1/3 done, 1 running, 1 pending, 1 failed; elapsed 1m05s; ETA ")


def test_unmeasured_throughput_gives_no_number_until_a_trial_finishes():
    p = Progress([Planned(SMALL, None)], clock=Clock())
    assert p.eta()[0] is None and "ETA after the first trial finishes" in p.status()


def test_plan_projection_matches_the_throughput_table():
    from study.plan import trained_images
    from study.throughput import rate_for
    cfg = {"variant": "cutpaste_3way", "image_size": 64, "batch_size": 16, "steps": 100, "pretrained": "none"}
    [p] = planned([cfg], "smoke", {"cpu": 1})
    assert p.group == ("smoke", 64, True)
    assert p.projected_seconds == pytest.approx(trained_images(cfg) / rate_for("cpu", 64)[0])
    [frozen] = planned([{**cfg, "pretrained": "frozen"}], "smoke", {"cpu": 1})
    assert frozen.group == ("smoke", 64, False) and frozen.projected_seconds == 0


def test_piped_output_prints_a_status_line_at_once_then_each_interval():
    clock, out = Clock(), io.StringIO()
    d = Display(Progress([Planned(SMALL, 10.0)] * 2, clock=clock), stream=out, tty=False, interval=0.05)
    d.tick()
    d.tick()                                          # within the interval: nothing new
    assert out.getvalue().count("[study] progress: 0/2 done") == 1 and "ETA 20s" in out.getvalue()
    import time
    time.sleep(0.06)
    d.tick()
    d.write("[study] 1/2 a finished line")
    assert out.getvalue().count("[study] progress:") == 2 and out.getvalue().endswith("finished line\n")


def test_a_terminal_gets_a_tqdm_bar_with_the_counts_and_eta():
    out = io.StringIO()
    p = Progress([Planned(SMALL, 10.0)] * 2, clock=Clock())
    d = Display(p, stream=out, tty=True)
    p.start("a", SMALL)
    d.tick(force=True)
    d.write("[study] a line above the bar")
    d.close()
    text = out.getvalue()
    assert "[study] 0/2 done |" in text and "1 running, 1 pending, 0 failed" in text and "ETA " in text
    assert "[study] a line above the bar\n" in text


def test_interval_comes_from_the_environment_and_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("CUTPASTE_PROGRESS_INTERVAL", "2.5")
    assert interval_from_env() == 2.5
    monkeypatch.setenv("CUTPASTE_PROGRESS_INTERVAL", "soon")
    with pytest.raises(ValueError, match="CUTPASTE_PROGRESS_INTERVAL"):
        interval_from_env()
    assert duration(3725) == "1h02m05s" and duration(59.6) == "1m00s"


def test_a_control_not_yet_measured_costs_what_finished_trials_spent_outside_training():
    clock = Clock()
    p = Progress([Planned(SMALL, 1.0), Planned(CONTROL, 0.0)], clock=clock)
    p.start("s", SMALL)
    clock.t += 100
    p.finish("s", train_seconds=70)                  # 30 s of start-up and evaluation
    assert p.eta()[0] == pytest.approx(30.0)
