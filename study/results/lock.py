"""One writer per study and results folder: an OS-level lock that a crash cannot leave stuck.

``<results>/locks/<study>.lock`` is locked with ``filelock`` (``flock`` on Linux and macOS):
the kernel releases it when the holding process exits for any reason, SIGKILL and power
loss of a client included, so there is no stale lock to clean up and no pid check to get
wrong. The holder also writes ``<study>.owner.json`` (pid, hostname, purpose, start time)
beside it, only to name the holder in the refusal message; the lock itself is the flock.

Shared filesystems: NFSv4 and Lustre carry ``flock`` between clients (Linux maps it to
POSIX byte-range locks on NFS); a filesystem mounted with ``local_flock`` or ``nolock``
only sees locks taken on the same host. URIs (``s3://``, ``gs://``) have no lock primitive:
the launcher warns and runs unlocked there, so two launchers on one bucket must be kept
apart by the user (each trial still writes its own file atomically, so a key is never
half-written; the same key may be trained twice).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from study.results.paths import LOCKS, folder, is_uri, location

__all__ = ["StudyLocked", "study_lock", "lock_path"]


class StudyLocked(RuntimeError):
    """Another process is writing the same study into the same results folder."""


def lock_path(results: str, study: str) -> Path:
    return Path(folder(results, LOCKS, f"{study}.lock"))


def _owner(path: Path, wait_s: float = 3.0) -> str:
    """Name the holder from its owner file. The holder writes that file just after it takes the
    lock, so a launcher refused in that gap waits briefly for it instead of naming nobody."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            info = json.loads(path.with_suffix(".owner.json").read_text())
            return f"pid {info['pid']} on {info['hostname']} ({info['purpose']}, since {info['started']})"
        except (OSError, ValueError, KeyError):
            if time.monotonic() >= deadline:
                return "a process that has not named itself yet"
            time.sleep(0.05)


@contextlib.contextmanager
def study_lock(results: str, study: str, purpose: str = "launcher") -> Iterator[Path | None]:
    """Hold the study's lock for the block, or raise :class:`StudyLocked` at once (no waiting:
    a second launcher should say so, not queue behind a study that may run for days)."""
    if is_uri(results):
        print(f"[study] warning: {results} is a URI; object stores have no lock, so nothing stops "
              f"a second launcher writing study {study!r} there at the same time", file=sys.stderr)
        yield None
        return
    path = lock_path(results, study)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise StudyLocked(
            f"study {study!r} in {location(results)} is already being written by {_owner(path)}; "
            f"wait for it to finish or stop it (the lock {path} is released by the system when that "
            "process exits, even if it crashes)") from None
    owner = path.with_suffix(".owner.json")
    try:
        tmp = owner.with_name(f".{owner.name}.tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "hostname": socket.gethostname(), "purpose": purpose,
                                   "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}))
        os.replace(tmp, owner)
        yield path
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()
