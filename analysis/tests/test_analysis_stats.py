"""ioca_analysis.stats: AUC, Spearman, paired tests and bands on hand-checked cases."""

import math

import ioca_results_factory  # noqa: F401  (puts analysis/ on sys.path)
import numpy as np
import pytest
from scipy import stats as sst

from ioca_analysis import stats


# -- AUC ------------------------------------------------------------------------------------

def test_auc_linear_curve_by_hand():
    # x = 0, .25, .5, .75, 1; trapezoids 0.25 * (0.9 + 0.7 + 0.5 + 0.3) = 0.6
    assert stats.auc([0, 1, 2, 3, 4], [1.0, 0.8, 0.6, 0.4, 0.2], 4) == pytest.approx(0.6)


def test_auc_recorded_at_few_points():
    # steps > 0: points 0, 2, 4 of n = 4: 0.5 * (1 + .5) / 2 + 0.5 * (.5 + .5) / 2 = 0.625
    assert stats.auc([0, 2, 4], [1.0, 0.5, 0.5], 4) == pytest.approx(0.625)


def test_auc_constant_and_bounds():
    assert stats.auc(np.arange(11), np.full(11, 0.7), 10) == pytest.approx(0.7)
    assert stats.auc([0, 3], [1.0, 1.0], 3) == pytest.approx(1.0)
    assert stats.auc([0, 3], [0.0, 0.0], 3) == 0.0


def test_auc_n_defaults_to_last_point_and_partial_curves_cover_less():
    assert stats.auc([0, 5, 10], [1, 0.5, 0], None) == pytest.approx(0.5)
    # A partial order (5 of 10 neurons) integrates over x in [0, 0.5] only.
    assert stats.auc([0, 5], [1.0, 1.0], 10) == pytest.approx(0.5)


def test_auc_undefined_cases():
    assert math.isnan(stats.auc([0, 1], [1.0, float("nan")], 1))
    assert math.isnan(stats.auc([0], [1.0], 1))
    assert math.isnan(stats.auc([0, 1], [1.0, 1.0], 0))
    with pytest.raises(ValueError):
        stats.auc([0, 1, 2], [1.0, 1.0], 2)
    with pytest.raises(ValueError):
        stats.auc([0, 2, 1], [1.0, 1.0, 1.0], 2)


def test_auc_rows_matches_auc():
    acc = np.array([[1.0, 0.5, 0.0], [1.0, 1.0, 1.0]])
    assert stats.auc_rows([0, 1, 2], acc, 2) == pytest.approx([0.5, 1.0])


# -- Spearman ---------------------------------------------------------------------------------

def test_spearman_matches_scipy_on_random_data():
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.normal(size=30)
        y = 0.5 * x + rng.normal(size=30)
        assert stats.spearman(x, y) == pytest.approx(sst.spearmanr(x, y).correlation,
                                                     abs=1e-12)


def test_spearman_matches_scipy_with_ties():
    x = np.array([1, 2, 2, 3, 3, 3, 4, 5, 5, 6], dtype=float)
    y = np.array([2, 1, 4, 3, 3, 5, 5, 7, 6, 6], dtype=float)
    assert stats.spearman(x, y) == pytest.approx(sst.spearmanr(x, y).correlation, abs=1e-12)
    rng = np.random.default_rng(3)
    xi = rng.integers(0, 4, 50)
    yi = xi + rng.integers(0, 3, 50)
    assert stats.spearman(xi, yi) == pytest.approx(sst.spearmanr(xi, yi).correlation,
                                                   abs=1e-12)


