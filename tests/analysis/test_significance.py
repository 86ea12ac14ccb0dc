"""Significance statistics on hand-made data: each test can fail if the statistic is wrong."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from analysis.stats.ranks import average_ranks, cd_diagram, critical_difference_cliques, friedman
from analysis.stats.significance import holm, paired_tests
from analysis.stats.bootstrap import bootstrap_auc_interval

CATS = [f"cat{i:02d}" for i in range(15)]


def effect_table(seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.7, 0.9, len(CATS))
    return pd.DataFrame({"base": base,
                         "better": base + 0.05 + rng.normal(0, 0.01, len(CATS)),
                         "noisy": base + rng.normal(0, 0.05, len(CATS))}, index=CATS)


def cell_scores(n_good, n_defect, seeds=1, shift=1.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(seeds):
        for label, n in ((0, n_good), (1, n_defect)):
            for x in rng.normal(shift * label, 1.0, n):
                rows.append({"trial_key": f"t{s}", "label": label, "score": x})
    return pd.DataFrame(rows)


def test_holm_matches_hand_computation_and_passes_nan():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    out = holm([0.01, np.nan, 0.04, 0.03])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2, 3]], [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])       # capped at 1


def test_paired_tests_pvalues_are_scipy_wilcoxon_and_holm():
    t = effect_table()
    t.loc["cat03", "noisy"] = np.nan                                  # a category the column lacks
    res = paired_tests(t, "base").set_index("column")
    raw = []
    for col in ("better", "noisy"):
        d = (t[col] - t["base"]).dropna()
        ref = stats.wilcoxon(d.to_numpy())
        assert res.loc[col, "p_value"] == pytest.approx(ref.pvalue)
        assert res.loc[col, "statistic"] == pytest.approx(ref.statistic)
        assert res.loc[col, "n_categories"] == len(d)
        assert res.loc[col, "mean_diff"] == pytest.approx(d.mean())
        raw.append(ref.pvalue)
    lo, hi = sorted(raw)
    expect = {c: (2 * p if p == lo else max(2 * lo, p)) for c, p in zip(("better", "noisy"), raw)}
    for col in ("better", "noisy"):
        assert res.loc[col, "p_holm"] == pytest.approx(min(1.0, expect[col]))
    assert res.loc["noisy", "test"] == "Wilcoxon signed-rank over 14 categories, Holm over 2 comparisons"


def test_consistent_effect_is_significant_and_noise_is_not():
    res = paired_tests(effect_table(), "base").set_index("column")
    b = res.loc["better"]
    assert b["significant"] and b["p_holm"] < 0.001
    assert b["mean_diff"] == pytest.approx(0.05, abs=0.01)
    assert b["ci_low"] < b["mean_diff"] < b["ci_high"]
    assert b["ci_low"] > 0.03 and b["ci_high"] < 0.07
    n = res.loc["noisy"]
    assert not n["significant"] and n["p_holm"] > 0.05
    assert n["ci_low"] < 0 < n["ci_high"]
    again = paired_tests(effect_table(), "base").set_index("column")   # deterministic intervals
    assert again.loc["better", "ci_low"] == b["ci_low"]


def test_identical_columns_are_not_different():
    t = effect_table()[["base"]].assign(same=lambda d: d["base"])
    r = paired_tests(t, "base").iloc[0]
    assert r["p_value"] == 1.0 and r["p_holm"] == 1.0 and not r["significant"]
    assert r["mean_diff"] == 0 and r["ci_low"] == 0 and r["ci_high"] == 0


def test_one_category_gives_no_test_with_a_reason():
    t = pd.DataFrame({"base": [0.8, np.nan], "x": [0.9, 0.9]}, index=["a", "b"])
    r = paired_tests(t, "base").iloc[0]
    assert r["n_categories"] == 1 and np.isnan(r["p_value"]) and np.isnan(r["p_holm"])
    assert not r["significant"] and "too few" in r["test"]


def test_bootstrap_interval_contains_point_auc_and_is_reproducible():
    s = cell_scores(40, 40, seeds=3)
    point = np.mean([roc_auc_score(p["label"], p["score"]) for _, p in s.groupby("trial_key")])
    lo, hi = bootstrap_auc_interval(s, seed=1)
    assert lo < point < hi and 0.5 < lo < hi <= 1.0
    assert bootstrap_auc_interval(s, seed=1) == (lo, hi)
    assert bootstrap_auc_interval(s, seed=2) != (lo, hi)


def test_bootstrap_interval_narrows_with_more_test_images():
    lo1, hi1 = bootstrap_auc_interval(cell_scores(20, 20))
    lo2, hi2 = bootstrap_auc_interval(cell_scores(400, 400))
    assert hi2 - lo2 < 0.6 * (hi1 - lo1)


def test_bootstrap_interval_perfect_and_degenerate_cells():
    s = pd.DataFrame({"trial_key": ["a"] * 6 + ["b"] * 6, "label": [0, 0, 0, 1, 1, 1] * 2,
                      "score": [0.1, 0.2, 0.3, 0.7, 0.8, 0.9] * 2})
    assert bootstrap_auc_interval(s) == (1.0, 1.0)
    lo, hi = bootstrap_auc_interval(s[s["label"] == 0])
    assert np.isnan(lo) and np.isnan(hi)


@pytest.mark.parametrize("n_pos,n_neg,ties,block", [(7, 4, False, 10 ** 6), (3, 9, True, 10 ** 6), (6, 6, True, 1),
                                                    (2100, 2001, True, 10 ** 8)])
def test_replicate_u_counts_what_mannwhitneyu_gives_on_the_drawn_scores(n_pos, n_neg, ties, block):
    # every seed's U on every replicate at once, from draw counts (block 1: a product per seed;
    # 2100 x 2001 pairs take float64)
    from analysis.stats.bootstrap import _draw_counts, _replicate_u
    rng = np.random.default_rng(n_pos)
    seeds, n_boot = 3, 4
    pos, neg = rng.normal(0.5, 1, (seeds, n_pos)), rng.normal(0, 1, (seeds, n_neg))
    if ties:
        pos, neg = np.round(pos), np.round(neg)
    bp, bn = rng.integers(0, n_pos, (n_boot, n_pos)), rng.integers(0, n_neg, (n_boot, n_neg))
    u = _replicate_u(pos, neg, _draw_counts(bp, n_pos), _draw_counts(bn, n_neg), block)
    ref = stats.mannwhitneyu(pos[:, bp], neg[:, bn], axis=-1, method="asymptotic").statistic   # [seeds, n_boot]
    assert u.shape == (seeds, n_boot)
    np.testing.assert_array_equal(u, ref)


def test_friedman_matches_scipy_and_needs_enough_data():
    t = effect_table()
    t.loc["cat05", "noisy"] = np.nan
    r = friedman(t)
    c = t.dropna()
    ref = stats.friedmanchisquare(c["base"], c["better"], c["noisy"])
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.n_categories == 14
    assert friedman(t[["base", "better"]]) is None
    assert friedman(t.iloc[:1]) is None


def test_average_ranks_on_a_hand_table():
    t = pd.DataFrame({"a": [0.9, 0.8, 0.7, 0.5], "b": [0.8, 0.8, 0.9, np.nan], "c": [0.7, 0.6, 0.8, 0.9]})
    # rows: a>b>c -> 1,2,3; a=b>c -> 1.5,1.5,3; b>c>a -> 3,1,2; last row incomplete, dropped
    r = average_ranks(t)
    assert r.to_dict() == pytest.approx({"a": 5.5 / 3, "b": 4.5 / 3, "c": 8 / 3})
    assert list(r.index) == ["b", "a", "c"]


def test_cliques_separate_a_clearly_better_column():
    t = effect_table()
    t = pd.DataFrame({"x": t["base"], "y": t["base"], "best": t["base"] + 0.1}, index=CATS)
    assert critical_difference_cliques(t) == [["best"], ["x", "y"]]
    overlap = effect_table()                       # noisy ~ base, better > both
    cl = critical_difference_cliques(overlap)
    assert ["better"] in cl and sorted(map(sorted, cl)) == [["base", "noisy"], ["better"]]


def test_cd_diagram_saves_a_png(tmp_path):
    from matplotlib.figure import Figure
    t = effect_table().assign(same=lambda d: d["base"])
    fig = cd_diagram(t, title="hand-made")
    assert isinstance(fig, Figure)
    texts = " ".join(x.get_text() for x in fig.texts)
    assert "Friedman p =" in texts and "Wilcoxon-Holm" in texts and "n = 15 categories" in texts
    out = tmp_path / "cd.png"
    fig.savefig(out)
    assert out.exists() and out.stat().st_size > 5_000


def identical_seed_scores(n_good, n_defect, seeds, seed=0, shuffle=False):
    """``seeds`` trials that gave every test image the same score (image_path names the image)."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n_good, int), np.ones(n_defect, int)]
    base = pd.DataFrame({"image_path": [f"img{i:03d}.png" for i in range(len(labels))], "label": labels,
                         "score": rng.normal(0.8 * labels, 1.0)})
    parts = []
    for s in range(seeds):
        part = base.sample(frac=1, random_state=s) if shuffle else base
        parts.append(part.assign(trial_key=f"t{s}"))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("shuffle", [False, True])
