"""Intervals for a difference between two arms: published values, scipy, coverage, edge cases."""

import numpy as np
import pytest
from scipy import stats

from upliftree.inference import diff_proportions_ci, welch_ci

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score, no continuity
# correction): (x_t, n_t, x_c, n_c) -> (low, high), published to 4 decimals.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE_II)
def test_newcombe_interval_matches_published_values(counts, expected):
    x_t, n_t, x_c, n_c = counts
    estimate, low, high, _ = diff_proportions_ci(n_t, x_t, n_c, x_c, alpha=0.05)
    assert estimate == pytest.approx(x_t / n_t - x_c / n_c)
    assert (round(float(low), 4), round(float(high), 4)) == expected


def test_p_value_is_the_pooled_two_proportion_z_test():
    # Without continuity correction the pooled z test is the 2x2 chi-square test.
    for x_t, n_t, x_c, n_c in [(56, 70, 48, 80), (30, 400, 18, 380), (3, 20, 9, 25)]:
        _, _, _, p_value = diff_proportions_ci(n_t, x_t, n_c, x_c)
        table = [[x_t, n_t - x_t], [x_c, n_c - x_c]]
        expected = stats.chi2_contingency(table, correction=False).pvalue
        assert p_value == pytest.approx(expected, rel=1e-9)


def test_no_variation_gives_p_value_one():
    _, low, high, p_value = diff_proportions_ci(10, 0, 20, 0)
    assert p_value == 1.0
    assert low < 0 < high


def test_vectorized_and_broadcast():
    n_t = np.array([70, 10, 56])
    x_t = np.array([56, 9, 5])
    estimate, low, high, p_value = diff_proportions_ci(n_t, x_t, np.array([80, 10, 29]), np.array([48, 3, 0]))
    assert estimate.shape == low.shape == high.shape == p_value.shape == (3,)
    single = [diff_proportions_ci(n_t[i], x_t[i], [80, 10, 29][i], [48, 3, 0][i]) for i in range(3)]
    np.testing.assert_allclose(low, [s[1] for s in single])
    # Broadcast a scalar control arm against an array of treated groups.
    estimate, *_ = diff_proportions_ci(np.array([[10], [20]]), np.array([[5], [5]]), 40, 10)
    assert estimate.shape == (2, 1)
    scalar = diff_proportions_ci(70, 56, 80, 48)[0]
    assert isinstance(scalar, np.floating)


def test_empty_arm_is_nan_without_error():
    estimate, low, high, p_value = diff_proportions_ci([0, 10], [0, 5], [10, 10], [3, 5])
    assert np.isnan([estimate[0], low[0], high[0], p_value[0]]).all()
    assert np.isfinite([estimate[1], low[1], high[1], p_value[1]]).all()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((10, 11, 10, 5), "x_t must lie in"),
        ((10, 5, 10, -1), "x_c must lie in"),
        ((-1, 0, 10, 5), "n_t must be >= 0"),
        ((10, np.nan, 10, 5), "x_t contains 1 NaN"),
    ],
)
def test_diff_proportions_bad_input(arguments, message):
    with pytest.raises(ValueError, match=message):
        diff_proportions_ci(*arguments)


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, True, "0.05"])
def test_alpha_must_be_in_open_unit_interval(alpha):
    with pytest.raises(ValueError, match="alpha"):
        diff_proportions_ci(10, 5, 10, 5, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        welch_ci(10, 1.0, 1.0, 10, 0.0, 1.0, alpha=alpha)


def test_strings_are_rejected():
    with pytest.raises(TypeError, match="n_t must be numeric"):
        diff_proportions_ci(np.array(["10"]), 5, 10, 5)


def test_newcombe_coverage_is_close_to_nominal():
    rng = np.random.default_rng(2024)
    n_reps, n_t, n_c, p_t, p_c = 4000, 60, 45, 0.3, 0.2
    x_t = rng.binomial(n_t, p_t, n_reps)
    x_c = rng.binomial(n_c, p_c, n_reps)
    _, low, high, _ = diff_proportions_ci(n_t, x_t, n_c, x_c, alpha=0.05)
    coverage = np.mean((low <= p_t - p_c) & (p_t - p_c <= high))
    assert 0.93 <= coverage <= 0.97


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    treated = rng.normal(1.0, 2.0, 25 + seed)
    control = rng.normal(0.2, 0.7, 40)
    estimate, low, high, p_value = welch_ci(
        len(treated), treated.mean(), treated.var(ddof=1), len(control), control.mean(), control.var(ddof=1),
        alpha=0.1,
    )
    result = stats.ttest_ind(treated, control, equal_var=False)
    interval = result.confidence_interval(confidence_level=0.9)
    assert estimate == pytest.approx(treated.mean() - control.mean())
    assert p_value == pytest.approx(result.pvalue, rel=1e-9)
    assert low == pytest.approx(interval.low, rel=1e-9)
    assert high == pytest.approx(interval.high, rel=1e-9)


def test_welch_degenerate_and_small_arms():
    estimate, low, high, p_value = welch_ci([5, 5, 1], [2.0, 1.0, 1.0], [0.0, 0.0, 1.0], [5, 5, 5],
                                            [1.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    # No spread: the interval is the point and the p-value says whether the means differ.
    assert (low[0], high[0], p_value[0]) == (1.0, 1.0, 0.0)
    assert (low[1], high[1], p_value[1]) == (0.0, 0.0, 1.0)
    # One treated row: no variance estimate.
    assert np.isnan([estimate[2], low[2], high[2], p_value[2]]).all()
    with pytest.raises(ValueError, match="var_c must be >= 0"):
        welch_ci(5, 1.0, 1.0, 5, 0.0, -1.0)


def test_welch_coverage_is_close_to_nominal():
    rng = np.random.default_rng(7)
    n_reps, n_t, n_c = 4000, 12, 30
    treated = rng.normal(0.5, 3.0, (n_reps, n_t))
    control = rng.normal(0.0, 1.0, (n_reps, n_c))
    _, low, high, _ = welch_ci(n_t, treated.mean(1), treated.var(1, ddof=1), n_c, control.mean(1),
                               control.var(1, ddof=1))
    coverage = np.mean((low <= 0.5) & (0.5 <= high))
    assert 0.935 <= coverage <= 0.965
