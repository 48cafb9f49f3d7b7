"""Uplift metrics against hand-computed cases, a row-by-row reference of scikit-uplift 0.5.1's definitions
(and scikit-uplift itself when installed), tie and row-order invariance, bootstrap intervals and errors."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from upliftree import metrics
from upliftree.inference import diff_proportions_ci, welch_ci
from upliftree.metrics import UndefinedMetricWarning

# ---------------------------------------------------------------------------------------------------------
# Reference: scikit-uplift 0.5.1's definitions written out row by row (slow and obvious on purpose).


def trapezoid(x, values):
    x, values = np.asarray(x, dtype=float), np.asarray(values, dtype=float)
    return float(np.sum(np.diff(x) * (values[1:] + values[:-1]) / 2))


def reference_curve(kind, y, score, treatment):
    """For each distinct score, highest first, target every row scoring at least that much."""
    xs, values = [0], [0.0]
    for threshold in np.unique(score)[::-1]:
        top = score >= threshold
        treated, control = top & (treatment == 1), top & (treatment == 0)
        n_t, n_c, y_t, y_c = treated.sum(), control.sum(), y[treated].sum(), y[control].sum()
        if kind == "qini":
            value = y_t - (y_c * n_t / n_c if n_c else 0.0)
        else:
            value = ((y_t / n_t if n_t else 0.0) - (y_c / n_c if n_c else 0.0)) * (n_t + n_c)
        xs.append(n_t + n_c)
        values.append(value)
    return np.array(xs), np.array(values)


def reference_perfect_uplift(y, treatment):
    control_responders = np.sum((y == 1) & (treatment == 0))
    treated_non_responders = np.sum((y == 0) & (treatment == 1))
    summand = y if control_responders > treated_non_responders else treatment
    return reference_curve("uplift", y, 2 * (y == treatment) + summand, treatment)


def reference_perfect_qini(y, treatment, negative_effect=True):
    if negative_effect:
        return reference_curve("qini", y, y * treatment - y * (1 - treatment), treatment)
    total = y[treatment == 1].sum() - (treatment == 1).sum() * y[treatment == 0].sum() / (treatment == 0).sum()
    return np.array([0, total, len(y)]), np.array([0, total, total])


def reference_normalized(curve, perfect):
    (x, values), (perfect_x, perfect_values) = curve, perfect
    random_area = trapezoid([0, perfect_x[-1]], [0, perfect_values[-1]])
    return (trapezoid(x, values) - random_area) / (trapezoid(perfect_x, perfect_values) - random_area)


def reference_uplift_at_k(y, score, treatment, strategy, k):
    """scikit-uplift's rows-in-order definition (valid when no tie straddles the cut)."""
    order = np.argsort(score, kind="mergesort")[::-1]
    y, treatment = y[order], treatment[order]
    if strategy == "overall":
        n_top = int(len(y) * k) if isinstance(k, float) else k
        top_y, top_t = y[:n_top], treatment[:n_top]
        return top_y[top_t == 1].mean() - top_y[top_t == 0].mean()
    n_t = int((treatment == 1).sum() * k) if isinstance(k, float) else k
    n_c = int((treatment == 0).sum() * k) if isinstance(k, float) else k
    return y[treatment == 1][:n_t].mean() - y[treatment == 0][:n_c].mean()


def reference_rates_by_percentile(y, score, treatment, strategy, bins, arm):
    order = np.argsort(score, kind="mergesort")[::-1]
    y, treatment = y[order], treatment[order]
    if strategy == "overall":
        parts = [(part_y[part_t == arm]) for part_y, part_t in
                 zip(np.array_split(y, bins), np.array_split(treatment, bins), strict=True)]
    else:
        parts = np.array_split(y[treatment == arm], bins)
    rates = np.array([part.mean() for part in parts])
    sizes = np.array([len(part) for part in parts])
    return rates, rates * (1 - rates) / sizes, sizes


def make_data(seed, n=600, ties=False, treated_share=0.3, effect=0.1, continuous=False):
    """Random experiment whose score is informative for half of the rows; ``ties`` rounds the score."""
    rng = np.random.default_rng(seed)
    treatment = (rng.random(n) < treated_share).astype(int)
    score = rng.normal(size=n)
    if ties:
        score = np.round(score * 2) / 2
    y = (rng.random(n) < 0.2 + effect * treatment * (score > 0)).astype(float)
    if continuous:
        y = y * rng.gamma(2.0, 20.0, n)
    return y, score, treatment


CASES = [
    pytest.param(dict(seed=seed, ties=ties, treated_share=share, effect=effect), id=f"{seed}-{ties}-{share}-{effect}")
    for seed, ties, share, effect in [
        (0, False, 0.3, 0.1), (1, True, 0.3, 0.1), (2, True, 0.7, -0.15), (3, False, 0.5, -0.1),
        (4, True, 0.2, 0.3), (5, False, 0.8, 0.0),
    ]
]


