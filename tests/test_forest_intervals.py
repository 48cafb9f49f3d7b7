"""Per-row uplift intervals of forests grown in little bags: kernel against a slow reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree import UpliftRandomForestClassifier, UpliftRandomForestRegressor
from upliftree._kernels.forest_variance import little_bag_terms
from upliftree.predictor import VARIANCE_CHUNK, debiased_variance


def loop_terms(leaves, value, group_size):
    """The kernel's arithmetic in plain Python, same operations in the same order (for an exact match)."""
    n_rows, n_trees = leaves.shape
    n_groups = n_trees // group_size
    uplift = np.empty((n_rows, value.shape[0] - 1))
    between = np.empty_like(uplift)
    noise = np.empty_like(uplift)
    for row in range(n_rows):
        for arm in range(1, value.shape[0]):
            shift = value[arm, leaves[row, 0]] - value[0, leaves[row, 0]]
            arm_total = control_total = total_sum = total_squares = group_squares = 0.0
            for group in range(n_groups):
                group_sum = 0.0
                for member in range(group_size):
                    leaf = leaves[row, group * group_size + member]
                    arm_total += value[arm, leaf]
                    control_total += value[0, leaf]
                    deviation = value[arm, leaf] - value[0, leaf] - shift
                    group_sum += deviation
                    total_squares += deviation * deviation
                total_sum += group_sum
                group_mean = group_sum / group_size
                group_squares += group_mean * group_mean
            overall = total_sum / (n_groups * group_size)
            uplift[row, arm - 1] = arm_total / n_trees - control_total / n_trees
            between[row, arm - 1] = group_squares / n_groups - overall * overall
            noise[row, arm - 1] = (total_squares / (n_groups * group_size) - overall * overall
                                   - between[row, arm - 1]) / (group_size - 1)
    return uplift, between, noise


