"""Ensembles: out-of-sample normalisation, one ensemble per config, old trials left out loudly."""
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analysis.stats.ensemble import ensemble_auc, ensembles
from trainables.evaluate.crossfit import crossfit_scores, n_folds, null_stats
from trainables.models.density import DensityEstimator


def gde(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
    return DensityEstimator("ledoit_wolf", seed=0).fit(fit).score(held)


def low_rank_features(n: int = 40, d: int = 32, rank: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) + 0.05 * rng.normal(size=(n, d)) + 2


def test_crossfit_scores_each_image_by_a_gde_fitted_without_its_fold():
    x = low_rank_features()
    row_of = {r.tobytes(): i for i, r in enumerate(x)}
    calls = []

    def recording(fit, held):
        calls.append(({row_of[r.tobytes()] for r in fit}, [row_of[r.tobytes()] for r in held]))
        return gde(fit, held)

    out = crossfit_scores(x, recording, k=5, seed=3)
    held_sets = [set(h) for _, h in calls]
    assert len(calls) == 5 and sorted(sum((list(h) for h in held_sets), [])) == list(range(len(x)))
    for fit, held in calls:
        assert not fit & set(held) and len(fit) + len(held) == len(x)
    # by construction, independently of crossfit_scores: refit without the image's fold
    in_sample = gde(x, x)
    for held in held_sets:
        idx = sorted(held)
        direct = gde(np.delete(x, idx, axis=0), x[idx])
        np.testing.assert_allclose(out[idx], direct, rtol=1e-10)
        assert not np.allclose(out[idx], in_sample[idx])
    # the review's finding: in-sample scores are biased low and tight
    assert in_sample.mean() < out.mean() and in_sample.std() < out.std()


def test_crossfit_is_deterministic_by_seed_and_uses_fewer_folds_for_few_images():
    x = low_rank_features(n=20)
    np.testing.assert_array_equal(crossfit_scores(x, gde, seed=1), crossfit_scores(x, gde, seed=1))
    assert not np.allclose(crossfit_scores(x, gde, seed=1), crossfit_scores(x, gde, seed=2))
    assert [n_folds(n) for n in (3, 4, 7, 10, 100)] == [0, 2, 3, 5, 5]
    assert null_stats(x[:8], gde, "train_good")["null_score_method"] == "crossfit4:train_good"
    assert null_stats(x[:3], gde, "train_good") == {"null_score_mean": None, "null_score_std": None,
                                                    "null_score_method": None}


LRS = (0.1, 0.03)
CATEGORIES = ("carpet", "bottle")
SEEDS = (0, 1, 2)


def two_config_study(seed: int = 0):
    """cutpaste_3way at two lrs x 2 categories x 3 seeds, each model on its own score scale;
    seeds differ in bookkeeping fields (threads), which must not split an ensemble."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(20), np.ones(10)]
    trials, scores = [], []
    for lr in LRS:
        for cat in CATEGORIES:
            for s in SEEDS:
                key = f"{cat}-{lr}-{s}"
                mu, sd = rng.uniform(-50, 50), rng.uniform(0.5, 50)
                trials.append({"trial_key": key, "study": "table1", "dataset": "generated@x",
                               "variant": "cutpaste_3way", "category": cat, "seed": s, "lr": lr,
                               "steps": 100, "threads": s + 1, "status": "ok",
                               "null_score_mean": mu, "null_score_std": sd,
                               "null_score_method": "crossfit5:train_good",
                               # in-sample: tighter by a model-dependent factor (feature rank)
                               "train_score_mean": mu / 3, "train_score_std": sd / rng.uniform(2, 50)})
                raw = rng.normal(size=30) + labels * rng.uniform(0.2, 1.5)
                scores.append(pd.DataFrame({"trial_key": key, "image_path": [f"{cat}/{i}.png" for i in range(30)],
                                            "label": labels, "score": mu + sd * raw}))
    trials.append({**trials[0], "trial_key": "other", "variant": "cutpaste"})
    scores.append(scores[0].assign(trial_key="other"))
    return pd.DataFrame(trials), pd.concat(scores, ignore_index=True)


def direct_auc(trials: pd.DataFrame, scores: pd.DataFrame, keys: list[str]) -> float:
    z = []
    for k in keys:
        t = trials.set_index("trial_key").loc[k]
        s = scores[scores["trial_key"] == k].sort_values("image_path")
        z.append((s["score"].to_numpy() - t["null_score_mean"]) / t["null_score_std"])
        labels = s["label"].to_numpy()
    return roc_auc_score(labels, np.mean(z, axis=0))


def test_two_configs_of_a_variant_give_two_ensembles_per_category_with_the_direct_auc():
    trials, scores = two_config_study()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ens = ensembles(trials, scores)
    assert list(ens.columns) == ["category", "mean", "se", "n", "ensemble_of", "normalisation", "members"]
    assert all(len(m) == n for m, n in zip(ens["members"], ens["n"]))
    assert len(ens) == 4 and set(ens["n"]) == {3} and set(ens["normalisation"]) == {"crossfit5:train_good"}
    assert set(ens["ensemble_of"]) == {"cutpaste_3way, lr=0.1", "cutpaste_3way, lr=0.03"}
    for lr in LRS:
        for cat in CATEGORIES:
            row = ens[(ens["category"] == cat) & (ens["ensemble_of"] == f"cutpaste_3way, lr={lr:g}")].iloc[0]
            keys = [f"{cat}-{lr}-{s}" for s in SEEDS]
            assert row["mean"] == pytest.approx(direct_auc(trials, scores, keys))
    one = ensembles(trials[trials["lr"] == 0.1], scores)
    assert set(one["ensemble_of"]) == {"cutpaste_3way"} and len(one) == 2


def test_standardising_uses_null_stats_not_the_in_sample_train_scores():
    trials, scores = two_config_study()
    keys = [f"carpet-0.1-{s}" for s in SEEDS]
    insample = trials.drop(columns=["null_score_mean", "null_score_std"]).rename(
        columns={"train_score_mean": "null_score_mean", "train_score_std": "null_score_std"})
    assert ensemble_auc(trials, scores, keys) == pytest.approx(direct_auc(trials, scores, keys))
    assert ensemble_auc(trials, scores, keys) != pytest.approx(ensemble_auc(insample, scores, keys))


def test_trials_without_null_stats_are_left_out_with_a_warning_that_counts_them():
    trials, scores = two_config_study()
    old = trials["trial_key"] == "carpet-0.1-2"
    trials.loc[old, ["null_score_mean", "null_score_std", "null_score_method"]] = None
    with pytest.warns(UserWarning, match=r"1 cutpaste_3way trial\(s\) left out of ensembles: no out-of-sample"):
        ens = ensembles(trials, scores)
    row = ens[(ens["category"] == "carpet") & (ens["ensemble_of"] == "cutpaste_3way, lr=0.1")].iloc[0]
    assert row["n"] == 2
    assert row["mean"] == pytest.approx(direct_auc(trials, scores, ["carpet-0.1-0", "carpet-0.1-1"]))
    with pytest.raises(ValueError, match="null_score"):   # never a silent fall-back to train_score_*
        ensemble_auc(trials, scores, [f"carpet-0.1-{s}" for s in SEEDS])
    legacy = trials.drop(columns=["null_score_mean", "null_score_std", "null_score_method"])
    with pytest.warns(UserWarning, match="12 cutpaste_3way trial"):
        assert ensembles(legacy, scores).empty