# ---------------------------------------------------------------------------------------------------------
# Hand-computed cases

HAND_Y = np.array([1, 0, 1, 0, 1, 0])
HAND_T = np.array([1, 1, 0, 0, 1, 0])
HAND_SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])


def test_hand_computed_curves():
    x, values = metrics.qini_curve(HAND_Y, HAND_SCORE, HAND_T)
    np.testing.assert_array_equal(x, np.arange(7))
    np.testing.assert_allclose(values, [0, 1, 1, -1, 0, 0.5, 1], atol=1e-12)
    _, values = metrics.uplift_curve(HAND_Y, HAND_SCORE, HAND_T)
    np.testing.assert_allclose(values, [0, 1, 1, -1.5, 0, 5 / 6, 2], atol=1e-12)
    # Perfect Qini: treated responders (rows 0, 4), then score 0 (rows 1, 3, 5), then row 2.
    x, values = metrics.perfect_qini_curve(HAND_Y, HAND_T)
    np.testing.assert_array_equal(x, [0, 2, 5, 6])
    np.testing.assert_allclose(values, [0, 2, 2, 1], atol=1e-12)
    x, values = metrics.perfect_qini_curve(HAND_Y, HAND_T, negative_effect=False)
    np.testing.assert_allclose(x, [0, 1, 6])
    np.testing.assert_allclose(values, [0, 1, 1])
    # Perfect uplift: 1 control responder is not more than 1 treated non-responder, so the treatment
    # summand: rows 0, 4 (score 3), rows 3, 5 (2), row 1 (1), row 2 (0).
    x, values = metrics.perfect_uplift_curve(HAND_Y, HAND_T)
    np.testing.assert_array_equal(x, [0, 2, 4, 5, 6])
    np.testing.assert_allclose(values, [0, 2, 4, 10 / 3, 2], atol=1e-12)


def test_hand_computed_scores():
    # Model Qini area 2, random area 6 * 1 / 2 = 3, perfect area 2 + 6 + 1.5 = 9.5.
    assert metrics.qini_auc_score(HAND_Y, HAND_SCORE, HAND_T) == pytest.approx(-1 / 6.5, abs=1e-12)
    # Flat perfect curve (0, 0) -> (1, 1) -> (6, 1): area 5.5.
    assert metrics.qini_auc_score(HAND_Y, HAND_SCORE, HAND_T, negative_effect=False) == pytest.approx(-0.4)
    # Model uplift area 7/3, random 6, perfect 43/3.
    assert metrics.uplift_auc_score(HAND_Y, HAND_SCORE, HAND_T) == pytest.approx(-11 / 25, abs=1e-12)
    # Top 3 rows: treated 1 of 2, control 1 of 1.
    assert metrics.uplift_at_k(HAND_Y, HAND_SCORE, HAND_T, "overall", 0.5) == pytest.approx(-0.5)
    assert metrics.uplift_at_k(HAND_Y, HAND_SCORE, HAND_T, "overall", 4) == pytest.approx(0.0)
    # Top 2 of each arm: treated rows 0, 1 (1 of 2), control rows 2, 3 (1 of 2).
    assert metrics.uplift_at_k(HAND_Y, HAND_SCORE, HAND_T, "by_group", 2) == pytest.approx(0.0)


def test_hand_computed_tied_curve_has_one_point_per_tie_group():
    score = np.array([2, 2, 1, 1, 1, 0])
    treatment = np.array([1, 0, 1, 0, 0, 1])
    y = np.array([1, 0, 1, 1, 0, 0])
    x, values = metrics.qini_curve(y, score, treatment)
    np.testing.assert_array_equal(x, [0, 2, 5, 6])
    np.testing.assert_allclose(values, [0, 1, 4 / 3, 1], atol=1e-12)


def test_uplift_at_k_counts_a_cut_tie_group_pro_rata():
    score = np.array([1, 1, 1, 0, 0, 0])
    treatment = np.array([1, 0, 1, 0, 1, 0])
    y = np.array([1, 0, 0, 1, 0, 0])
    # Two of the three tied top rows: the group's rates, 1/2 treated and 0 control.
    assert metrics.uplift_at_k(y, score, treatment, "overall", 2) == pytest.approx(0.5)
    # Four rows: the whole top group plus a third of the second (1/3 treated row, 2/3 control rows).
    expected = (1 + 0) / (2 + 1 / 3) - (0 + 1 / 3) / (1 + 2 / 3)
    assert metrics.uplift_at_k(y, score, treatment, "overall", 4) == pytest.approx(expected)


