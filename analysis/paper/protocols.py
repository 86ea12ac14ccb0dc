"""The paper's tables: how each labels its columns, and the protocol behind its numbers.

A protocol is the whole method. A paper number may sit beside one of ours only when our
trials ran the paper's protocol for that table: MVTec AD (identified by its file counts or
verified checksum, see ``trainables.data.is_mvtec_ad``), five seeds, for a group row every
category of the group, and **every** field of ``trainables.config.TrialConfig`` that changes
the method equal to the paper's, apart from the fields the table varies (``Protocol.free``).
The compared fields are derived from ``dataclasses.fields(TrialConfig)`` minus
``NOT_METHOD_FIELDS``, so a field added to the config is compared from the day it exists.
The paper's values are TrialConfig's defaults (the paper's values, or for what the paper
leaves open, such as head depth, density and feature layers, the project's defaults), with a
table's own ``Protocol.changes`` (Table 3's EfficientNet-B4 recipe; ``val_fraction`` 0: the
paper fits the GDE on all of ``train/good``). A field is compared whether or not the
variant reads it (``scar_width_max`` for plain CutPaste): the registries do not declare which
fields a variant reads, and a false mismatch only hides a paper number, never shows a wrong one.

A field our rows do not record (its column absent, or null, in results written before the
field existed) is an ``unrecorded`` mismatch, not assumed to be the default: a field is
usually added with the default that reproduces the old behaviour, but nothing in a row
proves it, and a paper number is the one place where a wrong guess misleads (the tables
themselves do fill old rows with defaults, ``analysis.tables.columns.with_defaults``, to name
columns). The exceptions are listed, each with its reason, in ``DEFAULT_WHEN_UNRECORDED``.
Fields that change only pixel metrics (``PIXEL_ONLY_FIELDS``) are compared only by Table 2.
``Protocol.mismatches`` says which fields differ, so a caption can say why the paper's
column is missing (``lr 0.1 vs 0.03; steps 512 vs 65,536; seeds 1 vs 5``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from study.objective import REPORTED_METRIC
from study.results.schema import C
from trainables.config import FIELD_TYPES, TrialConfig
from trainables.data import GROUPS, MVTEC_CATEGORIES
from trainables.models import PRETRAINED_MODES

TABLE1_NAMES = {"rotation": "Rotation", "cutout": "Cutout", "scar": "Scar", "cutpaste": "CutPaste",
                "cutpaste_scar": "CutPaste_scar", "cutpaste_3way": "CutPaste_3way"}
TABLE4_NAMES = {"cutout": "Cutout", "cutout_mean": "Cutout(Mean)", "cutout_color": "Cutout(Color)",
                "confetti": "Confetti", "cutpaste": "CutPaste"}
TABLE5_NAMES = {"cutpaste": "CutPaste", "cutpaste_scar": "CutPaste(scar)",
                "cutpaste_union": "Binary(Union)", "cutpaste_3way": "3-Way"}
# every dataset's group rows (trainables.categories); "all" is the paper's: MVTec AD's 15
GROUP_MEMBERS = {**{g: set(cats) for g, cats in GROUPS.items()}, "all": set(MVTEC_CATEGORIES)}
PAPER_ENSEMBLE = ("cutpaste_3way", 5)   # Table 1's "Ensemble5x3way": five 3-way models (Sec. 4.1)

# TrialConfig fields that do not change the method a paper number measures; every other
# field is compared. If trainables/config.py later marks fields with field(metadata=...),
# this tuple can move there.
NOT_METHOD_FIELDS = (
    C.variant,            # what is run: each table maps variants to its paper columns (TableKind.paper_column)
    C.category, C.seed,   # what is run: categories are the rows; seeds are counted (Protocol.seeds)
    "device", "threads", "compile",   # where and how fast it runs
    "precision",          # bf16 autocast vs fp32: within seed noise (trainables.devices); named in the caption
    "eval_interval", "log_interval",  # when intermediate evaluations and curve points are taken
    "embedding_sample", "heatmap_sample",   # how many embeddings and heatmaps are kept for figures
    "threshold_fpr",      # sets the deployable threshold only, not any AUC
    "gradcam",            # computes GradCAM heatmaps, scores unchanged; Table 2's GradCAM column asks for it
)
# Fields that change only the pixel metrics (pixel_auc, pixel_ap, aupro): compared only by a
# table that reports them (Table 2), not beside an image AUC.
PIXEL_ONLY_FIELDS = ("pixel_resolution",)
# Fields whose absence from a row is known to mean the default, the exception to "unrecorded":
# before pixel_resolution existed every trial scored its pixel metrics at image_size, which
# is what its default "image" does (trainables/config.py).
DEFAULT_WHEN_UNRECORDED = ("pixel_resolution",)
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrialConfig)}
METHOD_FIELDS = tuple(f.name for f in dataclasses.fields(TrialConfig) if f.name not in NOT_METHOD_FIELDS)
if not set(NOT_METHOD_FIELDS) <= set(_DEFAULTS):      # a renamed field must not slip into the comparison
    raise ImportError(f"NOT_METHOD_FIELDS names fields TrialConfig lacks: {sorted(set(NOT_METHOD_FIELDS) - set(_DEFAULTS))}")

# ResNet-18 from scratch at 256 px, batch 32, 256 epochs of 256 steps (METHOD.md): the
# defaults. The GDE is fitted on all of train/good, so a run that holds normals out
# (val_fraction > 0, for val_auc and the deployable threshold) trained and fitted on less
# data than the paper's.
_SCRATCH = {"val_fraction": 0.0}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10000:
        return f"{v:,}"
    return str(v)


def _typed(name: str, v):
    """A value as its config field's type: Parquet and pandas turn ints into floats next to nulls."""
    typ = FIELD_TYPES.get(name)
    try:
        if typ is int and not isinstance(v, bool) and float(v) == int(float(v)):
            return int(float(v))
        if typ is float and not isinstance(v, bool):
            return float(v)
    except (TypeError, ValueError):
        pass
    return v.item() if hasattr(v, "item") else v


