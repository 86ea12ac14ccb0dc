"""Is a difference in an ablation table real? Intervals, paired tests and CD diagrams.

- ``bootstrap_auc_interval``: percentile interval of one cell's mean image AUC, resampling
  test images (stratified by label) and, with several seeds, the seeds too.
- ``paired_tests``: each column against a baseline, paired over categories (Wilcoxon
  signed-rank, Holm-corrected), with a bootstrap interval of the mean difference.
- The many-columns view (Friedman, ranks, CD cliques and diagram) is ``analysis.ranks``.
- ``wilcoxon_method``, ``min_attainable_p``: which null distribution each signed-rank test
  uses, and the smallest Holm-adjusted p a table's family of tests can reach at all.
Categories are the unit of replication: they are the "datasets" of these tests.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from study.results.schema import C


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
    scores = scores.dropna(subset=[C.score])
    if C.image_path in scores:
        per = {k: p.drop_duplicates(C.image_path).set_index(C.image_path) for k, p in scores.groupby(C.trial_key)}
        common = set.intersection(*(set(p.index) for p in per.values())) if per else set()
        dropped = sum(len(p) for p in per.values()) - len(common) * len(per)
        if dropped:
            warnings.warn(f"bootstrap interval: {dropped} score(s) of images not scored by every trial of "
                          "the cell left out", stacklevel=3)
        order = sorted(common)
        parts = {k: p.loc[order] for k, p in per.items()}
    else:
        parts = dict(iter(scores.groupby(C.trial_key, sort=True)))
    pos, neg = [], []
    for _, part in sorted(parts.items()):
        p = part.loc[part[C.label] == 1, C.score].to_numpy(float)
        n = part.loc[part[C.label] == 0, C.score].to_numpy(float)
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