def test_seeds_scoring_the_same_images_share_one_image_resample(shuffle):
    # identical seeds add no seed variation; resampling images independently per seed would
    # average test-set noise away and narrow the interval as seeds are added
    one = bootstrap_auc_interval(identical_seed_scores(30, 20, 1), seed=3)
    for k in (2, 5):
        many = bootstrap_auc_interval(identical_seed_scores(30, 20, k, shuffle=shuffle), seed=3)
        assert many[1] - many[0] == pytest.approx(one[1] - one[0], abs=1e-12)
        assert many == pytest.approx(one, abs=1e-12)
    assert one[1] - one[0] > 0.1


def test_seeds_without_image_paths_are_matched_by_order_and_must_score_as_many_images():
    s = identical_seed_scores(30, 20, 3).drop(columns="image_path")
    one = bootstrap_auc_interval(s[s["trial_key"] == "t0"], seed=1)
    assert bootstrap_auc_interval(s, seed=1) == pytest.approx(one, abs=1e-12)
    with pytest.raises(ValueError, match="same test images"):
        bootstrap_auc_interval(s.drop(index=[0]), seed=1)


def test_wilcoxon_method_is_exact_without_ties_and_enumerates_signs_with_them():
    from analysis.stats.significance import _wilcoxon, wilcoxon_method
    distinct = np.array([0.01, -0.02, 0.03, 0.04, 0.05, 0.06])
    assert wilcoxon_method(distinct) == "exact"
    assert _wilcoxon(distinct)[:2] == pytest.approx(tuple(stats.wilcoxon(distinct, method="exact")))
    tied = np.full(5, 0.01)                          # five equal positive differences
    assert wilcoxon_method(tied) == "permutation"
    assert _wilcoxon(tied)[1] == pytest.approx(2 / 2 ** 5)          # the asymptotic p would be 0.025
    assert stats.wilcoxon(tied, method="asymptotic").pvalue < 0.05
    assert _wilcoxon(np.r_[np.full(14, 0.01), 0.02])[1] == pytest.approx(2 / 2 ** 15)
    assert wilcoxon_method(np.r_[np.zeros(2), np.arange(1, 9) / 100]) == "permutation"   # zeros
    assert wilcoxon_method(np.full(20, 0.01)) == "asymptotic"
    assert wilcoxon_method(np.arange(1, 61) / 100) == "asymptotic"


