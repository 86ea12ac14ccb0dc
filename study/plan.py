"""What a study will run, decided before Ray starts: its trials, models and projected cost.

:func:`make_plan` loads and validates the spec, resolves the dataset and its categories,
and expands the trials; a search keeps one base config per category (seed 0, no
controls), which its searcher then samples from. :func:`describe_models` and
:func:`projected_cost` are what the launcher (and ``--dry-run``) prints about a plan.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from study.controls import control_kind, is_control
from study.spec import SpecError, StudySpec, TrialSpec, expand, load_spec
from trainables.config import mode_of, parse_set_args, steps_trained


@dataclass(frozen=True)
class Plan:
    spec: StudySpec
    budget: str
    root: Path                       # the dataset the driver resolved (the user's, or the generated one)
    trials: tuple[TrialSpec, ...]    # grid: every trial and control; search: its base per category

    @property
    def is_search(self) -> bool:
        return self.spec.search is not None

    def projected_trials(self) -> list[TrialSpec]:
        """What will train: a search's bases once per sample, else the trials."""
        return list(self.trials) * (self.spec.search.num_samples if self.spec.search else 1)

    def count(self) -> str:
        if self.spec.search is None:
            return f"{len(self.trials)} trials"
        n = self.spec.search.num_samples
        return f"{n} search trials x {len(self.trials)} categories = {n * len(self.trials)} trials"


def make_plan(study: str, data_root: str | None = None, categories: str | None = None, seeds: int | None = None,
              budget: str | None = None, sets: Sequence[str] = ()) -> Plan:
    """Raises SpecError, ConfigError or DatasetError before anything starts."""
    from trainables.data import list_categories, resolve_data_root
    if seeds is not None and seeds < 1:
        raise SpecError(f"--seeds {seeds}: a study needs at least 1 seed")
    if categories is not None:
        names = [c.strip() for c in categories.split(",")]
        if not any(names) or not all(names):
            raise SpecError(f"--categories {categories!r}: give comma-separated category names, "
                            "with no blank entries")
    spec = load_spec(study)
    budget = budget or spec.budget
    root = resolve_data_root(data_root)
    available = list_categories(root)
    if categories:
        cats = [c.strip() for c in categories.split(",") if c.strip()]
    else:
        cats = available if spec.categories == "all" else list(spec.categories)
    missing = [c for c in cats if c not in available]
    if missing:
        raise SpecError(f"categories {missing} are not in the dataset {root}; it has {available}")
    trials = expand(spec, cats, seeds, parse_set_args(list(sets)), budget)
    if spec.search is not None:
        # a search has one base config per category; the searcher samples num_samples of each
        trials = [t for t in trials if t.config["seed"] == 0 and not is_control(t.config)]
    return Plan(spec, budget, root, tuple(trials))


def describe_models(trials: Sequence[TrialSpec]) -> str:
    """One line per model the study trains (and per control): what a reader must know
    before trusting any number, since a budget must never swap the model under a table."""
    def model(c: dict[str, Any]) -> str:
        mode = mode_of(c)
        if is_control(c):
            enc = f"{c['backbone']} {control_kind(c)} + GDE (control, no training)"
        elif mode.head_first:
            enc = f"{c['backbone']} {mode.label} ({c['head_steps']:,} head + {c['steps']:,} all-layer steps)"
        else:
            enc = f"{c['backbone']} {mode.label} ({c['steps']:,} steps, lr {c['lr']:g})"
        return f"{enc}, {c['image_size']} px, batch {c['batch_size']}"

    counts = Counter(model(t.config) for t in trials)
    return "\n".join(f"  {n:>5d} x {m}" for m, n in counts.items())


def trained_images(config: dict[str, Any]) -> int:
    """Images a trial trains on: steps x source batch x the variant's classes (3-way: 3)."""
    from trainables.augment import create_variant
    return steps_trained(config) * config["batch_size"] * create_variant(config["variant"]).num_classes


def projected_cost(trials: Sequence[TrialSpec], resources: dict[str, float]) -> str:
    """Device-hours from the measured throughput table (``python -m bench --save``)."""
    from study.throughput import projection_devices, rate_for, table_path
    total = sum(trained_images(t.config) for t in trials)
    lines = [f"trained images in total: {total:,.0f}"]
    for dev in projection_devices(resources):
        hours, known = 0.0, True
        lines.append(f"on {dev.label}:")
        for size in sorted({t.config["image_size"] for t in trials}):
            part = [t for t in trials if t.config["image_size"] == size]
            imgs = sum(trained_images(t.config) for t in part)
            found = rate_for(dev.type, size, max_k=dev.packing(resources))
            if found is None:
                known = False
                lines.append(f"  {len(part)} trials at {size}px: {dev.type} throughput not measured "
                             f"(run `python -m bench --device {dev.type} --image-size {size} --save`)")
                continue
            rate, name, how = found
            hours += imgs / rate / 3600
            lines.append(f"  {len(part)} trials at {size}px: {imgs / rate / 3600:,.1f} {dev.unit} on {name} "
                         f"at {rate:,.0f} trained images/s ({how})")
        if known:
            lines.append(f"  projected cost: {hours:,.1f} {dev.unit}")
    lines.append(f"(throughput table: {table_path()})")
    return "\n".join(lines)
