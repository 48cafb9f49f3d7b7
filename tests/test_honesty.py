"""Honest estimation: the held-out split, explicit estimation data, merging of short leaves, and the coverage
of leaf intervals over hundreds of simulated experiments (honest ~95%, adaptive on pure noise far below)."""

from __future__ import annotations

import numpy as np
import pytest

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor
from upliftree.rules import leaf_conditions
from upliftree.tree import stratified_holdout

N_ROWS = 4_000
LOW_EFFECT_REGION, HIGH_EFFECT_REGION = 0.3, 0.5  # x1 <= 0.3 adds +0.05, x0 > 0.5 adds +0.10
pytestmark = pytest.mark.usefixtures("one_numba_thread")  # hundreds of tiny fits (see conftest)


def true_uplift(X: np.ndarray) -> np.ndarray:
    """Piecewise-constant uplift of the simulated experiments."""
    return 0.10 * (X[:, 0] > HIGH_EFFECT_REGION) + 0.05 * (X[:, 1] <= LOW_EFFECT_REGION)


def leaf_average_uplift(model, leaf: int) -> float:
    """Mean of ``true_uplift`` over the population in a leaf, exactly: features are uniform on [0, 1]^3,
    so a leaf is a box, and the uplift averages to the box's share beyond each planted threshold."""
    box = np.array([[0.0, 1.0]] * 3)
    for condition in leaf_conditions(model.tree_, model.schema_, leaf):
        box[condition.feature_index] = np.clip([condition.low, condition.high], 0.0, 1.0)
    share_above = (box[0, 1] - max(box[0, 0], HIGH_EFFECT_REGION)) / (box[0, 1] - box[0, 0])
    share_below = (min(box[1, 1], LOW_EFFECT_REGION) - box[1, 0]) / (box[1, 1] - box[1, 0])
    return 0.10 * max(share_above, 0.0) + 0.05 * max(share_below, 0.0)


def simulate(rng: np.random.Generator, effect: bool, binary: bool):
    """A randomized experiment: baseline depends on x2, uplift on x0 and x1 (or nothing, pure noise)."""
    X = rng.random((N_ROWS, 3))
    treated = rng.integers(0, 2, N_ROWS)
    uplift = true_uplift(X) if effect else np.zeros(N_ROWS)
    if binary:
        y = (rng.random(N_ROWS) < 0.2 + 0.2 * X[:, 2] + treated * uplift).astype(np.int64)
    else:
        # Skewed noise; uplift in the same units as the binary case.
        y = 2.0 * X[:, 2] + treated * uplift + rng.gamma(2.0, 0.2, N_ROWS)
    return X, treated, y


def leaf_coverage(n_replications: int, *, honest: bool, effect: bool, regressor: bool = False,
                  weighted: bool = False, criterion: str = "kl") -> np.ndarray:
    """Whether each leaf's 95% interval covers its true average uplift, over all leaves of all replications."""
    model_class = UpliftTreeRegressor if regressor else UpliftTreeClassifier
    covered = []
    for replication in range(n_replications):
        rng = np.random.default_rng(replication)
        X, treated, y = simulate(rng, effect, binary=not regressor)
        weight = rng.lognormal(0.0, 1.0, N_ROWS) if weighted else None  # effective size ~ 37% of rows
        model = model_class(criterion=criterion, max_depth=3, min_samples_leaf=200, honest=honest,
                            random_state=replication).fit(X, treated, y, sample_weight=weight)
        table = model.segments(alpha=0.05)
        truth = np.array([leaf_average_uplift(model, leaf) if effect else 0.0 for leaf in table["leaf_id"]])
        covered.append((table["ci_low"].to_numpy() <= truth) & (truth <= table["ci_high"].to_numpy()))
    return np.concatenate(covered)


def test_honest_newcombe_intervals_cover_the_leaf_average_uplift():
    covered = leaf_coverage(200, honest=True, effect=True)
    assert len(covered) > 800
    assert 0.93 <= covered.mean() <= 0.97


def test_honest_weighted_welch_intervals_cover_the_leaf_average_uplift():
    covered = leaf_coverage(200, honest=True, effect=True, regressor=True, weighted=True, criterion="tstat")
    assert len(covered) > 800
    assert 0.93 <= covered.mean() <= 0.97


