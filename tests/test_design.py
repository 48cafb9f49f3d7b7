"""Design moments and robust intervals (upliftree.design): a slow reference, and coverage with known truth."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree.design import (
    CROSS_SS,
    CROSS_SW,
    CROSS_WS,
    CROSS_WW,
    N_UNITS,
    OWN_SS,
    OWN_SW,
    OWN_WW,
    cluster_holdout,
    design_moments,
    robust_mean_covariance,
)
from upliftree.inference import robust_difference_ci

# A root split into two leaves, and a depth-2 tree: parents of every node.
STUMP = np.array([-1, 0, 0])
DEPTH_TWO = np.array([-1, 0, 0, 1, 1, 2, 2])


def reference_moments(parent, leaves, arm, weight, y, cluster, n_arms):
    """Loop over nodes, arms and units: the sums of unit totals, written out."""
    n_rows = len(leaves)
    units = np.arange(n_rows) if cluster is None else cluster
    moments = np.zeros((len(parent), n_arms, 8))
    for node in range(len(parent)):
        reaches = np.zeros(n_rows, dtype=bool)
        for row in range(n_rows):
            ancestor = leaves[row]
            while ancestor >= 0:
                if ancestor == node:
                    reaches[row] = True
                ancestor = parent[ancestor]
        for unit in np.unique(units[reaches]):
            rows = reaches & (units == unit)
            totals = [((weight * rows)[arm == a].sum(), (weight * y * rows)[arm == a].sum(), (rows & (arm == a)).any())
                      for a in range(n_arms)]
            control_w, control_s, _ = totals[0]
            for a, (w, s, present) in enumerate(totals):
                moments[node, a, N_UNITS] += present
                moments[node, a, OWN_WW] += w * w
                moments[node, a, OWN_SW] += s * w
                moments[node, a, OWN_SS] += s * s
                if a > 0:
                    moments[node, a, CROSS_WW] += w * control_w
                    moments[node, a, CROSS_WS] += w * control_s
                    moments[node, a, CROSS_SW] += s * control_w
                    moments[node, a, CROSS_SS] += s * control_s
    return moments


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(2, 3), st.booleans(), st.integers(0, 2**32 - 1))
def test_design_moments_match_reference(n_rows, n_arms, clustered, seed):
    rng = np.random.default_rng(seed)
    leaves = rng.choice([3, 4, 5, 6], size=n_rows)
    arm = rng.integers(0, n_arms, size=n_rows)
    weight = rng.choice([0.0, 0.5, 1.25, 4.0], size=n_rows)
    y = rng.normal(size=n_rows)
    cluster = rng.integers(0, max(n_rows // 3, 1), size=n_rows) if clustered else None
    moments = design_moments(DEPTH_TWO, leaves, arm, weight, y, cluster, n_arms)
    np.testing.assert_allclose(moments, reference_moments(DEPTH_TWO, leaves, arm, weight, y, cluster, n_arms),
                               rtol=1e-12, atol=1e-12)


def _node_intervals(parent, leaves, arm, weight, y, cluster):
    """Uplift intervals of every node from the design moments (two arms)."""
    moments = design_moments(parent, leaves, arm, weight, y, cluster, 2)
    reaches = [np.ones(len(y), dtype=bool)] + [leaves == node for node in range(1, len(parent))]
    totals = np.array([[[weight[r & (arm == a)].sum(), (weight * y)[r & (arm == a)].sum()] for a in range(2)]
                       for r in reaches])
    mean = totals[..., 1] / totals[..., 0]
    variance, covariance = robust_mean_covariance(mean, totals[..., 0], moments)
    return robust_difference_ci(mean[:, 1:], variance[:, 1:], moments[:, 1:, N_UNITS], mean[:, :1],
                                variance[:, :1], moments[:, :1, N_UNITS], covariance, 0.05)


def _coverage(draw, n_replications, seed):
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(n_replications):
        truth, (estimate, low, high, _) = draw(rng)
        hits.append((low[:, 0] <= truth) & (truth <= high[:, 0]))
    return np.mean(hits, axis=0)


def _stratified(weighted: bool):
    """80/20 treated in the north (baseline +25 pp), 50/50 elsewhere; leaves split on a feature unrelated to
    the design. True effects: +3 pp elsewhere, +2.2 pp in the north."""

    def draw(rng):
        n_rows = 4000
        north = rng.random(n_rows) < 0.4
        leaves = np.where(rng.random(n_rows) < 0.5, 1, 2)
        probability = np.where(north, 0.8, 0.5)
        arm = (rng.random(n_rows) < probability).astype(np.int64)
        effect = np.where(north, 0.022, 0.03)
        y = (rng.random(n_rows) < 0.1 + 0.25 * north + effect * arm).astype(np.float64)
        weight = 1.0 / np.where(arm == 1, probability, 1.0 - probability) if weighted else np.ones(n_rows)
        return 0.4 * 0.022 + 0.6 * 0.03, _node_intervals(STUMP, leaves, arm, weight, y, None)

    return draw


def test_weighted_intervals_cover_on_a_stratified_design_and_unweighted_ones_do_not():
    weighted = _coverage(_stratified(True), 300, 0)
    unweighted = _coverage(_stratified(False), 300, 0)
    # Root and both leaves; 300 replications give a standard error of 1.3 points on 95%.
    assert np.all((weighted >= 0.92) & (weighted <= 0.98)), weighted
    assert np.all(unweighted < 0.5), unweighted


def _clustered(cluster_aware: bool):
    """80 stores of 25 customers, half the stores treated; a store effect as large as the noise."""

    def draw(rng):
        n_clusters, size = 80, 25
        cluster = np.repeat(np.arange(n_clusters), size)
        arm = (rng.permutation(n_clusters) < n_clusters // 2).astype(np.int64)[cluster]
        y = 0.5 * arm + rng.normal(size=n_clusters)[cluster] + rng.normal(size=n_clusters * size)
        leaves = np.where(rng.random(n_clusters * size) < 0.5, 1, 2)
        return 0.5, _node_intervals(STUMP, leaves, arm, np.ones(len(y)), y, cluster if cluster_aware else None)

    return draw


def test_cluster_robust_intervals_cover_where_row_level_ones_do_not():
    robust = _coverage(_clustered(True), 300, 1)
    row_level = _coverage(_clustered(False), 300, 1)
    assert np.all((robust >= 0.92) & (robust <= 0.98)), robust
    assert np.all(row_level < 0.6), row_level


def test_a_unit_holding_both_arms_enters_the_covariance():
    # Households with one treated and one control member each: the covariance of the arm means is positive
    # when a household effect is shared, and it narrows the interval of the difference.
    rng = np.random.default_rng(3)
    n_households = 400
    cluster = np.repeat(np.arange(n_households), 2)
    arm = np.tile([0, 1], n_households)
    y = 0.3 * arm + rng.normal(size=n_households)[cluster] + 0.3 * rng.normal(size=2 * n_households)
    moments = design_moments(np.array([-1]), np.zeros(len(y), dtype=np.int64), arm, np.ones(len(y)), y, cluster, 2)
    mean = np.array([[y[arm == 0].mean(), y[arm == 1].mean()]])
    variance, covariance = robust_mean_covariance(mean, np.array([[400.0, 400.0]]), moments)
    assert covariance[0, 0] > 0.5 * variance[0, 0]
    paired = y[arm == 1] - y[arm == 0]
    # With every unit holding both arms the robust variance of the difference is the paired one.
    np.testing.assert_allclose(variance[0, 1] + variance[0, 0] - 2 * covariance[0, 0],
                               paired.var(ddof=1) / n_households, rtol=1e-10)


def test_cluster_holdout_keeps_clusters_whole_and_shares_by_arm():
    rng = np.random.default_rng(4)
    cluster = rng.integers(0, 300, size=6000)
    arm = (cluster % 3 == 0).astype(np.int64)
    held_out = cluster_holdout(cluster, arm, 0.4, np.random.default_rng(5))
    for code in np.unique(cluster):
        assert len(np.unique(held_out[cluster == code])) == 1
    for arm_code in (0, 1):
        clusters = np.unique(cluster[arm == arm_code])
        share = np.mean([held_out[cluster == code][0] for code in clusters])
        assert abs(share - 0.4) <= 1.0 / len(clusters)
    order = rng.permutation(len(cluster))
    np.testing.assert_array_equal(cluster_holdout(cluster[order], arm[order], 0.4, np.random.default_rng(5)),
                                  held_out[order])


# -- trees fitted with the design: honest leaf intervals with known truth ---------------------------------------
def _stratified_experiment(rng, n_rows):
    """The issue's stratified design: 80/20 treated in the north (baseline +25 pp), 50/50 elsewhere; the
    effect is +6 pp larger where x1 > 0.5 and 0.8 pp smaller in the north."""
    north = (rng.random(n_rows) < 0.4).astype(np.float64)
    x1, x2 = rng.random(n_rows), rng.random(n_rows)
    probability = np.where(north == 1, 0.8, 0.5)
    arm = (rng.random(n_rows) < probability).astype(np.int64)
    effect = 0.01 + 0.06 * (x1 > 0.5) - 0.008 * north
    y = (rng.random(n_rows) < 0.1 + 0.25 * north + effect * arm).astype(np.int64)
    received = np.where(arm == 1, probability, 1.0 - probability)
    return np.column_stack([north, x1, x2]), arm, y, received, effect


def _leaf_coverage(fit, draw, n_replications, seed):
    """Share of honest leaf intervals covering their leaf's true average effect (on a large population)."""
    population_X, *_, population_effect = draw(np.random.default_rng(seed + 10_000), 60_000)
    rng = np.random.default_rng(seed)
    hits = []
    for replication in range(n_replications):
        model = fit(rng, replication)
        segments = model.segments()
        population_leaf = model.apply(population_X)
        truth = np.array([population_effect[population_leaf == leaf].mean() for leaf in segments["leaf_id"]])
        hits.extend((segments["ci_low"] <= truth) & (truth <= segments["ci_high"]))
    return float(np.mean(hits))