def test_percentile_bins_keep_tie_groups_whole():
    score = np.array([1, 1, 1, 1, 1, 0, 0, 0])
    treatment = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    with pytest.warns(UndefinedMetricWarning, match=r"bin\(s\) \[1, 3\] are empty"):
        table = metrics.uplift_by_percentile(y, score, treatment, bins=4)
    # Five tied rows (middle row at position 2) go to the second quarter, three (middle 6) to the fourth.
    assert table["n_treatment"].tolist() == [0, 3, 0, 1]
    assert table["n_control"].tolist() == [0, 2, 0, 2]
    assert table.loc["25-50", "uplift"] == pytest.approx(2 / 3 - 1 / 2)
    assert np.isnan(table.loc["0-25", "uplift"])


# ---------------------------------------------------------------------------------------------------------
# Against the reference definitions


@pytest.mark.parametrize("case", CASES)
def test_curves_and_scores_match_reference(case):
    y, score, treatment = make_data(**case)
    for kind, function in (("qini", metrics.qini_curve), ("uplift", metrics.uplift_curve)):
        x, values = function(y, score, treatment)
        expected_x, expected_values = reference_curve(kind, y, score, treatment)
        np.testing.assert_array_equal(x, expected_x)
        np.testing.assert_allclose(values, expected_values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(metrics.perfect_uplift_curve(y, treatment), reference_perfect_uplift(y, treatment),
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(metrics.perfect_qini_curve(y, treatment), reference_perfect_qini(y, treatment),
                               rtol=0, atol=1e-9)
    expected = reference_normalized(reference_curve("qini", y, score, treatment), reference_perfect_qini(y, treatment))
    assert metrics.qini_auc_score(y, score, treatment) == pytest.approx(expected, abs=1e-9)
    expected = reference_normalized(reference_curve("uplift", y, score, treatment),
                                    reference_perfect_uplift(y, treatment))
    assert metrics.uplift_auc_score(y, score, treatment) == pytest.approx(expected, abs=1e-9)
    flat = reference_perfect_qini(y, treatment, negative_effect=False)
    if flat[1][-1] > 0:
        expected = reference_normalized(reference_curve("qini", y, score, treatment), flat)
        assert metrics.qini_auc_score(y, score, treatment, negative_effect=False) == pytest.approx(expected, abs=1e-9)
    else:
        # scikit-uplift raises inside sklearn.metrics.auc here; the curve is undefined.
        with pytest.warns(UndefinedMetricWarning, match="total incremental outcome"):
            assert np.isnan(metrics.qini_auc_score(y, score, treatment, negative_effect=False))


@pytest.mark.parametrize("seed", [0, 1])
def test_continuous_outcome_curves_and_qini_match_reference(seed):
    y, score, treatment = make_data(seed, ties=bool(seed), continuous=True)
    np.testing.assert_allclose(metrics.qini_curve(y, score, treatment)[1],
                               reference_curve("qini", y, score, treatment)[1], atol=1e-9)
    np.testing.assert_allclose(metrics.uplift_curve(y, score, treatment)[1],
                               reference_curve("uplift", y, score, treatment)[1], atol=1e-9)
    expected = reference_normalized(reference_curve("qini", y, score, treatment), reference_perfect_qini(y, treatment))
    assert metrics.qini_auc_score(y, score, treatment) == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="y_true must be binary"):
        metrics.uplift_auc_score(y, score, treatment)
    with pytest.raises(ValueError, match="y_true must be binary"):
        metrics.qini_auc_score(y, score, treatment, negative_effect=False)


@pytest.mark.parametrize("strategy", ["overall", "by_group"])
@pytest.mark.parametrize("seed", [0, 3])
def test_topk_and_percentile_metrics_match_reference_without_ties(strategy, seed):
    y, score, treatment = make_data(seed, treated_share=0.35)
    for k in (0.1, 0.3, 0.75, 50):
        assert metrics.uplift_at_k(y, score, treatment, strategy, k) == pytest.approx(
            reference_uplift_at_k(y, score, treatment, strategy, k), abs=1e-12)
    table = metrics.uplift_by_percentile(y, score, treatment, strategy=strategy, bins=7, std=True)
    rates_t, variances_t, sizes_t = reference_rates_by_percentile(y, score, treatment, strategy, 7, 1)
    rates_c, variances_c, sizes_c = reference_rates_by_percentile(y, score, treatment, strategy, 7, 0)
    np.testing.assert_array_equal(table["n_treatment"], sizes_t)
    np.testing.assert_array_equal(table["n_control"], sizes_c)
    np.testing.assert_allclose(table["uplift"], rates_t - rates_c, atol=1e-12)
    np.testing.assert_allclose(table["std_uplift"], np.sqrt(variances_t + variances_c), atol=1e-12)
    assert list(table.index) == ["0-14", "14-29", "29-43", "43-57", "57-71", "71-86", "86-100"]
    expected = np.dot(sizes_t, rates_t - rates_c) / sizes_t.sum()
    assert metrics.weighted_average_uplift(y, score, treatment, strategy, bins=7) == pytest.approx(expected)
    rates, variances, sizes = metrics.response_rate_by_percentile(y, score, treatment, "control", strategy, 7)
    np.testing.assert_allclose(rates, rates_c)
    np.testing.assert_allclose(variances, variances_c)
    np.testing.assert_array_equal(sizes, sizes_c)


def test_uplift_by_percentile_total_row_and_number_labels():
    y, score, treatment = make_data(0)
    table = metrics.uplift_by_percentile(y, score, treatment, bins=4, std=True, total=True,
                                         string_percentiles=False)
    assert list(table.index) == [25, 50, 75, 100, "total"]
    total = table.loc["total"]
    assert total["n_treatment"] == treatment.sum()
    assert total["response_rate_control"] == pytest.approx(y[treatment == 0].mean())
    rate = y[treatment == 1].mean()
    assert total["std_treatment"] == pytest.approx(np.sqrt(rate * (1 - rate) / treatment.sum()))
    assert table["n_treatment"].dtype == np.int32


def test_treatment_balance_curve_matches_moving_average_without_ties():
    _, score, treatment = make_data(2)
    percentiles, balance = metrics.treatment_balance_curve(score, treatment, winsize=50)
    ordered = treatment[np.argsort(score, kind="mergesort")[::-1]]
    np.testing.assert_allclose(balance, np.convolve(ordered, np.ones(50), "valid") / 50, atol=1e-12)
    np.testing.assert_allclose(percentiles, np.linspace(1, 100, len(balance)))


@pytest.mark.filterwarnings("ignore::upliftree.metrics.UndefinedMetricWarning")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shuffling_tied_rows_changes_nothing(seed):
    y, score, treatment = make_data(seed, n=400, ties=True, treated_share=0.4)
    permutation = np.random.default_rng(seed + 100).permutation(len(y))
    shuffled = y[permutation], score[permutation], treatment[permutation]
    for function in (metrics.qini_curve, metrics.uplift_curve):
        for before, after in zip(function(y, score, treatment), function(*shuffled), strict=True):
            np.testing.assert_allclose(before, after, rtol=0, atol=1e-12)
    scalar_metrics = [
        lambda *data: metrics.qini_auc_score(*data),
        lambda *data: metrics.qini_auc_score(*data, negative_effect=False),
        lambda *data: metrics.uplift_auc_score(*data),
        lambda *data: metrics.uplift_at_k(*data, "overall", 0.3),
        lambda *data: metrics.uplift_at_k(*data, "by_group", 37),
        lambda *data: metrics.weighted_average_uplift(*data, bins=5),
    ]
    for metric in scalar_metrics:
        assert metric(*shuffled) == pytest.approx(metric(y, score, treatment), abs=1e-12, nan_ok=True)
    for strategy in ("overall", "by_group"):
        pd.testing.assert_frame_equal(
            metrics.uplift_by_percentile(*shuffled, strategy=strategy, std=True),
            metrics.uplift_by_percentile(y, score, treatment, strategy=strategy, std=True), atol=1e-12)
    pd.testing.assert_frame_equal(metrics.calibration_table(*shuffled), metrics.calibration_table(y, score, treatment),
                                  atol=1e-12)
    np.testing.assert_allclose(metrics.treatment_balance_curve(shuffled[1], shuffled[2], 60)[1],
                               metrics.treatment_balance_curve(score, treatment, 60)[1], atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), min_size=2, max_size=30),
       seed=st.integers(0, 2**16))
