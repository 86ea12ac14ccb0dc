"""The paper's tables rebuilt from the trials table, with the paper's numbers beside ours.

Every study becomes one table: rows are categories (MVTec order) and the group rows
texture / object / all; columns are the configurations the study varies (a variant, or
``lr=0.1, steps=32768``...). ``build_table`` returns a tidy long DataFrame (one line per
row x column, with ``mean``, ``se``, ``n`` and, where the paper reports the cell, ``paper``,
``paper_se`` and ``diff``), and ``render`` turns it into markdown, LaTeX or CSV. The
paper's columns appear only for MVTec AD results: on any other dataset a comparison
would mean nothing, and the caption says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from analysis.reference import paper_value
from analysis.stats import category_order, ensembles, group_rows, seed_summary
from trainables.config import FIELD_TYPES, TrialConfig

PAPER_SEEDS = 5      # the paper's n; a cell says its n when it differs
NOT_CONFIG = {"category", "seed", "threads", "device", "eval_interval", "embedding_sample", "compile"}
TABLE1_NAMES = {"rotation": "Rotation", "cutout": "Cutout", "scar": "Scar", "cutpaste": "CutPaste",
                "cutpaste_scar": "CutPaste_scar", "cutpaste_3way": "CutPaste_3way"}
TABLE4_NAMES = {"cutout": "Cutout", "cutout_mean": "Cutout(Mean)", "cutout_color": "Cutout(Color)",
                "confetti": "Confetti", "cutpaste": "CutPaste"}
TABLE5_NAMES = {"cutpaste": "CutPaste", "cutpaste_scar": "CutPaste(scar)",
                "cutpaste_union": "Binary(Union)", "cutpaste_3way": "3-Way"}


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _table7(params: dict) -> str | None:
    lr, steps = params.get("lr"), params.get("steps")
    if steps in (None, 65536) and lr is not None:
        return f"lr={_fmt(lr)}"
    if lr in (None, 0.03) and steps is not None and steps % 256 == 0:
        return f"epochs={steps // 256}"
    return None


def _table8(params: dict) -> str | None:
    jitter, area = params.get("jitter"), params.get("area_ratio_max")
    if area in (None, 0.15) and jitter is not None:
        return f"jitter={_fmt(jitter)}"
    if jitter in (None, 0.1) and area is not None:
        return f"max_patch_area={_fmt(area)}"
    return None


def _table3(params: dict) -> str | None:
    pretrained = params.get("pretrained")
    layers = params.get("feature_layers", "layer4")
    level = "pool" if layers == "layer4" else "l7"
    return {"frozen": f"{level}_pretrain", "finetune": f"{level}_finetune"}.get(pretrained)


@dataclass(frozen=True)
class TableKind:
    """How one of the paper's tables labels its columns and where its numbers are."""
    number: str                      # paper table number, "" for none
    title: str
    metric: str = "image_auc"
    paper_column: Callable[[dict], str | None] = field(default=lambda p: None)
    ensemble: bool = False


TABLE_KINDS = {
    "table1": TableKind("1", "Table 1: image-level detection AUC",
                        paper_column=lambda p: TABLE1_NAMES.get(p.get("variant")), ensemble=True),
    "table2": TableKind("2", "Table 2: pixel-level localization AUC", metric="pixel_auc",
                        paper_column=lambda p: ("CutPaste_3way_patch" if str(p.get("variant", "")).endswith("_patch")
                                                else "GradCAM")),
    "table3": TableKind("3", "Table 3: pretrained EfficientNet, without and with CutPaste fine-tuning",
                        paper_column=_table3),
    "table4": TableKind("4", "Table 4: Cutout variants vs CutPaste",
                        paper_column=lambda p: TABLE4_NAMES.get(p.get("variant"))),
    "table5": TableKind("5", "Table 5: binary, union and 3-way CutPaste",
                        paper_column=lambda p: TABLE5_NAMES.get(p.get("variant"))),
    "table7": TableKind("7", "Table 7: learning rate and training length", paper_column=_table7),
    "table8": TableKind("8", "Table 8: colour jitter and maximum patch area", paper_column=_table8),
}


