"""What one Ray Tune trial is given and reports back, and how its Tune config becomes its config and key.

The runtime builds a :class:`TrialJob` per trial (``study.tune.runtime.job``), grid studies
and searches alike, and puts it in the trial's ``param_space["trial"]``; a searcher adds the
values it sampled beside it. :func:`resolve` turns that Tune config back into the job, the
validated ``TrialConfig`` and the trial key: the trainable and the driver's callbacks call it.
A trial's reports carry its row as of then (:data:`ROW`); the last one (:data:`FINAL`) also
carries, under :data:`STAGED`, where the worker staged the trial's side tables (scores,
embeddings, heatmaps, history: ``study.results.staging``), which the driver publishes before
it writes the row. Nothing here imports Ray.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from study.spec import trial_key
from trainables.config import TrialConfig

__all__ = ["JOB", "ROW", "FINAL", "STAGED", "TrialJob", "resolve"]

JOB = "trial"    # the key of the TrialJob in a trial's Tune config; every other key a searcher sampled
ROW = "row"      # a report's results row: "stopped" as of an evaluation, "ok" in the final report
FINAL = "final"  # True in the last report, which also carries the staged side tables
STAGED = "staged"  # the final report's {table: study.results.staging.Staged as a dict}


@dataclass(frozen=True)
class TrialJob:
    """What one Ray Tune trial is given (its ``param_space["trial"]``), built by the runtime for
    grid studies and searches alike."""
    trial_key: str | None          # None in a search: the key follows from the sampled config
    study: str
    config: dict[str, Any] = field(hash=False)   # a complete TrialConfig as a dict (a search's base)
    data_root: str | None = None   # the user's dataset; None: each node makes the generated one
    cpus: float = 1                # the trial's CPU share: its torch threads unless the config says
    budget: str | None = None
    keep_models: str = "none"      # --keep-models: best, all or none (study.results.models)
    models: str | None = None      # <results>/models/<study>: where the worker writes its bundle
    results: str | None = None     # <results>: where the worker stages its side tables

    def resolve(self, sampled: Mapping[str, Any] | None = None) -> tuple[TrialConfig, str | None]:
        """The trial's config with any searcher-sampled values, and its key."""
        cfg = TrialConfig.from_dict({**self.config, **(sampled or {})}, where=f"study {self.study}")
        return cfg, (trial_key(self.study, cfg.to_dict()) if sampled else self.trial_key)


def resolve(config: Mapping[str, Any]) -> tuple[TrialJob, TrialConfig, str | None]:
    """A trial's Tune config as its job, its config with any searcher-sampled values, and its key."""
    job: TrialJob = config[JOB]
    cfg, key = job.resolve({k: v for k, v in config.items() if k != JOB})
    return job, cfg, key
