"""Compaction of 1,000 real-schema trials, and results that survive a damaged file.

The trials are written by the real sink (``study.results.sink.ResultsSink``) with real rows
(``study.results.schema.trial_row``); only the metric values are synthetic (``bench.scale``).
Compaction itself is checked on the smallest study the launcher compacts at the end of a run
(``AUTO_COMPACT`` trials, 3,000 files; it was 2,000 trials, but nothing in compaction changes
with size below a part's 2M rows, and ``bench.scale`` times 10,000); the damage, retry and lock
checks on the first 40 trials of the same grid (``few``): each reads every file several times,
and one runs the whole analysis.
"""
import shutil
import warnings

import pandas as pd
import pytest

from study.results.compact import AUTO_COMPACT, compact, compact_if_large
from study.results.compact import main as compact_main
from study.results.lock import study_lock
from study.results.sink import DamagedResultWarning, ResultsSink, done_keys, list_files, read_scores, read_trials

N, FEW, IMAGES, STUDY = AUTO_COMPACT, 40, 6, "table7_optim"


def _trials(n: int = N):
    from study.spec import trial_key
    from trainables.config import TrialConfig
    out = []
    for i in range(n):
        cfg = TrialConfig.from_dict({"variant": "cutpaste_3way", "category": ("carpet", "bottle")[i % 2],
                                     "seed": i // 2 % 100, "lr": (0.1, 0.01, 0.03, 0.003, 0.3,
                                                                   0.05, 0.02, 0.005, 0.2, 0.001)[i // 200]})
        out.append((STUDY, trial_key(STUDY, cfg.to_dict()), cfg.to_dict()))
    return out


def _write(folder, n: int):
    from bench.scale import write_synthetic
    assert write_synthetic(str(folder), _trials(n), images=IMAGES, workers=4) == n
    return folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("pristine") / "results", N)


@pytest.fixture(scope="module")
def pristine_few(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("pristine_few") / "results", FEW)


@pytest.fixture()
def results(pristine, tmp_path):
    return str(shutil.copytree(pristine, tmp_path / "results"))


@pytest.fixture()
def few(pristine_few, tmp_path):
    return str(shutil.copytree(pristine_few, tmp_path / "results"))


def _files(results):
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                  for kind in ("trials", "scores", "history") for p in (pd.io.common.Path(results) / kind).rglob("*"))


def test_compaction_keeps_every_row_and_key_and_resume_still_skips_them(results):
    trials, scores, done = read_trials(results), read_scores(results), done_keys(results)
    assert len(trials) == N and trials["trial_key"].nunique() == N and len(done) == N
    assert len(scores) == N * IMAGES
    assert compact_main(["--results", results]) == 0
    files = {kind: list_files(results, kind) for kind in ("trials", "scores", "history")}
    assert all(f.is_part for fs in files.values() for f in fs) and len(files["trials"]) == 1
    after, scores_after = read_trials(results), read_scores(results)
    cols = ["trial_key", "category", "seed", "lr", "image_auc", "status"]
    pd.testing.assert_frame_equal(trials[cols].sort_values("trial_key").reset_index(drop=True),
                                  after[cols].sort_values("trial_key").reset_index(drop=True))
    key_score = ["trial_key", "image_path", "score"]
    pd.testing.assert_frame_equal(scores[key_score].sort_values(key_score[:2]).reset_index(drop=True),
                                  scores_after[key_score].sort_values(key_score[:2]).reset_index(drop=True))
    assert done_keys(results) == done
    before = _files(results)                      # a second run changes nothing
    assert compact(results) == [] and _files(results) == before


def test_a_truncated_file_is_quarantined_with_a_warning_and_analysis_renders_the_rest(few, capsys):
    from analysis.__main__ import main as analysis_main
    victim = sorted((pd.io.common.Path(few) / "trials" / STUDY).glob("*.parquet"))[7]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.warns(DamagedResultWarning, match=victim.name) as caught:
        df = read_trials(few)
    assert len(df) == FEW - 1 and victim.stem not in set(df["trial_key"])
    assert str(victim) in str(caught[0].message)
    moved = pd.io.common.Path(few) / "quarantine" / "trials" / STUDY / victim.name
    assert moved.read_bytes() == data[: len(data) // 2] and not victim.exists()   # set aside, not deleted
    assert victim.stem not in done_keys(few)              # a rerun trains it again
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedResultWarning)   # nothing else is damaged
        assert analysis_main(["tables", "--results", few]) == 0
    out = capsys.readouterr().out
    assert "bottle" in out and "carpet" in out