def test_small_tied_data_match_reference_in_any_row_order(rows, seed):
    score = np.array([row[0] for row in rows], dtype=float)
    treatment = np.array([row[1] for row in rows], dtype=int)
    y = np.array([row[2] for row in rows], dtype=float)
    assume(0 < treatment.sum() < len(rows))
    permutation = np.random.default_rng(seed).permutation(len(rows))
    for kind, function in (("qini", metrics.qini_curve), ("uplift", metrics.uplift_curve)):
        expected_x, expected_values = reference_curve(kind, y, score, treatment)
        for order in (np.arange(len(rows)), permutation):
            x, values = function(y[order], score[order], treatment[order])
            np.testing.assert_array_equal(x, expected_x)
            np.testing.assert_allclose(values, expected_values, rtol=0, atol=1e-9)


def test_inputs_can_be_lists_bools_and_pandas():
    y, score, treatment = make_data(0, n=200)
    expected = metrics.qini_auc_score(y, score, treatment)
    assert metrics.qini_auc_score(list(y), list(score), list(treatment)) == pytest.approx(expected)
    assert metrics.qini_auc_score(y.astype(bool), score, treatment.astype(bool)) == pytest.approx(expected)
    frame = pd.DataFrame({"y": pd.array(y.astype(int), dtype="Int64"), "score": score, "t": treatment})
    assert metrics.qini_auc_score(frame["y"], frame["score"], frame["t"]) == pytest.approx(expected)


