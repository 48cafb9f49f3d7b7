"""Intervals of a forest's mean uplift over groups of rows (deciles, segments): the group-sum kernel against a
slow reference, the little-bag terms of group means against their definition, and coverage with known truth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from upliftree import UpliftRandomForestClassifier, UpliftRandomForestRegressor
from upliftree._kernels.forest_variance import group_tree_sums
from upliftree.predictor import VARIANCE_CHUNK, debiased_variance


def loop_group_sums(leaves, value, row_group, n_row_groups):
    """The kernel's sums in plain Python, in the same order (for an exact match)."""
    n_rows, n_trees = leaves.shape
    sums = np.zeros((value.shape[0], n_row_groups * n_trees))
    for row in range(n_rows):
        for tree in range(n_trees):
            for arm in range(value.shape[0]):
                sums[arm, row_group[row] * n_trees + tree] += value[arm, leaves[row, tree]]
    return sums


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 40), st.integers(1, 6), st.integers(1, 5), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_group_tree_sums_match_reference(n_rows, n_trees, n_row_groups, n_arms, seed):
    rng = np.random.default_rng(seed)
    n_nodes = 25
    value = rng.normal(loc=rng.normal(scale=50.0), size=(n_arms, n_nodes))
    leaves = rng.integers(0, n_nodes, size=(n_rows, n_trees))
    row_group = rng.integers(0, n_row_groups, size=n_rows)
    sums = np.zeros((n_arms, n_row_groups * n_trees))
    group_tree_sums(leaves, value, row_group, sums)
    np.testing.assert_array_equal(sums, loop_group_sums(leaves, value, row_group, n_row_groups))
    # By definition: each tree's sum over the group's rows of each arm's leaf value.
    expected = np.stack([np.stack([value[:, leaves[row_group == group, tree]].sum(axis=1)
                                   for tree in range(n_trees)], axis=1) for group in range(n_row_groups)], axis=1)
    np.testing.assert_allclose(sums, expected.reshape(n_arms, -1), rtol=1e-12, atol=1e-9)


def inference_forest(forest_class=UpliftRandomForestRegressor, **params):
    """A small forest grown for intervals (deep honest trees on half-sample subsamples)."""
    defaults = dict(n_estimators=20, ci_group_size=2, honest=True, bootstrap=False, max_samples=0.5, max_depth=8,
                    min_samples_leaf=10, max_features=1.0, random_state=0, verbose=0)
    return forest_class(**{**defaults, **params})


def experiment(n_rows, seed):
    """Uplift 1 + x2 (varying within every group of x1), a strong prognostic baseline 2 * x2, N(0, 1) noise."""
    rng = np.random.default_rng(seed)
    X, treatment = rng.uniform(size=(n_rows, 2)), rng.integers(0, 2, n_rows)
    return X, treatment, 2 * X[:, 1] + treatment * (1 + X[:, 1]) + rng.normal(size=n_rows)


def reference_group_terms(forest, X, row_group, n_row_groups):
    """The group means' little-bag variance by definition, from the rows x trees leaf matrix of ``apply``."""
    state = forest.fitted_state_
    leaves = forest.apply(X)
    uplift = np.stack([tree.tree_.value[leaves[:, t], 1] - tree.tree_.value[leaves[:, t], 0]
                       for t, tree in enumerate(forest.estimators_)], axis=1)  # (rows, trees), one treatment
    tree_means = np.stack([uplift[row_group == group].mean(axis=0) for group in range(n_row_groups)])
    n_groups = tree_means.shape[1] // state.ci_group_size
    overall = tree_means.mean(axis=1, keepdims=True)
    bag_means = tree_means.reshape(n_row_groups, n_groups, state.ci_group_size).mean(axis=2)
    between = ((bag_means - overall) ** 2).mean(axis=1)
    noise = (((tree_means - overall) ** 2).mean(axis=1) - between) / (state.ci_group_size - 1)
    return overall[:, 0], debiased_variance(between, noise, n_groups)


def test_group_variance_is_the_little_bag_variance_of_the_group_means():
    X, treatment, y = experiment(1500, 1)
    forest = inference_forest(n_estimators=12, ci_group_size=3).fit(X, treatment, y)
    # More rows than two chunks, so the sums run over several chunks.
    X_test = np.random.default_rng(2).uniform(size=(2 * VARIANCE_CHUNK + 33, 2))
    labels = np.array(["c", "a", "b"], dtype=object)[(X_test[:, 0] * 3).astype(int)]
    table = forest.predict_group_interval(X_test, labels, alpha=0.1)
    assert list(table["group"]) == ["a", "b", "c"]
    codes = np.searchsorted(["a", "b", "c"], labels)
    expected_uplift, expected_variance = reference_group_terms(forest, X_test, codes, 3)
    np.testing.assert_allclose(table["uplift"], expected_uplift, rtol=1e-9)
    np.testing.assert_allclose(table["variance"], expected_variance, rtol=1e-7)
    np.testing.assert_allclose(table["uplift"], [forest.predict(X_test)[codes == code].mean() for code in range(3)],
                               rtol=1e-9)
    np.testing.assert_array_equal(table["n_rows"], np.bincount(codes))
    np.testing.assert_allclose(table["ci_high"] - table["ci_low"], 2 * ndtri(0.95) * np.sqrt(table["variance"]),
                               rtol=1e-9)