def table_kind(study: str) -> TableKind:
    """Studies named after a paper table get its layout; ``demo``/``ensemble`` are Table-1 style."""
    for prefix, kind in TABLE_KINDS.items():
        if study.startswith(prefix):
            return kind
    if study in ("demo", "ensemble"):
        return TABLE_KINDS["table1"]
    return TableKind("", f"Study {study}: image-level detection AUC")


def with_defaults(trials: pd.DataFrame) -> pd.DataFrame:
    """Rows written before a config field existed get that field's default (it is what ran)."""
    defaults = TrialConfig().to_dict()
    out = trials.copy()
    for c in FIELD_TYPES:
        if c in NOT_CONFIG:
            continue
        if c not in out.columns:
            out[c] = defaults[c]
        elif out[c].isna().any():
            out[c] = out[c].astype(object).where(out[c].notna(), defaults[c])
    return out


def varied_params(trials: pd.DataFrame) -> list[str]:
    """Config columns that differ between trials of a study: they name its table columns."""
    trials = with_defaults(trials)
    cols = [c for c in FIELD_TYPES if c not in NOT_CONFIG]
    varied = [c for c in cols if trials[c].astype(str).nunique(dropna=False) > 1]
    return varied or ["variant"]


def column_label(params: dict, varied: list[str]) -> str:
    if varied == ["variant"]:
        return str(params["variant"])
    return ", ".join(f"{k}={_fmt(params[k])}" for k in varied)


@dataclass
class Table:
    study: str
    kind: TableKind
    data: pd.DataFrame            # long: row, row_type, column, mean, se, n, paper, paper_se, diff
    columns: list[str]
    caption: str
    dataset: str


def describe_dataset(trials: pd.DataFrame) -> tuple[str, bool]:
    names = sorted(trials["dataset"].dropna().astype(str).unique()) if "dataset" in trials else []
    dataset = ", ".join(names) or "unknown dataset"
    return dataset, bool(names) and all(n.startswith("mvtec_ad@") for n in names)


def build_table(study: str, trials: pd.DataFrame, scores: pd.DataFrame | None = None) -> Table:
    trials = trials[trials["study"] == study]
    kind = table_kind(study)
    ok = trials[trials["status"] == "ok"]
    if ok.empty or ok[kind.metric].isna().all():
        raise ValueError(f"study {study!r} has no finished trials with {kind.metric}")
    varied = varied_params(ok)
    ok = with_defaults(ok)
    ok = ok.assign(_column=[column_label(r, varied) for r in ok[varied].to_dict("records")])
    firsts = ok.drop_duplicates("_column").set_index("_column")
    columns = list(firsts.index)

    cells = seed_summary(ok, ["_column", "category"], metric=kind.metric)
    if kind.ensemble and scores is not None and not scores.empty:
        ens = ensembles(ok, scores)
        if not ens.empty:
            label = f"ensemble of {int(ens['n'].max())} seeds (cutpaste_3way)"
            cells = pd.concat([cells, ens.assign(_column=label)], ignore_index=True)
            columns.append(label)
    groups = group_rows(cells, ["_column"])
    cells = cells.assign(row_type="category")
    groups = groups.assign(row_type="group")
    long = pd.concat([cells, groups.drop(columns="categories")], ignore_index=True)
    order = {c: i for i, c in enumerate(category_order(cells["category"]) + ["texture", "object", "all"])}
    long = long.rename(columns={"category": "row", "_column": "column"})
    long["_r"] = long["row"].map(order)
    long["_c"] = long["column"].map({c: i for i, c in enumerate(columns)})
    long = long.sort_values(["_r", "_c"]).drop(columns=["_r", "_c"]).reset_index(drop=True)

    dataset, is_mvtec = describe_dataset(ok)
    paper, paper_se = [], []
    for r in long.itertuples():
        hit = None
        if is_mvtec and kind.number:
            params = firsts.loc[r.column].to_dict() if r.column in firsts.index else {"variant": "ensemble"}
            name = "Ensemble5x3way" if r.column.startswith("ensemble") else kind.paper_column(params)
            if name:
                hit = paper_value(kind.number, r.row, name)
        paper.append(hit[0] / 100 if hit else np.nan)
        paper_se.append(hit[1] / 100 if hit and hit[1] is not None else np.nan)
    long["paper"], long["paper_se"] = paper, paper_se
    long["diff"] = long["mean"] - long["paper"]

    budgets = sorted(ok["budget"].dropna().astype(str).unique()) if "budget" in ok else []
    caption = (f"{kind.title} (%), study '{study}', dataset {dataset}, budget {', '.join(budgets) or 'unrecorded'}; "
               f"mean ± SE over seeds (n = {PAPER_SEEDS} unless shown); group rows average the per-category "
               f"means and SEs.")
    if kind.number and not is_mvtec:
        caption += (" Paper columns omitted: these results are not on MVTec AD, so the paper's "
                    "numbers are not comparable.")
    elif kind.number:
        caption += f" 'paper' is the paper's Table {kind.number}; Δ = ours - paper."
    return Table(study, kind, long, columns, caption, dataset)