# ---------------------------------------------------------------------------------------------------------
# Against scikit-uplift itself (only where it is installed)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3 on scikit-uplift's own code
@pytest.mark.parametrize("case", CASES)
def test_matches_scikit_uplift(case):
    sklift_metrics = pytest.importorskip("sklift.metrics")
    y, score, treatment = make_data(**case)
    y = y.astype(int)
    pairs = [
        (sklift_metrics.qini_curve(y, score, treatment), metrics.qini_curve(y, score, treatment)),
        (sklift_metrics.uplift_curve(y, score, treatment), metrics.uplift_curve(y, score, treatment)),
        (sklift_metrics.perfect_qini_curve(y, treatment), metrics.perfect_qini_curve(y, treatment)),
        (sklift_metrics.perfect_uplift_curve(y, treatment), metrics.perfect_uplift_curve(y, treatment)),
    ]
    for expected, actual in pairs:
        np.testing.assert_allclose(actual[0], expected[0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(actual[1], expected[1], rtol=0, atol=1e-9)
    assert metrics.qini_auc_score(y, score, treatment) == pytest.approx(
        sklift_metrics.qini_auc_score(y, score, treatment), abs=1e-9)
    assert metrics.uplift_auc_score(y, score, treatment) == pytest.approx(
        sklift_metrics.uplift_auc_score(y, score, treatment), abs=1e-9)
    if metrics.perfect_qini_curve(y, treatment, negative_effect=False)[1][-1] > 0:
        assert metrics.qini_auc_score(y, score, treatment, negative_effect=False) == pytest.approx(
            sklift_metrics.qini_auc_score(y, score, treatment, negative_effect=False), abs=1e-9)
    if not case["ties"]:
        for strategy in ("overall", "by_group"):
            assert metrics.uplift_at_k(y, score, treatment, strategy, 0.3) == pytest.approx(
                sklift_metrics.uplift_at_k(y, score, treatment, strategy, k=0.3), abs=1e-9)
            pd.testing.assert_frame_equal(
                metrics.uplift_by_percentile(y, score, treatment, strategy, bins=10, std=True),
                sklift_metrics.uplift_by_percentile(y, score, treatment, strategy, bins=10, std=True),
                atol=1e-9)
            assert metrics.weighted_average_uplift(y, score, treatment, strategy) == pytest.approx(
                sklift_metrics.weighted_average_uplift(y, score, treatment, strategy), abs=1e-9)
        for expected, actual in zip(sklift_metrics.treatment_balance_curve(score, treatment, 30),
                                    metrics.treatment_balance_curve(score, treatment, 30), strict=True):
            np.testing.assert_allclose(actual, expected, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------
# Calibration table


def test_calibration_table_binary_uses_newcombe_per_bin():
    y, score, treatment = make_data(1, n=2000)
    table = metrics.calibration_table(y, score, treatment, bins=5, alpha=0.1)
    assert table["bin"].tolist() == [1, 2, 3, 4, 5]
    order = np.argsort(-score, kind="stable")
    for row, rows in zip(table.itertuples(), np.array_split(order, 5), strict=True):
        treated, control = rows[treatment[rows] == 1], rows[treatment[rows] == 0]
        expected = diff_proportions_ci(len(treated), y[treated].sum(), len(control), y[control].sum(), 0.1)
        assert (row.observed_uplift, row.ci_low, row.ci_high, row.p_value) == pytest.approx(expected)
        assert row.predicted_uplift == pytest.approx(score[rows].mean())
        assert (row.score_min, row.score_max) == (score[rows].min(), score[rows].max())
    assert table["predicted_uplift"].is_monotonic_decreasing


def test_calibration_table_continuous_uses_welch_and_drops_empty_bins():
    rng = np.random.default_rng(5)
    n = 3000
    leaf = rng.integers(0, 3, n)  # a three-leaf tree: three distinct scores
    score = np.array([0.5, 0.0, -0.2])[leaf]
    treatment = (rng.random(n) < 0.5).astype(int)
    y = rng.gamma(2.0, 10.0, n) + 3.0 * treatment * (leaf == 0)
    table = metrics.calibration_table(y, score, treatment, bins=10)
    assert len(table) == 3
    np.testing.assert_allclose(table["predicted_uplift"], [0.5, 0.0, -0.2], atol=1e-12)
    for row, leaf_id in zip(table.itertuples(), [0, 1, 2], strict=True):
        treated, control = y[(leaf == leaf_id) & (treatment == 1)], y[(leaf == leaf_id) & (treatment == 0)]
        expected = welch_ci(len(treated), treated.mean(), treated.var(ddof=1), len(control), control.mean(),
                            control.var(ddof=1))
        assert (row.observed_uplift, row.ci_low, row.ci_high, row.p_value) == pytest.approx(expected)
    assert table["n_treatment"].sum() + table["n_control"].sum() == n


def test_calibration_table_warns_when_a_bin_has_one_arm():
    score = np.arange(20.0)
    treatment = np.r_[np.zeros(4), np.ones(6), np.tile([0, 1], 5)].astype(int)
    y = np.tile([0, 1], 10)
    with pytest.warns(UndefinedMetricWarning, match=r"bin\(s\) \[4, 5\] have fewer than 1 treated or control"):
        table = metrics.calibration_table(y, score, treatment, bins=5)
    assert table["observed_uplift"].isna().tolist() == [False, False, False, True, True]


# ---------------------------------------------------------------------------------------------------------
# Several treatments


def test_one_vs_control_selects_rows_and_columns():
    treatment = np.array(["c", "a", "b", "a", "c", "b"])
    y = np.array([0, 1, 1, 0, 1, 0])
    matrix = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8], [0.9, 1.0], [1.1, 1.2]])
    y_sub, score, binary = metrics.one_vs_control(y, matrix, treatment, arm="b", control="c", arms=["a", "b"])
    np.testing.assert_array_equal(y_sub, [0, 1, 1, 0])
    np.testing.assert_array_equal(score, [0.2, 0.6, 1.0, 1.2])
    np.testing.assert_array_equal(binary, [0, 1, 0, 1])
    y_sub, score, binary = metrics.one_vs_control(y, matrix[:, 0], treatment, arm="a", control="c")
    np.testing.assert_array_equal(score, [0.1, 0.3, 0.7, 0.9])
    assert metrics.qini_curve(y_sub, score, binary)[0][-1] == 4
    with pytest.raises(ValueError, match="arm='z' has no rows"):
        metrics.one_vs_control(y, matrix[:, 0], treatment, arm="z", control="c")
    with pytest.raises(ValueError, match="arms must name the 2 columns"):
        metrics.one_vs_control(y, matrix, treatment, arm="a", control="c")
    with pytest.raises(ValueError, match="arm='c' is not one of the columns"):
        metrics.one_vs_control(y, matrix, treatment, arm="c", control="a", arms=["a", "b"])


