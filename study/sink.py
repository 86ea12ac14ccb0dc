"""The results sink: one Parquet file per finished trial, written atomically by the driver.

``<results>/trials/<study>/<trial_key>.parquet`` (one row) and
``<results>/scores/<study>/<trial_key>.parquet`` (one row per test image) and
``<results>/embeddings/<study>/<trial_key>.parquet`` (a small feature sample) and
``<results>/history/<study>/<trial_key>.parquet`` (one row per evaluation). Files are
written under a dot-prefixed temporary name and renamed into place, so readers (which
skip dot-files) never see half a file, and a retried trial overwrites its own file, so
a key never appears twice. ``<results>`` is a local path or a pyarrow filesystem URI.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

# columns whose Arrow type cannot be inferred from Python values
_TYPES = {
    "auc_by_defect": pa.map_(pa.string(), pa.float64()),
    "started_at": pa.timestamp("us", tz="UTC"),
    "finished_at": pa.timestamp("us", tz="UTC"),
    "image_auc": pa.float64(), "pixel_auc": pa.float64(), "val_auc": pa.float64(),
    "error": pa.string(), "seed": pa.int64(), "restored_from_step": pa.int64(), "budget": pa.string(),
    "node_id": pa.string(), "null_score_method": pa.string(),
}
# the learning curve: a trial without pixel_auc or val_auc still writes float columns
_HISTORY = pa.schema([("trial_key", pa.string()), ("step", pa.int64()), ("image_auc", pa.float64()),
                      ("pixel_auc", pa.float64()), ("val_auc", pa.float64()), ("loss", pa.float64()),
                      ("train_seconds", pa.float64()), ("images_per_second", pa.float64())])


def filesystem(results: str) -> tuple[pafs.FileSystem, str]:
    if "://" in str(results):
        return pafs.FileSystem.from_uri(str(results))
    import os
    return pafs.LocalFileSystem(), os.path.abspath(str(results))


_FLOATS = ("train_seconds", "eval_seconds", "images_per_second", "train_score_mean", "train_score_std",
           "null_score_mean", "null_score_std")


def _declared_type(name: str) -> pa.DataType:
    """A column's type even when this row has no value for it: a null-typed column in one
    file and a typed one in another would make ``pandas.read_parquet(<results>/trials)`` fail."""
    from trainables.config import FIELD_TYPES
    if name in _TYPES:
        return _TYPES[name]
    if name in _FLOATS:
        return pa.float64()
    py = FIELD_TYPES.get(name)
    return {int: pa.int64(), float: pa.float64(), bool: pa.bool_()}.get(py, pa.string())


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    cols = {}
    for name in rows[0]:
        values = [r.get(name) for r in rows]
        if name == "auc_by_defect":
            values = [list(v.items()) if v is not None else None for v in values]
        typ = _TYPES.get(name)
        if typ is None and all(v is None for v in values):
            typ = _declared_type(name)
        cols[name] = pa.array(values, type=typ)
    return pa.table(cols)


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
                {name: history.get(name, [None] * len(history["step"])) for name in _HISTORY.names},
                schema=_HISTORY))
        return self._write("trials", study, key, _table([row]))


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
    return set(df.loc[df["status"] == "ok", "trial_key"])