def test_spearman_known_values_and_undefined():
    assert stats.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert stats.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # d = (0, 0, -1, 1)... rho = 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 12/60 = 0.8
    assert stats.spearman([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(0.8)
    assert math.isnan(stats.spearman([1, 1, 1], [1, 2, 3]))   # constant
    assert math.isnan(stats.spearman([1], [2]))
    # Non-finite pairs are dropped.
    assert stats.spearman([1, 2, np.nan, 3], [1, 2, 5, 3]) == pytest.approx(1.0)


def test_spearman_by_layer_and_pooled():
    v = [np.array([1.0, 2, 3]), np.array([3.0, 2, 1, 0])]
    d = [np.array([1.0, 2, 3]), np.array([0.0, 1, 2, 3])]
    out = stats.spearman_by_layer(v, d)
    assert out["layer0"] == pytest.approx(1.0)
    assert out["layer1"] == pytest.approx(-1.0)
    pooled = sst.spearmanr(np.concatenate(v), np.concatenate(d)).correlation
    assert out["network"] == pytest.approx(pooled)
    # A layer without data is left out of the pool.
    out = stats.spearman_by_layer([v[0], None], [d[0], d[1]])
    assert set(out) == {"layer0", "network"}
    assert out["network"] == pytest.approx(1.0)


# -- paired tests -----------------------------------------------------------------------------

def test_sign_flip_all_positive_is_two_over_two_to_the_n():
    assert stats.sign_flip_test([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(2 / 32)
    assert stats.sign_flip_test([-1, -2, -3]) == pytest.approx(2 / 8)
    assert stats.sign_flip_test([1, 1]) == pytest.approx(2 / 4)


def test_sign_flip_mixed_signs_by_hand():
    # Sums 10 - 2 s(S) over the 16 subsets S of {1,2,3,4}; |sum| < 2 only for two
    # patterns (sum 0), so p = 14/16.
    assert stats.sign_flip_test([1, 2, 3, -4]) == pytest.approx(14 / 16)


def test_sign_flip_zeros_and_nan():
    assert stats.sign_flip_test([0, 0, 0]) == pytest.approx(1.0)
    assert stats.sign_flip_test([1, 2, 3, 4, 5, np.nan]) == pytest.approx(2 / 32)
    assert math.isnan(stats.sign_flip_test([]))


def test_wilcoxon_known_p():
    w, p = stats.wilcoxon_test([1, 2, 3, 4, 5])
    assert w == 0.0 and p == pytest.approx(0.0625)
    assert stats.wilcoxon_test([0, 0, 0]) == (0.0, 1.0)


def test_paired_test_picks_the_test_and_handles_n1():
    t = stats.paired_test([0.3])
    assert t.test == "n/a" and t.n == 1 and math.isnan(t.p)
    assert stats.paired_test([]).test == "n/a"
    t = stats.paired_test([0.1, 0.2, 0.3, 0.4, 0.5])
    assert t.test.startswith("sign-flip") and t.n == 5 and t.p == pytest.approx(0.0625)
    assert t.statistic == pytest.approx(1.5)
    rng = np.random.default_rng(11)
    d = rng.normal(0.3, 1.0, 15)
    t = stats.paired_test(d)
    assert t.test.startswith("Wilcoxon") and t.n == 15
    assert t.p == pytest.approx(sst.wilcoxon(d).pvalue)
    assert stats.paired_test(d, exact_max_n=15).test.startswith("sign-flip")
    assert stats.paired_test([1.0, np.nan]).test == "n/a"
    assert stats.paired_test([0.1, 0.2, 0.3]).as_dict() == {
        "test": "sign-flip (exact)", "n": 3, "statistic": pytest.approx(0.6), "p": 0.25}


# -- summaries ---------------------------------------------------------------------------------

def test_mean_sd():
    m, sd, n = stats.mean_sd([1.0, 2.0, 3.0, np.nan])
    assert (m, n) == (2.0, 3) and sd == pytest.approx(1.0)
    m, sd, n = stats.mean_sd([4.0])
    assert m == 4.0 and math.isnan(sd) and n == 1
    assert stats.mean_sd([])[2] == 0


def test_bands():
    curves = np.array([[1.0, 0.5], [1.0, 0.7], [1.0, 0.9]])
    mean, lo, hi = stats.mean_ci_band(curves)
    half = sst.t.ppf(0.975, 2) * 0.2 / math.sqrt(3)
    assert mean == pytest.approx([1.0, 0.7])
    assert lo == pytest.approx([1.0, 0.7 - half]) and hi == pytest.approx([1.0, 0.7 + half])
    mean, lo, hi = stats.mean_ci_band(curves[:1])
    assert np.array_equal(lo, mean) and np.array_equal(hi, mean)
    mean, lo, hi = stats.percentile_band(np.arange(101.0)[:, None])
    assert (mean[0], lo[0], hi[0]) == pytest.approx((50.0, 2.5, 97.5))


def test_align_curves():
    grid, mat = stats.align_curves([([0, 1, 2], [1, 2, 3]), ([0, 1, 2], [[4, 5, 6], [7, 8, 9]])])
    assert list(grid) == [0, 1, 2] and mat.shape == (3, 3)
    grid, mat = stats.align_curves([([0, 2], [0.0, 1.0]), ([0, 1, 2], [0.0, 0.0, 0.0])])
    assert list(grid) == [0, 1, 2]
    assert mat[0] == pytest.approx([0.0, 0.5, 1.0])


# -- Partial AUC ------------------------------------------------------------------------------

def test_partial_auc_linear_curve_closed_form():
    # y = 1 - x on [0, 1]: (1/f) * integral_0^f (1 - x) dx = 1 - f / 2 (exact for trapezoids).
    ablated = np.arange(11)
    acc = 1.0 - ablated / 10.0
    for f in (0.1, 0.25, 0.5, 0.73, 1.0):
        assert stats.partial_auc(ablated, acc, 10, f) == pytest.approx(1 - f / 2, abs=1e-12)


def test_partial_auc_interpolates_at_the_boundary():
    # Recorded at 0, 3, 6, 9, 12 of n = 12 (steps): f = 0.25 lands on a point (x = 3/12),
    # f = 0.5 on x = 6/12, f = 0.3 (3.6 neurons) between 3 and 6.
    ablated = [0, 3, 6, 9, 12]
    acc = [1.0, 0.8, 0.2, 0.2, 0.1]
    assert stats.partial_auc(ablated, acc, 12, 0.25) == pytest.approx((1.0 + 0.8) / 2)
    # [0, .25]: 0.25 * 0.9; [.25, .5]: 0.25 * 0.5; mean over 0.5 -> 0.7
    assert stats.partial_auc(ablated, acc, 12, 0.5) == pytest.approx(0.7)
    # x = .3: y = 0.8 - 0.6 * (0.05 / 0.25) = 0.68; area .225 + .05 * (.8 + .68) / 2 = .262
    assert stats.partial_auc(ablated, acc, 12, 0.3) == pytest.approx(0.262 / 0.3)
    # Odd n: f = 0.5 of 5 neurons is 2.5 ablated, between recorded points 2 and 3.
    assert stats.partial_auc([0, 1, 2, 3, 4, 5], [1, 1, 1, 0, 0, 0], 5, 0.5) == \
        pytest.approx((0.4 * 1.0 + 0.1 * (1.0 + 0.5) / 2) / 0.5)


def test_partial_auc_step_and_quadratic_closed_forms():
    # y = x^2 sampled finely: (1/f) * f^3 / 3 = f^2 / 3 up to the trapezoid error.
    ablated = np.arange(2001)
    acc = (ablated / 2000.0) ** 2
    for f in (0.25, 0.5, 1.0):
        assert stats.partial_auc(ablated, acc, 2000, f) == pytest.approx(f * f / 3, rel=1e-5)
    # A curve that holds 0.9 for the first 40% then falls to 0.1: early ranges see 0.9 only.
    ablated = np.arange(101)
    acc = np.where(ablated <= 40, 0.9, 0.1)
    assert stats.partial_auc(ablated, acc, 100, 0.25) == pytest.approx(0.9)
    assert stats.partial_auc(ablated, acc, 100, 0.4) == pytest.approx(0.9)
    assert stats.partial_auc(ablated, acc, 100, 0.5) == pytest.approx(
        (0.4 * 0.9 + 0.01 * 0.5 + 0.09 * 0.1) / 0.5)


def test_partial_auc_of_whole_range_is_auc():
    rng = np.random.default_rng(3)
    for steps in (None, [0, 2, 5, 9, 17]):
        ablated = np.arange(18) if steps is None else np.array(steps)
        acc = rng.uniform(size=ablated.size)
        assert stats.partial_auc(ablated, acc, 17, 1.0) == pytest.approx(
            stats.auc(ablated, acc, 17))


def test_partial_auc_undefined_cases():
    # The curve must cover [0, f]; NaN only matters where it is used.
    assert math.isnan(stats.partial_auc([0, 5], [1.0, 1.0], 20, 0.5))
    assert math.isnan(stats.partial_auc([2, 10], [1.0, 1.0], 10, 0.5))
    assert math.isnan(stats.partial_auc([0, 5, 10], [1.0, float("nan"), 1.0], 10, 0.25))
    assert stats.partial_auc([0, 5, 10], [1.0, 1.0, float("nan")], 10, 0.5) == 1.0
    assert math.isnan(stats.partial_auc([0], [1.0], 1, 0.5))
    assert math.isnan(stats.partial_auc([0, 1], [1.0, 1.0], 0, 0.5))
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            stats.partial_auc([0, 1], [1.0, 1.0], 1, bad)
    with pytest.raises(ValueError):
        stats.partial_auc([0, 2, 1], [1.0, 1.0, 1.0], 2, 0.5)


def test_partial_auc_rows_matches_partial_auc():
    acc = np.array([[1.0, 0.5, 0.0], [1.0, 1.0, 1.0]])
    assert stats.partial_auc_rows([0, 1, 2], acc, 2, 0.5) == pytest.approx([0.75, 1.0])


# -- Holm and Benjamini–Hochberg ----------------------------------------------------------------

# Benjamini & Hochberg (1995), J. R. Statist. Soc. B 57:289-300, section 4.1: 15 p-values of
# a clinical trial. At 0.05 the BH procedure rejects the 4 smallest, the Bonferroni-type
# (Holm) procedure the 3 smallest. The adjusted values were computed by hand from the
# definitions (BH: m p_(i) / i, cumulative minimum from the top; Holm: (m - i + 1) p_(i),
# cumulative maximum from the bottom; both capped at 1).
BH1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
          0.4262, 0.5719, 0.6528, 0.7590, 1.000]
BH1995_BH = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0638571428571, 0.0638571428571,
             0.0645, 0.0765, 0.486, 0.5811818181818, 0.714875, 0.7532307692308, 0.8132142857143, 1.0]
BH1995_HOLM = [0.0015, 0.0056, 0.0247, 0.114, 0.2211, 0.278, 0.278, 0.278, 0.3213, 1.0, 1.0,
               1.0, 1.0, 1.0, 1.0]


def test_adjustments_on_the_benjamini_hochberg_1995_example():
    bh = stats.benjamini_hochberg(BH1995)
    ho = stats.holm(BH1995)
    assert bh == pytest.approx(BH1995_BH, abs=1e-10)
    assert ho == pytest.approx(BH1995_HOLM, abs=1e-10)
    assert int(np.sum(bh <= 0.05)) == 4 and int(np.sum(ho <= 0.05)) == 3
    # Order of the input does not matter.
    perm = np.random.default_rng(0).permutation(len(BH1995))
    assert stats.benjamini_hochberg(np.array(BH1995)[perm]) == pytest.approx(
        np.array(BH1995_BH)[perm], abs=1e-10)
    assert stats.holm(np.array(BH1995)[perm]) == pytest.approx(
        np.array(BH1995_HOLM)[perm], abs=1e-10)


def test_adjustments_small_cases_by_hand():
    # m = 3, p = .01, .04, .03 -> sorted .01, .03, .04
    # Holm: 3*.01 = .03, 2*.03 = .06, 1*.04 = .04 -> cummax .06; BH: .03, .045, .04 -> .04
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.benjamini_hochberg([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.04, 0.04])
    # Caps at 1; ties share their adjusted value.
    assert stats.holm([0.6, 0.6]) == pytest.approx([1.0, 1.0])
    assert stats.benjamini_hochberg([0.6, 0.6]) == pytest.approx([0.6, 0.6])
    assert stats.holm([0.02, 0.02, 0.5]) == pytest.approx([0.06, 0.06, 0.5])
    assert stats.benjamini_hochberg([0.02, 0.02, 0.5]) == pytest.approx([0.03, 0.03, 0.5])
    # One test: unchanged. None: empty.
    assert stats.holm([0.2]) == pytest.approx([0.2])
    assert stats.benjamini_hochberg([0.2]) == pytest.approx([0.2])
    assert stats.holm([]).size == 0 and stats.benjamini_hochberg([]).size == 0
    with pytest.raises(ValueError):
        stats.holm([0.1, 1.2])
    with pytest.raises(ValueError):
        stats.benjamini_hochberg([-0.1])


def test_adjustments_skip_nan():
    p = [0.01, float("nan"), 0.04, 0.03, float("nan")]
    for fn in (stats.holm, stats.benjamini_hochberg):
        out = fn(p)
        assert np.isnan(out[1]) and np.isnan(out[4])
        assert out[[0, 2, 3]] == pytest.approx(fn([0.01, 0.04, 0.03]))
        assert np.all(np.isnan(fn([float("nan")] * 3)))


def _holm_reject(p, alpha):
    """Holm's step-down procedure as published: reject while p_(k) <= alpha / (m - k + 1)."""
    order = np.argsort(p, kind="stable")
    m, rejected = len(p), set()
    for k, i in enumerate(order, start=1):
        if p[i] > alpha / (m - k + 1):
            break
        rejected.add(int(i))
    return rejected


def _bh_reject(p, alpha):
    """BH step-up as published: reject the k smallest, k the largest with p_(k) <= k alpha / m."""
    order = np.argsort(p, kind="stable")
    m = len(p)
    ks = [k for k in range(1, m + 1) if p[order[k - 1]] <= k * alpha / m]
    return {int(i) for i in order[:max(ks)]} if ks else set()


def test_adjustments_agree_with_the_procedures_and_their_properties():
    rng = np.random.default_rng(11)
    for trial in range(200):
        m = int(rng.integers(1, 40))
        p = rng.uniform(size=m) ** rng.uniform(0.5, 4)       # some families rich in small p
        if trial % 5 == 0:
            p = np.round(p, 2)                               # ties
        ho, bh = stats.holm(p), stats.benjamini_hochberg(p)
        for adj in (ho, bh):
            assert np.all(adj >= p - 1e-15) and np.all(adj <= 1.0)
            order = np.argsort(p, kind="stable")
            assert np.all(np.diff(adj[order]) >= -1e-15)     # monotone in the raw order
        assert np.all(bh <= ho + 1e-15)                       # BH is never stricter than Holm
        for alpha in (0.01, 0.05, 0.1, 0.2):
            assert set(np.flatnonzero(ho <= alpha).tolist()) == _holm_reject(p, alpha)
            assert set(np.flatnonzero(bh <= alpha).tolist()) == _bh_reject(p, alpha)


def test_adjustments_match_scipy_when_available():
    if not hasattr(sst, "false_discovery_control"):
        pytest.skip("scipy < 1.11 has no false_discovery_control")
    rng = np.random.default_rng(5)
    for m in (1, 2, 7, 50):
        p = rng.uniform(size=m) ** 3
        assert stats.benjamini_hochberg(p) == pytest.approx(
            sst.false_discovery_control(p, method="bh"), abs=1e-12)
