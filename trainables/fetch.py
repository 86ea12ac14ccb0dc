"""Download, verify and extract the official MVTec AD archive (for users with a network).

Resumable (a ``.part`` file and an HTTP Range request), verified by SHA-256 before
anything is extracted, and extracted atomically: into a temporary folder beside the
target that is renamed into place, so an interrupted run never leaves a half dataset.
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
from pathlib import Path

from trainables.errors import ChecksumError

MVTEC_URL = ("https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/"
             "download/420938113-1629952094/mvtec_anomaly_detection.tar.xz")
MVTEC_SHA256 = "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"
_CHUNK = 1 << 20


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


def fetch_archive(url: str, target: Path, sha256: str, quiet: bool = False) -> Path:
    """Make ``target`` hold the extracted archive; returns ``target``."""
    target = Path(target).resolve()
    if target.is_dir() and any(target.iterdir()):
        print(f"{target} already exists and is not empty; nothing to do", file=sys.stderr)
        return target
    part = target.parent / f".{target.name}.download.part"
    download(url, part, quiet=quiet)
    digest = sha256_of(part)
    if digest != sha256:
        bad = part.with_suffix(".corrupt")
        os.replace(part, bad)
        raise ChecksumError(f"download from {url} has SHA-256 {digest}, expected {sha256}; "
                            f"kept as {bad} for inspection, run again to download afresh")
    tmp = target.parent / f".{target.name}.extract-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(part) as tar:
        tar.extractall(tmp, filter="data")
    # the archive's checksum was verified: say so inside the data, for dataset_id()
    (tmp / VERIFIED_MARKER).write_text(json.dumps({"url": url, "sha256": digest}) + "\n")
    if target.exists():
        target.rmdir()  # empty, checked above
    os.replace(tmp, target)
    part.unlink()
    return target
