"""Metrics on experiments as they really run (issue 16): known, varying assignment probabilities (``propensity``)
and cluster randomization (``cluster``).

Three kinds of tests: row-by-row references of the weighted definitions (docs/design.md), known-truth
simulations on the issue's stratified design (80% treated in "north", whose baseline is 25 pp higher, 50/50
elsewhere) and on a cluster-randomized design, each showing the unweighted or row-level method failing where the
design-aware one holds; and bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree import metrics

# ---------------------------------------------------------------------------------------------------------
# The stratified design, vectorized over replications


NORTH_SHARE = 0.27
NORTH_TREATED = 0.8
TRUE_AVERAGE_EFFECT = 0.019


def stratified_design(seed: int, n_replications: int, n_rows: int) -> dict[str, np.ndarray]:
    """(n_replications, n_rows) arrays: 80/20 in the north (baseline +25 pp, uplift 0.8 pp lower), 50/50 elsewhere.

    The uplift also rises with a feature ``x`` (2 pp from x = 0 to x = 1); its average is ``TRUE_AVERAGE_EFFECT``.
    """
    rng = np.random.default_rng(seed)
    shape = (n_replications, n_rows)
    north = rng.random(shape) < NORTH_SHARE
    x = rng.random(shape)
    p_treated = np.where(north, NORTH_TREATED, 0.5)
    treated = rng.random(shape) < p_treated
    uplift = TRUE_AVERAGE_EFFECT - 0.008 * (north - NORTH_SHARE) + 0.02 * (x - 0.5)
    y = (rng.random(shape) < 0.10 + 0.25 * north + uplift * treated).astype(np.float64)
    received = np.where(treated, p_treated, 1.0 - p_treated)
    return {"y": y, "uplift": uplift, "treatment": treated.astype(np.int64), "north": north.astype(np.float64),
            "propensity": received, "p_treated": p_treated}


def small_experiment(seed: int, n_rows: int = 300, ties: bool = False, continuous: bool = False):
    """Random data with varying probabilities of treatment (0.1 to 0.9) and, optionally, tied scores."""
    rng = np.random.default_rng(seed)
    p_treated = rng.uniform(0.1, 0.9, n_rows)
    treatment = (rng.random(n_rows) < p_treated).astype(np.int64)
    treatment[:2] = [0, 1]
    score = rng.normal(size=n_rows)
    if ties:
        score = np.round(score * 2) / 2
    y = (rng.random(n_rows) < 0.2 + 0.3 * p_treated + 0.1 * treatment * (score > 0)).astype(np.float64)
    if continuous:
        y = y * rng.gamma(2.0, 20.0, n_rows)
    received = np.where(treatment == 1, p_treated, 1.0 - p_treated)
    return y, score, treatment, received, p_treated


# ---------------------------------------------------------------------------------------------------------
# Reference: the weighted definitions written out row by row (slow and obvious on purpose)


def reference_weights(treatment, received):
    """1 / probability of the received arm, scaled per arm to sum to the arm's rows (docs/design.md)."""
    weight = 1.0 / np.asarray(received, dtype=float)
    for arm in (0, 1):
        rows = treatment == arm
        weight[rows] *= rows.sum() / weight[rows].sum()
    return weight


def reference_weighted_curve(kind, y, score, treatment, weight):
    xs, values = [0], [0.0]
    for threshold in np.unique(score)[::-1]:
        top = score >= threshold
        treated, control = top & (treatment == 1), top & (treatment == 0)
        w_t, w_c = weight[treated].sum(), weight[control].sum()
        y_t, y_c = (weight * y)[treated].sum(), (weight * y)[control].sum()
        if kind == "qini":
            value = y_t - (y_c * w_t / w_c if w_c else 0.0)
        else:
            value = ((y_t / w_t if w_t else 0.0) - (y_c / w_c if w_c else 0.0)) * top.sum()
        xs.append(top.sum())
        values.append(value)
    return np.array(xs), np.array(values)


# ---------------------------------------------------------------------------------------------------------
# Curves and their normalized areas


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(4, 60), ties=st.booleans(), continuous=st.booleans())
def test_weighted_curves_match_the_row_by_row_reference(seed, n_rows, ties, continuous):
    y, score, treatment, received, _ = small_experiment(seed, n_rows, ties, continuous)
    weight = reference_weights(treatment, received)
    for kind, function in (("qini", metrics.qini_curve), ("uplift", metrics.uplift_curve)):
        x, values = function(y, score, treatment, propensity=received)
        expected_x, expected_values = reference_weighted_curve(kind, y, score, treatment, weight)
        np.testing.assert_array_equal(x, expected_x)
        np.testing.assert_allclose(values, expected_values, rtol=1e-10, atol=1e-9)


