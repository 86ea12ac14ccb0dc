"""A finished trial's side tables, written by its worker and published by the driver.

A trial's scores, embeddings, heatmaps and history are bulky (a demo trial's embeddings alone
are 128 vectors of 1,280 floats, 1.2 MB pickled); sent through Tune's result channel they
were pickled to the driver, kept there as the trial's last result for the whole run and
rewritten into Tune's experiment state as JSON, and the driver converted and wrote every
trial's Parquet files itself, one after another. Instead the worker writes each one
(:func:`stage`) as a Parquet file under a dot-name beside its final place,
``<results>/<table>/<study>/.<trial_key>.<token>.staged.parquet`` (readers skip dot-files),
and its final report carries only a :class:`Staged` per table: where, and how many rows.

The driver still decides what is done (``study.tune.sink_callback``): :func:`publish` checks
every staged file of the trial (present, a Parquet footer, the rows the worker said), renames
each to ``<trial_key>.parquet``, and only then does the sink write the trial's row, so a row on
disk still means its side tables are there. A trial whose files are missing or short raises
:class:`StagedIncomplete` before anything is renamed: it gets a ``failed`` row, is not done, and
a rerun trains it again. Files nobody publishes (a trial stopped or killed before its final
report was taken) stay dot-files; :func:`sweep_staged` removes a study's leftovers when its next
run starts, under the study's lock, when none of its workers can be writing.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from study.results.paths import EMBEDDINGS, HEATMAPS, HISTORY, SCORES, filesystem
from study.results.schema import side_table
from study.results.sink import ResultFile, quarantine

__all__ = ["SIDE_TABLES", "STAGED_SUFFIX", "Staged", "StagedIncomplete", "stage", "publish", "read_published",
           "set_aside", "sweep_staged"]

SIDE_TABLES = (SCORES, EMBEDDINGS, HEATMAPS, HISTORY)
STAGED_SUFFIX = ".staged.parquet"


class StagedIncomplete(Exception):
    """A staged side table is missing, unreadable or short: its trial is not done."""


@dataclass(frozen=True)
class Staged:
    """One side table a worker staged: enough for the driver to check it and put it in place.
    Travels in the trial's final report as a plain dict (:meth:`to_dict`)."""
    results: str
    table: str
    study: str
    key: str
    token: str          # unique per attempt: a retry never writes over a file being published
    rows: int

    def _folder(self) -> tuple[pafs.FileSystem, str]:
        fs, base = filesystem(self.results)
        return fs, f"{base}/{self.table}/{self.study}"

    @property
    def path(self) -> str:
        return f"{self._folder()[1]}/.{self.key}.{self.token}{STAGED_SUFFIX}"

    @property
    def final(self) -> str:
        return f"{self._folder()[1]}/{self.key}.parquet"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Staged":
        return cls(**d)


def stage(results: str, study: str, key: str, tables: Mapping[str, Mapping[str, list]]) -> dict[str, Staged]:
    """Write a finished trial's side tables (``table -> columns``) under staging names; the
    ones with nothing to write (``schema.side_table``) are left out."""
    fs, base = filesystem(results)
    token, out = uuid.uuid4().hex[:12], {}
    for table, columns in tables.items():
        arrow = side_table(table, key, columns)
        if arrow is None:
            continue
        staged = Staged(results, table, study, key, token, arrow.num_rows)
        fs.create_dir(f"{base}/{table}/{study}", recursive=True)
        pq.write_table(arrow, staged.path, filesystem=fs)
        out[table] = staged
    return out


def _check(fs: pafs.FileSystem, s: Staged) -> None:
    try:
        with fs.open_input_file(s.path) as f:
            rows = pq.ParquetFile(f).metadata.num_rows
    except FileNotFoundError:
        raise StagedIncomplete(f"{s.table} of {s.key}: {s.path} is missing") from None
    except (pa.ArrowException, OSError, ValueError) as e:
        raise StagedIncomplete(f"{s.table} of {s.key}: {s.path} cannot be read ({type(e).__name__}: {e})") from None
    if rows != s.rows:
        raise StagedIncomplete(f"{s.table} of {s.key}: {s.path} holds {rows} rows, the trial wrote {s.rows}")


def publish(staged: Mapping[str, Staged]) -> None:
    """Check every staged table of one trial, then rename each into place (a retry's file is
    replaced); raises :class:`StagedIncomplete` before renaming anything if one is not whole."""
    for s in staged.values():
        _check(filesystem(s.results)[0], s)
    for s in staged.values():
        filesystem(s.results)[0].move(s.path, s.final)


def set_aside(staged: Mapping[str, Staged], reason: str) -> None:
    """Move a trial's staged files that exist to ``<results>/quarantine`` (``sink.quarantine``),
    after :func:`publish` refused them."""
    for s in staged.values():
        fs = filesystem(s.results)[0]
        if fs.get_file_info(s.path).type == pafs.FileType.File:   # named there without its dot, to be seen
            name = s.path.rsplit("/", 1)[-1].lstrip(".")
            quarantine(s.results, ResultFile(s.path, s.table, s.study, name), reason)


def read_published(staged: Staged | None) -> dict[str, list]:
    """A published side table's columns (for the trackers, which write a trial's curves and
    heatmaps once the sink has published them); empty when there is none."""
    if staged is None:
        return {}
    fs = filesystem(staged.results)[0]
    try:
        with fs.open_input_file(staged.final) as f:
            return pq.read_table(f).to_pydict()
    except FileNotFoundError:
        return {}


def sweep_staged(results: str, study: str) -> int:
    """Remove a study's staged files that were never published; how many."""
    fs, base = filesystem(results)
    removed = 0
    for table in SIDE_TABLES:
        sel = pafs.FileSelector(f"{base}/{table}/{study}", allow_not_found=True)
        for info in fs.get_file_info(sel):
            if info.type == pafs.FileType.File and info.base_name.startswith(".") \
                    and info.base_name.endswith(STAGED_SUFFIX):
                fs.delete_file(info.path)
                removed += 1
    return removed