def test_a_damaged_scores_file_takes_its_trial_row_aside_so_the_trial_is_retrained(few):
    victim = sorted((pd.io.common.Path(few) / "scores" / STUDY).glob("*.parquet"))[3]
    victim.write_bytes(b"not parquet at all")
    with pytest.warns(DamagedResultWarning, match=victim.name):
        scores = read_scores(few)
    assert victim.stem not in set(scores["trial_key"]) and len(scores) == (FEW - 1) * IMAGES
    q = pd.io.common.Path(few) / "quarantine"
    assert (q / "scores" / STUDY / victim.name).exists() and (q / "trials" / STUDY / victim.name).exists()
    assert victim.stem not in done_keys(few) and len(done_keys(few)) == FEW - 1


def test_a_retry_after_compaction_wins_and_a_half_finished_compaction_shows_each_key_once(few):
    compact(few)
    _, key, cfg = _trials(FEW)[5]
    from bench.scale import synthetic_result
    import numpy as np
    row, scores, _ = synthetic_result(STUDY, cfg, key, 3, np.random.default_rng(1))
    ResultsSink(few).write_trial({**row, "image_auc": 0.123}, scores)   # a retried trial, newer
    df = read_trials(few).set_index("trial_key")
    assert len(df) == FEW and df.loc[key, "image_auc"] == 0.123
    sc = read_scores(few)
    assert (sc["trial_key"] == key).sum() == 3 and len(sc) == (FEW - 1) * IMAGES + 3
    # a compaction interrupted before it removed what it merged: an older part and the new one
    part = [f for f in list_files(few, "trials") if f.is_part][0]
    shutil.copy(part.path, part.path.replace("part-000001-", "part-000000-"))
    assert len(read_trials(few)) == FEW
    compact(few)
    parts = list_files(few, "trials")
    assert len(parts) == 1 and parts[0].generation == 2
    again = read_trials(few).set_index("trial_key")
    assert len(again) == FEW and again.loc[key, "image_auc"] == 0.123


def test_compaction_refuses_while_a_launcher_holds_the_study(few, capsys):
    before = _files(few)
    with study_lock(few, STUDY):
        assert compact_main(["--results", few]) == 2
    assert "already being written by pid" in capsys.readouterr().err and _files(few) == before


@pytest.mark.parametrize("damage", ["truncated", "not_parquet", "no_status", "wrong_type"])
def test_each_kind_of_damage_is_named_and_set_aside_and_a_clash_gets_a_suffix(tmp_path, damage):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from bench.scale import write_synthetic
    res = str(tmp_path / "r")
    write_synthetic(res, _trials(3), images=2)
    victim = sorted((tmp_path / "r" / "trials" / STUDY).glob("*.parquet"))[0]
    for round_ in range(2):                      # the same name damaged twice: both copies kept
        if damage == "truncated":
            victim.write_bytes(victim.read_bytes()[:100] if victim.exists() else b"PAR1")
        elif damage == "not_parquet":
            victim.write_text("key,status\n")
        elif damage == "no_status":
            pq.write_table(pa.table({"trial_key": [victim.stem]}), victim)
        else:
            pq.write_table(pa.table({"trial_key": [victim.stem], "status": ["ok"], "image_auc": ["high"]}), victim)
        with pytest.warns(DamagedResultWarning, match=victim.name):
            assert len(read_trials(res)) == 2
    names = {p.name for p in (tmp_path / "r" / "quarantine" / "trials" / STUDY).iterdir()}
    assert names == {victim.name, f"{victim.stem}.1.parquet"}


def test_the_launcher_compacts_a_study_that_left_many_files_and_keeps_a_small_one_as_is(tmp_path):
    from bench.scale import write_synthetic
    res = str(tmp_path / "r")
    write_synthetic(res, _trials(3), images=2)
    assert not compact_if_large(res, STUDY, threshold=4)      # 3 files: below the threshold
    assert not any(f.is_part for f in list_files(res, "trials"))
    keys = done_keys(res)
    assert compact_if_large(res, STUDY, threshold=3)
    assert all(f.is_part for kind in ("trials", "scores", "history") for f in list_files(res, kind))
    assert done_keys(res) == keys and len(read_scores(res)) == 6
