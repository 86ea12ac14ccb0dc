"""Side tables staged by the worker and published by the driver (``study.results.staging``).

A finished trial's scores, embeddings, heatmaps and history no longer travel through Tune's
result channel: the worker writes them under dot-names, the driver's callback checks and
renames them, then writes the row. A trial whose files are missing or short is not done.
"""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from study.results.schema import C
from study.results.sink import DamagedResultWarning, ResultsSink, done_keys, read_history, read_scores, read_trials
from study.results.staging import StagedIncomplete, publish, stage, sweep_staged
from study.tune.jobs import FINAL, JOB, ROW, STAGED, TrialJob
from study.tune.sink_callback import SinkCallback
from trainables.config import TrialConfig

SCORES = {"image_path": ["a.png", "b.png", "c.png"], "label": [0, 1, 1], "defect_type": ["good", "crack", "hole"],
          "score": [0.1, 0.8, 0.9]}
HISTORY = {"trial_key": ["k", "k"], "step": [1, 2], "loss": [1.0, 0.5], "image_auc": [None, 0.9]}
EMBEDDINGS = {"trial_key": ["k"], "kind": ["normal"], "vector": [[0.5, 1.0]]}


def ok_row(key: str) -> dict:
    return {"trial_key": key, "study": "s", "variant": "cutpaste", "category": "bottle", "seed": 0, "status": "ok",
            "image_auc": 0.9, "train_seconds": 1.0}


def staged_files(results) -> list[str]:
    return sorted(p.name for p in results.rglob(".*.staged.parquet"))


def test_staged_tables_are_invisible_until_published_then_read_as_the_sink_writes_them(tmp_path):
    results = str(tmp_path)
    staged = stage(results, "s", "k", {"scores": SCORES, "history": HISTORY, "embeddings": EMBEDDINGS,
                                       "heatmaps": {"kind": []}})          # no heatmaps: nothing staged
    assert set(staged) == {"scores", "history", "embeddings"} and staged["scores"].rows == 3
    assert read_scores(results).empty and len(staged_files(tmp_path)) == 3
    publish(staged)
    ResultsSink(results).write_trial(ok_row("k"))
    assert read_scores(results)[C.score].tolist() == [0.1, 0.8, 0.9]
    assert read_scores(results)[C.trial_key].tolist() == ["k"] * 3
    assert read_history(results)[C.step].tolist() == [1, 2] and staged_files(tmp_path) == []
    # the same tables through the driver's own writer: identical files
    other = tmp_path / "direct"
    ResultsSink(str(other)).write_trial(ok_row("k"), SCORES, EMBEDDINGS, None, HISTORY)
    for table in ("scores", "history", "embeddings"):
        assert pd.read_parquet(tmp_path / table / "s" / "k.parquet").equals(pd.read_parquet(other / table / "s" / "k.parquet"))


def test_a_missing_or_short_staged_file_is_refused_before_anything_is_renamed(tmp_path):
    results = str(tmp_path)
    staged = stage(results, "s", "k", {"scores": SCORES, "history": HISTORY})
    (tmp_path / "history" / "s" / staged["history"].path.rsplit("/", 1)[-1]).unlink()
    with pytest.raises(StagedIncomplete, match="history of k.*missing"):
        publish(staged)
    assert not (tmp_path / "scores" / "s" / "k.parquet").exists()       # scores not published either
    staged = stage(results, "s", "k2", {"scores": SCORES})
    short = stage(results, "s", "k2", {"scores": {k: v[:1] for k, v in SCORES.items()}})["scores"]
    (tmp_path / "scores" / "s" / short.path.rsplit("/", 1)[-1]).replace(
        tmp_path / "scores" / "s" / staged["scores"].path.rsplit("/", 1)[-1])
    with pytest.raises(StagedIncomplete, match="holds 1 rows, the trial wrote 3"):
        publish(staged)


def test_sweep_removes_only_a_studys_unpublished_staged_files(tmp_path):
    results = str(tmp_path)
    publish(stage(results, "s", "done", {"scores": SCORES}))
    stage(results, "s", "killed", {"scores": SCORES, "history": HISTORY})
    stage(results, "other", "running", {"scores": SCORES})
    assert sweep_staged(results, "s") == 2
    assert staged_files(tmp_path) == [p for p in staged_files(tmp_path) if "running" in p] != []
    assert (tmp_path / "scores" / "s" / "done.parquet").exists()


def finished_trial(results: str, key: str, staged: dict) -> SimpleNamespace:
    """What the callback reads of a Tune trial that ended after its final report."""
    cfg = TrialConfig(category="bottle", variant="cutpaste").to_dict()
    job = TrialJob(trial_key=key, study="s", config=cfg, results=results)
    return SimpleNamespace(config={JOB: job}, trial_id=key, error_file=None, error_msg=None,
                           last_result={FINAL: True, ROW: {**ok_row(key), "variant": "cutpaste"},
                                        STAGED: {t: s.to_dict() for t, s in staged.items()}})


def test_the_driver_publishes_a_finished_trial_and_fails_one_whose_files_are_incomplete(tmp_path):
    results = str(tmp_path)
    callback = SinkCallback(ResultsSink(results), total=2)
    callback.on_trial_complete(0, [], finished_trial(results, "good", stage(results, "s", "good", {"scores": SCORES})))
    broken = stage(results, "s", "broken", {"scores": SCORES, "history": HISTORY})
    path = tmp_path / "history" / "s" / broken["history"].path.rsplit("/", 1)[-1]
    path.write_bytes(path.read_bytes()[:40])                              # a worker killed mid-write
    with pytest.warns(DamagedResultWarning):
        callback.on_trial_complete(0, [], finished_trial(results, "broken", broken))
    assert done_keys(results) == {"good"}                                 # the broken trial is not done
    rows = read_trials(results).set_index(C.trial_key)
    assert rows.loc["broken", C.status] == "failed" and "incomplete" in rows.loc["broken", C.error]
    assert sorted(read_scores(results)[C.trial_key].unique()) == ["good"]
    assert len(list((tmp_path / "quarantine").rglob("*.parquet"))) == 2   # both of its staged files
    assert staged_files(tmp_path) == []
