"""--keep-models: which bundles a study keeps (the rule, on rows) and the driver keeping exactly those."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from study.results.models import ModelKeeper, bundle_dir, default_policy, kept_keys, on_disk

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def row(key, category="bottle", status="ok", val_auc=0.8, image_auc=0.5, minute=0, **config):
    return {"trial_key": key, "study": "s", "category": category, "status": status, "val_auc": val_auc,
            "image_auc": image_auc, "started_at": T0 + dt.timedelta(minutes=minute), "pretrained": "none",
            "steps": 10, "head_steps": 0, **config}


ROWS = [
    row("a", val_auc=0.80, image_auc=0.99),                    # the best test AUC: never the reason
    row("b", val_auc=0.90, image_auc=0.60),                    # best val_auc of bottle's trained ok trials
    row("c", val_auc=0.95, status="stopped"),                  # stopped early: never kept
    row("d", status="failed", val_auc=None, image_auc=None),
    row("e", val_auc=0.99, steps=0),                           # a control (untrained): not a trained model
    row("f", val_auc=0.90, minute=5),                          # ties with b, started later
    row("g", category="grid", val_auc=0.70),
    row("h", category="grid", val_auc=None, image_auc=0.99),   # no val_auc (patch level): never chosen
]


def test_best_keeps_per_category_the_trained_ok_trial_with_the_best_val_auc_never_by_test_auc():
    assert kept_keys(ROWS, "best") == {"b", "g"}
    assert kept_keys(pd.DataFrame(ROWS), "best") == {"b", "g"}


def test_best_keeps_nothing_for_a_category_without_val_auc_and_all_keeps_every_ok_trial():
    assert kept_keys([row("p", val_auc=None)], "best") == set()
    assert kept_keys(ROWS, "all") == {"a", "b", "e", "f", "g", "h"}
    assert kept_keys(ROWS, "none") == set()
    with pytest.raises(ValueError, match="best"):
        kept_keys(ROWS, "top")


def test_searches_keep_the_best_by_default_and_grids_nothing():
    assert default_policy(is_search=True) == "best" and default_policy(is_search=False) == "none"


def _bundle(results, key):
    d = bundle_dir(str(results), "s", key)
    d.mkdir(parents=True)
    (d / "bundle.json").write_text("{}")


def test_the_keeper_removes_losers_and_failed_trials_bundles_but_not_one_still_reporting(tmp_path):
    keeper = ModelKeeper(str(tmp_path), "s", "best")
    for key in ("a", "b", "x"):
        _bundle(tmp_path, key)
    keeper.add(row("a", val_auc=0.8))
    assert on_disk(str(tmp_path), "s") == {"a", "b", "x"}          # b and x: no row yet, still reporting
    keeper.add(row("b", val_auc=0.9))
    assert on_disk(str(tmp_path), "s") == {"b", "x"}               # a better one exists: a removed
    keeper.add(row("x", status="failed", val_auc=None))
    assert on_disk(str(tmp_path), "s") == {"b"}
    _bundle(tmp_path, "orphan")                                    # a bundle whose trial never reported
    assert "1 bundle(s)" in keeper.finish() and on_disk(str(tmp_path), "s") == {"b"}
    assert not any(p.name.startswith(".") for p in (tmp_path / "models" / "s").iterdir())


def test_the_keeper_refuses_a_uri(tmp_path):
    with pytest.raises(ValueError, match="path"):
        ModelKeeper("s3://bucket/results", "s", "best")