def test_groups_of_one_row_are_the_row_intervals_bit_for_bit():
    X, treatment, y = experiment(1000, 3)
    forest = inference_forest(n_estimators=8).fit(X, treatment, y)
    table = forest.predict_group_interval(X[:300], np.arange(300), alpha=0.2)
    lower, upper = forest.predict_interval(X[:300], alpha=0.2)
    np.testing.assert_array_equal(table["variance"], forest.predict_variance(X[:300]))
    np.testing.assert_array_equal(table["uplift"], forest.predict(X[:300]))
    np.testing.assert_array_equal(table["ci_low"], lower)
    np.testing.assert_array_equal(table["ci_high"], upper)


def test_group_intervals_reach_nominal_coverage_where_averaged_or_independent_row_bounds_do_not():
    # 100 simulated experiments with known truth: each group's true mean uplift over its (fixed) rows. Nominal
    # 80%, two groups (halves of x1). Small forests (10 bags of 2 trees) keep it cheap.
    alpha, z = 0.2, ndtri(0.9)
    X_test = np.random.default_rng(12345).uniform(size=(200, 2))
    groups = (X_test[:, 0] > 0.5).astype(int)
    truth = np.array([np.mean(1 + X_test[groups == group, 1]) for group in (0, 1)])
    covered, averaged_covered, independent_covered, width_ratio = [], [], [], []
    for seed in range(100):
        forest = inference_forest(random_state=seed).fit(*experiment(1000, seed))
        table = forest.predict_group_interval(X_test, groups, alpha=alpha)
        covered.append((table["ci_low"] <= truth) & (truth <= table["ci_high"]))
        lower, upper = forest.predict_interval(X_test, alpha=alpha)
        variance, uplift = forest.predict_variance(X_test), forest.predict(X_test)
        # Naive 1: the group's average of its rows' bounds (as if the rows' errors were perfectly correlated).
        averaged = np.array([[lower[groups == group].mean(), upper[groups == group].mean()] for group in (0, 1)])
        averaged_covered.append((averaged[:, 0] <= truth) & (truth <= averaged[:, 1]))
        width_ratio.append((averaged[:, 1] - averaged[:, 0]) / (table["ci_high"] - table["ci_low"]))
        # Naive 2: the rows' variances as if their errors were independent.
        independent_se = np.array([np.sqrt(variance[groups == group].sum()) / np.sum(groups == group)
                                   for group in (0, 1)])
        group_uplift = np.array([uplift[groups == group].mean() for group in (0, 1)])
        independent_covered.append(np.abs(group_uplift - truth) <= z * independent_se)
    coverage = np.mean(covered)
    assert 0.72 <= coverage <= 0.88, coverage
    assert np.mean(averaged_covered) > 0.93, np.mean(averaged_covered)
    assert np.median(width_ratio) > 1.5, np.median(width_ratio)
    assert np.mean(independent_covered) < 0.45, np.mean(independent_covered)


def test_group_intervals_have_a_row_per_group_and_treatment():
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(1500, 2))
    treatment = rng.choice(np.array(["none", "mail", "call"]), 1500)
    y = (rng.uniform(size=1500) < 0.3 + 0.1 * (treatment != "none") * X[:, 0]).astype(float)
    forest = inference_forest(UpliftRandomForestClassifier, n_estimators=8, max_samples=0.3, min_samples_leaf=30,
                              control="none").fit(X, treatment, y)
    table = forest.predict_group_interval(X[:400], np.where(X[:400, 1] > 0.5, 2.5, 1.0))
    assert list(table.columns) == ["group", "treatment", "n_rows", "uplift", "variance", "ci_low", "ci_high"]
    assert list(table["group"]) == [1.0, 1.0, 2.5, 2.5]
    assert list(table["treatment"]) == list(forest.treatments_[1:]) * 2
    assert np.all(table["ci_low"] <= table["uplift"]) and np.all(table["uplift"] <= table["ci_high"])


def test_bad_groups_and_forests_not_grown_for_intervals_are_named():
    X, treatment, y = experiment(600, 0)
    forest = inference_forest(n_estimators=4).fit(X, treatment, y)
    with pytest.raises(ValueError, match="groups has 10 rows but X has 600"):
        forest.predict_group_interval(X, np.zeros(10))
    with pytest.raises(ValueError, match="groups has 1 missing id"):
        forest.predict_group_interval(X, np.r_[np.nan, np.zeros(599)])
    with pytest.raises(ValueError, match="alpha"):
        forest.predict_group_interval(X, np.zeros(600), alpha=0.0)
    plain = inference_forest(n_estimators=4, ci_group_size=1).fit(X, treatment, y)
    with pytest.raises(ValueError, match="ci_group_size >= 2"):
        plain.predict_group_interval(X, np.zeros(600))
