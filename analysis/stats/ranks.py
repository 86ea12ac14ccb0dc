"""Many columns at once (Demšar 2006): the Friedman test, average ranks, critical-difference
cliques and the CD diagram.

Cliques come from pairwise Wilcoxon signed-rank tests with Holm correction
(``analysis.stats.significance``) instead of the Nemenyi test (Benavoli et al. 2016; Ismail Fawaz
et al. 2019): Nemenyi's verdict on two columns depends on which other columns are in the
table, the Wilcoxon's does not. Cliques are runs of consecutive ranks, so no bar spans a
column outside its clique. Categories are the unit of replication.
"""
from __future__ import annotations

from itertools import combinations
from typing import NamedTuple

import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from analysis.stats.significance import _wilcoxon, holm, min_attainable_p


class FriedmanResult(NamedTuple):
    statistic: float
    p_value: float
    n_categories: int


def friedman(cells: pd.DataFrame) -> FriedmanResult | None:
    """Friedman's test that all columns rank alike, over categories that have every column."""
    complete = cells.dropna()
    if cells.shape[1] < 3 or len(complete) < 2:
        return None
    r = stats.friedmanchisquare(*(complete[c].to_numpy(float) for c in complete.columns))
    return FriedmanResult(float(r.statistic), float(r.pvalue), len(complete))


def average_ranks(cells: pd.DataFrame) -> pd.Series:
    """Mean rank per column over complete rows: 1 = highest AUC, ties share the average rank."""
    complete = cells.dropna()
    return complete.rank(axis=1, ascending=False, method="average").mean().sort_values()


def _contiguous_cliques(cols: list[str], same) -> list[list[str]]:
    """Maximal runs of ``cols`` (in rank order) in which every pair is ``same(a, b)``.

    A bar of a CD diagram is drawn from its best to its worst member, so a group that
    skipped a column would seem to include it: groups are runs of consecutive ranks (as in
    Demšar 2006), and a run is kept unless a longer valid run contains it. A column in no
    run of 2+ is a singleton group.
    """
    k = len(cols)
    ends = []
    for i in range(k):
        j = i
        while j + 1 < k and all(same(cols[x], cols[j + 1]) for x in range(i, j + 1)):
            j += 1
        ends.append(j)
    runs = [(i, j) for i, j in enumerate(ends) if not any(a <= i and j <= b and (a, b) != (i, j)
                                                           for a, b in enumerate(ends))]
    return [cols[i:j + 1] for i, j in runs]


def critical_difference_cliques(cells: pd.DataFrame, alpha: float = 0.05) -> list[list[str]]:
    """Maximal groups of columns, contiguous in rank order, with no significant pairwise difference.

    Each pair is tested by the Wilcoxon signed-rank over complete rows, Holm over all
    k(k-1)/2 pairs, as in Ismail Fawaz et al.'s CD diagrams; a group is a run of consecutive
    columns in average-rank order whose pairs are all "not significant" (``_contiguous_cliques``),
    never one that skips a column, which its bar would seem to include. Singletons are kept
    (a column unlike its neighbours). Groups are ordered by rank, members by rank.
    """
    complete = cells.dropna()
    ranks = average_ranks(cells)
    cols = list(ranks.index)
    pairs = list(combinations(cols, 2))
    p = [_wilcoxon((complete[a] - complete[b]).to_numpy(float))[1] for a, b in pairs]
    p_holm = holm(p)
    same = {frozenset(pair) for pair, q in zip(pairs, p_holm) if not q < alpha}   # NaN: not different
    return _contiguous_cliques(cols, lambda a, b: frozenset((a, b)) in same)


def cd_diagram(cells: pd.DataFrame, title: str = "") -> Figure:
    """Critical-difference diagram: average ranks on a 1..k axis (best, 1, at the left);
    names hang from their ranks; a thick bar joins each clique of 2+ columns.

    Built on a bare ``Figure`` (no pyplot), so it changes no backend and leaks no figures.
    """
    ranks = average_ranks(cells)
    k, cols = len(ranks), list(ranks.index)
    cliques = [c for c in critical_difference_cliques(cells) if len(c) > 1]
    fr = friedman(cells)
    fig = Figure(figsize=(8, 1.6 + 0.3 * (k + len(cliques))))
    ax = fig.add_axes([0.02, 0.14, 0.96, 0.72 if title else 0.8])
    pad = max(1.0, 0.6 * (k - 1))
    ax.set_xlim(1 - pad, k + pad)
    ax.hlines(0, 1, k, color="black", lw=1)
    for t in range(1, k + 1):
        ax.vlines(t, 0, 0.12, color="black", lw=1)
        ax.text(t, 0.18, str(t), ha="center", va="bottom", fontsize=9)
    bar_y = [-0.25 - 0.2 * j for j in range(len(cliques))]
    for y, clique in zip(bar_y, cliques):
        ax.hlines(y, ranks[clique[0]] - 0.03, ranks[clique[-1]] + 0.03, color="black", lw=4)
    top = (bar_y[-1] if bar_y else 0) - 0.3
    half = (k + 1) // 2
    for i, col in enumerate(cols):
        left = i < half
        y = top - 0.3 * (i if left else k - 1 - i)
        x_end = 1 - 0.2 if left else k + 0.2
        ax.plot([ranks[col], ranks[col], x_end], [0, y, y], color="tab:gray", lw=0.8)
        ax.text(x_end - 0.05 if left else x_end + 0.05, y, f"{col} ({ranks[col]:.2f})",
                ha="right" if left else "left", va="center", fontsize=9)
    ax.set_ylim(top - 0.3 * (half - 1) - 0.25, 0.5)
    ax.axis("off")
    n = len(cells.dropna())
    test = (f"Friedman p = {fr.p_value:.3g}" if fr else "Friedman n/a (needs 3+ columns, 2+ categories)")
    floor = min_attainable_p(n, k * (k - 1) // 2)
    power = (f"; with n = {n} no pair can differ (smallest attainable Holm p {floor:.3g})"
             if floor >= 0.05 else "")
    fig.text(0.5, 0.03, f"{test}, cliques by Wilcoxon-Holm (alpha = 0.05), n = {n} categories{power}",
             ha="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
