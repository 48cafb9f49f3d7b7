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
from upliftree._base import spawn_generators
from upliftree._kernels import bootstrap as _kernels
from upliftree._kernels.sampling import next_position
from upliftree.metrics import bootstrap as bootstrap_module
from upliftree.metrics._inputs import check_inputs
from upliftree.metrics._ranking import order_rows

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
    # A model that found the feature but not the region: its bins mix north and south rows.
    model = TRUE_AVERAGE_EFFECT + 0.02 * (x - 0.5)
    return {"y": y, "uplift": uplift, "model": model, "treatment": treated.astype(np.int64),
            "north": north.astype(np.float64), "propensity": received, "p_treated": p_treated}


def true_effect_by_bin(score: np.ndarray, uplift: np.ndarray, bins: int) -> np.ndarray:
    """(n_replications, bins): the mean true uplift of the rows of each bin of descending (untied) score."""
    ordered = np.take_along_axis(uplift, np.argsort(-score, axis=1, kind="stable"), axis=1)
    return ordered.reshape(len(score), bins, -1).mean(axis=2)


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
# Tables: uplift@k, percentile tables, calibration


def cluster_design(seed: int, n_replications: int, n_clusters: int = 1000, cluster_size: int = 10):
    """Cluster-randomized experiments, (n_replications, n_rows) arrays: whole clusters (stores) are assigned, 80%
    treated in the north clusters and 50% elsewhere; each cluster has its own baseline (strong within-cluster
    correlation) and an uplift that grows with a cluster-level feature, which is also the score."""
    rng = np.random.default_rng(seed)
    shape = (n_replications, n_clusters)
    north = rng.random(shape) < 0.3
    p_treated = np.where(north, 0.8, 0.5)
    treated = rng.random(shape) < p_treated
    feature = rng.random(shape)
    uplift = 0.02 + 0.06 * feature
    baseline = rng.uniform(0.0, 0.7, shape) + 0.2 * north
    expand = lambda values: np.repeat(values, cluster_size, axis=1)  # noqa: E731
    rate = expand(baseline + uplift * treated)
    y = (rng.random(rate.shape) < rate).astype(np.float64)
    received = np.where(treated, p_treated, 1.0 - p_treated)
    return {"y": y, "uplift": expand(uplift), "treatment": expand(treated).astype(np.int64),
            "propensity": expand(received), "cluster": np.broadcast_to(np.repeat(np.arange(n_clusters), cluster_size),
                                                                        rate.shape)}


def reference_mean_and_variance(y, weight, cluster=None):
    """Hájek mean of one arm's rows and its sandwich variance (over clusters, with G / (G - 1))."""
    mean = np.sum(weight * y) / np.sum(weight)
    parts = weight * (y - mean) / np.sum(weight)
    if cluster is None:
        return mean, np.sum(parts**2)
    sums = np.array([parts[cluster == group].sum() for group in np.unique(cluster)])
    return mean, len(sums) / (len(sums) - 1) * np.sum(sums**2)


