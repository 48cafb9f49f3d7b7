"""Pruning on held-out rows: spurious splits of trees grown on pure noise go, planted splits stay."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor
from upliftree.pruning import prune_splits

N_ROWS = 4_000
pytestmark = pytest.mark.usefixtures("one_numba_thread")  # hundreds of tiny fits (see conftest)


def simulate(rng: np.random.Generator, effect_x0: float, effect_x1: float):
    """Binary outcome; uplift ``effect_x0`` where x0 > 0.5 plus ``effect_x1`` where x1 > 0.5."""
    X = rng.random((N_ROWS, 4))
    treated = rng.integers(0, 2, N_ROWS)
    uplift = effect_x0 * (X[:, 0] > 0.5) + effect_x1 * (X[:, 1] > 0.5)
    y = (rng.random(N_ROWS) < 0.2 + 0.2 * X[:, 2] + treated * uplift).astype(np.int64)
    return X, treated, y


def split_features(model) -> set[int]:
    return set(model.tree_.feature[~model.tree_.is_leaf].tolist())


def test_pure_noise_trees_are_pruned_to_at_most_two_leaves():
    leaves_before, leaves_after, leaves_uncorrected = [], [], []
    for replication in range(200):
        rng = np.random.default_rng(replication)
        X, treated, y = simulate(rng, 0.0, 0.0)
        X_val, treated_val, y_val = simulate(rng, 0.0, 0.0)
        model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, random_state=replication).fit(X, treated, y)
        leaves_before.append(model.n_leaves_)
        uncorrected = copy.deepcopy(model).prune(X_val, treated_val, y_val, correction="none")
        assert model.prune(X_val, treated_val, y_val) is model
        leaves_after.append(model.n_leaves_)
        leaves_uncorrected.append(uncorrected.n_leaves_)
        assert model.n_splits_pruned_ == leaves_before[-1] - leaves_after[-1]
    leaves_before, leaves_after = np.array(leaves_before), np.array(leaves_after)
    assert np.mean(leaves_before > 2) > 0.95, "the grown noise trees should have spurious splits to prune"
    assert np.mean(leaves_after <= 2) >= 0.90
    # Without the multiplicity correction each split faces a laxer test, so no fewer splits survive.
    assert (np.array(leaves_uncorrected) >= leaves_after).all()


def test_planted_splits_are_kept_and_noise_splits_removed():
    both_kept, only_planted, noise_before = [], [], []
    for replication in range(100):
        rng = np.random.default_rng(10_000 + replication)
        X, treated, y = simulate(rng, 0.2, 0.2)
        X_val, treated_val, y_val = simulate(rng, 0.2, 0.2)
        model = UpliftTreeClassifier(criterion="ddp", max_depth=3, min_samples_leaf=200,
                                     random_state=replication).fit(X, treated, y)
        noise_before.append(not split_features(model) <= {0, 1})
        model.prune(X_val, treated_val, y_val)
        both_kept.append({0, 1} <= split_features(model))
        only_planted.append(split_features(model) <= {0, 1})
    assert np.mean(noise_before) > 0.5, "the grown trees should also split on noise features"
    assert np.mean(both_kept) >= 0.95
    assert np.mean(only_planted) >= 0.9


def test_pruning_keeps_the_fit_statistics():
    rng = np.random.default_rng(3)
    X, treated, y = simulate(rng, 0.2, 0.0)
    X_est, treated_est, y_est = simulate(rng, 0.2, 0.0)
    X_val, treated_val, y_val = simulate(rng, 0.2, 0.0)
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200).fit(
        X, treated, y, X_est=X_est, treatment_est=treated_est, y_est=y_est)
    n_leaves = model.n_leaves_
    model.prune(X_val, treated_val, y_val)
    assert 2 <= model.n_leaves_ < n_leaves
    tree = model.tree_
    np.testing.assert_allclose(tree.stats, tree.route_statistics(X_est, treated_est, np.ones(N_ROWS), y_est))
    table = model.segments()
    assert sorted(table["leaf_id"]) == sorted(tree.leaf_ids) == sorted(np.unique(model.apply(X_val)))
    assert table["honest"].all()


def binary_cell(n: int, rate: float) -> list[float]:
    """Node statistics of ``n`` unit-weight rows with ``rate * n`` ones: count, w, wy, wy^2, w^2."""
    return [n, n, rate * n, rate * n, n]


@pytest.mark.parametrize(("left", "right", "kept"), [
    ((0.30, 0.20), (0.20, 0.20), True),   # left uplift +0.10 vs 0: replicates
    ((0.20, 0.20), (0.30, 0.20), False),  # significant, but the order of the children flipped
    ((0.22, 0.20), (0.20, 0.20), False),  # same order, not significant
])
def test_one_split_is_kept_only_when_its_direction_replicates_significantly(left, right, kept):
    rng = np.random.default_rng(0)
    X = rng.random((2_000, 1))
    treated = rng.integers(0, 2, 2_000)
    y = (rng.random(2_000) < 0.2 + 0.2 * treated * (X[:, 0] <= 0.5)).astype(int)
    model = UpliftTreeClassifier(max_depth=1, min_samples_leaf=100).fit(X, treated, y)
    tree = model.tree_
    assert tree.n_nodes == 3 and tree.uplift[1, 0] > tree.uplift[2, 0]
    validation = np.array([
        [binary_cell(2_000, 0.2), binary_cell(2_000, 0.2)],  # root (unused by the test)
        [binary_cell(1_000, left[1]), binary_cell(1_000, left[0])],  # left child: control, treated
        [binary_cell(1_000, right[1]), binary_cell(1_000, right[0])],
    ])
    pruned, n_pruned = prune_splits(tree, validation, alpha=0.05)
    assert (pruned.n_nodes == 3) == kept
    assert n_pruned == (0 if kept else 1)


def test_regressor_and_bad_arguments():
    rng = np.random.default_rng(4)
    X = rng.random((N_ROWS, 2))
    treated = rng.integers(0, 2, N_ROWS)
    y = X[:, 1] + treated * 2.0 * (X[:, 0] > 0.5) + rng.normal(size=N_ROWS)
    model = UpliftTreeRegressor(max_depth=2, min_samples_leaf=200).fit(X, treated, y)
    model.prune(X, treated, y, sample_weight_val=rng.uniform(0.5, 2.0, N_ROWS))
    assert model.tree_.feature[0] == 0
    with pytest.raises(ValueError, match="alpha"):
        model.prune(X, treated, y, alpha=0.0)
    with pytest.raises(ValueError, match="correction"):
        model.prune(X, treated, y, correction="holm")
    with pytest.raises(ValueError, match="not fitted on"):
        model.prune(X, np.where(treated == 1, 2, 0), y)
    with pytest.raises(ValueError, match="X_val, treatment_val and y_val"):
        model.prune(X, None, y)
    with pytest.raises(ValueError, match="not fitted"):
        UpliftTreeRegressor().prune(X, treated, y)


def test_several_treatments_keep_a_split_that_replicates_for_one_of_them(multi_treatment_experiment):
    experiment = multi_treatment_experiment
    rng = np.random.default_rng(0)
    X = experiment.X.assign(noise=rng.random(len(experiment.y)))
    # Plant a strong effect of "discount" only, on the noise column, so only one treatment carries the split.
    y = np.where((experiment.treatment == "discount") & (X["noise"] > 0.5), 1, experiment.y)
    half = len(y) // 2
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=300, control="control").fit(
        X.iloc[:half], experiment.treatment[:half], y[:half])
    model.prune(X.iloc[half:], experiment.treatment[half:], y[half:])
    assert model.tree_.feature[0] == X.columns.get_loc("noise")
    table = model.segments()
    assert len(table) == 2 * model.n_leaves_
