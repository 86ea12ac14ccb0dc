"""Registry of the density estimators on features of normal images; higher score = more anomalous.

The paper's GDE is a Gaussian fit to L2-normalised features of the un-augmented
normal training images, scored by Mahalanobis distance. scikit-learn already has the
estimators (Ledoit-Wolf shrinkage by default: with a few hundred images and 512
dimensions the sample covariance is singular), so this module only registers them
(``DENSITIES``: how each fits and scores) and normalises features the same way at fit
and score time (:class:`DensityEstimator`).

The Ledoit-Wolf Gaussian is scored through the Cholesky factor of its covariance
(:class:`CholeskyGaussian`), not scikit-learn's pseudo-inverse: the shrunk covariance is
positive definite, and at 1,280 dimensions (EfficientNet-Lite0) ``pinvh``'s eigendecomposition
took 0.43 s a fit against about 0.02 s for the factor (one thread, AMD EPYC, AVX2), six fits
per trial with cross-fitting. Scores agree with the pseudo-inverse's to about 1e-12 relative.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class DensitySpec:
    """A density a config may name: ``fit(features, seed)`` returns a fitted estimator (scikit-learn's,
    or :class:`CholeskyGaussian`, with its fitted attributes), ``score(estimator, features)`` its
    anomaly scores (features L2-normalised)."""
    fit: Callable[[np.ndarray, int], Any]
    score: Callable[[Any, np.ndarray], np.ndarray]


class CholeskyGaussian:
    """A fitted Gaussian (``location_``, ``covariance_``) scored by squared Mahalanobis
    distance through the lower Cholesky factor of its covariance. ``precision_``, the inverse
    that a deploy bundle and GradCAM read, is computed from the factor on first use.
    A covariance that is not positive definite (e.g. every feature constant) keeps
    scikit-learn's pseudo-inverse instead."""

    def __init__(self, location: np.ndarray, covariance: np.ndarray) -> None:
        from scipy.linalg import LinAlgError, cholesky, pinvh
        self.location_, self.covariance_ = location, covariance
        self._precision: np.ndarray | None = None
        try:
            self._lower: np.ndarray | None = cholesky(covariance, lower=True, check_finite=False)
        except LinAlgError:
            self._lower, self._precision = None, pinvh(covariance, check_finite=False)

    @property
    def precision_(self) -> np.ndarray:
        if self._precision is None:
            from scipy.linalg import cho_solve
            p = cho_solve((self._lower, True), np.eye(len(self._lower)), check_finite=False)
            self._precision = (p + p.T) / 2
        return self._precision

    def mahalanobis(self, x: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row of ``x``."""
        centred = np.asarray(x, dtype=np.float64) - self.location_
        if self._lower is None:
            return np.einsum("ij,ij->i", centred @ self._precision, centred)
        from scipy.linalg import solve_triangular
        z = solve_triangular(self._lower, centred.T, lower=True, check_finite=False)
        return np.einsum("ij,ij->j", z, z)


def _ledoit_wolf(x: np.ndarray, seed: int):
    from sklearn.covariance import LedoitWolf
    lw = LedoitWolf(store_precision=False).fit(x)    # the same covariance, without its pinvh
    return CholeskyGaussian(lw.location_, lw.covariance_)


def _full(x: np.ndarray, seed: int):
    from sklearn.covariance import EmpiricalCovariance
    return EmpiricalCovariance().fit(x)


def _gmm(x: np.ndarray, seed: int):
    from sklearn.mixture import GaussianMixture
    k = max(1, min(4, len(x) // 20))
    return GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=seed).fit(x)


def _kde(x: np.ndarray, seed: int):
    from sklearn.neighbors import KernelDensity
    d = x.shape[1]
    # Scott's rule on the mean per-dimension spread
    bw = float(np.mean(x.std(axis=0)) * len(x) ** (-1.0 / (d + 4))) or 1.0
    return KernelDensity(bandwidth=bw).fit(x)


def _mahalanobis(est, x: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance (Gaussians)."""
    return est.mahalanobis(x)


def _neg_log_density(est, x: np.ndarray) -> np.ndarray:
    return -est.score_samples(x)


DENSITIES: dict[str, DensitySpec] = {
    "ledoit_wolf": DensitySpec(_ledoit_wolf, _mahalanobis),
    "full": DensitySpec(_full, _mahalanobis),           # sample covariance
    "gmm": DensitySpec(_gmm, _neg_log_density),
    "kde": DensitySpec(_kde, _neg_log_density),
}


def known_densities() -> str:
    """``ledoit_wolf, full, gmm or kde``: the registry's names, for messages."""
    names = list(DENSITIES)
    return ", ".join(names[:-1]) + " or " + names[-1]


class DensityEstimator:
    """``kind``: a name in ``DENSITIES`` (``ledoit_wolf`` by default, ``full``, ``gmm``, ``kde``)."""

    def __init__(self, kind: str = "ledoit_wolf", seed: int = 0) -> None:
        self.kind, self.seed = kind, seed
        self._est = None

    def fit(self, features: np.ndarray) -> "DensityEstimator":
        x = l2_normalise(features)
        spec = DENSITIES.get(self.kind)
        if spec is None:
            raise ValueError(f"unknown density {self.kind!r}; choose {known_densities()}")
        self._est = spec.fit(x, self.seed)
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance for Gaussians, negative log density otherwise."""
        if self._est is None:
            raise RuntimeError("fit the density estimator before scoring")
        return DENSITIES[self.kind].score(self._est, l2_normalise(features))
