"""Where results live: a local path or a pyarrow filesystem URI, normalised in one place.

``<results>`` (DESIGN.md) is either a folder or a URI (``s3://``, ``gs://``). Everything
that names it (the sink, the study description, Ray Tune's storage, the cluster checks,
a search's Optuna journal) goes through :func:`location`, so a relative path means the
same absolute folder to every reader and every node.
"""
from __future__ import annotations

from pathlib import Path

from pyarrow import fs as pafs


def is_uri(path_or_uri: str | Path) -> bool:
    return "://" in str(path_or_uri)


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