def _same(got, want) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return str(got).lower() == str(want).lower()
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=0.0)
    return str(got) == str(want)


@dataclass(frozen=True)
class Protocol:
    """The method behind a paper table's numbers: TrialConfig's defaults with ``changes``;
    ``free`` fields are what the table varies."""
    changes: dict[str, Any] = field(default_factory=dict)
    free: tuple[str, ...] = ()
    seeds: int = 5
    note: str = ""                # what the paper does not fix, said in the caption
    pixel_metrics: bool = False   # the table reports pixel metrics: PIXEL_ONLY_FIELDS are compared too

    def __post_init__(self) -> None:
        unknown = [k for k in (*self.changes, *self.free) if k not in _DEFAULTS]
        if unknown:
            raise ValueError(f"protocol names unknown config field(s) {unknown}")

    @property
    def fields(self) -> dict[str, Any]:
        """Every compared field and the paper's value for it."""
        return {name: self.changes.get(name, _DEFAULTS[name]) for name in METHOD_FIELDS
                if name not in self.free and (self.pixel_metrics or name not in PIXEL_ONLY_FIELDS)}

    def field_mismatches(self, cell_trials: pd.DataFrame) -> list[str]:
        """``name got vs want`` for every compared config field these rows do not share with the paper."""
        out = []
        for name, want in self.fields.items():
            col = cell_trials[name] if name in cell_trials else pd.Series(index=cell_trials.index, dtype=object)
            if name in DEFAULT_WHEN_UNRECORDED:
                col = col.astype(object).where(col.notna(), _DEFAULTS[name])
            got = list(dict.fromkeys(_typed(name, v) for v in col.dropna()))
            missing = bool(col.isna().any()) or len(col) == 0
            if missing or len(got) != 1 or not _same(got[0], want):
                try:
                    got = sorted(got)
                except TypeError:
                    got = sorted(got, key=str)
                shown = [_fmt(g) for g in got] + (["unrecorded"] if missing else [])
                out.append(f"{name} {', '.join(shown)} vs {_fmt(want)}")
        return out

    def mismatches(self, cell_trials: pd.DataFrame) -> list[str]:
        """Why these trials (one cell, or all trials of a table) are not the paper's protocol."""
        out = self.field_mismatches(cell_trials)
        names = sorted({str(d).split("@")[0] for d in cell_trials.get(C.dataset, pd.Series(dtype=str)).dropna()})
        if names != ["mvtec_ad"]:
            out.append(f"dataset {', '.join(names) or 'unrecorded'} vs MVTec AD")
        seeds = cell_trials.groupby(C.category)[C.seed].nunique() if len(cell_trials) else pd.Series(dtype=int)
        if len(seeds) and (seeds != self.seeds).any():
            out.append(f"seeds {_range(seeds)} vs {self.seeds}")
        return out


def _range(values: pd.Series) -> str:
    lo, hi = int(values.min()), int(values.max())
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _table7(params: dict) -> str | None:
    lr, steps = params.get("lr"), params.get("steps")
    if steps == 65536 and lr is not None:
        return f"lr={_fmt(lr)}"
    if lr == 0.03 and steps is not None and steps % 256 == 0:
        return f"epochs={steps // 256}"
    return None


def _table8(params: dict) -> str | None:
    jitter, area = params.get("jitter"), params.get("area_ratio_max")
    if area == 0.15 and jitter is not None:
        return f"jitter={_fmt(jitter)}"
    if jitter == 0.1 and area is not None:
        return f"max_patch_area={_fmt(area)}"
    return None


