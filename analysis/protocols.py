"""The paper's tables: how each labels its columns, and the protocol behind its numbers.

A paper number may sit beside one of ours only when our trials ran the paper's protocol
for that table: MVTec AD (identified by its file counts or verified checksum, see
``trainables.data.is_mvtec_ad``), the paper's model (backbone and pretrained mode), image
size, training steps and batch, five seeds, and for a group row every category of the
group. ``Protocol.mismatches`` says which fields differ, so a caption can say why the
paper's column is missing (``steps 512 vs 65,536; seeds 1 vs 5``) instead of hiding it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from trainables.augment import is_patch_level
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

# ResNet-18 from scratch at 256 px, batch 32, 256 epochs of 256 steps (METHOD.md); the GDE is
# fitted on all of train/good, so a run that holds normals out (val_fraction > 0, for val_auc
# and the deployable threshold) trained and fitted on less data than the paper's
_SCRATCH = {"backbone": "resnet18", "pretrained": "none", "image_size": 256, "steps": 65536, "batch_size": 32,
            "val_fraction": 0.0}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10000:
        return f"{v:,}"
    return str(v)


@dataclass(frozen=True)
class Protocol:
    """The settings behind a paper table's numbers; ``free`` fields are what the table varies."""
    fields: dict[str, Any]
    free: tuple[str, ...] = ()
    seeds: int = 5
    note: str = ""                # what the paper does not fix, said in the caption

    def mismatches(self, cell_trials: pd.DataFrame) -> list[str]:
        """Why these trials (one cell, or all trials of a table) are not the paper's protocol."""
        out = []
        for name, want in self.fields.items():
            if name in self.free:
                continue
            got = sorted({str(v) for v in cell_trials[name].dropna()}) if name in cell_trials else []
            if got != [str(want)]:
                out.append(f"{name} {', '.join(_fmt(_num(g)) for g in got) or 'unrecorded'} vs {_fmt(want)}")
        names = sorted({str(d).split("@")[0] for d in cell_trials.get("dataset", pd.Series(dtype=str)).dropna()})
        if names != ["mvtec_ad"]:
            out.append(f"dataset {', '.join(names) or 'unrecorded'} vs MVTec AD")
        seeds = cell_trials.groupby("category")["seed"].nunique() if len(cell_trials) else pd.Series(dtype=int)
        if len(seeds) and (seeds != self.seeds).any():
            out.append(f"seeds {_range(seeds)} vs {self.seeds}")
        return out


def _num(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


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


def _table2(params: dict) -> str:
    return "CutPaste_3way_patch" if is_patch_level(str(params.get("variant", ""))) else "GradCAM"


@dataclass(frozen=True)
class TableKind:
    """How one of the paper's tables labels its columns, where its numbers are, and under
    which protocol they were measured."""
    number: str                      # paper table number, "" for none
    title: str
    metric: str = "image_auc"
    paper_column: Callable[[dict], str | None] = field(default=lambda p: None)
    ensemble: bool = False
    protocol: Protocol | None = None
    controls_in_paper: bool = False  # Table 3 reports the ImageNet-frozen control itself
    beside: tuple[str, ...] = ()     # metrics shown beside each cell (analysis.metric_tables)


TABLE_KINDS = {
    "1": TableKind("1", "Table 1: image-level detection AUC",
                   paper_column=lambda p: TABLE1_NAMES.get(p.get("variant")), ensemble=True,
                   protocol=Protocol(_SCRATCH)),
    "2": TableKind("2", "Table 2: pixel-level localization AUC", metric="pixel_auc", paper_column=_table2,
                   beside=("aupro",),
                   protocol=Protocol(_SCRATCH, note="the paper trains on 64 px crops and scores 32 px patches "
                                                    "at stride 4; patch_size is not part of the check")),
    "3": TableKind("3", "Table 3: pretrained EfficientNet, without and with CutPaste fine-tuning",
                   paper_column=_table3, controls_in_paper=True,
                   protocol=Protocol({"backbone": "timm/efficientnet_b4", "batch_size": 24, "head_steps": 2560,
                                      "steps": 16384, "val_fraction": 0.0}, free=("pretrained", "feature_layers"),
                                     note="the paper's EfficientNet-B4 image size is not stated")),
    "4": TableKind("4", "Table 4: Cutout variants vs CutPaste",
                   paper_column=lambda p: TABLE4_NAMES.get(p.get("variant")), protocol=Protocol(_SCRATCH)),
    "5": TableKind("5", "Table 5: binary, union and 3-way CutPaste",
                   paper_column=lambda p: TABLE5_NAMES.get(p.get("variant")), protocol=Protocol(_SCRATCH)),
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
