"""Is a difference in an ablation table real? Intervals, paired tests and CD diagrams.

- ``bootstrap_auc_interval``: percentile interval of one cell's mean image AUC, resampling
  test images (stratified by label) and, with several seeds, the seeds too.
- ``paired_tests``: each column against a baseline, paired over categories (Wilcoxon
  signed-rank, Holm-corrected), with a bootstrap interval of the mean difference.
- ``friedman``, ``average_ranks``, ``critical_difference_cliques``, ``cd_diagram``: the
  many-columns view (Demšar 2006), with cliques by pairwise Wilcoxon + Holm instead of the
  Nemenyi test (Benavoli et al. 2016; Ismail Fawaz et al. 2019): Nemenyi's verdict on two
  columns depends on which other columns are in the table, the Wilcoxon's does not.
  Cliques are runs of consecutive ranks, so no bar spans a column outside its clique.
- ``wilcoxon_method``, ``min_attainable_p``: which null distribution each signed-rank test
  uses, and the smallest Holm-adjusted p a table's family of tests can reach at all.
Categories are the unit of replication: they are the "datasets" of these tests.
"""
from __future__ import annotations

import warnings
from itertools import combinations
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values: monotone in the raw p's, capped at 1, NaN kept.

    Holm rather than Bonferroni: it controls the same family-wise error rate and is never
    less powerful. NaNs (tests that could not run) do not count towards the family size.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def _aligned(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Dense ranks of every trial's defective and good images, one row per trial, the columns
    being the same test images in every row: by ``image_path`` where given (the images all
    trials scored), else by their order within each label (as the sink writes them)."""
    scores = scores.dropna(subset=["score"])
    if "image_path" in scores:
        per = {k: p.drop_duplicates("image_path").set_index("image_path") for k, p in scores.groupby("trial_key")}
        common = set.intersection(*(set(p.index) for p in per.values())) if per else set()
        dropped = sum(len(p) for p in per.values()) - len(common) * len(per)
        if dropped:
            warnings.warn(f"bootstrap interval: {dropped} score(s) of images not scored by every trial of "
                          "the cell left out", stacklevel=3)
        order = sorted(common)
        parts = {k: p.loc[order] for k, p in per.items()}
    else:
        parts = dict(iter(scores.groupby("trial_key", sort=True)))
    pos, neg = [], []
    for _, part in sorted(parts.items()):
        p = part.loc[part["label"] == 1, "score"].to_numpy(float)
        n = part.loc[part["label"] == 0, "score"].to_numpy(float)
        if len(p) and len(n):        # dense ranks as float32: exact, and sorted ~12% faster
            ranks = np.unique(np.concatenate([p, n]), return_inverse=True)[1].astype(np.float32)
            pos.append(ranks[:len(p)])
            neg.append(ranks[len(p):])
    if not pos:
        return None
    if len({len(p) for p in pos}) > 1 or len({len(n) for n in neg}) > 1:
        raise ValueError("bootstrap interval: the trials of a cell did not score the same test images "
                         f"(defective counts {sorted({len(p) for p in pos})}, good {sorted({len(n) for n in neg})})")
    return np.stack(pos), np.stack(neg)


def bootstrap_auc_interval(scores: pd.DataFrame, n_boot: int = 1000, level: float = 0.95,
                           seed: int = 0) -> tuple[float, float]:
    """Percentile interval of a cell's mean-over-seeds image AUC.

    Good and defective images are resampled separately, keeping their counts, so every
    replicate has the test set's class balance (AUC is undefined without both classes).
    With n > 1 seeds the seeds are resampled too (a two-level bootstrap), so the interval
    covers seed-to-seed variation as well as the finite test set. The seeds score the same
    test images, so a replicate draws ONE set of good and defective images and applies it
    to every seed it draws: resampling the images independently per seed would average the
    test-set noise away over seeds and make the interval shrink as seeds are added, as if
    each seed had its own test set. (Hence k seeds with identical scores give exactly one
    seed's interval.) Images are matched across seeds by ``image_path`` when the frame has
    it, else by their order within each label. ``scipy.stats.bootstrap`` cannot resample at
    two levels, so the indices are drawn here; the AUC of all replicates of a trial is one
    vectorised ``mannwhitneyu`` call (AUC = U / (n_pos * n_neg), ties counting 1/2). U
    depends only on order, so scores are replaced by their dense ranks. Trials lacking a
    class are left out; a cell with none left is (nan, nan).
    """
    rng = np.random.default_rng(seed)
    aligned = _aligned(scores)
    if aligned is None:
        return (np.nan, np.nan)
    pos, neg = aligned
    n, n_pos, n_neg = pos.shape[0], pos.shape[1], neg.shape[1]
    # images first, so that the image draws do not depend on the number of seeds
    bp_idx = rng.integers(0, n_pos, size=(n_boot, n_pos))
    bn_idx = rng.integers(0, n_neg, size=(n_boot, n_neg))
    slots = rng.integers(0, n, size=(n_boot, n)) if n > 1 else np.zeros((n_boot, 1), int)
    auc = np.empty((n, n_boot))          # every trial's AUC on every replicate's images
    for t in range(n):
        if not (slots == t).any():
            auc[t] = np.nan
            continue
        u = stats.mannwhitneyu(pos[t][bp_idx], neg[t][bn_idx], axis=-1, method="asymptotic").statistic
        auc[t] = u / (n_pos * n_neg)
    means = auc[slots, np.arange(n_boot)[:, None]].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))


# Sign patterns the permutation test enumerates exactly (2^16 = 65,536): every table of up
# to 16 categories (MVTec AD has 15) gets an exact p even with ties or zero differences.
_EXACT_PERMUTATION_MAX_N = 16


def wilcoxon_method(d: np.ndarray) -> str:
    """Which null distribution the signed-rank test on differences ``d`` uses (scipy >= 1.15).

    - ``"exact"`` (scipy's ``method="exact"``): no ties among |d|, no zeros, n <= 50; the
      exact null distribution of the statistic (what scipy's "auto" picks too);
    - ``"permutation"``: ties or zeros, n <= 16: all 2^n sign patterns enumerated
      (``_signflip_p``; equal to ``scipy.stats.wilcoxon(method=PermutationMethod(n_resamples=2**n))``,
      computed in one matrix product because scipy's permutation loop takes seconds per
      test). scipy's "exact" is only conservative with ties, and its "auto" falls back to
      the normal approximation above n = 13, which is off for small n (five equal positive
      differences: asymptotic p = 0.025, where no sign pattern can go below 2/2^5 = 0.0625;
      fifteen near-equal ones: 1.6e-4 against the exact 6.1e-5);
    - ``"asymptotic"`` (scipy's): the normal approximation with the tie correction, accurate
      at these sizes.
    Naming it keeps p-values from changing with scipy's defaults (they changed in 1.13-1.15).
    """
    nz = d[d != 0]
    ties = len(np.unique(np.abs(nz))) < len(nz)
    if len(nz) == len(d) and not ties and len(d) <= 50:
        return "exact"
    if len(d) <= _EXACT_PERMUTATION_MAX_N:
        return "permutation"
    return "asymptotic"


def _signflip_p(d: np.ndarray) -> tuple[float, float]:
    """(statistic, two-sided p) of the signed-rank test by enumerating every sign pattern of
    the non-zero differences (zeros dropped, as ``zero_method="wilcox"``; tied |d| share
    their mid-rank): the exact null given the observed magnitudes."""
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    r_plus = float(ranks[nz > 0].sum())
    patterns = (np.arange(2 ** len(nz))[:, None] >> np.arange(len(nz))) & 1     # [2^n, n] 0/1 signs
    null = patterns @ ranks
    eps = 1e-9 * max(1.0, float(ranks.sum()))
    p = 2 * min(np.mean(null >= r_plus - eps), np.mean(null <= r_plus + eps))
    return min(r_plus, float(ranks.sum()) - r_plus), float(min(1.0, p))


def min_attainable_p(n: int, m: int = 1) -> float:
    """The smallest Holm-adjusted p that any of ``m`` two-sided Wilcoxon signed-rank
    comparisons over at most ``n`` categories can reach: under the exact (or exact
    permutation) null each all-same-sign outcome has probability 1/2^n, so p >= 2/2^n,
    and Holm multiplies the smallest p by m. When it is not below alpha, no column of the
    table can be marked, whatever the data."""
    if n < 1 or m < 1:
        return float("nan")
    return min(1.0, m * 2.0 / 2.0 ** n)


def _wilcoxon(d: np.ndarray) -> tuple[float, float, str]:
    """(statistic, p, reason) of the two-sided signed-rank test on paired differences.

    All differences zero: no evidence of any difference, p = 1 (scipy would warn and divide
    0/0). Fewer than 2 pairs: no test, p = nan. Otherwise ``wilcoxon_method`` names the null
    distribution; zero differences are dropped (``zero_method="wilcox"``).
    """
    if len(d) < 2:
        return np.nan, np.nan, f"too few paired categories ({len(d)}) for a test"
    if np.all(d == 0):
        return 0.0, 1.0, "all differences zero"
    method = wilcoxon_method(d)
    if method == "permutation":
        return (*_signflip_p(d), "")
    r = stats.wilcoxon(d, alternative="two-sided", zero_method="wilcox", method=method)
    return float(r.statistic), float(r.pvalue), ""


def _mean_interval(d: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% BCa bootstrap interval of the mean difference over categories (scipy.stats.bootstrap).

    BCa corrects the percentile interval's bias and skew, which matter with ~15 categories;
    when BCa is degenerate (e.g. nearly constant differences) it falls back to percentile.
    """
    if len(d) < 2:
        return np.nan, np.nan
    if np.all(d == d[0]):
        return float(d[0]), float(d[0])
    for method in ("BCa", "percentile"):
        ci = stats.bootstrap((d,), np.mean, method=method, rng=np.random.default_rng(seed)).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            break
    return float(ci.low), float(ci.high)


def paired_tests(cells: pd.DataFrame, baseline: str, alpha: float = 0.05) -> pd.DataFrame:
    """Every column against ``baseline``, paired over the categories both have.

    Wilcoxon signed-rank rather than a paired t-test: per-category AUC differences are
    bounded and skewed (near-ceiling categories), and the test's verdict does not hinge
    on a few categories' magnitudes. Holm corrects over the compared columns.
    """
    rows = []
    for col in [c for c in cells.columns if c != baseline]:
        d = (cells[col] - cells[baseline]).dropna().to_numpy(float)
        stat, p, reason = _wilcoxon(d)
        low, high = _mean_interval(d)
        rows.append({"column": col, "baseline": baseline, "n_categories": len(d),
                     "mean_diff": float(d.mean()) if len(d) else np.nan, "ci_low": low,
                     "ci_high": high, "statistic": stat, "p_value": p, "reason": reason})
    out = pd.DataFrame(rows, columns=["column", "baseline", "n_categories", "mean_diff", "ci_low",
                                      "ci_high", "statistic", "p_value", "reason"])
    out["p_holm"] = holm(out["p_value"])
    out["significant"] = out["p_holm"] < alpha
    m = int(out["p_value"].notna().sum())
    out["test"] = [f"Wilcoxon signed-rank over {r.n_categories} categories, Holm over {m} comparisons"
                   + (f" ({r.reason})" if r.reason else "") for r in out.itertuples()]
    return out.drop(columns="reason")


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