def _table3(params: dict) -> str | None:
    level = "l7" if params.get("feature_layers") == "level7" else (
        "pool" if params.get("feature_layers", "layer4") == "layer4" else None)
    if level is None:
        return None
    mode = PRETRAINED_MODES.get(str(params.get("pretrained")))       # ImageNet-frozen: "pretrain"
    return f"{level}_{'pretrain' if mode.is_control else mode.name}" if mode is not None and mode.imagenet else None


def _table2(params: dict) -> str | None:
    """The paper's Table 2 has two of our models: the patch-level 3-way model, and GradCAM on
    the image-level 3-way model. Any other variant (a patch-level binary CutPaste, GradCAM
    on Scar...) is a model the paper did not measure."""
    variant = params.get(C.variant)
    if variant == "cutpaste_3way_patch":
        return "CutPaste_3way_patch"
    if variant == "cutpaste_3way" and str(params.get("gradcam")).lower() in ("true", "1"):
        return "GradCAM"
    return None


@dataclass(frozen=True)
class TableKind:
    """How one of the paper's tables labels its columns, where its numbers are, and under
    which protocol they were measured."""
    number: str                      # paper table number, "" for none
    title: str
    metric: str = REPORTED_METRIC
    paper_column: Callable[[dict], str | None] = field(default=lambda p: None)
    ensemble: bool = False
    protocol: Protocol | None = None
    controls_in_paper: bool = False  # Table 3 reports the ImageNet-frozen control itself
    beside: tuple[str, ...] = ()     # metrics shown beside each cell (analysis.tables.metrics)


TABLE_KINDS = {
    "1": TableKind("1", "Table 1: image-level detection AUC",
                   paper_column=lambda p: TABLE1_NAMES.get(p.get(C.variant)), ensemble=True,
                   protocol=Protocol(_SCRATCH)),
    "2": TableKind("2", "Table 2: pixel-level localization AUC", metric=C.pixel_auc, paper_column=_table2,
                   beside=(C.aupro,),
                   protocol=Protocol(_SCRATCH, pixel_metrics=True,
                                     note="the paper trains on 64 px crops and scores 32 px patches "
                                          "at stride 4; this project trains and scores with one "
                                          "patch_size, compared against its default (64)")),
    "3": TableKind("3", "Table 3: pretrained EfficientNet, without and with CutPaste fine-tuning",
                   paper_column=_table3, controls_in_paper=True,
                   protocol=Protocol({"backbone": "timm/efficientnet_b4", "batch_size": 24, "head_steps": 2560,
                                      "steps": 16384, "val_fraction": 0.0},
                                     free=("pretrained", "feature_layers", "image_size"),
                                     note="the paper's EfficientNet-B4 image size is not stated, so image_size "
                                          "is not compared")),
    "4": TableKind("4", "Table 4: Cutout variants vs CutPaste",
                   paper_column=lambda p: TABLE4_NAMES.get(p.get(C.variant)), protocol=Protocol(_SCRATCH)),
    "5": TableKind("5", "Table 5: binary, union and 3-way CutPaste",
                   paper_column=lambda p: TABLE5_NAMES.get(p.get(C.variant)), protocol=Protocol(_SCRATCH)),
    "7": TableKind("7", "Table 7: learning rate and training length", paper_column=_table7,
                   protocol=Protocol(_SCRATCH, free=("lr", "steps"))),
    "8": TableKind("8", "Table 8: colour jitter and maximum patch area", paper_column=_table8,
                   protocol=Protocol(_SCRATCH, free=("jitter", "area_ratio_max"))),
}
_PREFIXES = {"table1": "1", "table2": "2", "table3": "3", "table4": "4", "table5": "5", "table7": "7",
             "table8": "8", "demo": "1", "ensemble": "1"}


def table_kind(study: str, table: str | None = None) -> TableKind:
    """The spec's ``table`` field decides; a study name's prefix is only the fallback for
    results written before studies recorded it."""
    if table is not None and str(table) in TABLE_KINDS:
        return TABLE_KINDS[str(table)]
    for prefix, number in _PREFIXES.items():
        if study == prefix or study.startswith(prefix + "_") or (len(prefix) > 6 and study.startswith(prefix)):
            return TABLE_KINDS[number]
    return TableKind("", f"Study {study}: image-level detection AUC")


def group_complete(group: str, categories: set[str]) -> bool:
    """A paper group row is comparable only with every one of its categories present."""
    return GROUP_MEMBERS[group] <= categories


def ensemble_matches(protocol: Protocol, members: pd.DataFrame) -> list[str]:
    """Why an ensemble cell is not the paper's 5-model ensemble: it must pool exactly five
    3-way models (one per seed) whose own rows follow the table's protocol."""
    variant, n = PAPER_ENSEMBLE
    why = protocol.mismatches(members)
    if len(members) != n:
        why.append(f"ensemble of {len(members)} models vs {n}")
    if set(members.get(C.variant, pd.Series(dtype=str)).astype(str)) != {variant}:
        why.append(f"ensemble variant {', '.join(sorted(set(members.get('variant', []))))} vs {variant}")
    return why
