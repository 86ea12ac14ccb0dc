"""Which trials' model bundles a study keeps (``--keep-models``), and keeping exactly those on disk.

Bundles live at ``<results>/models/<study>/<trial_key>/`` (``trainables.deploy.bundle``: the
encoder, the density, the threshold). The worker writes a finished trial's bundle there
(temporary name, then renamed); the driver decides what stays, by the policy:

- ``best``: per category, the trained (not a control) ``ok`` trial with the highest ``val_auc``
  (ties: the earlier ``started_at``, then the key). Never chosen by test AUC (DESIGN.md, HPO).
  A category whose trials have no ``val_auc`` (patch-level variants) keeps nothing.
- ``all``: every ``ok`` trial, controls included.
- ``none``: nothing (the worker writes no bundle).

A bundle of a ``failed`` or ``stopped`` trial is never kept, and one that stops being kept is
moved aside under a dot-name (readers skip those) and removed, so a reader sees a whole
bundle or none. :func:`kept_keys` is the rule alone, a function of the rows.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from study.controls import is_control
from study.objective import SEARCH_METRIC
from study.results.paths import MODELS, folder, is_uri
from study.results.schema import OK, C

KEEP_POLICIES = ("best", "all", "none")


def default_policy(is_search: bool) -> str:
    """``best`` for search studies (their point is the chosen model), ``none`` for grids."""
    return "best" if is_search else "none"


def kept_keys(rows: pd.DataFrame | Iterable[Mapping], policy: str) -> set[str]:
    """The trial keys whose bundles ``policy`` keeps, from a study's trial rows."""
    if policy not in KEEP_POLICIES:
        raise ValueError(f"--keep-models {policy!r}: choose one of {list(KEEP_POLICIES)}")
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if policy == "none" or df.empty:
        return set()
    ok = df[df[C.status] == OK]
    if policy == "all":
        return set(ok[C.trial_key])
    trained = ok[[not is_control(r) for r in ok.to_dict("records")]] if len(ok) else ok
    if SEARCH_METRIC not in trained:
        return set()
    trained = trained[trained[SEARCH_METRIC].notna()]
    order = [SEARCH_METRIC] + [c for c in (C.started_at, C.trial_key) if c in trained]
    keep = set()
    for _, g in trained.groupby(C.category):
        keep.add(g.sort_values(order, ascending=[False] + [True] * (len(order) - 1)).iloc[0][C.trial_key])
    return keep


def models_dir(results: str, study: str) -> Path:
    """``<results>/models/<study>``: bundles need a local (or mounted) path, not a URI."""
    if is_uri(results):
        raise ValueError(f"--keep-models needs --results as a path (bundles are folders), got {results}")
    return Path(folder(results, MODELS, study))


def bundle_dir(results: str, study: str, key: str) -> Path:
    return models_dir(results, study) / key


def remove_bundle(path: Path) -> None:
    """Move the bundle aside under a dot-name (atomic), then delete it."""
    if not path.exists():
        return
    aside = path.parent / f".{path.name}.removing-{os.getpid()}"
    os.replace(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def on_disk(results: str, study: str) -> set[str]:
    """Keys with a bundle folder (dot-named temporaries left out)."""
    d = models_dir(results, study)
    return {p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")} if d.is_dir() else set()


def prune(results: str, study: str, rows: pd.DataFrame | Iterable[Mapping], policy: str) -> set[str]:
    """Remove every bundle of ``study`` that ``policy`` does not keep; returns the keys kept."""
    keep = kept_keys(rows, policy)
    for key in on_disk(results, study) - keep:
        remove_bundle(bundle_dir(results, study, key))
    return keep & on_disk(results, study)


def disk_usage(results: str, study: str) -> tuple[int, int]:
    """(bundles, bytes) under ``<results>/models/<study>``."""
    keys = on_disk(results, study)
    total = sum(f.stat().st_size for k in keys for f in bundle_dir(results, study, k).rglob("*") if f.is_file())
    return len(keys), total


def describe_usage(results: str, study: str) -> str:
    n, size = disk_usage(results, study)
    return f"[study] kept models: {n} bundle(s), {size / 2**20:.1f} MiB in {models_dir(results, study)}"


# the columns the rule reads (is_control needs the pretrained mode and the steps)
RULE_COLUMNS = (C.trial_key, C.study, C.status, C.category, SEARCH_METRIC, C.started_at, C.pretrained, C.steps,
                C.head_steps)


class ModelKeeper:
    """The driver's side of ``--keep-models``: after each finished trial, remove the bundles the
    policy no longer keeps. While trials run, only bundles whose trial has a row are judged (a
    bundle without one belongs to a trial whose final report is on its way); :meth:`finish`
    judges them all."""

    def __init__(self, results: str, study: str, policy: str, rows: pd.DataFrame | None = None) -> None:
        if policy not in KEEP_POLICIES:
            raise ValueError(f"--keep-models {policy!r}: choose one of {list(KEEP_POLICIES)}")
        self.results, self.study, self.policy = results, study, policy
        models_dir(results, study)                      # a URI fails here, before any trial
        self.rows: dict[str, dict] = {}
        if rows is not None and not rows.empty:
            for r in rows[rows[C.study] == study].to_dict("records"):
                self.rows[r[C.trial_key]] = r

    def add(self, row: Mapping) -> set[str]:
        """A trial's row (ok, stopped or failed) is known: prune; returns the keys kept."""
        self.rows[row[C.trial_key]] = {k: row.get(k) for k in RULE_COLUMNS}
        keep = kept_keys(list(self.rows.values()), self.policy)
        for key in (on_disk(self.results, self.study) & set(self.rows)) - keep:
            remove_bundle(bundle_dir(self.results, self.study, key))
        return keep

    def finish(self) -> str:
        """Judge every bundle on disk (no trial is running now) and say what they take."""
        prune(self.results, self.study, list(self.rows.values()), self.policy)
        return describe_usage(self.results, self.study)
