"""Where results live, and the name of every folder under them: spelled here and nowhere else.

``<results>`` (DESIGN.md) is either a folder or a URI (``s3://``, ``gs://``). Everything
that names it (the sink, the study description, Ray Tune's storage, the cluster checks,
a search's Optuna journal) goes through :func:`location`, so a relative path means the
same absolute folder to every reader and every node, and names a folder under it by one of
the constants below.
"""
from __future__ import annotations

import os
from pathlib import Path

from pyarrow import fs as pafs

# the five results tables, each a folder <results>/<table>/<study>/ of Parquet files
# (their columns: study.results.schema)
TRIALS, SCORES, EMBEDDINGS, HEATMAPS, HISTORY = "trials", "scores", "embeddings", "heatmaps", "history"
TABLES = (TRIALS, SCORES, EMBEDDINGS, HEATMAPS, HISTORY)
QUARANTINE = "quarantine"   # damaged files set aside: quarantine/<table>/<study>/<name> (study.results.sink)
STUDIES = "studies"         # <study>.json: a study's paper table, baseline, budget (study.results.study_meta)
LOCKS = "locks"             # <study>.lock and <study>.owner.json: one writer per study (study.results.lock)
HPO = "hpo"                 # hpo/<study>/: a search's Optuna journal and best.json (study.tune.search)
RAY = "ray"                 # Ray Tune's storage: experiment state and checkpoints (study.tune.runtime)
TABLES_OUT = "tables"       # `python -m analysis tables` output without --out (latex, csv)
MODELS = "models"           # models/<study>/<trial_key>/: kept model bundles, --keep-models (study.results.models)
FOLDERS = (*TABLES, QUARANTINE, STUDIES, LOCKS, HPO, RAY, TABLES_OUT, MODELS)


def is_uri(path_or_uri: str | Path) -> bool:
    return "://" in str(path_or_uri)


def folder(results: str | Path, name: str, *parts: str) -> str:
    """``<results>/<name>/<parts...>`` as a location (a path or a URI); ``name`` one of :data:`FOLDERS`."""
    if name not in FOLDERS:
        raise ValueError(f"{name!r} is not a results folder; known: {FOLDERS}")
    return "/".join((location(results), name, *parts))


def location(path_or_uri: str | Path) -> str:
    """A URI as given, a path made absolute (``~`` expanded, symlinks resolved)."""
    text = str(path_or_uri)
    return text if is_uri(text) else str(Path(text).expanduser().resolve())


def filesystem(path_or_uri: str | Path) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and the base path in it for a results location."""
    where = location(path_or_uri)
    if is_uri(where):
        return pafs.FileSystem.from_uri(where)
    return pafs.LocalFileSystem(), where


class ResultsLocationError(ValueError):
    """``--results`` cannot hold results (a file, or a folder nobody may write)."""


def check_writable(path_or_uri: str | Path) -> None:
    """Fail before Ray starts or anything is written when a local results folder cannot be
    used: it is a file, or neither it nor its nearest existing parent is writable. URIs are
    checked by the first write (their permissions are the object store's to decide)."""
    if is_uri(path_or_uri):
        return
    path = Path(location(path_or_uri))
    if path.exists() and not path.is_dir():
        raise ResultsLocationError(f"--results {path_or_uri}: {path} is a file, not a folder; "
                                   "give a folder (it is created if missing)")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ResultsLocationError(f"--results {path_or_uri}: {probe} is not writable")
