"""A ``Table`` as a reader sees it: markdown, LaTeX or the CSV long form, with the marks
and the list of tests under it (``analysis.tables.build`` builds the numbers); a metric shown
beside the table's own (AUPRO in Table 2) gets a column after each configuration's, its
header naming the resolution of a pixel metric ("AUPRO (at 128 px)"), and its difference
to the column's control where there is one; and the per-defect-type table
(``analysis.tables.metrics``)."""
from __future__ import annotations

import pandas as pd

from analysis.tables.build import MARK, PAPER_SEEDS, Table
from analysis.tables.metrics import BESIDE_LABELS, PIXEL_METRICS, DefectTable
from study.results.schema import C


def _cell(mean: float, se: float, n: int, n_common: int) -> str:
    if pd.isna(mean):
        return ""
    text = f"{100 * mean:.1f}"
    if not pd.isna(se) and n > 1:
        text += f" ± {100 * se:.1f}"
    if n != n_common:
        text += f" (n={int(n)})"
    return text


def _header(table: Table, col: str) -> str:
    t = table.tests
    if not t.empty and bool(t.loc[t["column"] == col, "significant"].any()):
        return f"{col} {MARK}"
    return col


def _signed(r, name: str) -> str:
    if r is None or pd.isna(r[name]):
        return ""
    return f"{round(100 * r[name], 1) + 0.0:+.1f}"     # + 0.0: never "-0.0"


def _beside_label(table: Table, col: str, metric: str) -> str:
    """'AUPRO (at 128 px)': a pixel metric's header names the resolution it was taken at."""
    label = BESIDE_LABELS.get(metric, metric)
    at = table.pixel_at.get(col) if metric in PIXEL_METRICS else None
    return f"{label} (at {at})" if at else label


def wide(table: Table) -> pd.DataFrame:
    """The table as displayed: per column ours and the metrics beside it, then paper / Δ where
    comparable, then Δ ctrl (of the table's metric, then of each metric beside it)."""
    d = table.data
    n_common = int(d.loc[d["row_type"] == "category", "n"].max()) if len(d) else PAPER_SEEDS
    has_paper = {c: bool(d.loc[d["column"] == c, "paper"].notna().any()) for c in table.columns}
    has_ctrl = {c: bool(d.loc[d["column"] == c, "control_diff"].notna().any()) for c in table.columns}
    beside = [m for m in table.kind.beside if f"{m}_mean" in d]
    has_beside = {(c, m): bool(d.loc[d["column"] == c, f"{m}_mean"].notna().any()) for c in table.columns
                  for m in beside}
    has_beside_ctrl = {(c, m): f"{m}_control_diff" in d and bool(d.loc[d["column"] == c, f"{m}_control_diff"]
                                                                 .notna().any()) for c in table.columns for m in beside}
    heads = {col: _header(table, col) for col in table.columns}
    rows = []
    for row, part in d.groupby("row", sort=False):
        line = {"": row}
        by_col = part.set_index("column")
        for col in table.columns:
            head = heads[col]
            r = by_col.loc[col] if col in by_col.index else None
            line[head] = "" if r is None else _cell(r["mean"], r["se"], r["n"], n_common)
            for m in beside:
                if has_beside[(col, m)]:
                    label = f"{col} {_beside_label(table, col, m)}"
                    line[label] = "" if r is None else _cell(r[f"{m}_mean"], r[f"{m}_se"], r[f"{m}_n"], n_common)
            if has_paper[col]:
                line[f"{col} paper"] = "" if r is None or pd.isna(r["paper"]) else f"{100 * r['paper']:.1f}"
                line[f"{col} Δ"] = "" if r is None or pd.isna(r["diff"]) else f"{100 * r['diff']:+.1f}"
            if has_ctrl[col]:
                line[f"{col} Δ ctrl"] = _signed(r, "control_diff")
            for m in beside:
                if has_beside_ctrl[(col, m)]:
                    line[f"{col} {_beside_label(table, col, m)} Δ ctrl"] = _signed(r, f"{m}_control_diff")
        rows.append(line)
    return pd.DataFrame(rows)


def test_lines(table: Table) -> list[str]:
    """One sentence per comparison, then the notes: what a reader needs to judge the table."""
    out = []
    for r in table.tests.itertuples():
        p = "n/a" if pd.isna(r.p_value) else f"{r.p_value:.3g}"
        ph = "n/a" if pd.isna(r.p_holm) else f"{r.p_holm:.3g}"
        ci = "" if pd.isna(r.ci_low) else f" [95% CI {100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}]"
        out.append(f"{r.column} vs {r.baseline}: mean Δ {100 * r.mean_diff:+.1f} points{ci}; {r.test}: "
                   f"p = {p}, Holm p = {ph}{' ' + MARK if r.significant else ''}")
    return out + table.notes


def render(table: Table, fmt: str) -> str:
    if fmt == "csv":
        return table.data.assign(study=table.study, caption=table.caption).to_csv(index=False)
    return _format(wide(table), table.caption, test_lines(table), fmt)


def wide_defects(table: DefectTable) -> pd.DataFrame:
    """One line per (category, defect type), one column per configuration."""
    d = table.data
    n_common = int(d["n"].max()) if len(d) else PAPER_SEEDS
    rows = []
    for (category, defect), part in d.groupby([C.category, C.defect_type], sort=False):
        by_col = part.set_index("column")
        rows.append({"category": category, "defect type": defect,
                     **{c: _cell(by_col.at[c, "mean"], by_col.at[c, "se"], by_col.at[c, "n"], n_common)
                        if c in by_col.index else "" for c in table.columns}})
    return pd.DataFrame(rows)


def render_defects(table: DefectTable, fmt: str) -> str:
    if fmt == "csv":
        return table.data.assign(study=table.study, caption=table.caption).to_csv(index=False)
    return _format(wide_defects(table), table.caption, [], fmt)


def _format(w: pd.DataFrame, caption: str, tests: list[str], fmt: str) -> str:
    if fmt == "markdown":
        header = "| " + " | ".join(w.columns) + " |"
        sep = "|" + "|".join("---" for _ in w.columns) + "|"
        body = ["| " + " | ".join(str(v) for v in line) + " |" for line in w.itertuples(index=False)]
        listed = ["", "Tests:", *[f"- {t}" for t in tests]] if tests else []
        return "\n".join([f"**{caption}**", "", header, sep, *body, *listed]) + "\n"
    if fmt == "latex":
        esc = lambda s: (str(s).replace("_", r"\_").replace("±", r"$\pm$").replace("Δ", r"$\Delta$")
                         .replace("%", r"\%").replace(MARK, r"$^\dagger$"))
        lines = [r"\begin{table}[t]", r"\centering", r"\small",
                 r"\begin{tabular}{l" + "r" * (len(w.columns) - 1) + "}", r"\toprule",
                 " & ".join(esc(c) for c in w.columns) + r" \\", r"\midrule"]
        for line in w.itertuples(index=False):
            if line[0] == "texture":
                lines.append(r"\midrule")
            lines.append(" & ".join(esc(v) for v in line) + r" \\")
        note = " ".join(tests)
        lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{esc(caption)} {esc(note)}}}", r"\end{table}"]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose markdown, latex or csv")
