"""A cell's uncertainty over its test images: a bootstrap interval of its mean image AUC.

``bootstrap_auc_interval`` resamples test images (stratified by label) and, with several
seeds, the seeds too; its docstring says why one image draw serves every seed.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from study.results.schema import C


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
