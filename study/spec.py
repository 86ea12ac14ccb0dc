"""Study specs: YAML files validated into frozen dataclasses, expanded into trials.

A spec names a budget, a base config, and axes (lists of values per config key) whose
product with categories and seeds gives the trials. ``one_at_a_time`` varies one key at a
time from the base instead (the paper's Tables 7 and 8), and ``controls: true`` adds each
trained configuration's control trial (``study.controls``). A numeric value written
``x0.5`` is relative to the budget's default for that field (``steps: [x0.5, x1.5]`` is
half and one and a half times the budget's training length), so a sweep keeps its shape
at every budget. Unknown keys, unknown variants and values of the wrong type fail here,
before any trial starts, naming the file and field.
"""
from __future__ import annotations

import difflib
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainables.budgets import BUDGETS, budget_defaults, effective_config
from trainables.config import FIELD_TYPES, ConfigError, TrialConfig, coerce

SPEC_DIR = Path(__file__).parent / "specs"
_SPEC_KEYS = {"name", "description", "budget", "base", "axes", "one_at_a_time", "categories", "seeds",
              "resources", "search", "controls", "table", "baseline"}
_RESOURCE_KEYS = {"cpu", "gpu"}
_SEARCH_KEYS = {"kind", "num_samples", "space", "grace_period", "reduction_factor", "seed"}
PAPER_TABLES, SEARCHERS = tuple("12345678"), ("optuna",)   # a spec's ``table`` (the paper's) and ``search.kind``


class SpecError(ValueError):
    """A study spec is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class SearchSpec:
    kind: str                          # one of SEARCHERS
    num_samples: int
    space: dict[str, dict[str, Any]]   # key -> {low, high, log} or {choices}
    grace_period: int = 1
    reduction_factor: int = 2
    seed: int = 0


@dataclass(frozen=True)
class Relative:
    """A numeric field given as a multiple of the budget's default (``x0.5`` in YAML)."""
    factor: float

    def __str__(self) -> str:
        return f"x{self.factor:g}"


@dataclass(frozen=True)
class StudySpec:
    name: str
    path: str
    budget: str = "smoke"
    description: str = ""
    base: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, list[Any]] = field(default_factory=dict)
    one_at_a_time: dict[str, list[Any]] = field(default_factory=dict)
    categories: tuple[str, ...] | str = "all"
    seeds: int = 1
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    search: SearchSpec | None = None
    controls: bool = False         # add each trained configuration's control trial
    table: str | None = None       # the paper table this study rebuilds ("1".."8"), if any
    baseline: str | None = None    # table column the significance tests compare against

    def settings(self) -> list[dict[str, Any]]:
        """Every configuration the study varies, before categories and seeds."""
        grid = [{**self.base, **dict(zip(self.axes, combo))}
                for combo in (itertools.product(*self.axes.values()) if self.axes else [()])]
        if not self.one_at_a_time:
            return grid
        out = []
        for point in grid:
            out.append(point)
            out += [{**point, k: v} for k, values in self.one_at_a_time.items() for v in values]
        return out


@dataclass(frozen=True)
class TrialSpec:
    trial_key: str
    study: str
    config: dict[str, Any]   # complete, validated TrialConfig as a dict


def _fail(path: str, msg: str) -> None:
    raise SpecError(f"{path}: {msg}")


def _check_keys(path: str, where: str, got: dict, allowed: set[str]) -> None:
    for k in got:
        if k not in allowed:
            close = difflib.get_close_matches(k, allowed, n=1)
            _fail(path, f"unknown field '{where}{k}'" + (f" (did you mean '{close[0]}'?)" if close else "")
                  + f"; allowed: {sorted(allowed)}")


