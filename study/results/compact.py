"""``python -m study.compact --results DIR [--study S]``: merge a study's per-trial files.

(The command runs this module's :func:`main` through the two-line ``study/compact.py``.)

A study of thousands of trials leaves four or five small Parquet files per trial; every read
opens them all. Compaction rewrites each table folder ``<results>/<table>/<study>/`` into a
few ``part-<generation>-<hash>.parquet`` files (sorted by trial key, row groups of
:data:`ROW_GROUP` rows, at most :data:`PART_ROWS` rows per part, a trial's rows never split
across parts) and then removes exactly the files it merged.

Safe by construction:
- it holds the study's lock (``study.results.lock``), so it refuses while a launcher writes that
  study, and a launcher started meanwhile is refused;
- each part is written under a dot-name, renamed into place, then re-read and checked
  (row count and key set) before anything merged is removed;
- a crash in between leaves both the new part and the merged files; readers then see each
  key once (``study.results.sink``: a per-trial file beats a part, a later generation beats an
  earlier one), and the next compaction finishes the job;
- idempotent: a folder with no per-trial files is left alone, so a second run changes nothing.
Damaged files met on the way are quarantined as any reader does (``study.results.sink``). The
launcher compacts a study itself when a run leaves many files (:func:`compact_if_large`).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from study.results.lock import StudyLocked, study_lock
from study.results.paths import TABLES, TRIALS, ResultsLocationError, filesystem
from study.results.schema import C
from study.results.sink import PART_PREFIX, list_files, load_files

ROW_GROUP = 128 * 1024     # rows per row group: large enough for fast scans, small enough to skip
PART_ROWS = 2_000_000      # rows per part: ~10k trials' scores in one file, embeddings split sooner
AUTO_COMPACT = 1000        # per-trial files of a study above which the launcher compacts it at the end
# a trial's row last: a damaged scores file met first can still take its row aside
_ORDER = (*(t for t in TABLES if t != TRIALS), TRIALS)


class CompactError(RuntimeError):
    """A written part did not read back as expected; nothing merged was removed."""


@dataclass(frozen=True)
class Compacted:
    table: str
    study: str
    files_merged: int     # per-trial files and earlier parts replaced
    parts_written: int
    rows: int


def _split(table: pa.Table) -> list[pa.Table]:
    """Sorted by key, cut into parts of at most PART_ROWS rows at key boundaries."""
    table = table.sort_by(C.trial_key)
    if table.num_rows <= PART_ROWS:
        return [table]
    keys = table.column(C.trial_key).to_pylist()
    out, start = [], 0
    while start < len(keys):
        end = min(start + PART_ROWS, len(keys))
        while end < len(keys) and keys[end] == keys[end - 1]:
            end += 1                                  # keep a trial's rows together
        out.append(table.slice(start, end - start))
        start = end
    return out


def compact_folder(results: str, kind: str, study: str) -> Compacted | None:
    """Merge one ``<results>/<kind>/<study>`` folder; None when it has no per-trial files."""
    files = list_files(results, kind, study)
    files = [f for f in files if f.study == study]
    if all(f.is_part for f in files) and len({f.generation for f in files}) <= 1:
        return None                                   # already compacted (or empty): nothing to do
    table = load_files(results, files)
    listed = set(files)
    merged = [f for f in list_files(results, kind, study) if f in listed]  # minus the quarantined
    fs, base = filesystem(results)
    generation = max((f.generation for f in files if f.is_part), default=0) + 1
    written: list[str] = []
    for piece in ([] if table is None else _split(table)):
        keys = pc.unique(piece.column(C.trial_key))
        digest = hashlib.sha256("\n".join(keys.to_pylist()).encode()).hexdigest()[:16]
        final = f"{base}/{kind}/{study}/{PART_PREFIX}{generation:06d}-{digest}.parquet"
        tmp = f"{base}/{kind}/{study}/.{PART_PREFIX}{generation:06d}-{digest}.parquet.tmp"
        pq.write_table(piece, tmp, filesystem=fs, row_group_size=ROW_GROUP, compression="zstd")
        fs.move(tmp, final)
        back = pq.read_table(final, filesystem=fs, columns=[C.trial_key])
        if back.num_rows != piece.num_rows or set(pc.unique(back.column(0)).to_pylist()) != set(keys.to_pylist()):
            raise CompactError(f"{final} read back {back.num_rows} rows, expected {piece.num_rows}; "
                               "the merged files were kept")
        written.append(final)
    for f in merged:
        if f.path not in written:
            fs.delete_file(f.path)
    return Compacted(kind, study, len(merged), len(written), 0 if table is None else table.num_rows)


def studies(results: str) -> list[str]:
    return sorted({f.study for kind in TABLES for f in list_files(results, kind)})


def compact(results: str, study: str | None = None) -> list[Compacted]:
    """Every table of one study (or of every study), each under that study's lock."""
    done = []
    for name in [study] if study else studies(results):
        with study_lock(results, name, purpose="compaction"):
            done += [c for kind in _ORDER if (c := compact_folder(results, kind, name)) is not None]
    return done


def compact_if_large(results: str, study: str, threshold: int = AUTO_COMPACT) -> bool:
    """What the launcher does at the end of a run, still holding the study's lock: a study that
    left ``threshold`` or more per-trial files is merged, so its next resume and every
    analysis read open a few files; small studies keep their readable per-trial files."""
    if sum(not f.is_part for f in list_files(results, TRIALS, study)) < threshold:
        return False
    print(f"[study] compacting {study}'s per-trial files (python -m study.compact)", flush=True)
    for kind in _ORDER:
        compact_folder(results, kind, study)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m study.compact", description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, help="results folder or URI")
    ap.add_argument("--study", default=None, help="one study (default: every study in --results)")
    args = ap.parse_args(argv)
    fs, base = filesystem(args.results)
    try:
        if fs.get_file_info(base).type.name != "Directory":
            raise ResultsLocationError(f"--results {args.results}: no results folder there")
        done = compact(args.results, args.study)
    except (StudyLocked, ResultsLocationError, CompactError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for c in done:
        print(f"[compact] {c.table}/{c.study}: {c.files_merged} files -> {c.parts_written} part(s), {c.rows:,} rows")
    print(f"[compact] {len(done)} folder(s) compacted" + ("" if done else " (nothing to do)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