def test_adaptive_intervals_undercover_on_pure_noise():
    """Leaves chosen for their large uplift difference, then estimated on the same rows, look like effects."""
    adaptive = leaf_coverage(100, honest=False, effect=False, criterion="ddp")
    honest = leaf_coverage(100, honest=True, effect=False, criterion="ddp")
    assert adaptive.mean() < 0.85
    assert honest.mean() >= 0.93


def test_honest_split_is_stratified_and_reproducible():
    rng = np.random.default_rng(0)
    arm = rng.integers(0, 3, 5_000)
    y = (rng.random(5_000) < 0.1).astype(float)
    held_out = stratified_holdout(arm, y, True, 0.3, np.random.default_rng(7))
    for code in range(3):
        for outcome in (0.0, 1.0):
            stratum = (arm == code) & (y == outcome)
            assert held_out[stratum].sum() == round(0.3 * stratum.sum())
    np.testing.assert_array_equal(held_out, stratified_holdout(arm, y, True, 0.3, np.random.default_rng(7)))
    assert not np.array_equal(held_out, stratified_holdout(arm, y, True, 0.3, np.random.default_rng(8)))

    X, treated, outcome = simulate(np.random.default_rng(1), effect=True, binary=True)
    fits = [UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, honest=True, random_state=seed)
            .fit(X, treated, outcome) for seed in (5, 5, 6)]
    np.testing.assert_array_equal(fits[0].tree_.stats, fits[1].tree_.stats)
    assert fits[0].tree_.stats[0, :, 0].sum() == pytest.approx(N_ROWS / 2, abs=2)
    assert not np.array_equal(fits[0].tree_.stats, fits[2].tree_.stats)  # other estimation rows


def test_explicit_estimation_rows_fill_the_node_statistics():
    X, treated, y = simulate(np.random.default_rng(2), effect=True, binary=True)
    X_est, treated_est, y_est = simulate(np.random.default_rng(3), effect=True, binary=True)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=300).fit(
        X, treated, y, X_est=X_est, treatment_est=treated_est, y_est=y_est)
    assert model.honest_estimates_
    leaves = model.apply(X_est)
    for arm in (0, 1):
        np.testing.assert_array_equal(model.tree_.stats[model.tree_.leaf_ids, arm, 0],
                                      np.bincount(leaves[treated_est == arm], minlength=model.tree_.n_nodes)
                                      [model.tree_.leaf_ids])
    with pytest.raises(ValueError, match="X_est, treatment_est and y_est must be given together"):
        UpliftTreeClassifier().fit(X, treated, y, sample_weight_est=np.ones(N_ROWS))
    with pytest.raises(ValueError, match="treatment_est"):
        UpliftTreeClassifier(min_samples_treatment=10).fit(X, treated, y, X_est=X_est[:30],
                                                           treatment_est=np.r_[np.ones(25), np.zeros(5)],
                                                           y_est=y_est[:30])


def test_estimation_rows_too_few_for_an_arm_are_an_error():
    X, treated, y = simulate(np.random.default_rng(4), effect=False, binary=True)
    treated = np.where(np.arange(N_ROWS) < 40, 1, 0)  # 40 treated rows, about 8 of them held out
    with pytest.raises(ValueError, match="estimation rows of the honest split"):
        UpliftTreeClassifier(min_samples_treatment=20, honest=True, honest_fraction=0.2, random_state=0).fit(
            X, treated, y)


def test_leaves_without_enough_estimation_rows_are_merged_into_their_parent():
    X, treated, y = simulate(np.random.default_rng(5), effect=True, binary=True)
    X_est, treated_est, y_est = simulate(np.random.default_rng(6), effect=True, binary=True)
    # Estimation data without treated rows where x0 > 0.5: the leaves there cannot estimate an uplift.
    keep = (X_est[:, 0] <= 0.5) | (treated_est == 0) | (np.arange(N_ROWS) % 50 == 0)
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, min_samples_treatment=15).fit(
        X, treated, y, X_est=X_est[keep], treatment_est=treated_est[keep], y_est=y_est[keep])
    full = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, min_samples_treatment=15).fit(X, treated, y)
    assert model.n_splits_merged_ > 0
    assert model.n_leaves_ < full.n_leaves_
    leaf_counts = model.tree_.stats[model.tree_.leaf_ids, :, 0]
    assert (leaf_counts >= 15).all()
    table = model.segments()
    assert table[["uplift", "ci_low", "ci_high", "p_value"]].notna().all().all()
    assert table[["n_0", "n_1"]].to_numpy().sum() == keep.sum()
