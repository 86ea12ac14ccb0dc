"""Density estimators on features of normal images; higher score = more anomalous.

The paper's GDE is a Gaussian fit to L2-normalised features of the un-augmented
normal training images, scored by Mahalanobis distance. scikit-learn already has the
estimators (Ledoit-Wolf shrinkage by default: with a few hundred images and 512
dimensions the sample covariance is singular), so this module only chooses one and
normalises features the same way at fit and score time.
"""
from __future__ import annotations

import numpy as np
from sklearn.covariance import EmpiricalCovariance, LedoitWolf
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class DensityEstimator:
    """``kind``: ``ledoit_wolf`` (default), ``full`` (sample covariance), ``gmm``, ``kde``."""

    def __init__(self, kind: str = "ledoit_wolf", seed: int = 0) -> None:
        self.kind, self.seed = kind, seed
        self._est = None

    def fit(self, features: np.ndarray) -> "DensityEstimator":
        x = l2_normalise(features)
        if self.kind == "ledoit_wolf":
            self._est = LedoitWolf().fit(x)
        elif self.kind == "full":
            self._est = EmpiricalCovariance().fit(x)
        elif self.kind == "gmm":
            k = max(1, min(4, len(x) // 20))
            self._est = GaussianMixture(k, covariance_type="full", reg_covar=1e-3,
                                        random_state=self.seed).fit(x)
        elif self.kind == "kde":
            d = x.shape[1]
            # Scott's rule on the mean per-dimension spread
            bw = float(np.mean(x.std(axis=0)) * len(x) ** (-1.0 / (d + 4))) or 1.0
            self._est = KernelDensity(bandwidth=bw).fit(x)
        else:
            raise ValueError(f"unknown density {self.kind!r}; choose ledoit_wolf, full, gmm or kde")
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance for Gaussians, negative log density otherwise."""
        if self._est is None:
            raise RuntimeError("fit the density estimator before scoring")
        x = l2_normalise(features)
        if self.kind in ("ledoit_wolf", "full"):
            return self._est.mahalanobis(x)
        return -self._est.score_samples(x)