def test_every_form_of_a_propensity_gives_the_same_curves():
    y, score, treatment, received, p_treated = small_experiment(1, ties=True)
    by_arm = np.column_stack([1 - p_treated, p_treated])
    expected = metrics.qini_curve(y, score, treatment, propensity=received)
    np.testing.assert_allclose(metrics.qini_curve(y, score, treatment, propensity=by_arm)[1], expected[1],
                               rtol=1e-12, atol=1e-12)
    for constant in (0.3, {0: 0.7, 1: 0.3}, np.tile([0.7, 0.3], (len(y), 1)), np.where(treatment == 1, 0.3, 0.7)):
        for function in (metrics.qini_curve, metrics.uplift_curve):
            # The same probabilities for every row weight nothing: the unweighted curves, to rounding.
            np.testing.assert_allclose(function(y, score, treatment, propensity=constant)[1],
                                       function(y, score, treatment)[1], rtol=1e-12, atol=1e-9)
        assert metrics.qini_auc_score(y, score, treatment, propensity=constant) == pytest.approx(
            metrics.qini_auc_score(y, score, treatment), rel=1e-12, abs=1e-12)
        assert metrics.uplift_auc_score(y, score, treatment, propensity=constant) == pytest.approx(
            metrics.uplift_auc_score(y, score, treatment), rel=1e-12, abs=1e-12)
        assert metrics.qini_auc_score(y, score, treatment, negative_effect=False, propensity=constant) == \
            pytest.approx(metrics.qini_auc_score(y, score, treatment, negative_effect=False), rel=1e-12, abs=1e-12)


def test_weighted_scores_are_normalized_by_the_weighted_perfect_curves():
    y, score, treatment, received, _ = small_experiment(2, n_rows=80, ties=True)
    weight = reference_weights(treatment, received)

    def area(curve):
        x, values = curve
        return float(np.sum(np.diff(x) * (values[1:] + values[:-1]) / 2))

    def normalized(model, perfect):
        random_area = perfect[1][-1] * len(y) / 2
        return (area(model) - random_area) / (area(perfect) - random_area)

    model = reference_weighted_curve("qini", y, score, treatment, weight)
    perfect = reference_weighted_curve("qini", y, np.where(treatment == 1, y, -y), treatment, weight)
    assert metrics.qini_auc_score(y, score, treatment, propensity=received) == pytest.approx(
        normalized(model, perfect), rel=1e-10)
    x, values = metrics.perfect_qini_curve(y, treatment, propensity=received)
    np.testing.assert_allclose(values, perfect[1], rtol=1e-10, atol=1e-9)
    final = model[1][-1]
    flat = (np.array([0.0, final, len(y)]), np.array([0.0, final, final]))
    assert metrics.qini_auc_score(y, score, treatment, negative_effect=False, propensity=received) == pytest.approx(
        normalized(model, flat), rel=1e-10)
    # Perfect uplift ordering: scikit-uplift's choice made with weighted counts.
    control_responders = (weight * y)[treatment == 0].sum()
    treated_non_responders = (weight * (1 - y))[treatment == 1].sum()
    summand = y if control_responders > treated_non_responders else treatment
    perfect_uplift = reference_weighted_curve("uplift", y, 2 * (y == treatment) + summand, treatment, weight)
    np.testing.assert_allclose(metrics.perfect_uplift_curve(y, treatment, propensity=received)[1], perfect_uplift[1],
                               rtol=1e-10, atol=1e-9)
    model_uplift = reference_weighted_curve("uplift", y, score, treatment, weight)
    assert metrics.uplift_auc_score(y, score, treatment, propensity=received) == pytest.approx(
        normalized(model_uplift, perfect_uplift), rel=1e-10)