def _cell(mean: float, se: float, n: int, n_common: int) -> str:
    if pd.isna(mean):
        return ""
    text = f"{100 * mean:.1f}"
    if not pd.isna(se):
        text += f" ± {100 * se:.1f}"
    if n != n_common:
        text += f" (n={int(n)})"
    return text


def wide(table: Table) -> pd.DataFrame:
    """The table as displayed: one line per row, ours / paper / Δ columns per configuration."""
    d = table.data
    n_common = PAPER_SEEDS
    has_paper = d["paper"].notna()
    rows = []
    for row, part in d.groupby("row", sort=False):
        line = {"": row}
        by_col = part.set_index("column")
        for col in table.columns:
            if col not in by_col.index:
                line[col] = ""
                continue
            r = by_col.loc[col]
            line[col] = _cell(r["mean"], r["se"], r["n"], n_common)
            if has_paper[d["column"] == col].any():
                line[f"{col} paper"] = "" if pd.isna(r["paper"]) else f"{100 * r['paper']:.1f}"
                line[f"{col} Δ"] = "" if pd.isna(r["diff"]) else f"{100 * r['diff']:+.1f}"
        rows.append(line)
    return pd.DataFrame(rows)


def render(table: Table, fmt: str) -> str:
    w = wide(table)
    if fmt == "markdown":
        header = "| " + " | ".join(w.columns) + " |"
        sep = "|" + "|".join("---" for _ in w.columns) + "|"
        body = ["| " + " | ".join(str(v) for v in line) + " |" for line in w.itertuples(index=False)]
        return "\n".join([f"**{table.caption}**", "", header, sep, *body]) + "\n"
    if fmt == "latex":
        esc = lambda s: str(s).replace("_", r"\_").replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("%", r"\%")
        lines = [r"\begin{table}[t]", r"\centering", r"\small",
                 r"\begin{tabular}{l" + "r" * (len(w.columns) - 1) + "}", r"\toprule",
                 " & ".join(esc(c) for c in w.columns) + r" \\", r"\midrule"]
        for line in w.itertuples(index=False):
            if line[0] == "texture":
                lines.append(r"\midrule")
            lines.append(" & ".join(esc(v) for v in line) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{esc(table.caption)}}}", r"\end{table}"]
        return "\n".join(lines) + "\n"
    if fmt == "csv":
        return table.data.assign(study=table.study, caption=table.caption).to_csv(index=False)
    raise ValueError(f"unknown format {fmt!r}; choose markdown, latex or csv")
