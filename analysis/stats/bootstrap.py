"""A cell's uncertainty over its test images: a bootstrap interval of its mean image AUC.

``bootstrap_auc_interval`` resamples test images (stratified by label) and, with several
seeds, the seeds too; its docstring says why one image draw serves every seed, and
``_replicate_u`` how every replicate of every seed is counted at once.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from study.results.schema import C

# elements of the replicate x seed x image block one matrix product makes (float32: ~64 MB),
# so a cell with many seeds and images is counted in a few large products, not one huge one
_BLOCK = 16_000_000


def _check_counts(n_pos: np.ndarray, n_neg: np.ndarray) -> None:
    pos, neg = sorted({int(k) for k in n_pos}), sorted({int(k) for k in n_neg})
    if len(pos) > 1 or len(neg) > 1:
        raise ValueError("bootstrap interval: the trials of a cell did not score the same test images "
                         f"(defective counts {pos}, good {neg})")


def _by_path(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """[trials, images] scores and labels of the images every trial scored, trials by key and
    images by path (a trial's first row of an image counts)."""
    k, keys = pd.factorize(scores[C.trial_key], sort=True)
    i, paths = pd.factorize(scores[C.image_path], sort=True)
    first = np.unique(k * len(paths) + i, return_index=True)[1]
    score = np.full((len(keys), len(paths)), np.nan)
    label = np.full((len(keys), len(paths)), -1)
    score[k[first], i[first]] = scores[C.score].to_numpy(float)[first]
    label[k[first], i[first]] = scores[C.label].to_numpy()[first]
    have = ~np.isnan(score)
    common = have.all(axis=0)
    dropped = int(have.sum()) - int(common.sum()) * len(keys)
    if dropped:
        warnings.warn(f"bootstrap interval: {dropped} score(s) of images not scored by every trial of "
                      "the cell left out", stacklevel=4)
    score, label = score[:, common], label[:, common]
    if (label != label[:1]).any():
        _check_counts((label == 1).sum(axis=1), (label == 0).sum(axis=1))
        raise ValueError("bootstrap interval: the trials of a cell gave one test image different labels")
    return score, label[0]


def _aligned(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Scores of every trial's defective and good images, [trials, n_pos] and [trials, n_neg],
    trials by key, the columns being the same test images in every row: by ``image_path``
    where given (the images all trials scored, in path order), else by their order within
    each label (as the sink writes them). Trials lacking a class are left out; None if none is left."""
    scores = scores.dropna(subset=[C.score, *([C.image_path] if C.image_path in scores else [])])
    if scores.empty:
        return None
    if C.image_path in scores:
        score, label = _by_path(scores)
        pos, neg = score[:, label == 1], score[:, label == 0]
        return (pos, neg) if pos.shape[1] and neg.shape[1] else None
    counts = scores.groupby([C.trial_key, C.label]).size().unstack(fill_value=0).reindex(columns=[0, 1],
                                                                                           fill_value=0)
    counts = counts[(counts[0] > 0) & (counts[1] > 0)]
    if counts.empty:
        return None
    _check_counts(counts[1].to_numpy(), counts[0].to_numpy())
    scores = scores[scores[C.trial_key].isin(counts.index) & scores[C.label].isin([0, 1])]
    scores = scores.assign(_i=scores.groupby([C.trial_key, C.label]).cumcount())
    pos, neg = (scores[scores[C.label] == lab].pivot(index=C.trial_key, columns="_i", values=C.score)
                .to_numpy(float) for lab in (1, 0))
    return pos, neg


def _draw_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """[n_boot, n]: how often each of ``n`` images is drawn in each replicate (a row of ``idx``)."""
    offsets = np.arange(idx.shape[0])[:, None] * n
    return np.bincount((idx + offsets).ravel(), minlength=idx.size).reshape(idx.shape[0], n)


def _replicate_u(pos: np.ndarray, neg: np.ndarray, cp: np.ndarray, cn: np.ndarray,
                 block: int = _BLOCK) -> np.ndarray:
    """[trials, n_boot]: each trial's Mann-Whitney U on each replicate's images.

    A replicate draws defective image a ``cp[b, a]`` times and good image c ``cn[b, c]`` times,
    the same draws for every trial; so U[t, b] = sum over (a, c) of cp[b, a] wins[t, a, c] cn[b, c],
    wins being 1, 1/2 or 0 as pos[t, a] >, =, < neg[t, c]: one matrix product per block of
    trials, then a product per replicate. Every term is a multiple of 1/2, so the float32 sums
    are exact while n_pos * n_neg < 2^22 (larger cells use float64): U is the exact count
    ``scipy.stats.mannwhitneyu`` gives on the drawn scores.
    """
    if pos.shape[1] < neg.shape[1]:        # U of (neg > pos) pairs, taken from the pairs' total
        return cp.shape[1] * cn.shape[1] - _replicate_u(neg, pos, cn, cp, block)
    n, n_pos, n_neg = pos.shape[0], pos.shape[1], neg.shape[1]
    dtype = np.float32 if n_pos * n_neg < 2 ** 22 else np.float64
    cp, cn = cp.astype(dtype), cn.astype(dtype)
    out = np.empty((n, cp.shape[0]))
    step = max(1, block // (cp.shape[0] * n_neg + n_pos * n_neg))
    for lo in range(0, n, step):
        p, q = pos[lo:lo + step, :, None], neg[lo:lo + step, None, :]
        wins = (p > q).astype(dtype) + (p == q).astype(dtype) / 2                      # [k, n_pos, n_neg]
        k = wins.shape[0]
        m = (cp @ wins.transpose(1, 0, 2).reshape(n_pos, k * n_neg)).reshape(-1, k, n_neg)
        out[lo:lo + k] = np.matmul(m, cn[:, :, None])[..., 0].T                         # [k, n_boot]
    return out


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
    two levels, so the indices are drawn here. A replicate's AUC is U / (n_pos * n_neg),
    ties counting 1/2, U counted exactly for every seed and replicate at once from how often
    each image is drawn (``_replicate_u``). Trials lacking a class are left out; a cell with
    none left is (nan, nan).
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
    drawn = np.flatnonzero(np.bincount(slots.ravel(), minlength=n))   # a seed no replicate draws needs no AUC
    auc = np.full((n, n_boot), np.nan)       # every trial's AUC on every replicate's images
    auc[drawn] = _replicate_u(pos[drawn], neg[drawn], _draw_counts(bp_idx, n_pos),
                              _draw_counts(bn_idx, n_neg)) / (n_pos * n_neg)
    means = auc[slots, np.arange(n_boot)[:, None]].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))
