"""Download, verify and extract a dataset's official archive (for users with a network).

``ARCHIVES`` names each dataset's archive and its SHA-256: MVTec AD, VisA, MVTec LOCO AD and
MVTec AD 2 (the latter three's URLs and checksums as anomalib's datamodules record them).
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

from trainables.errors import ChecksumError, DownloadError

MVTEC_URL = ("https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/"
             "download/420938113-1629952094/mvtec_anomaly_detection.tar.xz")
MVTEC_SHA256 = "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    name: str          # the dataset name results carry (trainables.dataset_identity)
    url: str
    sha256: str


ARCHIVES = {a.name: a for a in (
    Archive("mvtec_ad", MVTEC_URL, MVTEC_SHA256),
    Archive("visa", "https://amazon-visual-anomaly.s3.us-west-2.amazonaws.com/VisA_20220922.tar",
            "2eb8690c803ab37de0324772964100169ec8ba1fa3f7e94291c9ca673f40f362"),
    Archive("mvtec_loco", "https://www.mydrive.ch/shares/48237/1b9106ccdfbb09a0c414bd49fe44a14a/download/"
                          "430647091-1646842701/mvtec_loco_anomaly_detection.tar.xz",
            "9e7c84dba550fd2e59d8e9e231c929c45ba737b6b6a6d3814100f54d63aae687"),
    Archive("mvtec_ad2", "https://www.mydrive.ch/shares/121573/7f68fe2c4f7c2ceaa08f463aaeb2f414/download/"
                         "466712769-1743422799/mvtec_ad_2.tar.gz",
            "c0ded99ef32bfc8e352d52beb44515e5b292b8598cb963aadfa91ca0763505e4"),
)}


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
