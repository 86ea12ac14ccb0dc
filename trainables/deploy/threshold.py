"""What a deployed threshold promises: how many normals set it, and the false-positive rate it
guarantees at 95% confidence (no torch here: ``predict`` and ``--calibrate`` use it).

A threshold from ``trainables.metrics.threshold.threshold_at_fpr`` sits just above the
``(k+1)``-th highest of ``n`` normal scores, ``k = floor(n * fpr)``. For a new normal image
exchangeable with those ``n`` (same line, same conditions), the share of normals it flags is a
random variable over the draw of the ``n``: it is ``Beta(k + 1, n - k)`` distributed (the
order-statistic argument behind split-conformal prediction; Vovk et al. 2005, Bates et al.
2021, "Distribution-free, risk-controlling prediction sets"). Its 95% quantile is the bound
stated with every threshold: with 95% confidence over the normals that set it, the threshold
flags at most that share of good images. Averaged over the draw it flags ``(k + 1) / (n + 1)``.

With fewer than ``1 / fpr`` normals ``k`` is 0: the threshold is just above their maximum, and
the bound is ``1 - 0.05 ** (1 / n)`` (8 normals: 31%, whatever ``fpr`` was asked for).
"""
from __future__ import annotations

import math

CONFIDENCE = 0.95


def order_index(n: int, fpr: float) -> int:
    """``k``: how many of ``n`` normals a threshold at ``fpr`` may flag (``threshold_at_fpr``'s rule)."""
    return min(int(math.floor(n * fpr + 1e-9)), n - 1)


def _binomial_tail(n: int, k: int, p: float) -> float:
    """P(Binomial(n, p) >= k + 1), summed in log space (n may be large)."""
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    below = sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq)
                for i in range(k + 1))
    return max(0.0, 1.0 - below)


def fpr_bound(n: int, fpr: float, confidence: float = CONFIDENCE) -> float:
    """The false-positive rate a threshold set on ``n`` normals at ``fpr`` stays under with
    probability ``confidence``: the ``confidence`` quantile of ``Beta(k + 1, n - k)``.

    Computed as the smallest ``B`` with ``P(Binomial(n, B) >= k + 1) >= confidence`` (the
    same event: at least ``k + 1`` of the ``n`` normals score above the good images'
    ``1 - B`` quantile), by bisection to 1e-12.
    """
    if n < 1:
        raise ValueError("a threshold needs at least one normal image")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    k = order_index(n, fpr)
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _binomial_tail(n, k, mid) >= confidence:
            hi = mid
        else:
            lo = mid
    return hi


def normals_for(fpr: float) -> int:
    """The fewest normals for which a threshold at ``fpr`` is more than their maximum: ``ceil(1 / fpr)``."""
    return int(math.ceil(1.0 / fpr - 1e-9))


def normals_in(source: str | None) -> int | None:
    """The count in a ``threshold_source`` (``train_good_holdout:8``, ``validation_good:64``,
    ``calibrate:200``); None without one."""
    if not source or ":" not in source:
        return None
    try:
        return int(str(source).rsplit(":", 1)[1])
    except ValueError:
        return None


def describe(threshold: float, source: str | None, fpr: float, normals: int | None) -> str:
    """One line for export and predict: the threshold, what set it and what it guarantees."""
    if normals is None:
        return f"threshold {threshold:.6g} (source {source}; target FPR {fpr:.2%}; number of normals unknown)"
    return (f"threshold {threshold:.6g} set on {normals} normal images ({source}) at a target FPR of {fpr:.2%}; "
            f"with {CONFIDENCE:.0%} confidence it flags at most {fpr_bound(normals, fpr):.1%} of good images")


def too_few_warning(fpr: float, normals: int | None) -> str | None:
    """The warning when fewer than ``1 / fpr`` normals set the threshold, else None."""
    need = normals_for(fpr)
    if normals is None or normals >= need:
        return None
    return (f"warning: only {normals} normal images set this threshold, fewer than 1/fpr = {need}: it is just "
            f"above their maximum, not a {fpr:.2%} false-positive rate (at {CONFIDENCE:.0%} confidence it is "
            f"<= {fpr_bound(normals, fpr):.1%}). Re-fit it on at least {need} known-good images from the line "
            f"with --calibrate DIR (no retraining).")
