"""Charts of a study's numbers: what the tables say, drawn (functions take DataFrames or a
``Table`` and return Figures; ``analysis.__main__`` reads and writes).

- ``category_bars``: per-category AUC with 95% bootstrap intervals, the paper's value
  beside ours only where the table shows it (protocol-matched cells).
- ``critical_difference``: average ranks of a table's columns with Wilcoxon-Holm cliques.
- ``learning_curves``: AUC at each evaluation step beside the untrained control.
- ``ablation_curves``: AUC against each numeric parameter a study sweeps (lr, steps,
  jitter, max patch area, scar sizes...), one line per category group.
Every title names the dataset, so a figure of generated data is never taken for MVTec.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.tables.columns import varied_params, with_defaults  # noqa: E402
from analysis.tables.metrics import PIXEL_METRICS  # noqa: E402
from analysis.stats.summary import category_order, group_of, seed_summary  # noqa: E402
from analysis.tables.build import Table, describe_dataset  # noqa: E402
from study.objective import REPORTED_METRIC  # noqa: E402
from study.results.schema import OK, C  # noqa: E402
from trainables.config import FIELD_TYPES  # noqa: E402

GROUP_COLOURS = {"texture": "tab:orange", "object": "tab:blue", "all": "black", "other": "tab:green"}


def category_bars(table: Table) -> Figure:
    """Per-category AUC; error bars are the 95% bootstrap interval over test images (and
    seeds), drawn only where one was computed: never a zero-length SE bar for n = 1."""
    d = table.data[table.data["row_type"] == "category"]
    rows = list(dict.fromkeys(d["row"]))
    cols = table.columns
    has_paper = d["paper"].notna().any()
    width = 0.8 / (len(cols) * (2 if has_paper else 1))
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(rows) * max(1, len(cols) / 2)), 4.5))
    x = np.arange(len(rows))
    k = 0
    for col in cols:
        part = d[d["column"] == col].set_index("row").reindex(rows)
        yerr = None
        if {"ci_low", "ci_high"} <= set(part) and part["ci_low"].notna().any():
            lo = (part["mean"] - part["ci_low"]).clip(lower=0)
            hi = (part["ci_high"] - part["mean"]).clip(lower=0)
            yerr = 100 * np.vstack([lo.to_numpy(float), hi.to_numpy(float)])   # NaN: no bar drawn
        hatch = ".." if col in table.controls else None
        ax.bar(x + k * width, 100 * part["mean"], width, yerr=yerr, capsize=2, hatch=hatch,
               label=f"{col} (ours)", error_kw={"elinewidth": 0.8})
        k += 1
        if has_paper:
            ax.bar(x + k * width, 100 * part["paper"], width, hatch="//", alpha=0.5, label=f"{col} (paper)")
            k += 1
    ax.set_xticks(x + width * (k - 1) / 2, rows, rotation=45, ha="right")
    at = " / ".join(sorted(set(table.pixel_at.values())))      # pixel metrics: the resolution they were taken at
    ax.set_ylabel("AUC (%)" if table.kind.metric not in PIXEL_METRICS else f"pixel AUC (%) at {at}" if at
                  else "pixel AUC (%)")
    ax.set_ylim(0, 105)
    import textwrap
    ax.set_title("\n".join([f"{table.kind.title}, per category (bars: 95% bootstrap interval)",
                            f"dataset {table.dataset}", *textwrap.wrap(table.model, 110)]), fontsize=9)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


def critical_difference(table: Table) -> Figure | None:
    """Critical-difference diagram of the table's columns over categories (>= 3 columns)."""
    from analysis.stats.ranks import cd_diagram
    d = table.data[table.data["row_type"] == "category"]
    cells = d.pivot_table(index="row", columns="column", values="mean", sort=False)
    cells = cells[[c for c in table.columns if c in cells]]
    if cells.shape[1] < 3 or len(cells.dropna()) < 2:
        return None
    return cd_diagram(cells, title=f"{table.kind.title}: average ranks over categories, dataset {table.dataset}")