def reference_terms(leaves, value, group_size):
    """The between-group and group-noise terms by their definition, over a rows x trees uplift matrix."""
    uplift = value[1:, leaves] - value[:1, leaves]  # (n_treatments, n_rows, n_trees)
    n_groups = leaves.shape[1] // group_size
    uplift = uplift[:, :, : n_groups * group_size]
    overall = uplift.mean(axis=2, keepdims=True)
    group_means = uplift.reshape(uplift.shape[0], uplift.shape[1], n_groups, group_size).mean(axis=3)
    between = ((group_means - overall) ** 2).mean(axis=2)
    total = ((uplift - overall) ** 2).mean(axis=2)
    mean = value[:, leaves].mean(axis=2)  # (n_arms, n_rows)
    return (mean[1:] - mean[:1]).T, between.T, ((total - between) / (group_size - 1)).T


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.integers(2, 4), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_little_bag_terms_match_reference(n_rows, n_groups, group_size, n_arms, seed):
    rng = np.random.default_rng(seed)
    n_nodes = 30
    value = rng.normal(loc=rng.normal(scale=100.0), size=(n_arms, n_nodes))
    leaves = rng.integers(0, n_nodes, size=(n_rows, n_groups * group_size))
    uplift, between, noise = (np.empty((n_rows, n_arms - 1)) for _ in range(3))
    little_bag_terms(leaves, value, group_size, uplift, between, noise)
    for term, exact in zip((uplift, between, noise), loop_terms(leaves, value, group_size), strict=True):
        np.testing.assert_array_equal(term, exact)
    expected_uplift, expected_between, expected_noise = reference_terms(leaves, value, group_size)
    scale = max(np.abs(value).max() ** 2, 1.0)
    np.testing.assert_allclose(uplift, expected_uplift, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(between, expected_between, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(noise, expected_noise, rtol=1e-9, atol=1e-12 * scale)


# -- the forest's intervals -------------------------------------------------------------------------------------

def inference_forest(n_estimators=60, **params):
    """A small forest grown for intervals (deep honest trees on half-sample subsamples)."""
    defaults = dict(n_estimators=n_estimators, ci_group_size=2, honest=True, bootstrap=False, max_samples=0.4,
                    max_depth=6, min_samples_leaf=20, max_features=1.0, random_state=0, verbose=0)
    return UpliftRandomForestRegressor(**{**defaults, **params})


def noise_experiment(n_rows, seed, n_features=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n_rows, n_features)), rng.integers(0, 2, n_rows), rng.normal(size=n_rows)


def test_intervals_cover_zero_uplift_at_the_nominal_rate_and_naive_ones_do_not():
    # No effect anywhere: every row's true uplift is 0. Six forests, 200 test rows each.
    covered, naive_covered = [], []
    for seed in range(6):
        X, treatment, y = noise_experiment(2000, seed)
        forest = inference_forest(random_state=seed).fit(X, treatment, y)
        X_test = np.random.default_rng(100 + seed).uniform(size=(200, 3))
        lower, upper = forest.predict_interval(X_test, alpha=0.1)
        covered.append((lower <= 0) & (0 <= upper))
        # Naive: the trees as independent draws, standard error = spread of the tree uplifts / sqrt(trees).
        tree_uplift = np.stack([tree.predict(X_test) for tree in forest.estimators_])
        naive_half = 1.645 * tree_uplift.std(axis=0) / np.sqrt(len(tree_uplift))
        naive_covered.append(np.abs(forest.predict(X_test)) <= naive_half)
    coverage, naive_coverage = np.mean(covered), np.mean(naive_covered)
    assert 0.82 <= coverage <= 0.98, coverage
    assert naive_coverage < 0.6, naive_coverage


def test_intervals_reach_nominal_coverage_over_100_experiments_where_naive_ones_do_not():
    # 100 simulated experiments with known truth: uplift 1 everywhere, a strong prognostic baseline 2 * x2 the
    # forest must not mistake for uplift, N(0, 1) noise; 4 test points each, nominal 90%. Small forests (10
    # groups of 2 trees) keep it cheap; their noisier variance costs a point or two of coverage.
    X_test = np.array([[0.2, 0.3], [0.2, 0.7], [0.8, 0.3], [0.8, 0.7]])
    covered, spread_covered, undebiased_covered = [], [], []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        X, treatment = rng.uniform(size=(500, 2)), rng.integers(0, 2, 500)
        y = 2 * X[:, 1] + treatment + rng.normal(size=500)
        forest = inference_forest(n_estimators=20, max_samples=0.5, max_depth=4, min_samples_leaf=25,
                                  random_state=seed).fit(X, treatment, y)
        lower, upper = forest.predict_interval(X_test, alpha=0.1)
        covered.append((lower <= 1) & (1 <= upper))
        error = np.abs(forest.predict(X_test) - 1)
        # Naive 1: the trees as independent draws (spread of the tree uplifts / sqrt(trees)).
        tree_uplift = np.stack([tree.predict(X_test) for tree in forest.estimators_])
        spread_covered.append(error <= 1.645 * tree_uplift.std(axis=0) / np.sqrt(20))
        # Naive 2: the little-bag difference without the objective-Bayes correction (clipped at 0).
        centred = tree_uplift - tree_uplift.mean(axis=0)
        between = np.mean(centred.reshape(10, 2, -1).mean(axis=1) ** 2, axis=0)
        noise = np.mean(centred ** 2, axis=0) - between
        undebiased_covered.append(error <= 1.645 * np.sqrt(np.maximum(between - noise, 0)))
    coverage = np.mean(covered)
    assert 0.85 <= coverage <= 0.96, coverage
    assert np.mean(spread_covered) < 0.7, np.mean(spread_covered)
    assert np.mean(undebiased_covered) < 0.7, np.mean(undebiased_covered)


def test_intervals_are_centred_on_predict_and_shaped_like_it():
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(1500, 2))
    treatment = rng.integers(0, 3, 1500)
    y = (rng.uniform(size=1500) < 0.3 + 0.1 * treatment * X[:, 0]).astype(float)
    forest = UpliftRandomForestClassifier(n_estimators=20, ci_group_size=4, honest=True, bootstrap=False,
                                          max_samples=0.3, min_samples_leaf=30, random_state=1,
                                          verbose=0).fit(X, treatment, y)
    lower, upper = forest.predict_interval(X[:300], alpha=0.2)
    uplift, variance = forest.predict(X[:300]), forest.predict_variance(X[:300])
    assert lower.shape == upper.shape == uplift.shape == variance.shape == (300, 2)
    assert np.all(variance >= 0)
    np.testing.assert_allclose((lower + upper) / 2, uplift, atol=1e-12)
    # The interval's one pass finds predict's uplift bit for bit.
    np.testing.assert_array_equal(forest.fitted_state_.stacked.uplift_with_variance(
        forest.fitted_state_.inputs.encode(X[:300]), 4)[0], uplift)
    np.testing.assert_allclose(upper - lower, 2 * 1.2815515655446004 * np.sqrt(variance), rtol=1e-9)