def find_spec(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise SpecError(f"study spec file {p} does not exist")
        return p
    candidate = SPEC_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = sorted(q.stem for q in SPEC_DIR.glob("*.yaml"))
        raise SpecError(f"unknown study '{name_or_path}'; built-in studies: {known} (or give a YAML path)")
    return candidate


def load_spec(name_or_path: str) -> StudySpec:
    path = find_spec(name_or_path)
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SpecError(f"{where}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        _fail(where, "a spec is a mapping of fields")
    _check_keys(where, "", raw, _SPEC_KEYS)
    budget = raw.get("budget", "smoke")
    if budget not in BUDGETS:
        _fail(where, f"field 'budget' = {budget!r}; allowed: {list(BUDGETS)}")
    base = dict(raw.get("base") or {})
    axes = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in (raw.get("axes") or {}).items()}
    ota = raw.get("one_at_a_time") or {}
    if not isinstance(ota, dict):
        _fail(where, "field 'one_at_a_time' must map config keys to lists of values")
    ota = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in ota.items()}
    base = {k: _coerce(where, f"base.{k}", k, v) for k, v in base.items()}
    axes = {k: [_coerce(where, f"axes.{k}", k, v) for v in values] for k, values in axes.items()}
    ota = {k: [_coerce(where, f"one_at_a_time.{k}", k, v) for v in values] for k, values in ota.items()}
    controls = raw.get("controls", False)
    if not isinstance(controls, bool):
        _fail(where, f"field 'controls' = {controls!r}; must be true or false")
    table = raw.get("table")
    if table is not None and str(table) not in PAPER_TABLES:
        _fail(where, f"field 'table' = {table!r}; must be a paper table number {PAPER_TABLES[0]}-{PAPER_TABLES[-1]}")
    draft = StudySpec(name="", path=where, base=base, axes=axes, one_at_a_time=ota)
    # every setting must be a valid config (catches unknown variants, bad ranges)
    for values in draft.settings():
        try:
            effective_config(resolve_relative(values, budget), budget, where=where)
        except ConfigError as e:
            raise SpecError(str(e)) from None
    resources = {"cpu": 1, "gpu": 0, **(raw.get("resources") or {})}
    _check_keys(where, "resources.", resources, _RESOURCE_KEYS)
    search = None
    if raw.get("search"):
        s = raw["search"]
        _check_keys(where, "search.", s, _SEARCH_KEYS)
        if s.get("kind", SEARCHERS[0]) not in SEARCHERS:
            _fail(where, f"field 'search.kind' = {s.get('kind')!r}; allowed: {list(SEARCHERS)}")
        for k in s.get("space", {}):
            _coerce(where, f"search.space.{k}", k, 0 if "choices" not in s["space"][k] else s["space"][k]["choices"][0])
        search = SearchSpec(kind=s.get("kind", SEARCHERS[0]), num_samples=int(s.get("num_samples", 8)),
                            space=dict(s.get("space", {})), grace_period=int(s.get("grace_period", 1)),
                            reduction_factor=int(s.get("reduction_factor", 2)), seed=int(s.get("seed", 0)))
    cats = raw.get("categories", "all")
    if cats != "all" and not isinstance(cats, list):
        _fail(where, "field 'categories' must be 'all' or a list of names")
    seeds = raw.get("seeds", 1)
    if not isinstance(seeds, int) or seeds < 1:
        _fail(where, f"field 'seeds' = {seeds!r}; must be a positive integer (number of seeds)")
    baseline = raw.get("baseline")
    return StudySpec(name=str(raw.get("name", path.stem)), path=where, budget=budget,
                     description=str(raw.get("description", "")), base=base, axes=axes, one_at_a_time=ota,
                     categories=tuple(cats) if cats != "all" else "all", seeds=seeds,
                     resources=resources, search=search, controls=controls,
                     table=None if table is None else str(table),
                     baseline=None if baseline is None else str(baseline))


def _coerce(where: str, field_name: str, key: str, value: Any) -> Any:
    if isinstance(value, str) and value.startswith("x") and FIELD_TYPES.get(key) in (int, float):
        try:
            factor = float(value[1:])
        except ValueError:
            factor = -1.0
        if factor <= 0:
            _fail(where, f"field '{field_name}' = {value!r}: a relative value is x<positive factor>, e.g. x0.5")
        return Relative(factor)
    try:
        return coerce(key, value, where=f"{where}: field '{field_name}'")
    except ConfigError as e:
        raise SpecError(str(e)) from None


def resolve_relative(values: dict[str, Any], budget: str) -> dict[str, Any]:
    """Turn ``x<factor>`` values into numbers: factor x the budget's default for that field."""
    rel = {k: v for k, v in values.items() if isinstance(v, Relative)}
    if not rel:
        return values
    plain = {k: v for k, v in values.items() if k not in rel}
    defaults = {**TrialConfig().to_dict(), **budget_defaults(budget, plain)}
    out = dict(plain)
    for k, r in rel.items():
        v = defaults[k] * r.factor
        out[k] = int(round(v)) if FIELD_TYPES[k] is int else float(v)
    return out


# Config fields added after results were first written, with the default that reproduces the
# behaviour from before they existed: at that default a field is left out of the key, so a
# rerun still finds the trials an older version finished (adding a field does not retrain them).
KEY_NEUTRAL_DEFAULTS: dict[str, Any] = {"pixel_resolution": "image"}


def trial_key(study: str, config: dict[str, Any]) -> str:
    """Stable hash of (study, every config value): the resume key.

    Built from the complete resolved config, so the same trial gets the same key in
    every run, and any changed parameter gives a new key (fields of ``KEY_NEUTRAL_DEFAULTS``
    count only when they differ from their default).
    """
    config = {k: v for k, v in config.items()
              if not (k in KEY_NEUTRAL_DEFAULTS and v == KEY_NEUTRAL_DEFAULTS[k])}
    payload = json.dumps({"study": study, "config": config}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def expand(spec: StudySpec, categories: list[str], seeds: int | None = None,
           overrides: dict[str, Any] | None = None, budget: str | None = None,
           controls: bool | None = None) -> list[TrialSpec]:
    """Every trial of a grid study: settings x categories x seeds, in a stable order, then
    the control trials (one per distinct control config) when the spec asks for them."""
    from study.controls import control_of
    budget = budget or spec.budget
    n_seeds = seeds if seeds is not None else spec.seeds
    with_controls = spec.controls if controls is None else controls
    trials: list[TrialSpec] = []
    seen: set[str] = set()
    control_trials: list[TrialSpec] = []

    def add(cfg: dict[str, Any], into: list[TrialSpec]) -> None:
        key = trial_key(spec.name, cfg)
        if key not in seen:
            seen.add(key)
            into.append(TrialSpec(key, spec.name, cfg))

    for setting in spec.settings():
        for category in categories:
            for seed in range(n_seeds):
                values = resolve_relative({**setting, **(overrides or {}), "category": category, "seed": seed},
                                          budget)
                cfg = effective_config(values, budget, where=spec.path).to_dict()
                add(cfg, trials)
                control = control_of(cfg, budget) if with_controls else None
                if control is not None:
                    add(control, control_trials)
    return trials + control_trials