def test_weighted_qini_ranks_the_true_uplift_above_scores_built_from_the_allocation():
    """The issue's case: unweighted, "is north" (truly 0.8 pp less uplift) out-scores the true uplift; weighted,
    the true uplift has the higher Qini coefficient on average, against every impostor built from the
    allocation (200 replications)."""
    design = stratified_design(seed=16, n_replications=200, n_rows=10_000)
    # Sorting by the probability of treatment is sorting by "is north".
    impostors = {"is north": design["north"], "not north": 1.0 - design["north"]}
    truth = {True: [], False: []}
    fakes = {(name, weighted): [] for name in impostors for weighted in (True, False)}
    for rep in range(200):
        y, treatment, received = design["y"][rep], design["treatment"][rep], design["propensity"][rep]
        for weighted in (True, False):
            propensity = received if weighted else None
            truth[weighted].append(metrics.qini_auc_score(y, design["uplift"][rep], treatment, propensity=propensity))
            for name, score in impostors.items():
                fakes[name, weighted].append(metrics.qini_auc_score(y, score[rep], treatment, propensity=propensity))
    for name in impostors:
        for weighted in (True, False):
            difference = np.array(truth[weighted]) - np.array(fakes[name, weighted])
            z = difference.mean() / (difference.std(ddof=1) / np.sqrt(len(difference)))
            if weighted:
                assert z > 4, (name, difference.mean(), z)
            elif name != "not north":
                # Unweighted, the allocation's confounding makes the impostor look better than the truth.
                assert z < -4, (name, difference.mean(), z)


# ---------------------------------------------------------------------------------------------------------
# Bad input: clear errors naming the argument (through upliftree._validation's design validators)


BAD_DESIGNS = [
    ({"propensity": 1.5}, ValueError, r"propensity=1.5 must be in \(0, 1\)"),
    ({"propensity": 0.0}, ValueError, r"propensity=0.0 must be in \(0, 1\)"),
    ({"propensity": [0.5, 0.0, 0.5, 0.5, 0.5, 0.5]}, ValueError, r"1 value\(s\) outside \(0, 1\]"),
    ({"propensity": [0.5, 1.2, 0.5, 0.5, 0.5, 0.5]}, ValueError, r"outside \(0, 1\]"),
    ({"propensity": [0.5, np.nan, 0.5, 0.5, 0.5, 0.5]}, ValueError, r"propensity holds 1 missing \(NaN\)"),
    ({"propensity": {0: 0.5}}, ValueError, r"propensity has no probability for arm\(s\) \[1\]"),
    ({"propensity": {0: 0.5, 1: 0.25, 2: 0.25}}, ValueError, "propensity: 2 is not an arm"),
    ({"propensity": {0: 0.5, 1: 0.4}}, ValueError, "must sum to 1"),
    ({"propensity": np.tile([0.5, 0.4], (6, 1))}, ValueError, "must sum to 1"),
    ({"propensity": np.full((6, 3), 1 / 3)}, ValueError, r"propensity has shape \(6, 3\)"),
    ({"propensity": [0.5, 0.5, 0.5]}, ValueError, "propensity has 3 rows but treatment has 6"),
    ({"propensity": "p"}, TypeError, "propensity='p' looks like a column name"),
    ({"propensity": ["a"] * 6}, TypeError, "propensity must hold numbers"),
    ({"propensity": [1e-310] + [0.5] * 5}, ValueError, "inverses overflow"),
    ({"cluster": [1, 2, 3]}, ValueError, "cluster has 3 rows but treatment has 6"),
    ({"cluster": [1, 2, None, 3, 4, 5]}, ValueError, r"cluster has 1 missing id\(s\)"),
    ({"cluster": "store"}, TypeError, "cluster='store' looks like a column name"),
]
HAND_Y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
HAND_SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
HAND_T = np.array([1, 1, 0, 0, 1, 0])


def design_calls():
    """Every public metric called on the hand data, taking the design arguments as keywords."""
    y, score, t = HAND_Y, HAND_SCORE, HAND_T
    return {
        "qini_curve": lambda **design: metrics.qini_curve(y, score, t, **design),
        "uplift_curve": lambda **design: metrics.uplift_curve(y, score, t, **design),
        "perfect_qini_curve": lambda **design: metrics.perfect_qini_curve(y, t, **design),
        "perfect_uplift_curve": lambda **design: metrics.perfect_uplift_curve(y, t, **design),
        "qini_auc_score": lambda **design: metrics.qini_auc_score(y, score, t, **design),
        "uplift_auc_score": lambda **design: metrics.uplift_auc_score(y, score, t, **design),
    }


@pytest.mark.parametrize(("design", "error", "message"), BAD_DESIGNS)
def test_bad_designs_raise_clear_errors_in_every_metric(design, error, message):
    for name, call in design_calls().items():
        with pytest.raises(error, match=message):
            call(**design)
            pytest.fail(f"{name} accepted {design}")