def test_best_arm_rows_keep_recommended_arm_and_control():
    treatment = np.array([0, 1, 2, 1, 2, 0, 1])
    y = np.array([1, 0, 1, 1, 0, 0, 1])
    matrix = np.array([
        [0.1, 0.3],  # control row: kept, score 0.3
        [0.5, 0.2],  # got arm 1, recommended 1: kept
        [0.5, 0.2],  # got arm 2, recommended 1: dropped
        [0.1, 0.1],  # tie: first column (arm 1) recommended, got 1: kept
        [0.0, 0.4],  # got arm 2, recommended 2: kept
        [-0.2, -0.1],  # control: kept, score -0.1
        [0.0, 0.9],  # got arm 1, recommended 2: dropped
    ])
    y_sub, score, binary = metrics.best_arm_rows(y, matrix, treatment, arms=[1, 2], control=0)
    np.testing.assert_array_equal(y_sub, [1, 0, 1, 0, 0])
    np.testing.assert_allclose(score, [0.3, 0.5, 0.1, 0.4, -0.1])
    np.testing.assert_array_equal(binary, [0, 1, 1, 1, 0])
    assert metrics.best_arm_score(y, matrix, treatment, arms=[1, 2], control=0) == pytest.approx(
        metrics.qini_auc_score(y_sub, score, binary))
    assert metrics.best_arm_score(y, matrix, treatment, [1, 2], 0, metric=metrics.uplift_at_k, k=3) == pytest.approx(
        metrics.uplift_at_k(y_sub, score, binary, k=3))


# ---------------------------------------------------------------------------------------------------------
# Errors and undefined results


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (([0, 1, 1], [0.1, 0.2], [0, 1, 0]), ValueError, r"same length; got lengths \[3, 2, 3\]"),
        (([0, 1, 1], [0.1, 0.2, 0.3], [0, 1, 2]), ValueError, "one_vs_control"),
        (([0, 1, 1], [0.1, 0.2, 0.3], [1, 1, 1]), ValueError, r"only treated \(1\) rows"),
        (([0, 1, 1], [0.1, 0.2, 0.3], [0, 0, 0]), ValueError, r"only control \(0\) rows"),
        (([0, 1, 1], [0.1, np.nan, 0.3], [0, 1, 0]), ValueError, "uplift contains 1 NaN"),
        ((["a", "b", "c"], [0.1, 0.2, 0.3], [0, 1, 0]), TypeError, "y_true must be numeric"),
        (([0, 1, 1], [[0.1, 0.2, 0.3]], [0, 1, 0]), ValueError, "uplift must be 1-D"),
        (([0, 1, 1], [0.1, 0.2, 0.3], ["t", "c", "t"]), ValueError, "treatment must hold 1"),
    ],
)
def test_bad_inputs_raise_clear_errors(arguments, error, message):
    with pytest.raises(error, match=message):
        metrics.qini_curve(*arguments)