@pytest.mark.parametrize("d", [np.array([0.02, 0.02, -0.01, 0.03, 0.03, 0.03, -0.02, 0.05]),
                               np.array([0.0, 0.01, 0.01, -0.01, 0.02, 0.0, 0.04]),
                               np.array([-0.1, -0.1, -0.1, 0.1, -0.2, -0.3])])
def test_sign_flip_enumeration_equals_scipys_exhaustive_permutation_test(d):
    from analysis.stats.significance import _wilcoxon
    ref = stats.wilcoxon(d, zero_method="wilcox", method=stats.PermutationMethod(n_resamples=2 ** len(d)))
    stat, p, _ = _wilcoxon(d)
    assert p == pytest.approx(ref.pvalue) and stat == pytest.approx(ref.statistic)


def test_smallest_attainable_holm_p():
    from analysis.stats.significance import min_attainable_p
    assert min_attainable_p(5) == pytest.approx(0.0625)
    assert min_attainable_p(6) == pytest.approx(0.03125) and min_attainable_p(6, 2) == pytest.approx(0.0625)
    assert min_attainable_p(15, 6) == pytest.approx(6 * 2 / 2 ** 15)
    assert min_attainable_p(2, 5) == 1.0
    # no data can beat it: every difference of one sign is the most extreme outcome
    assert paired_tests(pd.DataFrame({"a": np.zeros(5), "b": np.arange(1, 6) / 100}), "a")["p_value"].iloc[0] \
        == pytest.approx(min_attainable_p(5))


def rank_order_trap(n=15):
    """x ranks first, y second, z third; x is not distinguishable from y nor from z (it beats
    both by a little in 11 rows and loses by a lot in 4), but y is above z in every row."""
    z = np.linspace(0.60, 0.74, n)
    gap = np.r_[0.05 + 0.001 * np.arange(11), -(0.30 + 0.01 * np.arange(4))]
    return pd.DataFrame({"x": z + gap, "y": z + 0.01 + 0.001 * np.arange(n), "z": z}, index=CATS[:n])


def test_cliques_are_runs_of_consecutive_ranks():
    t = rank_order_trap()
    assert list(average_ranks(t).index) == ["x", "y", "z"]
    # x~y and x~z, y differs from z: {x, z} would draw a bar across y, which is not in it
    assert critical_difference_cliques(t) == [["x", "y"], ["z"]]


@pytest.mark.parametrize("same,expect", [
    ({"ab", "ac"}, [["a", "b"], ["c"], ["d"]]),
    ({"ab", "bc", "cd", "ac", "bd"}, [["a", "b", "c"], ["b", "c", "d"]]),
    ({"ac", "bd"}, [["a"], ["b"], ["c"], ["d"]]),
    ({"ab", "ac", "bc", "cd"}, [["a", "b", "c"], ["c", "d"]]),
])
def test_contiguous_cliques_never_skip_a_column(same, expect):
    from analysis.stats.ranks import _contiguous_cliques
    cols = ["a", "b", "c", "d"]
    pairs = {frozenset(p) for p in same}
    got = _contiguous_cliques(cols, lambda a, b: frozenset((a, b)) in pairs)
    assert got == expect
    for clique in got:
        i = cols.index(clique[0])
        assert clique == cols[i:i + len(clique)]
