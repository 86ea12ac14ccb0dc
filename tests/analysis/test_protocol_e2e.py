"""Real trials on data that carries MVTec's 15 folder names but is not MVTec AD."""
import datetime as dt
import shutil

import pytest

pytestmark = pytest.mark.slow


def test_real_smoke_trials_on_mvtec_named_data_get_no_paper_values(tmp_path, small_spec):
    from analysis.tables.formats import render
    from analysis.tables.build import build_table
    from study.controls import control_of
    from study.results.sink import ResultsSink, read_scores, read_trials
    from study.spec import trial_key
    from study.tune.trainable import make_row
    from trainables.budgets import effective_config
    from trainables.config import TrialConfig
    from trainables.data import MVTEC_CATEGORIES, dataset_id, list_categories
    from trainables.data.generated import generate_dataset
    from trainables.trial import run_trial

    made = generate_dataset(tmp_path / "generated", small_spec, workers=1, verbose=False)
    copy = tmp_path / "my_mvtec"                       # the generated data, copied without its manifest
    shutil.copytree(made, copy, ignore=shutil.ignore_patterns("DATASET.json"))
    assert sorted(list_categories(copy)) == sorted(MVTEC_CATEGORIES)
    assert dataset_id(copy).startswith("my_mvtec@")

    sink = ResultsSink(str(tmp_path / "results"))
    tiny = {"image_size": 32, "batch_size": 4, "steps": 4, "embedding_sample": 4, "threads": 1}
    for cat in ("carpet", "bottle"):
        cfg = effective_config({**tiny, "category": cat, "variant": "cutpaste_3way"}, "smoke")
        ctl = TrialConfig.from_dict({**control_of(cfg.to_dict(), "smoke"), **tiny, "steps": 0})
        for c in (cfg, ctl):
            result = run_trial(c, data_root=copy)
            row = make_row({"study": "table1", "budget": "smoke"}, c, trial_key("table1", c.to_dict()),
                           result.metrics, "ok", dt.datetime.now(dt.timezone.utc))
            sink.write_trial(row, result.scores)
    trials = read_trials(str(tmp_path / "results"))
    assert set(trials["dataset"].str.split("@").str[0]) == {"my_mvtec"}
    t = build_table("table1", trials, read_scores(str(tmp_path / "results")), {"table": "1"})
    assert t.data["paper"].isna().all() and t.data["diff"].isna().all()
    md = render(t, "markdown")
    assert "paper" not in md.split("\n\n", 1)[1]       # no paper column anywhere in the table
    assert "dataset my_mvtec vs MVTec AD" in t.caption and "mvtec_ad@" not in md
    assert "resnet18 trained from scratch" in t.caption and "control: untrained" in t.columns