def test_bad_parameters_raise_clear_errors():
    y, score, treatment = make_data(0, n=100)
    with pytest.raises(ValueError, match="y_true must be binary"):
        metrics.perfect_uplift_curve(y * 2.5, treatment)
    with pytest.raises(ValueError, match="strategy must be one of"):
        metrics.uplift_at_k(y, score, treatment, "first")
    with pytest.raises(ValueError, match="k=1.5 should be"):
        metrics.uplift_at_k(y, score, treatment, k=1.5)
    with pytest.raises(ValueError, match="k must be an int or a float"):
        metrics.uplift_at_k(y, score, treatment, k=True)
    with pytest.raises(ValueError, match="selects no row"):
        metrics.uplift_at_k(y, score, treatment, k=0.001)
    with pytest.raises(ValueError, match="exceeds the"):
        metrics.uplift_at_k(y, score, treatment, "by_group", k=90)
    with pytest.raises(ValueError, match="bins must be an integer >= 1"):
        metrics.uplift_by_percentile(y, score, treatment, bins=2.5)
    with pytest.raises(ValueError, match="should be smaller than the length"):
        metrics.uplift_by_percentile(y, score, treatment, bins=100)
    with pytest.raises(TypeError, match="negative_effect must be True or False"):
        metrics.qini_auc_score(y, score, treatment, negative_effect=1)
    with pytest.raises(TypeError, match="std must be True or False"):
        metrics.uplift_by_percentile(y, score, treatment, std="yes")
    with pytest.raises(ValueError, match="winsize=101 is larger"):
        metrics.treatment_balance_curve(score, treatment, 101)


def test_undefined_results_warn_and_say_why():
    score = np.arange(6.0)
    treatment = np.array([0, 0, 1, 1, 1, 1])
    with pytest.warns(UndefinedMetricWarning, match="no control row among the top k=2"):
        assert np.isnan(metrics.uplift_at_k([0, 1, 0, 1, 0, 1], score, treatment, k=2))
    with pytest.warns(UndefinedMetricWarning, match="qini_auc_score is NaN"):
        assert np.isnan(metrics.qini_auc_score(np.zeros(6), score, treatment))
    with pytest.warns(UndefinedMetricWarning, match="uplift_auc_score is NaN"):
        assert np.isnan(metrics.uplift_auc_score(np.zeros(6), score, treatment))
    y = np.array([0, 1, 1, 0, 0, 1])
    # Highest half all control (weight 0, skipped), lowest half all treated: no control rate there.
    with pytest.warns(UndefinedMetricWarning, match=r"bin\(s\) \[2\] have no control rows"):
        assert np.isnan(metrics.weighted_average_uplift(y, score, [1, 1, 1, 0, 0, 0], bins=2))


