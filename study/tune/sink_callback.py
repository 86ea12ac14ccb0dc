"""Driver-side Ray Tune callback: the only writer of result files, and the study's console progress.

Each finished trial's side tables, staged by its worker, are checked and put in place
(``study.results.staging``), then its row is written to the sink (``study.results.sink``);
a trial whose staged tables are not whole is failed instead. Each finished trial gets one
``[study] k/N ...`` line; in between, ``study.tune.progress`` shows counts and an ETA (a bar
on a terminal, a status line every interval in a log), refreshed from Tune's loop
(``on_step_end``, every ~0.1 s).
"""
from __future__ import annotations

import time

from ray import tune

from study.plan import trained_images
from study.results.models import ModelKeeper
from study.results.schema import C, failed_row
from study.results.sink import ResultsSink
from study.results.staging import Staged, StagedIncomplete, publish, set_aside
from study.tune.jobs import FINAL, ROW, STAGED, resolve
from study.tune.progress import Display, Group, Planned, Progress


def trial_group(trial) -> Group | None:
    """The ETA group of a Tune trial: its budget, image size and whether it trains."""
    try:
        job, config, _ = resolve(trial.config)
        return (job.budget, config.image_size, trained_images(config.to_dict()) > 0)
    except Exception:
        return None


class SinkCallback(tune.Callback):
    def __init__(self, sink: ResultsSink, total: int, plan: list[Planned] | None = None,
                 keeper: ModelKeeper | None = None) -> None:
        self.sink, self.total, self.t0, self.keeper = sink, total, time.perf_counter(), keeper
        self.progress = Progress(plan or [], total=total)
        self.display: Display | None = None

    def setup(self, **info):
        self.progress = Progress(self.progress.plan, total=self.total)    # the clock starts with the trials
        self.display = Display(self.progress)
        self.display.tick(force=True)

    def _say(self, line: str) -> None:
        (self.display.write if self.display is not None else print)(line)

    def on_step_end(self, iteration, trials, **info):
        if self.display is not None:
            self.display.tick()

    def on_trial_start(self, iteration, trials, trial, **info):
        self.progress.start(trial.trial_id, trial_group(trial))

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        row = result.get(ROW)
        if row is not None and result.get(FINAL):
            # a finished trial's side tables, staged by its worker, go in place before its row;
            # if one is not whole the trial is not done (failed, its files quarantined)
            staged = {t: Staged.from_dict(d) for t, d in (result.get(STAGED) or {}).items()}
            try:
                publish(staged)
            except StagedIncomplete as e:
                set_aside(staged, str(e))
                return self._failed(trial, f"its side tables are incomplete: {e}")
        self.progress.finish(trial.trial_id, trial_group(trial), train_seconds=(row or {}).get(C.train_seconds))
        if row is None:
            return  # ended before its first evaluation: nothing measured to record
        # the row's status: "ok" after the final report, "stopped" if a scheduler ended it
        self.sink.write_trial(row)
        if self.keeper is not None:      # after the row: the rule reads it (--keep-models)
            self.keeper.add(row)
        val = f"  val_auc {row[C.val_auc]:.4f}" if row.get(C.val_auc) is not None else ""
        self._say(f"[study] {self.progress.done}/{self.total} {row[C.category]:<12s} {row[C.variant]:<15s} "
                  f"seed {row[C.seed]}  image_auc {row[C.image_auc]:.4f}{val}  {row[C.status]}  "
                  f"({row[C.train_seconds]:.0f}s train, {time.perf_counter() - self.t0:.0f}s elapsed)")
        if self.display is not None:
            self.display.tick(force=self.display.tty)

    def on_trial_error(self, iteration, trials, trial, **info):
        err = "unknown error"
        try:
            err = open(trial.error_file).read()[-4000:] if trial.error_file else str(trial.error_msg)
        except Exception:
            pass
        self._failed(trial, err)

    def _failed(self, trial, err: str) -> None:
        job, config, key = resolve(trial.config)
        cfg = config.to_dict()
        self.sink.write_trial(failed_row(job.study, cfg, key, err))
        if self.keeper is not None:      # a failed trial's bundle is never kept
            self.keeper.add(failed_row(job.study, cfg, key, err))
        self.progress.finish(trial.trial_id, trial_group(trial), failed=True)
        self._say(f"[study] {self.progress.done}/{self.total} FAILED {config.category} {config.variant} "
                  f"seed {config.seed}: {err.strip().splitlines()[-1] if err.strip() else err}")

    def on_experiment_end(self, trials, **info):
        if self.display is not None:
            self.display.close()
