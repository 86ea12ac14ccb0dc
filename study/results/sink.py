"""The results sink and its readers: one Parquet file per finished trial, written atomically
by the driver; read back fast, compaction-aware, and without letting one damaged file hide
the rest. Writer and readers are one cohesive thing: the file layout they share.

``<results>/trials/<study>/<trial_key>.parquet`` (one row) and
``<results>/scores/<study>/<trial_key>.parquet`` (one row per test image) and
``<results>/embeddings/<study>/<trial_key>.parquet`` (a small feature sample) and
``<results>/heatmaps/<study>/<trial_key>.parquet`` (Figure 4 rows) and
``<results>/history/<study>/<trial_key>.parquet`` (one row per evaluation). Files are
written under a dot-prefixed temporary name and renamed into place, so readers (which
skip dot-files) never see half a file, and a retried trial overwrites its own file.
``python -m study.compact`` (``study.results.compact``) merges a study's per-trial files into
``part-<generation>-<hash>.parquet`` files in the same folder. Which row wins for a key
(DESIGN.md, "Compaction"): a per-trial file over any part, a part of a later generation
over an earlier one; so a retry after compaction, or a compaction interrupted before it
removed what it merged, never shows a key twice.

A file that cannot be read (truncated, not Parquet, no ``trial_key``/``status``, a column
whose type cannot become the schema's) is named in a :class:`DamagedResultWarning` and
moved to ``<results>/quarantine/<table>/<study>/`` (never deleted); a damaged scores,
history, embeddings or heatmaps file takes its trial's row file with it, so the trial
counts as not done and a rerun trains it again. ``<results>`` is a local path or a pyarrow
filesystem URI (``study.results.paths``, which names the folders); columns and types are
``study.results.schema``'s.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from study.results.paths import EMBEDDINGS, HEATMAPS, HISTORY, QUARANTINE, SCORES, TABLES, TRIALS, filesystem
from study.results.schema import OK, SCHEMAS, C, side_table, to_table

__all__ = ["TABLES", "PART_PREFIX", "DamagedResultWarning", "ResultsSink", "ResultFile", "FileVanished",
           "list_files", "load_files", "quarantine", "read_table", "read_trials", "read_scores", "read_history",
           "read_embeddings", "read_heatmaps", "done_keys"]

PART_PREFIX = "part-"
# what each file is cast to; trials, scores and history as always, embeddings and heatmaps are
# read as written (their nested columns keep the type Arrow gave them)
_TYPES: dict[str, dict[str, pa.DataType]] = {
    kind: dict(zip(SCHEMAS[kind].names, SCHEMAS[kind].types)) for kind in (TRIALS, SCORES, HISTORY)}
_REQUIRED = {TRIALS: (C.trial_key, C.status)}


class DamagedResultWarning(UserWarning):
    """A results file could not be read and was moved to ``<results>/quarantine``."""


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
        key, study = row[C.trial_key], row[C.study]
        for kind, columns in ((SCORES, scores), (EMBEDDINGS, embeddings), (HEATMAPS, heatmaps), (HISTORY, history)):
            table = None if columns is None else side_table(kind, key, columns)
            if table is not None:
                self._write(kind, study, key, table)
        return self._write(TRIALS, study, key, to_table([row]))


@dataclass(frozen=True)
class ResultFile:
    """One Parquet file of a results table: a trial's own file (``key``) or a compacted part."""
    path: str
    kind: str
    study: str
    name: str

    @property
    def is_part(self) -> bool:
        return self.name.startswith(PART_PREFIX)

    @property
    def key(self) -> str | None:
        return None if self.is_part else self.name[: -len(".parquet")]

    @property
    def generation(self) -> int:
        """A part's generation (``part-<generation>-<hash>``); later compactions count up."""
        try:
            return int(self.name[len(PART_PREFIX):].split("-", 1)[0])
        except ValueError:
            return 0


def list_files(results: str, kind: str, study: str | None = None) -> list[ResultFile]:
    """Every readable-looking file of a table (dot- and underscore-files are in-flight temporaries)."""
    fs, base = filesystem(results)
    root = f"{base}/{kind}" + (f"/{study}" if study else "")
    sel = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    out = []
    for f in fs.get_file_info(sel):
        if f.type != pafs.FileType.File or not f.path.endswith(".parquet") \
                or f.base_name.startswith((".", "_")):
            continue
        rel = f.path[len(base) + len(kind) + 2:]
        out.append(ResultFile(f.path, kind, rel.rsplit("/", 1)[0] if "/" in rel else "", f.base_name))
    return sorted(out, key=lambda f: f.path)


class _Damaged(Exception):
    pass


class FileVanished(OSError):
    """A listed file was gone when read: compaction (or a retry's rename) replaced it meanwhile."""


def _load(fs: pafs.FileSystem, f: ResultFile, columns: Sequence[str] | None) -> pa.Table:
    """One file, its known columns cast to the schema's types; raises _Damaged with the reason."""
    try:
        with fs.open_input_file(f.path) as handle:
            pfile = pq.ParquetFile(handle)
            names = pfile.schema_arrow.names
            missing = [c for c in _REQUIRED.get(f.kind, (C.trial_key,)) if c not in names]
            if missing:
                raise _Damaged(f"no {', '.join(missing)} column")
            table = pfile.read(columns=[c for c in columns if c in names] if columns else None)
    except FileNotFoundError:
        raise FileVanished(f.path) from None
    except (pa.ArrowException, OSError, ValueError) as e:
        raise _Damaged(f"{type(e).__name__}: {e}") from None
    types = _TYPES.get(f.kind, {})
    for i, field in enumerate(table.schema):
        want = types.get(field.name)
        if want is not None and field.type != want:
            try:
                table = table.set_column(i, field.name, table.column(i).cast(want))
            except (pa.ArrowException, ValueError):
                raise _Damaged(f"column {field.name} is {field.type}, expected {want}") from None
    return table


