import datetime as dt

import pandas as pd

from study.results.sink import ResultsSink, done_keys, read_history, read_scores, read_trials


def row(key, status="ok", **extra):
    now = dt.datetime.now(dt.timezone.utc)
    return {"trial_key": key, "study": "s", "variant": "cutpaste", "category": "bottle", "seed": 0,
            "image_auc": 0.9 if status == "ok" else None, "auc_by_defect": {"crack": 0.8},
            "status": status, "error": None, "started_at": now, "finished_at": now, **extra}


def test_rows_are_written_atomically_and_readable_by_pandas(tmp_path):
    sink = ResultsSink(str(tmp_path))
    sink.write_trial(row("k1"), {"image_path": ["a.png", "b.png"], "label": [0, 1],
                                 "defect_type": ["good", "crack"], "score": [0.1, 0.7]})
    files = list((tmp_path / "trials").rglob("*"))
    assert not [f for f in files if f.name.startswith(".")], "no temporary file left"
    df = pd.read_parquet(tmp_path / "trials")
    assert df["trial_key"].tolist() == ["k1"] and dict(df["auc_by_defect"].iloc[0]) == {"crack": 0.8}
    assert len(read_scores(str(tmp_path))) == 2


def test_a_leftover_temporary_file_is_ignored_by_readers(tmp_path):
    sink = ResultsSink(str(tmp_path))
    sink.write_trial(row("k1"))
    (tmp_path / "trials" / "s" / ".k2.parquet.tmp").write_bytes(b"half a file")
    assert read_trials(str(tmp_path))["trial_key"].tolist() == ["k1"]


def test_retried_trial_overwrites_its_own_row(tmp_path):
    sink = ResultsSink(str(tmp_path))
    sink.write_trial(row("k1", status="failed"))
    assert done_keys(str(tmp_path)) == set()
    sink.write_trial(row("k1"))
    df = read_trials(str(tmp_path))
    assert len(df) == 1 and df["status"].iloc[0] == "ok"
    assert done_keys(str(tmp_path)) == {"k1"}


def test_readers_keep_columns_that_only_later_files_have(tmp_path):
    sink = ResultsSink(str(tmp_path))
    sink.write_trial(row("a"))
    sink.write_trial(row("b", pixel_auc=0.95))
    df = read_trials(str(tmp_path)).set_index("trial_key")
    assert df.loc["b", "pixel_auc"] == 0.95 and pd.isna(df.loc["a", "pixel_auc"])


def test_a_column_empty_in_one_row_and_filled_in_another_still_reads_with_pandas(tmp_path):
    # a stopped trial has no device or budget yet; a finished one has them
    sink = ResultsSink(str(tmp_path))
    sink.write_trial(row("a1", status="stopped", device=None, budget=None, lr=None, restored_from_step=None))
    sink.write_trial(row("b2", device="cpu", budget="smoke", lr=0.1, restored_from_step=40))
    df = pd.read_parquet(tmp_path / "trials").sort_values("trial_key")
    assert df["device"].tolist()[1] == "cpu" and pd.isna(df["device"].tolist()[0])
    assert df["lr"].tolist()[1] == 0.1 and df["restored_from_step"].tolist()[1] == 40


def test_history_is_written_with_the_trial_and_read_back_by_step(tmp_path):
    sink = ResultsSink(str(tmp_path))
    history = {"trial_key": ["k1"] * 3, "step": [10, 20, 30], "image_auc": [0.6, 0.7, 0.8],
               "pixel_auc": [None] * 3, "val_auc": [None] * 3, "loss": [1.0, 0.5, 0.25],
               "train_seconds": [1.0, 2.0, 3.0], "images_per_second": [90.0, 91.0, 92.0]}
    sink.write_trial(row("k1", null_score_mean=3.0, null_score_std=1.5, null_score_method="crossfit5:train_good"),
                     history=history)
    sink.write_trial(row("k2", status="stopped", null_score_mean=None, null_score_std=None,
                         null_score_method=None))   # a stopped trial: no history, null stats
    h = read_history(str(tmp_path))
    assert h["step"].tolist() == [10, 20, 30] and set(h["trial_key"]) == {"k1"}
    assert h["image_auc"].tolist() == [0.6, 0.7, 0.8] and h["pixel_auc"].isna().all()
    assert h["pixel_auc"].dtype == "float64" and h["step"].dtype == "int64"
    df = pd.read_parquet(tmp_path / "trials").set_index("trial_key")   # null stats unify across files
    assert df.loc["k1", "null_score_std"] == 1.5 and pd.isna(df.loc["k2", "null_score_mean"])
    assert df.loc["k1", "null_score_method"] == "crossfit5:train_good"


def test_reading_some_columns_keeps_each_key_once_even_without_the_key_column(tmp_path):
    from study.results.compact import compact
    sink = ResultsSink(str(tmp_path))
    sink.write_trial(row("k1"))
    sink.write_trial(row("k2", status="failed"))
    compact(str(tmp_path))
    sink.write_trial(row("k1", image_auc=0.5))      # a retry after compaction: newer, wins
    df = read_trials(str(tmp_path), columns=("status", "image_auc"))
    assert list(df.columns) == ["status", "image_auc"] and len(df) == 2
    assert sorted(df["image_auc"].fillna(-1)) == [-1, 0.5]
    assert done_keys(str(tmp_path)) == {"k1"}