def learning_curves(history: pd.DataFrame, trials: pd.DataFrame, study: str,
                    metric: str = REPORTED_METRIC) -> Figure | None:
    """AUC at each evaluation step, one panel per category, with the control's AUC as a
    dashed line: where the curve crosses it is where training starts to pay."""
    from analysis.tables.columns import assign_columns
    ok = trials[(trials[C.study] == study) & (trials[C.status] == OK)]
    if ok.empty or history.empty:
        return None
    ok, columns, controls, control_of, _ = assign_columns(with_defaults(ok))
    hist = history.merge(ok[[C.trial_key, C.category, C.seed, "tcol"]], on=C.trial_key).dropna(subset=[metric])
    hist = hist[~hist["tcol"].isin(controls)]
    if hist.empty or hist.groupby(C.trial_key)[C.step].nunique().max() < 2:
        return None
    cats = category_order(hist[C.category])
    fig, axes = plt.subplots(1, len(cats), figsize=(4.0 * len(cats), 3.6), squeeze=False)
    for ax, cat in zip(axes[0], cats):
        for col, part in hist[hist[C.category] == cat].groupby("tcol", sort=False):
            curve = part.groupby(C.step)[metric].agg(["mean", "min", "max"])
            line = ax.plot(curve.index, 100 * curve["mean"], marker="o", label=f"{col} (trained)")[0]
            if part[C.seed].nunique() > 1:
                ax.fill_between(curve.index, 100 * curve["min"], 100 * curve["max"], alpha=0.2,
                                color=line.get_color())
            ctl = ok[(ok[C.category] == cat) & (ok["tcol"] == control_of.get(col, ""))][metric]
            if len(ctl):
                ax.axhline(100 * ctl.mean(), ls="--", color=line.get_color(), alpha=0.8,
                           label=f"{control_of[col]} (n={len(ctl)})")
        ax.set_title(cat, fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    dataset, _ = describe_dataset(ok)
    fig.suptitle(f"Study '{study}': learning curves beside the untrained control "
                 f"(band: range over seeds), dataset {dataset}", fontsize=10)
    fig.tight_layout()
    return fig


def ablation_curves(trials: pd.DataFrame, study: str, metric: str = REPORTED_METRIC) -> Figure | None:
    """AUC vs every numeric swept parameter; None when the study sweeps none."""
    from study.controls import is_control
    ok = trials[(trials[C.study] == study) & (trials[C.status] == OK)].dropna(subset=[metric])
    ok = ok[[not is_control(r) for r in with_defaults(ok).to_dict("records")]] if len(ok) else ok
    if ok.empty:
        return None
    varied = [p for p in varied_params(ok) if FIELD_TYPES.get(p) in (int, float)]
    ok = with_defaults(ok)
    if not varied:
        return None
    dataset, _ = describe_dataset(ok)
    fig, axes = plt.subplots(1, len(varied), figsize=(max(7.0, 4.5 * len(varied)), 4.2), squeeze=False)
    for ax, param in zip(axes[0], varied):
        cells = seed_summary(ok, [param, C.category], metric)
        cells["group"] = cells[C.category].map(group_of)
        for group in ("texture", "object", "other", "all"):
            part = cells if group == "all" else cells[cells["group"] == group]
            if part.empty or (group == "other" and len(part) == 0):
                continue
            g = part.groupby(param).agg(mean=("mean", "mean"), se=("se", "mean")).sort_index()
            ax.errorbar(g.index, 100 * g["mean"], yerr=100 * g["se"].fillna(0), marker="o", capsize=3,
                        label=group, color=GROUP_COLOURS[group])
        if param == "lr":
            ax.set_xscale("log")
        ax.set_xlabel(param)
        ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Study '{study}': AUC vs swept parameters\n(mean over categories; other swept "
                 f"parameters pooled), dataset {dataset}", fontsize=10)
    fig.tight_layout()
    return fig
