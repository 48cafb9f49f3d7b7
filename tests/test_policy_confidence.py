"""Policy.decide(min_confidence=...): treat only where the lower bound of the uplift is above 0."""

from __future__ import annotations

import numpy as np
import pytest

from upliftree import Policy, UpliftRandomForestRegressor, UpliftTreeRegressor


def experiment(n_rows, seed):
    # Uplift 1 where x0 > 0.5, none elsewhere.
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n_rows, 2))
    treatment = rng.integers(0, 2, n_rows)
    return X, treatment, X[:, 1] + treatment * (X[:, 0] > 0.5) + rng.normal(size=n_rows)


@pytest.fixture(scope="module")
def forest():
    X, treatment, y = experiment(3000, 0)
    return UpliftRandomForestRegressor(n_estimators=40, ci_group_size=2, honest=True, bootstrap=False,
                                       max_samples=0.5, max_depth=5, min_samples_leaf=40, max_features=1.0,
                                       random_state=0, verbose=0).fit(X, treatment, y)


def test_a_forest_treats_only_rows_whose_lower_bound_is_positive(forest):
    X_new = np.random.default_rng(1).uniform(size=(2000, 2))
    decided = Policy(forest, benefit=1.0).decide(X_new, min_confidence=0.95)
    lower, _ = forest.predict_interval(X_new, alpha=0.1)  # one-sided 95% lower bound
    np.testing.assert_array_equal(decided == 1, (lower > 0) & (forest.predict(X_new) > 0))
    effect = X_new[:, 0] > 0.5
    # Without the rule about half the rows with no effect are treated (their uplift estimate is noise).
    assert np.mean(Policy(forest).decide(X_new)[~effect] == 1) > 0.2
    assert np.mean(decided[~effect] == 1) < 0.1
    assert np.mean(decided[effect] == 1) > 0.8


def test_a_negative_benefit_asks_for_the_upper_bound_below_zero(forest):
    X_new = np.random.default_rng(2).uniform(size=(500, 2))
    decided = Policy(forest, benefit=-1.0).decide(X_new, threshold=-np.inf, min_confidence=0.9)
    _, upper = forest.predict_interval(X_new, alpha=0.2)
    np.testing.assert_array_equal(decided == 1, upper < 0)


def test_an_honest_tree_uses_its_leaf_intervals():
    X, treatment, y = experiment(4000, 3)
    tree = UpliftTreeRegressor(max_depth=3, min_samples_leaf=200, honest=True, random_state=0).fit(X, treatment, y)
    decided = Policy(tree, cost=0.0).decide(X, min_confidence=0.975, rule="top_k", k=0.9)
    segments = tree.segments(alpha=0.05).set_index("leaf_id")
    confident = segments["ci_low"].reindex(tree.apply(X)).to_numpy() > 0
    assert np.all(confident[decided == 1])
    assert 0 < np.sum(decided == 1) <= min(confident.sum(), int(0.9 * len(X)))


def test_intervals_that_do_not_hold_are_refused(forest):
    X, treatment, y = experiment(1500, 4)
    plain_tree = UpliftTreeRegressor(max_depth=2, min_samples_leaf=100).fit(X, treatment, y)
    with pytest.raises(ValueError, match="honest=True"):
        Policy(plain_tree).decide(X, min_confidence=0.95)
    plain_forest = UpliftRandomForestRegressor(n_estimators=4, random_state=0, verbose=0).fit(X, treatment, y)
    with pytest.raises(ValueError, match="ci_group_size >= 2"):
        Policy(plain_forest).decide(X, min_confidence=0.95)
    for bad in (1.0, 0.3):
        with pytest.raises(ValueError, match="min_confidence"):
            Policy(forest).decide(X, min_confidence=bad)
