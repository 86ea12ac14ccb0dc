"""Is a difference in an ablation table real? Paired tests over categories.

- ``paired_tests``: each column against a baseline, paired over categories (Wilcoxon
  signed-rank, Holm-corrected), with a bootstrap interval of the mean difference.
- The many-columns view (Friedman, ranks, CD cliques and diagram) is ``analysis.stats.ranks``,
  a cell's bootstrap interval over test images ``analysis.stats.bootstrap``.
- ``wilcoxon_method``, ``min_attainable_p``: which null distribution each signed-rank test
  uses, and the smallest Holm-adjusted p a table's family of tests can reach at all.
Categories are the unit of replication: they are the "datasets" of these tests.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
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
