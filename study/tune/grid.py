"""Grid studies on Ray Tune: every remaining trial key once, in Tune runs of a bounded size.

The launcher (``study.launch``) decides which keys remain (resume: keys with an ``ok`` row are
skipped); this module runs them, as ``study.tune.search`` runs a search. Both start Ray and
build their Tuner through ``study.tune.runtime``.
"""
from __future__ import annotations

from typing import Sequence

from study.spec import TrialSpec
from study.tune.jobs import JOB
from study.tune.runtime import RunOptions, job, start_ray, tuner

# Trials per Ray Tune run. Tune keeps every trial of a run in its driver and rewrites the
# run's experiment state with all of them as it goes, so a run's bookkeeping grows with its
# size; its maintainers describe hundreds of trials per experiment as the practical range.
# A larger grid is split into runs of this many behind the same command and results (one
# Ray session; resume works across them, since each finished trial writes its own row). The
# cost is one tail per run where slots idle while its last trials finish: at most one trial's
# duration per 500 trials. docs/scale.md has the measurement.
TRIALS_PER_RUN = 500


def run_grid(name: str, todo: Sequence[TrialSpec], opts: RunOptions, resources: dict[str, float],
             budget: str | None = None) -> None:
    """Train ``todo`` (a grid study's trials not yet done) in runs of at most TRIALS_PER_RUN."""
    from ray import tune
    fitted = start_ray(opts, resources)
    jobs = [job(opts, fitted, t.study, t.config, t.trial_key, budget) for t in todo]
    runs = [jobs[i:i + TRIALS_PER_RUN] for i in range(0, len(jobs), TRIALS_PER_RUN)]
    for n, part in enumerate(runs, 1):
        run = name if len(runs) == 1 else f"{name}-run{n}of{len(runs)}"
        if len(runs) > 1:
            print(f"[study] Tune run {n}/{len(runs)}: {len(part)} trials", flush=True)
        tuner(run, {JOB: tune.grid_search(part)}, opts, fitted, len(part)).fit()
