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