def quarantine(results: str, f: ResultFile, reason: str) -> str | None:
    """Move a damaged file to ``<results>/quarantine/<table>/<study>/`` (a suffix keeps an earlier
    one of the same name) and warn naming both paths; None if it could not be moved."""
    fs, base = filesystem(results)
    folder = f"{base}/{QUARANTINE}/{f.kind}" + (f"/{f.study}" if f.study else "")
    stem, dest, n = f.name[: -len(".parquet")], f"{folder}/{f.name}", 0
    try:
        fs.create_dir(folder, recursive=True)
        while fs.get_file_info(dest).type != pafs.FileType.NotFound:
            n += 1
            dest = f"{folder}/{stem}.{n}.parquet"
        fs.move(f.path, dest)
    except OSError as e:
        warnings.warn(f"{f.path}: cannot be read ({reason}); skipped, and could not be moved aside: {e}",
                      DamagedResultWarning, stacklevel=3)
        return None
    warnings.warn(f"{f.path}: cannot be read ({reason}); moved to {dest}; the rest is read, "
                  "and a rerun of the launcher trains that trial again", DamagedResultWarning, stacklevel=3)
    return dest


def _set_aside(results: str, f: ResultFile, reason: str) -> None:
    quarantine(results, f, reason)
    if f.kind != TRIALS and f.key is not None:       # its row would claim a trial whose data is gone
        fs, base = filesystem(results)
        row = f"{base}/{TRIALS}/{f.study}/{f.name}"
        if fs.get_file_info(row).type == pafs.FileType.File:
            quarantine(results, ResultFile(row, TRIALS, f.study, f.name), f"its {f.kind} file {f.path} was damaged")


def load_files(results: str, files: Sequence[ResultFile], columns: Sequence[str] | None = None) -> pa.Table | None:
    """Read files in parallel into one table: damaged ones set aside, schemas unified (columns
    only some files have are kept), and each key's rows from its newest source only."""
    fs, _ = filesystem(results)
    if not files:
        return None
    workers = min(32, len(files), 4 * (os.cpu_count() or 1))   # I/O-bound opens: threads overlap them

    def attempt(f: ResultFile) -> pa.Table | str:
        try:
            return _load(fs, f, columns)
        except _Damaged as e:
            return str(e)
    with ThreadPoolExecutor(workers) as pool:
        loaded = list(pool.map(attempt, files))      # raises FileVanished: list again (read_table)
    good: list[tuple[ResultFile, pa.Table]] = []
    unified: pa.Schema | None = None
    seen: set[pa.Schema] = set()
    for f, t in zip(files, loaded):
        if isinstance(t, str):
            _set_aside(results, f, t)
            continue
        if t.schema not in seen:                 # few distinct schemas: unify each once
            try:
                unified = t.schema if unified is None else pa.unify_schemas(
                    [unified, t.schema], promote_options="permissive")
            except (pa.ArrowException, ValueError) as e:
                _set_aside(results, f, f"its columns do not unify with the other files': {e}")
                continue
            seen.add(t.schema)
        good.append((f, t))
    if not good:
        return None
    own = [t for f, t in good if not f.is_part]
    claimed = {f.key for f, _ in good if not f.is_part}
    parts = sorted(((f, t) for f, t in good if f.is_part), key=lambda ft: -ft[0].generation)
    for _, t in parts:
        keys = t.column(C.trial_key)
        if claimed:
            t = t.filter(pc.invert(pc.is_in(keys, value_set=pa.array(sorted(claimed), pa.string()))))
        claimed |= set(pc.unique(keys).to_pylist())
        own.append(t)
    return pa.concat_tables(own, promote_options="permissive")


def read_table(results: str, kind: str, study: str | None = None,
               columns: Sequence[str] | None = None) -> pa.Table | None:
    """One table; listed again if a compaction running meanwhile removed a listed file."""
    need = None if columns is None else list(dict.fromkeys([C.trial_key, *columns]))   # precedence needs the key
    for attempt in range(3):
        try:
            table = load_files(results, list_files(results, kind, study), need)
            if table is not None and columns is not None and C.trial_key not in columns:
                table = table.drop_columns([C.trial_key])
            return table
        except FileVanished:
            if attempt == 2:
                raise
    return None


def _read_folder(results: str, kind: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    table = read_table(results, kind, columns=columns)
    return pd.DataFrame() if table is None else table.to_pandas()


def read_trials(results: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    return _read_folder(results, TRIALS, columns)


def read_scores(results: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    return _read_folder(results, SCORES, columns)


def read_history(results: str) -> pd.DataFrame:
    """Learning curves: one row per evaluation (``step``, AUCs, loss, costs) of finished trials."""
    return _read_folder(results, HISTORY)


def read_embeddings(results: str) -> pd.DataFrame:
    """Small per-trial embedding samples (normal, defect, cutpaste, scar) for t-SNE figures."""
    return _read_folder(results, EMBEDDINGS)


def read_heatmaps(results: str) -> pd.DataFrame:
    """A few test images per localizing trial with mask and heatmap (Figure 4)."""
    return _read_folder(results, HEATMAPS)


def done_keys(results: str) -> set[str]:
    """Keys with an ``ok`` row: what a resume skips (reads two columns only)."""
    df = read_trials(results, columns=(C.trial_key, C.status))
    if df.empty:
        return set()
    return set(df.loc[df[C.status] == OK, C.trial_key])