def test_widths_shrink_with_more_rows():
    widths = []
    for n_rows in (1000, 6000):
        X, treatment, y = noise_experiment(n_rows, 7)
        forest = inference_forest(min_samples_leaf=n_rows // 50).fit(X, treatment, y)
        lower, upper = forest.predict_interval(np.random.default_rng(8).uniform(size=(300, 3)))
        widths.append(np.mean(upper - lower))
    assert widths[1] < 0.7 * widths[0], widths


def test_variance_does_not_depend_on_threads_or_row_chunks():
    X, treatment, y = noise_experiment(1500, 11)
    cluster = np.arange(1500) // 5
    forests = [inference_forest(n_estimators=12, ci_group_size=3, n_jobs=n_jobs).fit(X, treatment, y,
                                                                                      cluster=cluster)
               for n_jobs in (1, 2)]
    # More test rows than one chunk, so the pass runs several chunks and blocks.
    X_test = np.random.default_rng(12).uniform(size=(3 * VARIANCE_CHUNK + 17, 3))
    variances = [forest.predict_variance(X_test) for forest in forests]
    np.testing.assert_array_equal(variances[0], variances[1])
    parts = np.concatenate([forests[0].predict_variance(X_test[:1000]), forests[0].predict_variance(X_test[1000:]),
                            ])
    np.testing.assert_array_equal(parts, variances[0])
    np.testing.assert_array_equal(forests[0].predict_variance(np.asfortranarray(X_test)), variances[0])


def test_groups_change_nothing_when_ci_group_size_is_one():
    X, treatment, y = noise_experiment(800, 13)
    params = dict(n_estimators=6, max_samples=0.5, random_state=2, verbose=0)
    ungrouped = UpliftRandomForestRegressor(ci_group_size=1, **params).fit(X, treatment, y)
    np.testing.assert_array_equal(UpliftRandomForestRegressor(**params).fit(X, treatment, y).predict(X),
                                  ungrouped.predict(X))
    assert UpliftRandomForestRegressor().get_params()["ci_group_size"] == 1


def test_debiased_variance_stays_positive_and_matches_the_difference_when_it_is_clear():
    between = np.array([1.0, 0.01, 0.0, 2.0])
    noise = np.array([0.01, 1.0, 0.0, 1.0])
    variance = debiased_variance(between, noise, 50)
    assert np.all(variance >= 0) and variance[2] == 0
    np.testing.assert_allclose(variance[0], 0.99, rtol=1e-6)  # far from 0: no correction
    assert 0 < variance[1] < 0.2


@pytest.mark.parametrize(("params", "message"), [
    (dict(bootstrap=True), "bootstrap=False"),
    (dict(max_samples=None), "max_samples to at most 0.5"),
    (dict(max_samples=0.6), "max_samples to at most 0.5"),
    (dict(max_samples=600), "exceeds half"),
    (dict(n_estimators=7), "multiple of ci_group_size"),
    (dict(ci_group_size=0), "ci_group_size"),
])
def test_bad_group_parameters_are_named(params, message):
    X, treatment, y = noise_experiment(1000, 0)
    with pytest.raises(ValueError, match=message):
        inference_forest(**{"n_estimators": 6, **params}).fit(X, treatment, y)


@pytest.mark.parametrize("params", [dict(ci_group_size=1, max_samples=0.5), dict(honest=False)])
def test_forests_not_grown_for_intervals_say_what_to_set(params):
    X, treatment, y = noise_experiment(600, 0)
    forest = inference_forest(n_estimators=4, **params).fit(X, treatment, y)
    for method in (forest.predict_variance, forest.predict_interval):
        with pytest.raises(ValueError, match="ci_group_size >= 2.*honest=True.*bootstrap=False.*max_samples <= 0.5"):
            method(X)
    with pytest.raises(ValueError, match="alpha"):
        inference_forest(n_estimators=4).fit(X, treatment, y).predict_interval(X, alpha=1.5)


def test_intervals_without_shrinkage_on_a_binary_outcome_warn(recwarn):
    """n_reg=0 makes a classifier's little-bag intervals fail (docs/forest.md): the fit says so, naming n_reg;
    shrinkage, no little bags, or a continuous outcome (where they hold) do not warn."""
    rng = np.random.default_rng(0)
    X, treatment = rng.uniform(size=(800, 2)), rng.integers(0, 2, 800)
    binary = (rng.uniform(size=800) < 0.3 + 0.1 * treatment).astype(float)
    params = dict(n_estimators=4, ci_group_size=2, honest=True, bootstrap=False, max_samples=0.5, random_state=0,
                  verbose=0)
    with pytest.warns(UserWarning, match=r"n_reg=0 with ci_group_size=2 on a binary outcome.*set n_reg > 0") as caught:
        UpliftRandomForestClassifier(**params, n_reg=0).fit(X, treatment, binary)
    assert caught[0].filename == __file__  # points at the caller's fit
    UpliftRandomForestClassifier(**params).fit(X, treatment, binary)
    UpliftRandomForestClassifier(**{**params, "ci_group_size": 1}, n_reg=0).fit(X, treatment, binary)
    UpliftRandomForestRegressor(**params, n_reg=0).fit(X, treatment, binary + rng.normal(size=800))
    assert not [warning for warning in recwarn if "n_reg" in str(warning.message)]


def test_a_saved_forest_keeps_its_little_bags(tmp_path):
    from upliftree import load

    X, treatment, y = noise_experiment(1500, 11)
    forest = inference_forest(n_estimators=8).fit(X, treatment, y)
    forest.save(tmp_path / "forest.json")
    loaded = load(tmp_path / "forest.json")
    for bound, loaded_bound in zip(forest.predict_interval(X[:200]), loaded.predict_interval(X[:200]), strict=True):
        np.testing.assert_array_equal(loaded_bound, bound)
