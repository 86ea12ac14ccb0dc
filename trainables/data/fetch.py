"""Download, verify and extract a dataset's official archive (for users with a network).

Each dataset module names its ``ARCHIVE`` and its SHA-256 (``trainables.data.datasets.ARCHIVES``
collects them: MVTec AD, VisA, MVTec LOCO AD and MVTec AD 2, the latter three's URLs and checksums
as anomalib's datamodules record them).
Resumable (a ``.part`` file and an HTTP Range request), verified by SHA-256 before anything is
extracted (a mismatch names the dataset, the URL and both digests), and extracted atomically:
into a temporary folder beside the target that is renamed into place, so an interrupted run
never leaves a half dataset. An archive whose content is one top folder is lifted out of it,
so ``--to`` is always the folder holding the categories. The MVTec archives need the
dataset's license accepted on mvtec.com; the URL can be overridden with ``--url``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from trainables.data.errors import ChecksumError, DownloadError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    name: str          # the dataset name results carry (trainables.data.identity)
    url: str
    sha256: str
    command: str       # the dataset command that fetches it: python -m trainables.data <command>


def _progress(done: int, total: int | None, t0: float) -> None:
    rate = done / max(time.perf_counter() - t0, 1e-6) / 1e6
    if total:
        bar = int(30 * done / total)
        msg = f"\r[{'#' * bar}{'.' * (30 - bar)}] {done / 1e6:,.1f}/{total / 1e6:,.1f} MB {rate:.1f} MB/s"
    else:
        msg = f"\r{done / 1e6:,.1f} MB {rate:.1f} MB/s"
    print(msg, end="", file=sys.stderr, flush=True)


def download(url: str, part: Path, quiet: bool = False) -> Path:
    """Download ``url`` into ``part``, continuing from whatever ``part`` already holds."""
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(req, timeout=60) as resp:
        status = getattr(resp, "status", None) or resp.getcode() or 200
        length = resp.headers.get("Content-Length")
        if have and status != 206:
            # server (or file://) ignored the range: skip what we already hold
            skip = have
            while skip > 0:
                got = resp.read(min(skip, _CHUNK))
                if not got:
                    break
                skip -= len(got)
            total = int(length) if length else None
        else:
            total = have + int(length) if length else None
        t0, done = time.perf_counter(), have
        with open(part, "ab") as out:
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if not quiet:
                    _progress(done, total, t0)
    if not quiet:
        print(file=sys.stderr)
    return part


VERIFIED_MARKER = ".verified_archive.json"   # written by fetch_archive after a checksum match


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _lift_single_folder(tmp: Path) -> Path:
    """The folder holding the data: ``tmp``, or its only entry when that is a folder."""
    entries = [p for p in tmp.iterdir()]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp


def fetch_archive(url: str, target: Path, sha256: str, quiet: bool = False, dataset: str = "mvtec_ad") -> Path:
    """Make ``target`` hold the extracted archive of ``dataset``; returns ``target``."""
    target = Path(target).resolve()
    if target.is_dir() and any(target.iterdir()):
        print(f"{target} already exists and is not empty; nothing to do", file=sys.stderr)
        return target
    part = target.parent / f".{target.name}.download.part"
    try:
        download(url, part, quiet=quiet)
    except OSError as e:        # URLError, HTTP errors, refused or reset connections
        raise DownloadError(f"{dataset}: cannot download {url}: {e}; run again to resume "
                            f"({part} keeps what arrived)") from None
    digest = sha256_of(part)
    if digest != sha256:
        bad = part.with_suffix(".corrupt")
        os.replace(part, bad)
        raise ChecksumError(f"{dataset} download from {url} has SHA-256 {digest}, expected {sha256}; "
                            f"kept as {bad} for inspection, run again to download afresh")
    tmp = target.parent / f".{target.name}.extract-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(part) as tar:
        tar.extractall(tmp, filter="data")
    data = _lift_single_folder(tmp)
    # the archive's checksum was verified: say so inside the data, for dataset_id()
    (data / VERIFIED_MARKER).write_text(json.dumps({"dataset": dataset, "url": url, "sha256": digest}) + "\n")
    if target.exists():
        target.rmdir()  # empty, checked above
    os.replace(data, target)
    shutil.rmtree(tmp, ignore_errors=True)
    part.unlink()
    return target
