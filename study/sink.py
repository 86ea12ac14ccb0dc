"""The results sink: one Parquet file per finished trial, written atomically by the driver.

``<results>/trials/<study>/<trial_key>.parquet`` (one row) and
``<results>/scores/<study>/<trial_key>.parquet`` (one row per test image) and
``<results>/embeddings/<study>/<trial_key>.parquet`` (a small feature sample) and
``<results>/history/<study>/<trial_key>.parquet`` (one row per evaluation). Files are
written under a dot-prefixed temporary name and renamed into place, so readers (which
skip dot-files) never see half a file, and a retried trial overwrites its own file, so
a key never appears twice. ``<results>`` is a local path or a pyarrow filesystem URI
(``study.paths``); columns and types are ``study.schema``'s.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from study.paths import filesystem
from study.schema import HISTORY, OK, to_table


class ResultsSink:
    def __init__(self, results: str) -> None:
        self.results = str(results)
        self.fs, self.base = filesystem(self.results)

    def _write(self, kind: str, study: str, key: str, table: pa.Table) -> str:
        folder = f"{self.base}/{kind}/{study}"
        self.fs.create_dir(folder, recursive=True)
        final, tmp = f"{folder}/{key}.parquet", f"{folder}/.{key}.parquet.tmp"
        pq.write_table(table, tmp, filesystem=self.fs)
        self.fs.move(tmp, final)
        return final

    def write_trial(self, row: dict[str, Any], scores: dict[str, list] | None = None,
                    embeddings: dict[str, list] | None = None,
                    heatmaps: dict[str, list] | None = None, history: dict[str, list] | None = None) -> str:
        """Scores, embeddings, heatmaps and history first, then the trial row: a row on disk
        means they are there too."""
        key, study = row["trial_key"], row["study"]
        if scores is not None:
            n = len(scores["score"])
            self._write("scores", study, key, pa.table({"trial_key": [key] * n, **scores}))
        if embeddings is not None and embeddings.get("kind"):
            self._write("embeddings", study, key, pa.table(embeddings))
        if heatmaps is not None and heatmaps.get("kind"):
            self._write("heatmaps", study, key, pa.table(heatmaps))
        if history is not None and history.get("step"):
            self._write("history", study, key, pa.Table.from_pydict(
                {name: history.get(name, [None] * len(history["step"])) for name in HISTORY.names},
                schema=HISTORY))
        return self._write("trials", study, key, to_table([row]))


def _read_folder(results: str, kind: str) -> pd.DataFrame:
    fs, base = filesystem(results)
    sel = pafs.FileSelector(f"{base}/{kind}", recursive=True, allow_not_found=True)
    files = [f.path for f in fs.get_file_info(sel)
             if f.type == pafs.FileType.File and f.path.endswith(".parquet")
             and not f.base_name.startswith((".", "_"))]
    if not files:
        return pd.DataFrame()
    tables = [pq.read_table(p, filesystem=fs) for p in sorted(files)]
    # unify schemas: columns that only later files have are kept (nulls elsewhere)
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def read_trials(results: str) -> pd.DataFrame:
    return _read_folder(results, "trials")


def read_scores(results: str) -> pd.DataFrame:
    return _read_folder(results, "scores")


def read_history(results: str) -> pd.DataFrame:
    """Learning curves: one row per evaluation (``step``, AUCs, loss, costs) of finished trials."""
    return _read_folder(results, "history")


def read_embeddings(results: str) -> pd.DataFrame:
    """Small per-trial embedding samples (normal, defect, cutpaste, scar) for t-SNE figures."""
    return _read_folder(results, "embeddings")


def read_heatmaps(results: str) -> pd.DataFrame:
    """A few test images per localizing trial with mask and heatmap (Figure 4)."""
    return _read_folder(results, "heatmaps")


def done_keys(results: str) -> set[str]:
    df = read_trials(results)
    if df.empty:
        return set()
    return set(df.loc[df["status"] == OK, "trial_key"])
