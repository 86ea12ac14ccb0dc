"""Search studies: Optuna (through Ray Tune's OptunaSearch) with ASHA, one search per category.

The objective is ``val_auc`` (study.objective.SEARCH_METRIC), never the test AUC each
row also reports. Optuna's journal lives under ``<results>/hpo/<study>/`` so a rerun
continues the same Optuna study, and only the samples still missing are run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from study.objective import MODE, REPORTED_METRIC, SEARCH_METRIC
from study.results.paths import HPO, folder, is_uri
from study.results.schema import OK, STOPPED, C
from study.results.sink import read_trials
from study.spec import SpecError, StudySpec, TrialSpec
from study.tune.jobs import JOB
from study.tune.runtime import RunOptions, job, start_ray, tuner
from trainables.config import FIELD_TYPES, steps_trained


def optuna_space(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    out = {}
    for key, d in space.items():
        if "choices" in d:
            out[key] = CategoricalDistribution(list(d["choices"]))
        elif FIELD_TYPES[key] is int:
            out[key] = IntDistribution(int(d["low"]), int(d["high"]), log=bool(d.get("log", False)))
        else:
            out[key] = FloatDistribution(float(d["low"]), float(d["high"]), log=bool(d.get("log", False)))
    return out


def asha_max_t(config: dict[str, Any]) -> int:
    """ASHA's ``max_t`` in reports: one per evaluation of every step the config trains (a
    fine-tune's head-only steps included), plus one of slack."""
    steps = steps_trained(config)
    evaluations = max(1, -(-steps // (config["eval_interval"] or steps or 1)))
    return evaluations + 1


def best_per_category(results: str, study: str) -> dict[str, dict[str, Any]]:
    """Per category, the trial with the highest val_auc (ties: earlier trial), and its test AUC."""
    df = read_trials(results)
    if df.empty:
        return {}
    df = df[(df[C.study] == study) & df[SEARCH_METRIC].notna()]
    best = {}
    for cat, g in df.groupby(C.category):
        row = g.sort_values([SEARCH_METRIC, C.started_at], ascending=[False, True]).iloc[0]
        best[cat] = {C.trial_key: row[C.trial_key], SEARCH_METRIC: float(row[SEARCH_METRIC]),
                     REPORTED_METRIC: float(row[REPORTED_METRIC]), C.status: row[C.status]}
    return best


def run_search(spec: StudySpec, bases: Sequence[TrialSpec], opts: RunOptions, budget: str | None = None) -> None:
    """One Optuna search per base config (one per category), each resumed from its journal."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    search = spec.search
    assert search is not None
    if is_uri(opts.results):
        raise SpecError("search studies keep Optuna's journal on a local or shared filesystem path; "
                        "give --results as a path")
    journal_dir = Path(folder(opts.results, HPO, spec.name))
    journal_dir.mkdir(parents=True, exist_ok=True)
    done = read_trials(opts.results)
    todo = []                        # counted before Ray starts: a finished search reruns without it
    for base in bases:
        cat = base.config["category"]
        n_done = 0 if done.empty else int(((done[C.study] == spec.name) & (done[C.category] == cat)
                                           & done[C.status].isin([OK, STOPPED])).sum())
        remaining = search.num_samples - n_done
        print(f"[study] {cat}: {n_done} of {search.num_samples} search trials done, running {max(remaining, 0)}",
              flush=True)
        if remaining > 0:
            todo.append((base, cat, remaining))
    resources = start_ray(opts, spec.resources) if todo else None
    for base, cat, remaining in todo:
        searcher = OptunaSearch(
            space=optuna_space(search.space), metric=SEARCH_METRIC, mode=MODE, seed=search.seed,
            storage=JournalStorage(JournalFileBackend(str(journal_dir / "optuna.journal"))),
            study_name=f"{spec.name}-{cat}")
        scheduler = ASHAScheduler(metric=SEARCH_METRIC, mode=MODE, max_t=asha_max_t(base.config),
                                  grace_period=search.grace_period, reduction_factor=search.reduction_factor)
        fixed = job(opts, resources, spec.name, base.config, trial_key=None, budget=budget)
        tuner(f"{spec.name}-{cat}", {JOB: fixed}, opts, resources, remaining,
              search_alg=searcher, scheduler=scheduler, num_samples=remaining).fit()
    best = best_per_category(opts.results, spec.name)
    (journal_dir / "best.json").write_text(json.dumps(best, indent=2))
    print(f"\n[study] best configuration per category (chosen by {SEARCH_METRIC}; {REPORTED_METRIC} is the test AUC it reports):")
    for cat, b in sorted(best.items()):
        print(f"  {cat:<14s} {SEARCH_METRIC} {b[SEARCH_METRIC]:.4f}  {REPORTED_METRIC} {b[REPORTED_METRIC]:.4f}  "
              f"trial {b[C.trial_key]}")
    print(f"[study] saved to {journal_dir / 'best.json'}")
