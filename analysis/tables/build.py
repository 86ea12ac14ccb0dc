"""The paper's tables rebuilt from the trials table, with their controls and their tests.

Every study becomes one table: rows are categories (MVTec order) and the group rows
texture / object / all; columns are the configurations the study trains (a variant, or
``lr=0.1``...), then its controls (``study.controls``: the untrained or ImageNet-frozen
encoder + GDE at the same budget), then a seed ensemble where the table has one.
``build_table`` returns a ``Table``: a tidy long DataFrame (one line per row x column with
``mean``, ``se``, ``n``, a bootstrap ``ci_low``/``ci_high``, the paired difference to the
column's control, and, only where the trials follow the paper's protocol, ``paper``,
``paper_se`` and ``diff``), the paired tests (``analysis.stats.significance``), and a caption
that names the model, budget, seeds and precision, the resolution of pixel metrics, says
why paper columns are missing (every differing method field, ``analysis.paper.protocols``) and
says when no comparison of the table can reach significance with its number of categories.
``analysis.tables.formats`` turns it into markdown, LaTeX or CSV.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.paper.protocols import GROUP_MEMBERS, TableKind, ensemble_matches, group_complete, table_kind
from analysis.paper.reference import paper_value
from analysis.stats.bootstrap import bootstrap_auc_interval
from analysis.stats.ensemble import ensembles
from analysis.stats.ranks import friedman
from analysis.stats.significance import holm, min_attainable_p, paired_tests
from analysis.stats.summary import GROUP_ROWS, category_order, group_of, group_rows, seed_summary
from analysis.tables.columns import assign_columns, describe_models, with_defaults
from analysis.tables.metrics import BESIDE_LABELS, PIXEL_METRICS, pixel_resolution, with_beside
from study.results.schema import OK, C
from trainables.budgets import smoke_evidence_sentences

PAPER_SEEDS = 5      # the paper's n; a cell says its n when it differs
ALPHA = 0.05
MARK = "†"           # column significantly different from its reference (Holm-corrected)


@dataclass
class Table:
    study: str
    kind: TableKind
    data: pd.DataFrame            # long: row, row_type, column, mean, se, n, ci_low, ci_high, ...
    columns: list[str]
    caption: str
    dataset: str
    tests: pd.DataFrame = field(default_factory=pd.DataFrame)   # one line per compared column
    notes: list[str] = field(default_factory=list)              # Friedman and reading notes
    controls: list[str] = field(default_factory=list)
    model: str = ""                                             # the model(s), as the caption names them
    pixel_at: dict[str, str] = field(default_factory=dict)     # column -> where its pixel metrics were taken


def describe_dataset(trials: pd.DataFrame) -> tuple[str, bool]:
    names = sorted(trials[C.dataset].dropna().astype(str).unique()) if C.dataset in trials else []
    dataset = ", ".join(names) or "unknown dataset"
    return dataset, bool(names) and all(n.startswith("mvtec_ad@") for n in names)


def _intervals(cells: pd.DataFrame, ok: pd.DataFrame, scores: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """Stratified bootstrap interval over test images (and seeds) per category cell; the
    scores are split into cells in one pass (a cell's rows keep their order)."""
    lo = np.full(len(cells), np.nan)
    hi = np.full(len(cells), np.nan)
    if metric == C.image_auc and scores is not None and not scores.empty:
        number = {cell: i for i, cell in enumerate(zip(cells["tcol"], cells[C.category]))}
        cell_of = pd.Series([number.get(cell, -1) for cell in zip(ok["tcol"], ok[C.category])],
                            index=ok[C.trial_key].to_numpy())
        cell_of = cell_of[~cell_of.index.duplicated()]
        use = [C.trial_key, C.label, C.score, *([C.image_path] if C.image_path in scores else [])]
        mine = scores[C.trial_key].map(cell_of).fillna(-1).to_numpy(int)
        for i, part in scores.loc[mine >= 0, use].groupby(mine[mine >= 0], sort=False):
            lo[i], hi[i] = bootstrap_auc_interval(part)
    return cells.assign(ci_low=lo, ci_high=hi)


def _comparisons(columns: list[str], control_of: dict[str, str], baseline: str | None) -> list[tuple[str, str]]:
    """(column, reference) pairs: the spec's baseline, else each column's control, else the first."""
    if baseline and baseline in columns:
        return [(c, baseline) for c in columns if c != baseline]
    if control_of:
        return [(c, ref) for c, ref in control_of.items() if c in columns and ref in columns]
    return [(c, columns[0]) for c in columns[1:]]


def _tests(wide_means: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    rows = [paired_tests(wide_means[[ref, col]], baseline=ref, alpha=ALPHA) for col, ref in pairs]
    if not rows:
        return pd.DataFrame()
    tests = pd.concat(rows, ignore_index=True)
    tests["p_holm"] = holm(tests["p_value"].to_numpy())
    tests["significant"] = tests["p_holm"] < ALPHA
    n = int(tests["p_value"].notna().sum())
    tests["test"] = [f"Wilcoxon signed-rank over {k} categories, Holm over {n} comparison(s)"
                     + (" (no test: fewer than 2 paired categories)" if np.isnan(p) else "")
                     for k, p in zip(tests["n_categories"], tests["p_value"])]
    return tests


def _paper_columns(long: pd.DataFrame, ok: pd.DataFrame, raw: pd.DataFrame, kind: TableKind,
                   params: dict[str, dict], control_cols: set[str],
                   ensemble_members: dict[tuple[str, str], tuple]) -> tuple[pd.DataFrame, list[str]]:
    """Paper value and difference for cells whose trials follow the table's protocol (checked
    on ``raw``, the rows as recorded: a missing field is not the default here); a group row
    also needs every category of its group; an ensemble cell needs exactly the paper's five
    protocol-matching 3-way members."""
    paper = np.full(len(long), np.nan)
    paper_se = np.full(len(long), np.nan)
    reasons: dict[str, None] = {}
    if not kind.number or kind.protocol is None:
        return long.assign(paper=paper, paper_se=paper_se, diff=np.nan), []
    matched: dict[tuple[str, str], bool] = {}
    for (col, cat), part in ok.groupby(["tcol", C.category]):
        why = kind.protocol.mismatches(raw.loc[part.index])
        matched[(col, cat)] = not why
        if col not in control_cols or kind.controls_in_paper:     # a control's steps = 0 is no reason
            reasons.update(dict.fromkeys(why))
    for (col, cat), keys in ensemble_members.items():
        why = ensemble_matches(kind.protocol, raw[raw[C.trial_key].isin(keys)])
        matched[(col, cat)] = not why
        reasons.update(dict.fromkeys(why))
    cats_of: dict[str, set[str]] = {}
    for r in long[long["row_type"] == "category"].itertuples():
        cats_of.setdefault(r.column, set()).add(r.row)
    for i, r in enumerate(long.itertuples()):
        if r.column in control_cols and not kind.controls_in_paper:
            continue
        name = "Ensemble5x3way" if r.column.startswith("ensemble") else kind.paper_column(params[r.column])
        if not name:
            continue
        if r.row_type == "group":
            cats = cats_of.get(r.column, set())
            members = GROUP_MEMBERS[r.row]
            ok_row = group_complete(r.row, cats) and all(matched.get((r.column, c), False) for c in members)
            if not group_complete(r.row, cats) and cats & GROUP_MEMBERS["all"]:   # moot without MVTec AD rows
                reasons[f"{r.row} row has {len(cats & members)} of its {len(members)} categories"] = None
        else:
            ok_row = matched.get((r.column, r.row), False)
        hit = paper_value(kind.number, r.row, name) if ok_row else None
        if hit:
            paper[i] = hit[0] / 100
            paper_se[i] = np.nan if hit[1] is None else hit[1] / 100
    long = long.assign(paper=paper, paper_se=paper_se)
    return long.assign(diff=long["mean"] - long["paper"]), list(reasons)


def build_table(study: str, trials: pd.DataFrame, scores: pd.DataFrame | None = None,
                meta: dict | None = None) -> Table:
    meta = meta or {}
    trials = trials[trials[C.study] == study]
    kind = table_kind(study, meta.get("table"))
    ok = trials[trials[C.status] == OK]
    if ok.empty or kind.metric not in ok or ok[kind.metric].isna().all():
        raise ValueError(f"study {study!r} has no finished trials with {kind.metric}")
    raw = ok.dropna(subset=[kind.metric]).reset_index(drop=True)      # as recorded: the protocol check
    ok, columns, controls, control_of, params = assign_columns(with_defaults(raw))

    cells = seed_summary(ok, ["tcol", C.category], metric=kind.metric)
    cells = _intervals(cells, ok, scores, kind.metric)
    notes: list[str] = []
    ensemble_members: dict[tuple[str, str], tuple] = {}
    if kind.ensemble and scores is not None and not scores.empty:
        trained = ok[~ok["tcol"].isin(controls)]
        ens = ensembles(trained, scores)
        for label, part in ens.groupby("ensemble_of", sort=False) if not ens.empty else []:
            name = f"ensemble of {int(part['n'].max())} seeds ({label})"
            ensemble_members.update({(name, c): m for c, m in zip(part[C.category], part["members"])})
            cells = pd.concat([cells, part.drop(columns=["ensemble_of", "members"]).assign(tcol=name)],
                              ignore_index=True)
            columns.append(name)
            if controls:
                control_of[name] = controls[0]
            if "normalisation" in part:
                notes.append(f"{name}: each model's scores standardised by {part['normalisation'].iloc[0]}")

    # paired difference of each column to its control, per category
    means = cells.pivot_table(index=C.category, columns="tcol", values="mean", sort=False)
    ctrl_diff = [means.at[r.category, control_of[r.tcol]] if r.tcol in control_of and
                 control_of[r.tcol] in means else np.nan for r in cells.itertuples()]
    cells = cells.assign(control_diff=cells["mean"] - np.array(ctrl_diff, dtype=float))
    groups = group_rows(cells.drop(columns=["ci_low", "ci_high", "normalisation"], errors="ignore"), ["tcol"])
    groups = groups.assign(control_diff=[np.nan] * len(groups))
    for i, g in groups.iterrows():     # group difference: average of the per-category differences
        part = cells[(cells["tcol"] == g["tcol"]) &
                     ((g[C.category] == "all") | (cells[C.category].map(group_of) == g[C.category]))]
        groups.at[i, "control_diff"] = part["control_diff"].mean()
    long = pd.concat([cells.assign(row_type="category"), groups.drop(columns="categories").assign(row_type="group")],
                     ignore_index=True).drop(columns=["normalisation"], errors="ignore")
    order = {c: i for i, c in enumerate(category_order(cells[C.category]) + list(GROUP_ROWS))}
    long = long.rename(columns={C.category: "row", "tcol": "column"})
    long = long.assign(_r=long["row"].map(order), _c=long["column"].map({c: i for i, c in enumerate(columns)}))
    long = long.sort_values(["_r", "_c"]).drop(columns=["_r", "_c"]).reset_index(drop=True)
    long["is_control"] = long["column"].isin(controls)
    for metric in kind.beside:          # e.g. AUPRO beside pixel AUROC (Table 2), and its Δ to the control
        long = with_beside(long, ok, metric)
        long[f"{metric}_control_diff"] = _control_diff(long, control_of, f"{metric}_mean")

    dataset, _ = describe_dataset(ok)
    long, reasons = _paper_columns(long, ok, raw, kind, params, set(controls), ensemble_members)
    tests = _tests(means[[c for c in columns if c in means]],
                   _comparisons([c for c in columns if c in means], control_of, meta.get("baseline")))
    if not tests.empty:
        long = long.merge(tests[["column", "baseline", "mean_diff", "p_value", "p_holm"]]
                          .rename(columns={"baseline": "vs", "mean_diff": "vs_mean_diff"}), on="column", how="left")
    if len(means.columns) >= 3:
        fr = friedman(means)
        if fr is not None:
            notes.append(f"Friedman test over {len(means.columns)} columns and {fr.n_categories} complete "
                         f"categories: chi2 = {fr.statistic:.2f}, p = {fr.p_value:.3g}.")
    pixel_at = ({c: pixel_resolution(ok[ok["tcol"] == c]) for c in columns if c in set(ok["tcol"])}
                if {kind.metric, *kind.beside} & PIXEL_METRICS else {})
    caption = _caption(study, kind, ok, dataset, controls, reasons, long["paper"].notna().any(), pixel_at)
    caption += _power_note(tests)
    return Table(study, kind, long, columns, caption, dataset, tests, notes, controls, describe_models(ok, controls),
                 pixel_at)


def _control_diff(long: pd.DataFrame, control_of: dict[str, str], value: str) -> np.ndarray:
    """``value`` of each cell minus its control's in the same row; a group row averages the
    per-category differences of its categories (as ``control_diff`` does)."""
    cats = long[long["row_type"] == "category"]
    v = cats.set_index(["row", "column"])[value]
    ref = [control_of.get(c) for c in cats["column"]]
    diff = pd.Series([v.get((r, c), np.nan) - v.get((r, x), np.nan) if x else np.nan
                      for r, c, x in zip(cats["row"], cats["column"], ref)], index=cats.index, dtype=float)
    out = pd.Series(np.nan, index=long.index, dtype=float)
    out[cats.index] = diff
    for i, r in long[long["row_type"] == "group"].iterrows():
        part = (cats["column"] == r["column"]) & ((r["row"] == "all") | (cats["row"].map(group_of) == r["row"]))
        out[i] = diff[part].mean() if diff[part].notna().any() else np.nan
    return out.to_numpy()


def _power_note(tests: pd.DataFrame) -> str:
    """What the caption must say when the family's tests cannot reach significance at all:
    with n categories a two-sided signed-rank p is at least 2/2^n, and Holm over m
    comparisons multiplies the smallest p by m (``significance.min_attainable_p``)."""
    if tests.empty or not tests["p_value"].notna().any():
        return ""
    done = tests[tests["p_value"].notna()]
    n, m = int(done["n_categories"].max()), len(done)
    floor = min_attainable_p(n, m)
    if floor < ALPHA:
        return ""
    return (f" No comparison in this table can reach significance with this many categories: with n = {n} "
            f"categories the smallest two-sided Wilcoxon signed-rank p is 2/2^{n} = {2 / 2 ** n:.3g}, and "
            f"Holm over {m} comparison(s) makes the smallest attainable adjusted p {floor:.3g}, not below "
            f"{ALPHA}; unmarked columns are not evidence of no difference.")


def _pixel_sentence(kind: TableKind, pixel_at: dict[str, str]) -> str:
    names = [BESIDE_LABELS.get(m, m) for m in (kind.metric, *kind.beside) if m in PIXEL_METRICS]
    where = sorted(set(pixel_at.values()))
    if not names or not where:
        return ""
    at = where[0] if len(where) == 1 else "; ".join(f"{w} for {', '.join(c for c, x in pixel_at.items() if x == w)}"
                                                     for w in where)
    return (f" Pixel metrics ({', '.join(names)}) at {at} (`pixel_resolution`: 'image' scores the maps and "
            f"masks at the model's image_size, 'native' at each test image's own resolution).")


def _caption(study: str, kind: TableKind, ok: pd.DataFrame, dataset: str, controls: list[str],
             reasons: list[str], has_paper: bool, pixel_at: dict[str, str] | None = None) -> str:
    budgets = sorted(ok["budget"].dropna().astype(str).unique()) if "budget" in ok else []
    seeds = ok.groupby(["tcol", C.category])[C.seed].nunique()
    n = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}"
    text = (f"{kind.title} (%), study '{study}', dataset {dataset}, budget {', '.join(budgets) or 'unrecorded'}. "
            f"Model: {describe_models(ok, controls)}. n = {n} seed(s) per cell. "
            f"Cells: mean ± SE over seeds (no SE where n = 1); group rows average the per-category means "
            f"and SEs; 'Δ ctrl' = column - its control, per row; {MARK} = differs from its reference by a "
            f"Wilcoxon signed-rank test over categories, Holm-corrected, p < {ALPHA} (tests listed below).")
    if seeds.max() < 2:
        text += " With one seed, differences of a few points are within seed-to-seed noise: read the tests."
    text += _pixel_sentence(kind, pixel_at or {})
    precision = sorted(ok["precision"].dropna().astype(str).unique()) if "precision" in ok else []
    text += f" Precision (recorded, not part of the protocol check): {', '.join(precision) or 'unrecorded'}."
    if "smoke" in budgets:          # what the photo learning curves showed for this budget's models
        trained = ok[(ok["budget"] == "smoke") & ~ok["tcol"].isin(controls)]
        models = trained[[c for c in (C.variant, "pretrained") if c in trained]].drop_duplicates()
        text += "".join(f" {s}" for s in smoke_evidence_sentences(models.to_dict("records")))
    for metric in kind.beside:
        text += (f" '{BESIDE_LABELS.get(metric, metric)}' beside each cell: `{metric}` over the same seeds"
                 + (" (per-region overlap up to 30% pixel FPR, Bergmann et al. 2021; the paper reports none)."
                    if metric == C.aupro else "."))
    if not kind.number:
        return text
    if has_paper:
        text += f" 'paper' is the paper's Table {kind.number} where our trials follow its protocol; Δ = ours - paper."
    if reasons:
        text += (f" Paper values {'omitted where' if has_paper else 'omitted:'} these trials do not follow "
                 f"the paper's protocol for Table {kind.number}: {'; '.join(reasons)}.")
    if kind.protocol is not None and kind.protocol.note:
        text += f" Note: {kind.protocol.note}."
    return text
