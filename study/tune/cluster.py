"""Attaching to an existing Ray cluster (``--cluster``), and checking it can run the study.

Two things fail late and expensively on a cluster, so they are checked before any trial:

- **No cluster answers.** ``ray.init(address=...)`` can wait a long time on an address
  where nothing listens; we resolve the address ourselves (``--address``, ``RAY_ADDRESS``,
  else the cluster this machine last started) and probe its port with a short timeout,
  then fail with instructions instead of falling back to a local cluster.
- **Results or data that some node cannot see.** Every trial writes checkpoints under
  ``<results>/ray`` and reads ``--data-root``; a path that exists only on the driver's
  machine breaks trials half-way. As Ray Tune does for its storage, the driver writes a
  marker file and a task pinned to each alive node looks for it.
"""
from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path

HOW_TO_START = (
    "start one with `ray start --head` (then pass --address HOST:6379), point to one with "
    "--address HOST:PORT or RAY_ADDRESS, or submit the study as a Ray Job "
    "(`ray job submit -- python -m study.launch --cluster ...`; see clusters/README.md). "
    "Without --cluster the study runs on an embedded local Ray.")


class ClusterError(RuntimeError):
    """The cluster cannot be reached or cannot run this study as configured."""


def _current_cluster_address() -> str | None:
    """The GCS address of the cluster ``ray start`` last started on this machine, if any."""
    path = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    text = path.read_text().strip() if path.is_file() else ""
    return text or None


def resolve_address(address: str | None) -> str:
    """``--address``, else ``RAY_ADDRESS``, else the local machine's running cluster."""
    chosen = address or os.environ.get("RAY_ADDRESS") or "auto"
    if chosen == "auto":
        found = _current_cluster_address()
        if found is None:
            raise ClusterError(f"--cluster: no Ray cluster address given and none running on this machine; {HOW_TO_START}")
        return found
    return chosen


def probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing listens at ``address`` (``host:port`` or ``ray://host:port``)."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--cluster: cannot read a host:port from Ray address {address!r}; {HOW_TO_START}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as e:
        raise ClusterError(f"--cluster: no Ray cluster answers at {address} ({e}); {HOW_TO_START}") from None


def enable_token_auth_if_available() -> None:
    """Ray 2.60 clients only send a token in token mode; turn it on when a token is at hand.

    A token-mode client still attaches to a cluster without authentication, so this is safe.
    """
    if os.environ.get("RAY_AUTH_MODE"):
        return
    default = Path.home() / ".ray" / "auth_token"
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or default.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def connect(address: str | None) -> str:
    """Resolve, probe and ``ray.init`` the cluster; returns the address used."""
    import ray

    enable_token_auth_if_available()
    resolved = resolve_address(address)
    probe(resolved)
    try:
        ray.init(address=resolved, log_to_driver=False, configure_logging=True, logging_level="WARNING")
    except Exception as e:  # ray raises ConnectionError, RuntimeError, ... depending on the failure
        hint = ""
        if "auth" in str(e).lower() or "token" in str(e).lower():
            hint = (" The cluster uses token authentication: set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
                    "to the cluster's token.")
        raise ClusterError(f"--cluster: could not attach to the Ray cluster at {resolved}: {e}.{hint}") from None
    return resolved


def alive_nodes() -> list[dict]:
    import ray
    return [n for n in ray.nodes() if n.get("Alive")]


def _check_visible(uri_or_path: str, marker: str) -> tuple[str, bool]:
    """Runs on one node: is ``marker`` visible under ``uri_or_path``?"""
    import socket as _socket

    from pyarrow import fs as pafs

    from study.results.paths import filesystem
    fs, base = filesystem(uri_or_path)
    info = fs.get_file_info(f"{base}/{marker}")
    return _socket.gethostname(), info.type == pafs.FileType.File


def check_visible_everywhere(what: str, uri_or_path: str) -> None:
    """Driver writes a marker under ``uri_or_path``; each alive node must see it (like Tune's storage check)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from study.results.paths import filesystem
    fs, base = filesystem(uri_or_path)
    fs.create_dir(base, recursive=True)
    marker = f".cluster-check-{uuid.uuid4().hex}"
    with fs.open_output_stream(f"{base}/{marker}") as f:
        f.write(b"written by the study driver; safe to delete\n")
    try:
        check = ray.remote(num_cpus=0)(_check_visible)
        nodes = alive_nodes()
        refs = [check.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(uri_or_path, marker) for n in nodes]
        seen = ray.get(refs, timeout=120)
    finally:
        fs.delete_file(f"{base}/{marker}")
    blind = [f"{host} (node {n['NodeID'][:8]})" for n, (host, ok) in zip(nodes, seen) if not ok]
    if blind:
        raise ClusterError(
            f"--cluster: {what} {uri_or_path} is not visible from {', '.join(blind)}. Every node must "
            f"read and write it: use shared storage (an s3:// or gs:// URI, or a filesystem mounted at the "
            f"same path on every node, e.g. NFS or a Kubernetes volume).")
