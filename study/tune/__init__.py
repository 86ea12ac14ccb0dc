"""The Ray Tune wiring, one package: everything in ``study`` that meets Ray is here.

- :mod:`~study.tune.runtime`: start an embedded Ray or attach to a cluster, fit per-trial
  resources, build the one Tuner (storage, retries, the driver-side callbacks);
- :mod:`~study.tune.jobs`: what a trial is given (:class:`TrialJob`) and reports back;
- :mod:`~study.tune.trainable`: the Ray trainable, the one place a trial meets Ray;
- :mod:`~study.tune.grid` and :mod:`~study.tune.search`: a grid study's remaining trials, and
  Optuna + ASHA searches (one per category);
- :mod:`~study.tune.sink_callback`: the driver-side callback, the results sink's only caller;
- :mod:`~study.tune.progress`: counts and ETA on the console;
- :mod:`~study.tune.report_refresh`: the HTML study report rewritten as trials finish;
- :mod:`~study.tune.tracking` (without Ray: option checks, what a run holds, the TensorBoard
  writer) and :mod:`~study.tune.loggers` (the TensorBoard and MLflow Tune callbacks);
- :mod:`~study.tune.cluster`: attaching to a Ray cluster and checking what its nodes see.

Importing this package (or ``runtime``, ``jobs``, ``tracking``, ``progress``) does not import
Ray; the launcher imports Ray only through the modules it dispatches to.
"""
from study.tune.jobs import TrialJob
from study.tune.runtime import RunOptions

__all__ = ["RunOptions", "TrialJob"]
