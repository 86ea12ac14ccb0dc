"""Driver-side Ray Tune callback: the only writer of result files, and the progress line."""
from __future__ import annotations

import time

from ray import tune

from study.schema import failed_row
from study.sink import ResultsSink


class SinkCallback(tune.Callback):
    def __init__(self, sink: ResultsSink, total: int) -> None:
        self.sink, self.total, self.done, self.t0 = sink, total, 0, time.perf_counter()

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        if "row" not in result:
            return  # ended before its first evaluation: nothing measured to record
        row = result["row"]  # status "ok" after the final report, "stopped" if a scheduler ended it
        final = bool(result.get("final"))
        self.sink.write_trial(row, result.get("scores") if final else None,
                              result.get("embeddings") if final else None,
                              result.get("heatmaps") if final else None,
                              result.get("history") if final else None)
        self.done += 1
        val = f"  val_auc {row['val_auc']:.4f}" if row.get("val_auc") is not None else ""
        print(f"[study] {self.done}/{self.total} {row['category']:<12s} {row['variant']:<15s} "
              f"seed {row['seed']}  image_auc {row['image_auc']:.4f}{val}  {row['status']}  "
              f"({row['train_seconds']:.0f}s train, {time.perf_counter() - self.t0:.0f}s elapsed)", flush=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        from study.ray_trial import resolve
        job, config, key = resolve(trial.config)
        cfg = config.to_dict()
        err = "unknown error"
        try:
            err = open(trial.error_file).read()[-4000:] if trial.error_file else str(trial.error_msg)
        except Exception:
            pass
        self.sink.write_trial(failed_row(job.study, cfg, key, err))
        self.done += 1
        print(f"[study] {self.done}/{self.total} FAILED {cfg['category']} {cfg['variant']} seed {cfg['seed']}: "
              f"{err.strip().splitlines()[-1] if err.strip() else err}", flush=True)