def test_defined_results_do_not_warn():
    y, score, treatment = make_data(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.qini_auc_score(y, score, treatment)
        metrics.uplift_by_percentile(y, score, treatment, std=True, total=True)
        metrics.calibration_table(y, score, treatment)
        metrics.bootstrap_ci(metrics.qini_auc_score, y, score, treatment, n_boot=50, random_state=0)


# ---------------------------------------------------------------------------------------------------------
# Bootstrap


@pytest.mark.filterwarnings("ignore:bootstrap_:upliftree.metrics.UndefinedMetricWarning")
def test_compiled_bootstrap_equals_calling_the_metric_on_the_same_resamples():
    """The vectorized path and the generic path (any callable) see exactly the same resamples."""
    binary = make_data(3, n=500, ties=True, treated_share=0.4, effect=0.2)
    continuous = make_data(4, n=500, continuous=True)
    cases = [
        (metrics.qini_auc_score, binary, {}),
        (metrics.qini_auc_score, binary, {"negative_effect": False}),
        (metrics.uplift_auc_score, binary, {}),
        (metrics.qini_auc_score, continuous, {}),
    ]
    other_score = np.random.default_rng(0).normal(size=500)
    for metric, (y, score, treatment), kwargs in cases:
        def generic(*data, metric=metric, **extra):
            return metric(*data, **extra)

        for alpha in (0.05, 0.5):
            fast = metrics.bootstrap_ci(metric, y, score, treatment, n_boot=100, alpha=alpha, random_state=3,
                                        metric_kwargs=kwargs)
            slow = metrics.bootstrap_ci(generic, y, score, treatment, n_boot=100, alpha=alpha, random_state=3,
                                        metric_kwargs=kwargs)
            np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
        fast = metrics.bootstrap_compare(metric, y, score, other_score, treatment, n_boot=60, random_state=4,
                                         metric_kwargs=kwargs)
        slow = metrics.bootstrap_compare(generic, y, score, other_score, treatment, n_boot=60, random_state=4,
                                         metric_kwargs=kwargs)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_bootstrap_is_reproducible_and_independent_of_threads():
    y, score, treatment = make_data(1, n=800)
    one = metrics.bootstrap_ci("qini_auc_score", y, score, treatment, n_boot=150, random_state=9, n_jobs=1)
    two = metrics.bootstrap_ci("qini_auc_score", y, score, treatment, n_boot=150, random_state=9, n_jobs=2)
    assert one == two
    assert one != metrics.bootstrap_ci("qini_auc_score", y, score, treatment, n_boot=150, random_state=10)
    generator = np.random.default_rng(9)
    low, high = metrics.bootstrap_ci("qini_auc_score", y, score, treatment, n_boot=150, random_state=generator)
    assert low < metrics.qini_auc_score(y, score, treatment) < high


def test_bootstrap_interval_of_a_no_signal_model_covers_zero_about_95_percent():
    rng = np.random.default_rng(123)
    n_replications, n_rows = 200, 300
    covered = 0
    for replication in range(n_replications):
        treatment = (rng.random(n_rows) < 0.4).astype(int)
        y = (rng.random(n_rows) < 0.3).astype(int)
        score = rng.normal(size=n_rows)
        low, high = metrics.bootstrap_ci(metrics.qini_auc_score, y, score, treatment, n_boot=200,
                                         random_state=replication)
        covered += low <= 0 <= high
    assert 0.90 <= covered / n_replications <= 0.99


def test_bootstrap_handles_resamples_without_responders():
    treatment = np.tile([0, 1], 20)
    score = np.arange(40.0)
    with pytest.warns(UndefinedMetricWarning, match="undefined \\(NaN\\) on every resample"):
        assert np.isnan(metrics.bootstrap_ci("qini_auc_score", np.zeros(40), score, treatment, n_boot=20,
                                             random_state=0)).all()
    y = np.zeros(40)
    y[3] = 1  # one treated responder: resamples that miss it have no responders at all
    with pytest.warns(UndefinedMetricWarning, match=r"on \d+ of 200 resamples"):
        low, high = metrics.bootstrap_ci("uplift_auc_score", y, score, treatment, n_boot=200, random_state=0)
    assert np.isfinite([low, high]).all()


def test_bootstrap_compare():
    y, score, treatment = make_data(2, n=3000, effect=0.25, treated_share=0.5)
    same = metrics.bootstrap_compare("qini_auc_score", y, score, score, treatment, n_boot=50, random_state=0)
    assert same == (0.0, 0.0, 0.0)
    noise = np.random.default_rng(1).normal(size=len(y))
    result = metrics.bootstrap_compare(metrics.qini_auc_score, y, score, noise, treatment, n_boot=200,
                                       random_state=0)
    assert result.difference == pytest.approx(metrics.qini_auc_score(y, score, treatment)
                                              - metrics.qini_auc_score(y, noise, treatment))
    assert 0 < result.low < result.difference < result.high


def test_bootstrap_ci_of_another_metric_and_bad_arguments():
    y, score, treatment = make_data(0, n=400)
    low, high = metrics.bootstrap_ci("uplift_at_k", y, score, treatment, n_boot=100, random_state=0,
                                     metric_kwargs={"k": 0.5})
    assert low < metrics.uplift_at_k(y, score, treatment, k=0.5) < high
    with pytest.raises(ValueError, match="metric must be a callable or one of"):
        metrics.bootstrap_ci("auc", y, score, treatment)
    with pytest.raises(ValueError, match="n_boot must be an integer >= 1"):
        metrics.bootstrap_ci("qini_auc_score", y, score, treatment, n_boot=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        metrics.bootstrap_ci("qini_auc_score", y, score, treatment, metric_kwargs={"k": 0.5})
    with pytest.raises(ValueError, match="random_state must be"):
        metrics.bootstrap_ci("qini_auc_score", y, score, treatment, random_state="seed")


def test_bootstrap_curve_band():
    y, score, treatment = make_data(1, n=2000, effect=0.2)
    grid, low, high = metrics.bootstrap_curve_band(y, score, treatment, curve="qini", n_points=51, n_boot=100,
                                                   random_state=0)
    assert grid.shape == low.shape == high.shape == (51,)
    assert grid[0] == 0 and grid[-1] == len(y)
    assert low[0] == high[0] == 0
    assert np.all(low <= high)
    x, values = metrics.qini_curve(y, score, treatment)
    observed = np.interp(grid, x, values)
    assert np.mean((low <= observed) & (observed <= high)) > 0.9
    with pytest.raises(ValueError, match="curve must be one of"):
        metrics.bootstrap_curve_band(y, score, treatment, curve="lift")
