"""The results layout, one package: what a study writes under ``<results>`` and how it is read.

- :mod:`~study.results.paths`: a results location (a path or a URI) normalised once, and the
  name of every folder under it (the five tables, ``quarantine``, ``studies``, ``locks``,
  ``hpo``, ``ray``);
- :mod:`~study.results.schema`: the columns and Arrow types of the five tables (trials,
  scores, embeddings, heatmaps, history), the trial-row builders, and :data:`C`, the column
  names for readers;
- :mod:`~study.results.sink`: the one writer (a Parquet file per finished trial, atomic) and
  the compaction-aware readers that set damaged files aside;
- :mod:`~study.results.compact`: merging a study's per-trial files (``python -m study.compact``);
- :mod:`~study.results.lock`: one writer per study and results folder;
- :mod:`~study.results.study_meta`: a study's paper table and baseline, for analysis.

Nothing here imports Ray. Other packages import the names below from ``study.results``.
"""
from study.results.paths import FOLDERS, TABLES, ResultsLocationError, location
from study.results.schema import C, FAILED, OK, STATUSES, STOPPED
from study.results.sink import (DamagedResultWarning, ResultsSink, done_keys, read_embeddings, read_heatmaps,
                                read_history, read_scores, read_trials)
from study.results.study_meta import read_study_meta

__all__ = ["C", "DamagedResultWarning", "FAILED", "FOLDERS", "OK", "ResultsLocationError", "ResultsSink",
           "STATUSES", "STOPPED", "TABLES", "done_keys", "location", "read_embeddings", "read_heatmaps",
           "read_history", "read_scores", "read_study_meta", "read_trials"]
