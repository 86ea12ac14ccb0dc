"""A small but real results directory: tiny trials trained here, written by the real sink."""
from __future__ import annotations

import datetime as dt

import pytest

TINY = {"image_size": 32, "batch_size": 4, "steps": 3, "embedding_sample": 6, "threads": 1}


def write_study(sink, study: str, configs: list[dict], data_root) -> None:
    from study.spec import trial_key
    from study.tune.trainable import make_row
    from trainables.config import TrialConfig
    from trainables.trial import run_trial

    for values in configs:
        cfg = TrialConfig.from_dict({**TINY, **values})
        key = trial_key(study, cfg.to_dict())
        result = run_trial(cfg, data_root=data_root)
        row = make_row({"study": study, "budget": "smoke"}, cfg, key, result.metrics, "ok",
                       dt.datetime.now(dt.timezone.utc))
        heatmaps = {"trial_key": [key] * len(result.heatmaps.get("kind", [])), **result.heatmaps}
        sink.write_trial(row, result.scores, result.embedding_rows(key), heatmaps, result.history_columns(key))


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory, small_dataset):
    """table1: 3-way (2 seeds), cutpaste (1 seed) and the untrained control (2 seeds) on carpet
    and bottle; table7: two lrs on bottle; learning_curve: 3-way evaluated every 2 steps."""
    from study.results.sink import ResultsSink

    out = tmp_path_factory.mktemp("results")
    sink = ResultsSink(str(out))
    table1 = [{"variant": v, "category": c, "seed": s}
              for c in ("carpet", "bottle") for v, seeds in (("cutpaste_3way", (0, 1)), ("cutpaste", (0,)))
              for s in seeds]
    table1 += [{"variant": "cutpaste_3way", "category": c, "seed": s, "steps": 0}
               for c in ("carpet", "bottle") for s in (0, 1)]
    write_study(sink, "table1", table1, small_dataset)
    write_study(sink, "learning_curve", [{"category": "carpet", "steps": st, "eval_interval": 2}
                                         for st in (6, 0)], small_dataset)
    write_study(sink, "table7_optim", [{"category": "bottle", "lr": lr} for lr in (0.01, 0.1)], small_dataset)
    loc = {"gradcam": True, "patch_size": 16, "patch_stride": 8, "heatmap_sample": 2}
    write_study(sink, "table2_localization", [{"variant": v, "category": c, **loc}
                                              for c in ("carpet", "bottle")
                                              for v in ("cutpaste_3way_patch", "cutpaste_3way")], small_dataset)
    return out
