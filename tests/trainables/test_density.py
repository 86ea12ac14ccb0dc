import numpy as np
import pytest
from scipy.linalg import pinvh
from sklearn.covariance import LedoitWolf, ledoit_wolf

from trainables.models.density import CholeskyGaussian, DensityEstimator, l2_normalise
from trainables.metrics import auc_by_defect, image_auc


def test_gde_score_equals_direct_mahalanobis_with_ledoit_wolf_covariance():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(60, 32)) + 3
    test = rng.normal(size=(10, 32)) + 3
    scores = DensityEstimator("ledoit_wolf").fit(train).score(test)
    x, y = l2_normalise(train), l2_normalise(test)
    cov, _ = ledoit_wolf(x)
    d = y - x.mean(axis=0)
    direct = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)
    np.testing.assert_allclose(scores, direct, rtol=1e-6)


@pytest.mark.parametrize("kind", ["ledoit_wolf", "full", "gmm", "kde"])
def test_every_density_scores_outliers_higher(kind):
    rng = np.random.default_rng(1)
    train = rng.normal(size=(200, 8)) * 0.1 + np.eye(8)[0]
    inliers = rng.normal(size=(20, 8)) * 0.1 + np.eye(8)[0]
    outliers = rng.normal(size=(20, 8)) * 0.1 + np.eye(8)[1]
    est = DensityEstimator(kind).fit(train)
    assert est.score(outliers).min() > est.score(inliers).max()


def test_features_are_l2_normalised_so_scale_does_not_matter():
    rng = np.random.default_rng(2)
    train, test = rng.normal(size=(50, 16)), rng.normal(size=(5, 16))
    est = DensityEstimator().fit(train)
    np.testing.assert_allclose(est.score(test), est.score(test * 7.5))


def test_auc_by_defect_compares_good_with_each_defect_alone():
    labels = np.array([0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.15, 0.05])
    defects = ["good", "good", "crack", "crack", "stain", "stain"]
    assert image_auc(labels, scores) == pytest.approx(5 / 8)  # 5 of 8 (defect, good) pairs ordered
    assert auc_by_defect(labels, scores, defects) == {"crack": 1.0, "stain": 0.25}


def test_ledoit_wolf_scores_and_precision_match_scikit_learns_pseudo_inverse():
    # fewer images than dimensions, as in a trial (72 x 1,280 for EfficientNet-Lite0)
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(12, 96))
    train = np.abs(rng.normal(size=(40, 12)) @ basis + 0.3 * rng.normal(size=(40, 96)))
    test = np.abs(rng.normal(size=(15, 12)) @ basis + 0.3 * rng.normal(size=(15, 96)))
    est = DensityEstimator("ledoit_wolf").fit(train)
    ref = LedoitWolf().fit(l2_normalise(train))
    for x in (train, test):
        np.testing.assert_allclose(est.score(x), ref.mahalanobis(l2_normalise(x)), rtol=1e-9)
    np.testing.assert_allclose(est._est.location_, ref.location_, rtol=1e-12)
    np.testing.assert_allclose(est._est.precision_, ref.precision_, rtol=0, atol=1e-9 * np.abs(ref.precision_).max())


def test_a_covariance_that_is_not_positive_definite_is_scored_by_its_pseudo_inverse():
    v = np.array([[1.0, 2.0, 0.0]])
    cov = v.T @ v                                       # rank 1: no Cholesky factor
    g = CholeskyGaussian(np.zeros(3), cov)
    x = np.array([[1.0, 2.0, 0.0], [0.5, 1.0, 3.0]])
    np.testing.assert_allclose(g.mahalanobis(x), np.einsum("ij,jk,ik->i", x, pinvh(cov), x), rtol=1e-12)
    np.testing.assert_allclose(g.precision_, pinvh(cov), rtol=1e-12)