@pytest.mark.parametrize("clustered", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_tables_match_the_bin_by_bin_reference(seed, clustered):
    y, score, treatment, received, _ = small_experiment(seed, n_rows=400, continuous=seed == 2)
    cluster = np.random.default_rng(seed).integers(0, 60, len(y)) if clustered else None
    weight = reference_weights(treatment, received)
    table = metrics.uplift_by_percentile(y, score, treatment, bins=4, std=True, total=True, propensity=received,
                                         cluster=cluster)
    order = np.argsort(-score, kind="stable")
    parts = [*np.array_split(order, 4), order]
    for row, rows in zip(table.itertuples(), parts, strict=True):
        stats = {}
        for arm in (1, 0):
            arm_rows = rows[treatment[rows] == arm]
            stats[arm] = reference_mean_and_variance(y[arm_rows], weight[arm_rows],
                                                     None if cluster is None else cluster[arm_rows])
        assert row.n_treatment == np.sum(treatment[rows] == 1)
        assert row.response_rate_treatment == pytest.approx(stats[1][0], rel=1e-12)
        assert row.response_rate_control == pytest.approx(stats[0][0], rel=1e-12)
        assert row.std_treatment == pytest.approx(np.sqrt(stats[1][1]), rel=1e-9)
        assert row.std_uplift == pytest.approx(np.sqrt(stats[1][1] + stats[0][1]), rel=1e-9)
    top = order[: int(0.3 * len(y))]
    expected = [np.sum((weight * y)[top][treatment[top] == arm]) / np.sum(weight[top][treatment[top] == arm])
                for arm in (1, 0)]
    assert metrics.uplift_at_k(y, score, treatment, k=0.3, propensity=received) == pytest.approx(
        expected[0] - expected[1], rel=1e-12)
    by_group = [order[treatment[order] == arm][: int(0.3 * np.sum(treatment == arm))] for arm in (1, 0)]
    expected = [np.sum((weight * y)[rows]) / np.sum(weight[rows]) for rows in by_group]
    assert metrics.uplift_at_k(y, score, treatment, "by_group", k=0.3, propensity=received) == pytest.approx(
        expected[0] - expected[1], rel=1e-12)
    rates, variances, sizes = metrics.response_rate_by_percentile(y, score, treatment, "treatment", bins=4,
                                                                  propensity=received, cluster=cluster)
    np.testing.assert_allclose(rates, table["response_rate_treatment"][:4], rtol=1e-12)
    np.testing.assert_allclose(variances, table["std_treatment"][:4] ** 2, rtol=1e-12)
    wau = metrics.weighted_average_uplift(y, score, treatment, bins=4, propensity=received)
    treated_weight = [np.sum(weight[rows][treatment[rows] == 1]) for rows in parts[:4]]
    assert wau == pytest.approx(np.dot(treated_weight, table["uplift"][:4]) / np.sum(treated_weight), rel=1e-12)


@pytest.mark.filterwarnings("ignore:uplift_by_percentile:upliftree.metrics.UndefinedMetricWarning")
def test_constant_propensities_leave_the_tables_as_they_are():
    y, score, treatment, _, _ = small_experiment(3, n_rows=500, ties=True)
    constant = np.where(treatment == 1, 0.4, 0.6)
    for continuous in (False, True):
        outcome = y * (1 + 10 * continuous * score**2)
        for table in ("uplift_by_percentile", "calibration_table"):
            kwargs = {"std": True, "total": True} if table == "uplift_by_percentile" else {}
            plain = getattr(metrics, table)(outcome, score, treatment, **kwargs)
            weighted = getattr(metrics, table)(outcome, score, treatment, propensity=constant, **kwargs)
            np.testing.assert_allclose(weighted.to_numpy(dtype=float), plain.to_numpy(dtype=float), rtol=1e-9,
                                       atol=1e-12)
        for strategy in ("overall", "by_group"):
            assert metrics.uplift_at_k(outcome, score, treatment, strategy, propensity=0.4) == pytest.approx(
                metrics.uplift_at_k(outcome, score, treatment, strategy), rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(metrics.treatment_balance_curve(score, treatment, 50, propensity=constant)[1],
                               metrics.treatment_balance_curve(score, treatment, 50)[1], rtol=1e-12)


def test_weighted_calibration_bins_cover_the_true_bin_effects():
    """The issue's stratified design, 200 replications of 20,000 rows, deciles of a model's score: weighted, the
    95% intervals cover each bin's true effect (the mean true uplift of its rows) about 95% of the time and at
    least 9 of 10 bins in most replications; unweighted, the north's allocation and baseline push every bin's
    observed uplift up and the intervals miss."""
    design = stratified_design(seed=61, n_replications=200, n_rows=20_000)
    truth = true_effect_by_bin(design["model"], design["uplift"], 10)
    covered = {True: [], False: []}
    for rep in range(200):
        for weighted in (True, False):
            table = metrics.calibration_table(design["y"][rep], design["model"][rep], design["treatment"][rep],
                                              propensity=design["propensity"][rep] if weighted else None)
            covered[weighted].append((table.ci_low <= truth[rep]) & (truth[rep] <= table.ci_high))
    weighted, unweighted = np.array(covered[True]), np.array(covered[False])
    assert weighted.shape == (200, 10)
    assert 0.93 <= weighted.mean() <= 0.97, weighted.mean()
    assert np.mean(weighted.sum(axis=1) >= 9) >= 0.85
    assert unweighted.mean() < 0.2, unweighted.mean()


def test_weighted_uplift_at_k_is_unbiased():
    """Top 30% by a model's score, 200 replications: the weighted uplift@k is centred on the true uplift of those
    rows (within 3 standard errors of the simulation), the unweighted one far above it."""
    design = stratified_design(seed=30, n_replications=200, n_rows=10_000)
    truth = true_effect_by_bin(design["model"], design["uplift"], 10)[:, :3].mean(axis=1)
    errors = {True: [], False: []}
    for rep in range(200):
        for weighted in (True, False):
            estimate = metrics.uplift_at_k(design["y"][rep], design["model"][rep], design["treatment"][rep], k=0.3,
                                           propensity=design["propensity"][rep] if weighted else None)
            errors[weighted].append(estimate - truth[rep])
    for weighted, bound in ((True, 3.0), (False, None)):
        error = np.array(errors[weighted])
        z = error.mean() / (error.std(ddof=1) / np.sqrt(len(error)))
        if bound is not None:
            assert abs(z) < bound, (error.mean(), z)
        else:
            assert z > 20 and error.mean() > 0.03, (error.mean(), z)


def test_weighted_treatment_balance_is_flat_on_a_stratified_design():
    design = stratified_design(seed=5, n_replications=1, n_rows=20_000)
    score = design["north"][0] + design["model"][0]
    treatment = design["treatment"][0]
    _, plain = metrics.treatment_balance_curve(score, treatment, 2000)
    _, weighted = metrics.treatment_balance_curve(score, treatment, 2000, propensity=design["propensity"][0])
    share = treatment.mean()
    assert np.max(np.abs(plain - share)) > 0.15  # the north's 80% shows
    assert np.max(np.abs(weighted - share)) < 0.04


def test_cluster_robust_calibration_intervals_cover_where_row_level_ones_do_not():
    """Cluster-randomized stores with their own baselines (strong within-cluster correlation), 200 replications:
    the cluster-robust 95% intervals of the calibration bins and the percentile table's standard errors cover the
    true bin effects 93-97% of the time; treating the rows as independent covers clearly less."""
    design = cluster_design(seed=7, n_replications=200)
    coverage = {"cluster": [], "rows": [], "std cluster": [], "std rows": []}
    for rep in range(200):
        y, score, treatment = design["y"][rep], design["uplift"][rep], design["treatment"][rep]
        for name, cluster in (("cluster", design["cluster"][rep]), ("rows", None)):
            table = metrics.calibration_table(y, score, treatment, propensity=design["propensity"][rep],
                                              cluster=cluster)
            coverage[name].append((table.ci_low <= table.predicted_uplift) & (table.predicted_uplift <= table.ci_high))
            deciles = metrics.uplift_by_percentile(y, score, treatment, std=True, propensity=design["propensity"][rep],
                                                   cluster=cluster)
            half_width = 1.959964 * deciles.std_uplift.to_numpy()
            coverage["std " + name].append(np.abs(deciles.uplift.to_numpy() - table.predicted_uplift.to_numpy())
                                           <= half_width)
    rates = {name: np.mean(values) for name, values in coverage.items()}
    assert 0.93 <= rates["cluster"] <= 0.97, rates
    assert 0.93 <= rates["std cluster"] <= 0.97, rates
    assert rates["rows"] < 0.8 and rates["std rows"] < 0.8, rates


# ---------------------------------------------------------------------------------------------------------
# Several treatments


def three_arm_design(seed: int, n_rows: int):
    """Arms control/email/sms with probabilities that depend on the region (north: 20/60/20, else 50/25/25)."""
    rng = np.random.default_rng(seed)
    north = rng.random(n_rows) < 0.3
    by_arm = np.where(north[:, None], [0.2, 0.6, 0.2], [0.5, 0.25, 0.25])
    arm = (rng.random(n_rows)[:, None] > np.cumsum(by_arm, axis=1)).sum(axis=1)
    labels = np.array(["control", "email", "sms"])[arm]
    effect = np.array([0.0, 0.03, 0.01])[arm]
    y = (rng.random(n_rows) < 0.1 + 0.25 * north + effect).astype(np.float64)
    scores = np.column_stack([0.03 + 0.01 * rng.normal(size=n_rows), 0.01 + 0.01 * rng.normal(size=n_rows)])
    return y, scores, labels, by_arm, north


def test_one_vs_control_and_best_arm_rows_carry_the_design():
    y, scores, labels, by_arm, north = three_arm_design(0, 3000)
    received = by_arm[np.arange(len(y)), np.searchsorted(["control", "email", "sms"], labels)]
    cluster = np.arange(len(y)) // 7
    forms = [by_arm, received]
    for propensity in forms:
        rows = metrics.one_vs_control(y, scores, labels, arm="sms", control="control", arms=["email", "sms"],
                                      propensity=propensity, cluster=cluster)
        keep = np.isin(labels, ["control", "sms"])
        y_sub, score_sub, treatment_sub = rows
        np.testing.assert_array_equal(y_sub, y[keep])
        np.testing.assert_array_equal(rows.propensity, received[keep])
        assert len(np.unique(rows.cluster)) == len(np.unique(cluster[keep]))
        assert metrics.qini_auc_score(*rows, **rows.design) == metrics.qini_auc_score(
            y[keep], scores[keep, 1], treatment_sub, propensity=received[keep])
    constant = metrics.one_vs_control(y, scores[:, 0], labels, arm="email", control="control",
                                      propensity={"control": 0.5, "email": 0.25, "sms": 0.25})
    np.testing.assert_array_equal(constant.propensity, np.where(constant[2] == 1, 0.25, 0.5))
    plain = metrics.one_vs_control(y, scores[:, 0], labels, arm="email", control="control")
    assert plain.design == {"propensity": None, "cluster": None} and len(plain) == 3
    best = metrics.best_arm_rows(y, scores, labels, arms=["email", "sms"], control="control", propensity=by_arm)
    recommended = np.array(["email", "sms"])[np.argmax(scores, axis=1)]
    keep = (labels == recommended) | (labels == "control")
    np.testing.assert_array_equal(best.propensity, received[keep])
    assert metrics.best_arm_score(y, scores, labels, ["email", "sms"], "control", metric="uplift_at_k", k=0.5,
                                  propensity=by_arm) == metrics.uplift_at_k(*best, k=0.5, **best.design)


def test_weighted_one_vs_control_recovers_each_arms_effect():
    """Region-dependent allocation of three arms, 100 replications: the weighted average effect of each arm
    against control is centred on its true effect (3 pp and 1 pp); unweighted, the north's baseline biases it."""
    errors = {(arm, weighted): [] for arm in ("email", "sms") for weighted in (True, False)}
    for rep in range(100):
        y, scores, labels, by_arm, _ = three_arm_design(100 + rep, 6000)
        for arm, truth in (("email", 0.03), ("sms", 0.01)):
            for weighted in (True, False):
                rows = metrics.one_vs_control(y, scores[:, 0], labels, arm=arm, control="control",
                                              propensity=by_arm if weighted else None)
                errors[arm, weighted].append(metrics.weighted_average_uplift(*rows, bins=1, **rows.design) - truth)
    for (arm, weighted), error in errors.items():
        z = np.mean(error) / (np.std(error, ddof=1) / np.sqrt(len(error)))
        assert (abs(z) < 3) if weighted else (z > 10), (arm, weighted, np.mean(error), z)


# ---------------------------------------------------------------------------------------------------------
# Bootstrap: row resamples with weights, cluster resamples (kernels against slow references)


def reference_cluster_bootstrap(metric, y, score, treatment, cluster, n_boot, random_state, propensity=None,
                                metric_kwargs=None):
    """Cluster bootstrap written out: per chunk of resamples a splitmix64 stream (the seeding contract of
    upliftree.metrics.bootstrap), per resample as many treated (control) clusters drawn one at a time from the
    sorted treated (control) cluster ids as there are, or as many clusters from all ids when a cluster holds
    both arms; the metric is called on the rows of the drawn clusters."""
    ids = np.unique(cluster)
    arms_of = [set(treatment[cluster == cluster_id]) for cluster_id in ids]
    if all(len(arms) == 1 for arms in arms_of):
        strata = [[cluster_id for cluster_id, arms in zip(ids, arms_of, strict=True) if arms == {arm}]
                  for arm in (1, 0)]
    else:
        strata = [list(ids)]
    rows_of = {cluster_id: np.flatnonzero(cluster == cluster_id) for cluster_id in ids}
    chunk_sizes = [min(bootstrap_module._BOOTSTRAP_CHUNK, n_boot - start)
                   for start in range(0, n_boot, bootstrap_module._BOOTSTRAP_CHUNK)]
    values = []
    for generator, size in zip(spawn_generators(random_state, len(chunk_sizes)), chunk_sizes, strict=True):
        state = np.array([generator.integers(0, 2**63)], dtype=np.uint64)
        for _ in range(size):
            drawn = [stratum[next_position(state, len(stratum))] for stratum in strata for _ in stratum]
            rows = np.concatenate([rows_of[cluster_id] for cluster_id in drawn])
            if treatment[rows].all() or not treatment[rows].any():
                values.append(np.nan)
                continue
            design = {} if propensity is None else {"propensity": propensity[rows]}
            values.append(metric(y[rows], score[rows], treatment[rows], **design, **(metric_kwargs or {})))
    return np.array(values)


def clustered_experiment(seed, n_clusters, mixed=False, continuous=False):
    """Small cluster-randomized data (whole clusters in one arm unless ``mixed``) with varying probabilities."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, n_clusters)
    cluster = np.repeat(rng.permutation(n_clusters) * 3 + 7, sizes)  # ids neither sorted nor contiguous
    p_cluster = rng.uniform(0.2, 0.8, n_clusters)
    treated_cluster = rng.random(n_clusters) < p_cluster
    treated_cluster[:2] = [True, False]
    p_treated = np.repeat(p_cluster, sizes)
    treatment = np.repeat(treated_cluster, sizes).astype(np.int64)
    if mixed:
        treatment = (rng.random(len(treatment)) < p_treated).astype(np.int64)
        treatment[:2] = [0, 1]
    score = np.round(rng.normal(size=len(treatment)), 1)
    y = (rng.random(len(treatment)) < np.repeat(rng.uniform(0.05, 0.6, n_clusters), sizes)
         + 0.1 * treatment * (score > 0)).astype(np.float64)
    if continuous:
        y = y * rng.gamma(2.0, 10.0, len(y))
    received = np.where(treatment == 1, p_treated, 1.0 - p_treated)
    return y, score, treatment, cluster, received


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_boot=st.integers(1, 70), n_clusters=st.integers(2, 40),
       mixed=st.booleans())
def test_cluster_resampling_kernels_match_drawing_one_cluster_at_a_time(seed, n_boot, n_clusters, mixed):
    """The kernels' draws and curve areas equal those of the reference draws, exactly."""
    y, score, treatment, cluster, received = clustered_experiment(seed, n_clusters, mixed)
    inputs = check_inputs(y, score, treatment, propensity=received, cluster=cluster)
    data = bootstrap_module._prepare_resampling(inputs, [inputs.score])
    layout = data.clusters
    codes = layout.cluster_of_row
    state = np.array([seed], dtype=np.uint64)
    strata = [layout.stratum_clusters[start:stop] for start, stop in zip(layout.stratum_offsets[:-1],
                                                                        layout.stratum_offsets[1:], strict=True)]
    expected = np.zeros((n_boot, len(layout.cluster_treated)), dtype=np.int32)
    for rep in range(n_boot):
        for stratum in strata:
            for _ in stratum:
                expected[rep, stratum[next_position(state, len(stratum))]] += 1
    draws = _kernels.resample_cluster_counts(np.uint64(seed), n_boot, layout.stratum_clusters, layout.stratum_offsets,
                                             len(layout.cluster_treated))
    np.testing.assert_array_equal(draws, expected)
    ordering = order_rows(data.scores[0], data.y, data.treated, data.weight)
    areas, totals = _kernels.cluster_bootstrap_curve_areas(
        np.uint64(seed), n_boot, _kernels.QINI, *layout[:5], *(field[None, :] for field in ordering[:4]),
        ordering.group_ends, np.array([0, len(ordering.group_ends)], dtype=np.int64))
    for rep in range(n_boot):
        counts = expected[rep][codes].astype(np.int32)
        x, values = np.empty(len(ordering.group_ends)), np.empty(len(ordering.group_ends))
        assert areas[rep, 0] == _kernels.curve_points(_kernels.QINI, counts, *ordering, x, values, np.empty(4))
        assert totals[rep, _kernels.FINAL_VALUE] == values[-1]
        assert totals[rep, _kernels.ROWS] == counts.sum()
        assert totals[rep, _kernels.TREATED_ROWS] == counts[data.treated].sum()


@pytest.mark.filterwarnings("ignore:bootstrap_:upliftree.metrics.UndefinedMetricWarning")
@pytest.mark.parametrize("mixed", [False, True])
def test_cluster_bootstrap_matches_the_reference(mixed):
    """bootstrap_ci with cluster (compiled and generic paths) equals the written-out cluster bootstrap."""
    y, score, treatment, cluster, received = clustered_experiment(3, 60, mixed)
    for metric, kwargs in ((metrics.qini_auc_score, {}), (metrics.uplift_auc_score, {}),
                           (metrics.weighted_average_uplift, {"bins": 1}), (metrics.uplift_at_k, {"k": 0.4})):
        for propensity in (None, received):
            reference = reference_cluster_bootstrap(metric, y, score, treatment, cluster, 70, 5, propensity, kwargs)
            defined = reference[~np.isnan(reference)]
            expected = np.percentile(defined, [2.5, 97.5])
            interval = metrics.bootstrap_ci(metric, y, score, treatment, n_boot=70, random_state=5,
                                            metric_kwargs=kwargs, propensity=propensity, cluster=cluster)
            np.testing.assert_allclose(interval, expected, rtol=0, atol=1e-9)


@pytest.mark.filterwarnings("ignore:bootstrap_:upliftree.metrics.UndefinedMetricWarning")
@pytest.mark.parametrize("design", ["propensity", "cluster", "mixed cluster", "both"])
def test_compiled_bootstrap_with_a_design_equals_calling_the_metric(design):
    """The compiled path and the generic path (any callable, given propensity=) see the same resamples."""
    y, score, treatment, cluster, received = clustered_experiment(4, 120, mixed=design == "mixed cluster")
    continuous = clustered_experiment(5, 120, continuous=True)
    other = np.random.default_rng(0).normal(size=len(y))
    arguments = {"propensity": received if design in ("propensity", "both") else None,
                 "cluster": cluster if design != "propensity" else None}
    cases = [(metrics.qini_auc_score, (y, score, treatment), {}),
             (metrics.qini_auc_score, (y, score, treatment), {"negative_effect": False}),
             (metrics.uplift_auc_score, (y, score, treatment), {}),
             (metrics.weighted_average_uplift, (y, score, treatment), {"bins": 1})]
    if design != "mixed cluster":
        cases.append((metrics.qini_auc_score, continuous[:3], {}))
    for metric, data, kwargs in cases:
        def generic(*rows, metric=metric, **extra):
            return metric(*rows, **extra)

        design_arguments = arguments if data[0] is y else {"propensity": None if arguments["propensity"] is None
                                                            else continuous[4], "cluster": None if
                                                            arguments["cluster"] is None else continuous[3]}
        fast = metrics.bootstrap_ci(metric, *data, n_boot=64, random_state=3, metric_kwargs=kwargs,
                                    **design_arguments)
        slow = metrics.bootstrap_ci(generic, *data, n_boot=64, random_state=3, metric_kwargs=kwargs,
                                    **design_arguments)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
        fast = metrics.bootstrap_compare(metric, data[0], data[1], other[:len(data[0])], data[2], n_boot=40,
                                         random_state=4, metric_kwargs=kwargs, **design_arguments)
        slow = metrics.bootstrap_compare(generic, data[0], data[1], other[:len(data[0])], data[2], n_boot=40,
                                         random_state=4, metric_kwargs=kwargs, **design_arguments)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_one_row_clusters_in_score_order_are_the_row_bootstrap():
    """Clusters of one row each, numbered in the rows' score order, draw exactly the row bootstrap's rows."""
    y, score, treatment, _, received = small_experiment(6, n_rows=400, ties=True)
    rank = np.empty(len(y), dtype=np.int64)
    rank[np.argsort(-score, kind="stable")] = np.arange(len(y))
    for metric in ("qini_auc_score", "uplift_auc_score"):
        for propensity in (None, received):
            rows = metrics.bootstrap_ci(metric, y, score, treatment, n_boot=50, random_state=1, propensity=propensity)
            clusters = metrics.bootstrap_ci(metric, y, score, treatment, n_boot=50, random_state=1,
                                            propensity=propensity, cluster=rank)
            assert rows == clusters
    for curve in ("qini", "uplift"):
        for propensity in (None, received):
            rows = metrics.bootstrap_curve_band(y, score, treatment, curve, n_boot=30, random_state=2,
                                                propensity=propensity)
            clusters = metrics.bootstrap_curve_band(y, score, treatment, curve, n_boot=30, random_state=2,
                                                    propensity=propensity, cluster=rank)
            np.testing.assert_array_equal(rows, clusters)


def test_cluster_bootstrap_does_not_depend_on_the_row_order():
    y, score, treatment, cluster, received = clustered_experiment(7, 80)
    order = np.random.default_rng(0).permutation(len(y))
    for metric in ("qini_auc_score", "uplift_auc_score"):
        first = metrics.bootstrap_ci(metric, y, score, treatment, n_boot=60, random_state=3, propensity=received,
                                     cluster=cluster)
        shuffled = metrics.bootstrap_ci(metric, y[order], score[order], treatment[order], n_boot=60, random_state=3,
                                        propensity=received[order], cluster=cluster[order])
        np.testing.assert_allclose(first, shuffled, rtol=0, atol=1e-12)


def test_weighted_and_clustered_curve_bands_are_the_resampled_curves():
    """The band is the pointwise percentile of each resample's curve (its own Hájek weights; a cluster resample
    read at the same shares of rows and scaled to the data's rows)."""
    y, score, treatment, cluster, received = clustered_experiment(8, 50)
    n_rows = len(y)
    for curve, function in (("qini", metrics.qini_curve), ("uplift", metrics.uplift_curve)):
        grid, low, high = metrics.bootstrap_curve_band(y, score, treatment, curve, n_points=21, n_boot=40,
                                                       random_state=6, propensity=received, cluster=cluster)
        curves = []

        def read_curve(y_b, score_b, treatment_b, propensity, function=function, curves=curves, grid=grid):
            x, values = function(y_b, score_b, treatment_b, propensity=propensity)
            curves.append(np.interp(grid * len(y_b) / n_rows, x, values) * n_rows / len(y_b))
            return 0.0

        reference_cluster_bootstrap(read_curve, y, score, treatment, cluster, 40, 6, received)
        expected_low, expected_high = np.percentile(np.array(curves), [2.5, 97.5], axis=0)
        np.testing.assert_allclose(low, expected_low, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(high, expected_high, rtol=1e-9, atol=1e-9)


@pytest.mark.filterwarnings("ignore:bootstrap_:upliftree.metrics.UndefinedMetricWarning")
def test_cluster_bootstrap_of_the_average_effect_covers_where_the_row_bootstrap_does_not():
    """Cluster-randomized stores (strong within-cluster correlation, 80/20 in the north's clusters), 300
    replications: the cluster bootstrap 95% interval of the weighted average effect covers the truth 93-97% of
    the time; resampling rows covers clearly less."""
    design = cluster_design(seed=11, n_replications=300, n_clusters=400)
    covered = {"cluster": [], "rows": []}
    for rep in range(300):
        y, treatment = design["y"][rep], design["treatment"][rep]
        truth = design["uplift"][rep].mean()
        for name, cluster in (("cluster", design["cluster"][rep]), ("rows", None)):
            low, high = metrics.bootstrap_ci("weighted_average_uplift", y, design["uplift"][rep], treatment,
                                             n_boot=200, random_state=rep, metric_kwargs={"bins": 1},
                                             propensity=design["propensity"][rep], cluster=cluster)
            covered[name].append(low <= truth <= high)
    rates = {name: np.mean(values) for name, values in covered.items()}
    assert 0.93 <= rates["cluster"] <= 0.97, rates
    assert rates["rows"] < 0.85, rates


def test_cluster_bootstrap_of_a_no_signal_qini_covers_zero():
    """A store-level score with no signal, 200 replications of the cluster design: the cluster bootstrap interval
    of the weighted Qini coefficient covers 0 about 95% of the time, the row bootstrap clearly less."""
    design = cluster_design(seed=12, n_replications=200, n_clusters=400)
    noise = np.repeat(np.random.default_rng(0).normal(size=(200, 400)), 10, axis=1)
    covered = {"cluster": [], "rows": []}
    for rep in range(200):
        for name, cluster in (("cluster", design["cluster"][rep]), ("rows", None)):
            low, high = metrics.bootstrap_ci("qini_auc_score", design["y"][rep], noise[rep], design["treatment"][rep],
                                             n_boot=200, random_state=rep, propensity=design["propensity"][rep],
                                             cluster=cluster)
            covered[name].append(low <= 0 <= high)
    rates = {name: np.mean(values) for name, values in covered.items()}
    assert 0.92 <= rates["cluster"] <= 0.98, rates
    assert rates["rows"] < 0.85, rates


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
        "uplift_at_k": lambda **design: metrics.uplift_at_k(y, score, t, k=3, **design),
        "uplift_by_percentile": lambda **design: metrics.uplift_by_percentile(y, score, t, bins=2, std=True, **design),
        "response_rate_by_percentile": lambda **design: metrics.response_rate_by_percentile(
            y, score, t, "treatment", bins=2, **design),
        "weighted_average_uplift": lambda **design: metrics.weighted_average_uplift(y, score, t, bins=2, **design),
        "treatment_balance_curve": lambda **design: metrics.treatment_balance_curve(score, t, 2, **design),
        "calibration_table": lambda **design: metrics.calibration_table(y, score, t, bins=2, **design),
        "one_vs_control": lambda **design: metrics.one_vs_control(y, score, t, arm=1, control=0, **design),
        "best_arm_rows": lambda **design: metrics.best_arm_rows(y, score[:, None], t, arms=[1], control=0, **design),
        "best_arm_score": lambda **design: metrics.best_arm_score(y, score[:, None], t, arms=[1], control=0, **design),
        "bootstrap_ci": lambda **design: metrics.bootstrap_ci("qini_auc_score", y, score, t, n_boot=3, **design),
        "bootstrap_ci generic": lambda **design: metrics.bootstrap_ci("uplift_at_k", y, score, t, n_boot=3,
                                                                      metric_kwargs={"k": 3}, **design),
        "bootstrap_compare": lambda **design: metrics.bootstrap_compare("qini_auc_score", y, score, -score, t,
                                                                        n_boot=3, **design),
        "bootstrap_curve_band": lambda **design: metrics.bootstrap_curve_band(y, score, t, n_boot=3, **design),
    }


@pytest.mark.parametrize(("design", "error", "message"), BAD_DESIGNS)
def test_bad_designs_raise_clear_errors_in_every_metric(design, error, message):
    for name, call in design_calls().items():
        if message == "inverses overflow" and name in ("one_vs_control", "best_arm_rows"):
            continue  # they select rows without weighting them; the metric given the rows raises
        with pytest.raises(error, match=message):
            call(**design)
            pytest.fail(f"{name} accepted {design}")


def test_several_arms_need_every_arms_probability():
    y, scores, labels, by_arm, _ = three_arm_design(1, 200)
    with pytest.raises(ValueError, match="a number is the probability of treatment in a two-arm experiment"):
        metrics.one_vs_control(y, scores[:, 0], labels, arm="email", control="control", propensity=0.3)
    with pytest.raises(ValueError, match=r"propensity has no probability for arm\(s\) \['sms'\]"):
        metrics.one_vs_control(y, scores[:, 0], labels, arm="email", control="control",
                               propensity={"control": 0.5, "email": 0.5})
    with pytest.raises(ValueError, match=r"propensity has shape \(200, 2\)"):
        metrics.best_arm_rows(y, scores, labels, arms=["email", "sms"], control="control", propensity=by_arm[:, :2])
