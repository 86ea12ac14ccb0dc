"""The results schema (study/results/schema.py): one list of columns, the one DESIGN.md documents."""
import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pytest

from study.results import schema
from study.results.paths import TRIALS
from study.results.schema import (CONFIG_COLUMNS, FAILED_COLUMNS, HISTORY_COLUMNS, SCHEMAS, TRIAL_COLUMNS,
                                  failed_row, to_table, trial_row)
from study.tune.jobs import TrialJob
from trainables.config import TrialConfig

DESIGN = Path(__file__).resolve().parents[2] / "DESIGN.md"
_PREDICATES = (("string", pa.types.is_string), ("int", pa.types.is_integer), ("float", pa.types.is_floating),
               ("bool", pa.types.is_boolean), ("map", pa.types.is_map), ("timestamp", pa.types.is_timestamp))
_WORDS = tuple(word for word, _ in _PREDICATES)


def _word(t: pa.DataType) -> str:
    for word, matches in _PREDICATES:
        if matches(t):
            return word
    raise AssertionError(f"no DESIGN.md word for {t}")


def _section(heading: str) -> list[str]:
    lines = DESIGN.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("### ") and heading in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start + 1:end]


def design_trials_table() -> dict[str, str | None]:
    """Column -> the type word DESIGN.md gives it (None for the config line, typed as the field)."""
    out: dict[str, str | None] = {}
    rows = [line for line in _section("`trials` columns") if line.startswith("|")][2:]   # past header, rule
    for line in rows:
        first, types = (cell.strip() for cell in line.strip("|").split("|")[:2])
        if "every TrialConfig field" in first:
            out.update({c: None for c in CONFIG_COLUMNS if c not in out})
            continue
        names = re.findall(r"`([a-z_0-9]+)`", first)
        words = re.findall(r"\b(" + "|".join(_WORDS) + r")\b", re.sub(r"<[^>]*>", "", types))
        assert names and len(words) in (1, len(names)), line
        for name, word in zip(names, words * len(names) if len(words) == 1 else words):
            assert name not in out or out[name] is None, f"{name} listed twice in DESIGN.md"
            out[name] = word
    return out


def test_design_md_lists_exactly_the_schema_columns_both_ways():
    documented = design_trials_table()
    assert sorted(set(TRIAL_COLUMNS) - set(documented)) == [], "columns the schema writes but DESIGN.md lacks"
    assert sorted(set(documented) - set(TRIAL_COLUMNS)) == [], "columns DESIGN.md lists but the schema lacks"


def test_design_md_gives_each_column_its_arrow_type():
    for name, word in design_trials_table().items():
        if word is not None:
            assert word == _word(schema.COLUMN_TYPES[name]), name


def test_design_md_lists_the_history_and_failed_row_columns():
    history = " ".join(_section("`history` columns"))
    assert re.findall(r"`([a-z_]+)`", history.split("(")[0]) == list(HISTORY_COLUMNS)
    failed = next(line for line in _section("`trials` columns") if "`failed` row has" in line)
    assert set(re.findall(r"`([a-z_]+)`", failed.split("`failed` row has")[1])) == set(FAILED_COLUMNS)


@pytest.mark.parametrize("table", ["scores", "embeddings", "heatmaps"])
def test_design_md_lists_the_side_table_columns_in_order(table):
    listed = re.findall(r"`([a-z_]+)`(?: \([^)]*\))?", " ".join(_section(f"`{table}` columns")))
    assert listed == list(schema.COLUMNS[table])


def test_every_column_has_a_declared_type_and_every_trial_metric_a_column():
    from trainables.metrics import TRIAL_METRICS
    assert len(set(TRIAL_COLUMNS)) == len(TRIAL_COLUMNS)
    assert set(TRIAL_COLUMNS) <= set(schema.COLUMN_TYPES)
    assert set(TRIAL_METRICS) <= set(TRIAL_COLUMNS) and set(CONFIG_COLUMNS) <= set(TRIAL_COLUMNS)
    assert set(FAILED_COLUMNS) <= set(TRIAL_COLUMNS)


def test_the_objective_and_reported_metric_are_schema_metrics():
    from study.objective import REPORTED_METRIC, SEARCH_METRIC
    assert {REPORTED_METRIC, SEARCH_METRIC} <= set(schema.METRICS) <= set(TRIAL_COLUMNS)


def test_history_columns_are_what_a_trial_result_produces():
    from trainables.trial import TrialResult
    result = TrialResult(metrics={}, config=TrialConfig(), scores={}, history=[{"step": 1, "image_auc": 0.5}])
    assert tuple(result.history_columns("k")) == HISTORY_COLUMNS == tuple(SCHEMAS["history"].names)


def _started() -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_an_ok_row_has_every_column_in_order_and_the_declared_types_even_when_null():
    cfg = TrialConfig.from_dict({"category": "bottle", "variant": "cutpaste"})
    row = trial_row("s", cfg, "k", {"image_auc": 0.9, "auc_by_defect": {"crack": 0.8}}, "ok", _started())
    assert tuple(row) == TRIAL_COLUMNS
    assert row["status"] == "ok" and row["lr"] == cfg.lr and row["budget"] is None
    table = to_table([row])
    assert table.schema.equals(SCHEMAS[TRIALS])
    # the on-disk types of columns that are often null (older results must still unify)
    assert table.schema.field("null_score_mean").type == pa.float64()
    assert table.schema.field("restored_from_step").type == pa.int64()
    assert table.schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("auc_by_defect").type == pa.map_(pa.string(), pa.float64())
    assert table.schema.field("null_score_method").type == pa.string()


def test_only_ok_and_stopped_rows_are_built_from_metrics():
    cfg = TrialConfig.from_dict({"category": "bottle"})
    assert trial_row("s", cfg, "k", {}, "stopped", _started())["status"] == "stopped"
    with pytest.raises(ValueError):
        trial_row("s", cfg, "k", {}, "failed", _started())
    with pytest.raises(ValueError):
        trial_row("s", cfg, "k", {}, "ok", _started(), context={"nodeid": "x"})


def test_a_failed_row_names_what_ran_and_the_error():
    row = failed_row("s", TrialConfig.from_dict({"category": "grid", "seed": 3}).to_dict(), "k", "boom")
    assert tuple(row) == FAILED_COLUMNS
    assert (row["category"], row["seed"], row["status"], row["error"]) == ("grid", 3, "failed", "boom")


def test_a_trial_job_keeps_its_key_and_a_sampled_one_gets_the_key_of_its_config():
    from study.spec import trial_key
    base = TrialConfig.from_dict({"category": "bottle"}).to_dict()
    job = TrialJob(trial_key="k", study="s", config=base)
    assert job.resolve() == (TrialConfig.from_dict(base), "k")
    cfg, key = TrialJob(trial_key=None, study="s", config=base).resolve({"lr": 0.5})
    assert cfg.lr == 0.5 and key == trial_key("s", cfg.to_dict()) != trial_key("s", base)