def test_honest_leaf_intervals_cover_with_propensities_and_miss_without():
    from upliftree import UpliftTreeClassifier

    def fit(with_propensity):
        def fitted(rng, replication):
            X, arm, y, received, _ = _stratified_experiment(rng, 8_000)
            model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=400, honest=True, random_state=replication)
            return model.fit(X, arm, y, propensity=received if with_propensity else None)
        return fitted

    with_propensity = _leaf_coverage(fit(True), _stratified_experiment, 200, 0)
    without = _leaf_coverage(fit(False), _stratified_experiment, 60, 0)
    # About 800 leaf intervals: a standard error of 0.8 points on 95%.
    assert 0.93 <= with_propensity <= 0.97, with_propensity
    assert without < 0.5, without


def _store_experiment(rng, n_stores):
    """Stores of 20 customers randomized as a whole; a store effect as large as the noise; the effect is 0.3
    larger where x1 > 0.5 (a customer feature)."""
    size = 20
    store = np.repeat(np.arange(n_stores), size)
    arm = (rng.permutation(n_stores) < n_stores // 2).astype(np.int64)[store]
    x1, x2 = rng.random(n_stores * size), rng.random(n_stores * size)
    effect = 0.2 + 0.3 * (x1 > 0.5)
    y = effect * arm + rng.normal(size=n_stores)[store] + rng.normal(size=n_stores * size)
    return np.column_stack([x1, x2]), arm, y, store, effect


def test_cluster_robust_leaf_intervals_cover_where_row_level_ones_do_not():
    from upliftree import UpliftTreeRegressor

    def draw(rng, n_rows):
        X, arm, y, store, effect = _store_experiment(rng, n_rows // 20)
        return X, arm, y, store, effect

    def fit(cluster_aware):
        def fitted(rng, replication):
            X, arm, y, store, _ = _store_experiment(rng, 300)
            model = UpliftTreeRegressor(max_depth=1, min_samples_leaf=300, honest=True, random_state=replication)
            return model.fit(X, arm, y, cluster=store if cluster_aware else None,
                             propensity=None if cluster_aware else 0.5)
        return fitted

    robust = _leaf_coverage(fit(True), draw, 200, 1)
    row_level = _leaf_coverage(fit(False), draw, 60, 1)
    assert 0.93 <= robust <= 0.97, robust
    assert row_level < 0.8, row_level


def test_design_moments_survive_the_model_file_and_sql_routing_is_unchanged(tmp_path):
    from upliftree import UpliftTreeRegressor, load

    rng = np.random.default_rng(7)
    X, arm, y, store, _ = _store_experiment(rng, 120)
    model = UpliftTreeRegressor(max_depth=2, min_samples_leaf=200, honest=True, random_state=0)
    model.fit(X, arm, y, cluster=store)
    assert model.tree_.has_design
    model.save(tmp_path / "model.json")
    loaded = load(tmp_path / "model.json")
    np.testing.assert_array_equal(loaded.tree_.design_moments, model.tree_.design_moments)
    segments, loaded_segments = model.segments(), loaded.segments()
    for column in ("uplift", "ci_low", "ci_high", "p_value"):
        np.testing.assert_array_equal(loaded_segments[column], segments[column])
    # Without a design, the robust path is not taken and files carry no design moments.
    plain = UpliftTreeRegressor(max_depth=2, min_samples_leaf=200, random_state=0).fit(X, arm, y)
    assert not plain.tree_.has_design and "design_moments" not in plain.to_json()


def test_a_named_design_column_is_not_a_feature_and_bad_designs_are_refused():
    import pandas as pd
    import pytest

    from upliftree import UpliftTreeClassifier

    rng = np.random.default_rng(8)
    X, arm, y, received, _ = _stratified_experiment(rng, 4_000)
    frame = pd.DataFrame(X, columns=["north", "x1", "x2"]).assign(p=received, store=rng.integers(0, 400, 4_000))
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=200).fit(frame, arm, y, propensity="p",
                                                                       cluster="store")
    assert list(model.feature_names_in_) == ["north", "x1", "x2"]
    same = UpliftTreeClassifier(max_depth=2, min_samples_leaf=200).fit(
        frame[["north", "x1", "x2"]], arm, y, propensity=received, cluster=frame["store"].to_numpy())
    np.testing.assert_array_equal(model.tree_.stats, same.tree_.stats)
    with pytest.raises(ValueError, match="propensity"):
        UpliftTreeClassifier().fit(X, arm, y, propensity=np.where(received > 0.6, 1.5, received))
    with pytest.raises(ValueError, match="cluster"):
        UpliftTreeClassifier().fit(X, arm, y, cluster=np.arange(10))


def test_the_design_fit_does_not_depend_on_row_order():
    from upliftree import UpliftTreeRegressor

    rng = np.random.default_rng(9)
    X, arm, y, store, _ = _store_experiment(rng, 200)
    order = rng.permutation(len(y))
    fit = [UpliftTreeRegressor(max_depth=2, min_samples_leaf=200, honest=True, random_state=3).fit(
        X[rows], arm[rows], y[rows], cluster=store[rows], propensity=0.5) for rows in (np.arange(len(y)), order)]
    # The honest split takes whole clusters by their sorted ids, so both fits hold out the same rows.
    np.testing.assert_array_equal(fit[0].tree_.feature, fit[1].tree_.feature)
    np.testing.assert_allclose(fit[0].tree_.design_moments, fit[1].tree_.design_moments, rtol=1e-12)


def test_tree_calibration_takes_the_design_of_the_held_out_rows():
    from upliftree import UpliftTreeClassifier
    from upliftree.metrics import calibration_table, one_vs_control

    rng = np.random.default_rng(12)
    X, arm, y, received, _ = _stratified_experiment(rng, 20_000)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=500, random_state=0).fit(X, arm, y,
                                                                                       propensity=received)
    X_new, arm_new, y_new, received_new, _ = _stratified_experiment(rng, 20_000)
    table = model.calibration(X_new, arm_new, y_new, bins=4, propensity=received_new)
    rows = one_vs_control(y_new, model.predict(X_new), arm_new, arm=1, control=0, propensity=received_new)
    expected = calibration_table(*rows, bins=4, **rows.design)
    np.testing.assert_array_equal(table.to_numpy(), expected.to_numpy())
    # The design changes the observed uplift: the north's higher baseline no longer passes for uplift.
    unweighted = model.calibration(X_new, arm_new, y_new, bins=4)
    assert not np.allclose(table["observed_uplift"], unweighted["observed_uplift"])
