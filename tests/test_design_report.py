"""The report's design (issue 16): its average-effect interval covers the truth under stratified and clustered
designs where the naive interval does not, and its covariate balance is design-weighted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from upliftree.report.evaluation import average_effect

REPLICATIONS = 300  # a standard error of 1.3 points on a coverage of 95%


def _coverage(draw, replications: int, seed: int, **design_wanted) -> float:
    """Share of ``replications`` whose average-effect interval covers the truth ``draw`` returns."""
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(replications):
        truth, y, treated, design = draw(rng)
        effect = average_effect(y, treated, True, 0.05, **{name: design[name] for name in design_wanted})
        covered += effect["low"] <= truth <= effect["high"]
    return covered / replications


def _stratified(rng):
    """80/20 treated in the north (30% of rows, baseline 25 points higher, +0.5 pp), 50/50 elsewhere (+2.5 pp)."""
    n_rows = 4000
    north = rng.random(n_rows) < 0.3
    p_treated = np.where(north, 0.8, 0.5)
    treated = rng.random(n_rows) < p_treated
    y = (rng.random(n_rows) < np.where(north, 0.35, 0.10) + treated * np.where(north, 0.005, 0.025)).astype(float)
    truth = 0.3 * 0.005 + 0.7 * 0.025
    return truth, y, treated, {"propensity": np.where(treated, p_treated, 1 - p_treated)}


def test_the_average_effect_covers_on_a_stratified_design_and_the_unweighted_one_does_not():
    weighted = _coverage(_stratified, REPLICATIONS, 0, propensity=True)
    unweighted = _coverage(_stratified, REPLICATIONS, 0)
    assert 0.92 <= weighted <= 0.98, weighted
    assert unweighted < 0.3, unweighted


def _store_randomized(rng):
    """120 stores of 40 customers, 70% of the stores treated in the north, 40% elsewhere; each store's own
    baseline (strong within-store correlation); effect +3 pp everywhere."""
    n_stores, size = 120, 40
    store = np.repeat(np.arange(n_stores), size)
    north = rng.random(n_stores) < 0.5
    p_treated = np.where(north, 0.7, 0.4)
    treated_store = rng.random(n_stores) < p_treated
    baseline = np.clip(rng.normal(np.where(north, 0.3, 0.15), 0.12), 0.01, 0.9)
    treated = treated_store[store]
    y = (rng.random(len(store)) < baseline[store] + 0.03 * treated).astype(float)
    received = np.where(treated_store, p_treated, 1 - p_treated)[store]
    # Cluster ids shuffled and sparse, as a store number would be.
    ids = rng.permutation(10 * n_stores)[:n_stores][store]
    return 0.03, y, treated, {"propensity": received, "cluster": ids}


def test_the_average_effect_is_cluster_robust_where_the_row_level_interval_is_too_narrow():
    robust = _coverage(_store_randomized, REPLICATIONS, 1, propensity=True, cluster=True)
    row_level = _coverage(_store_randomized, REPLICATIONS, 1, propensity=True)
    assert 0.92 <= robust <= 0.98, robust
    assert row_level < 0.75, row_level


def test_without_a_design_the_average_effect_is_the_unweighted_difference():
    rng = np.random.default_rng(2)
    treated = rng.random(500) < 0.5
    y = (rng.random(500) < 0.2 + 0.1 * treated).astype(float)
    plain = average_effect(y, treated, True, 0.05)
    constant = average_effect(y, treated, True, 0.05, propensity=np.full(500, 0.5))
    assert plain["design"] == "none" and constant["design"].startswith("inverse-probability")
    assert plain["effect"] == y[treated].mean() - y[~treated].mean()
    np.testing.assert_allclose(constant["effect"], plain["effect"], rtol=1e-12)
    # Wald-type design interval against Newcombe's score interval: close on 500 rows.
    np.testing.assert_allclose([constant["low"], constant["high"]], [plain["low"], plain["high"]], atol=0.005)


def test_the_covariate_balance_is_design_weighted_with_a_propensity():
    from upliftree import UpliftTreeClassifier
    from upliftree.report.checks import SMD_WARNING, balance_check, covariate_balance
    from upliftree.report.experiment import experiment_from_frame

    rng = np.random.default_rng(4)
    n_rows = 20_000
    region = rng.choice(["north", "south", "east"], n_rows, p=[0.3, 0.4, 0.3])
    p_treated = np.where(region == "north", 0.8, 0.5)
    treated = rng.random(n_rows) < p_treated
    frame = pd.DataFrame({"region": region, "age": rng.normal(40, 10, n_rows),
                          # recorded after treatment: the treated opened more e-mails
                          "opens": rng.poisson(1.0, n_rows) + treated,
                          "arm": np.where(treated, "mail", "none"), "bought": rng.integers(0, 2, n_rows),
                          "p_arm": np.where(treated, p_treated, 1 - p_treated)})
    experiment = experiment_from_frame(frame, treatment="arm", control="none", outcome="bought", propensity="p_arm")
    schema = UpliftTreeClassifier(max_depth=0, control="none").fit(experiment.X, experiment.treatment,
                                                                   experiment.y).schema_
    args = (experiment.X, experiment.treatment, experiment.arms, schema)
    plain = covariate_balance(*args).set_index(["feature", "level"])
    weighted = covariate_balance(*args, propensity=experiment.propensity).set_index(["feature", "level"])
    assert not plain.attrs["weighted"] and weighted.attrs["weighted"]
    # The stratum looks imbalanced unweighted and is balanced once weighted by the design.
    assert plain.loc[("region", "= north"), "max_abs_smd"] > 0.3
    assert weighted.loc[("region", "= north"), "max_abs_smd"] < 0.03
    # Weighted shares are the population's: 30% north in both arms.
    assert abs(weighted.loc[("region", "= north"), "mail"] - 0.3) < 0.02
    assert abs(weighted.loc[("region", "= north"), "control"] - 0.3) < 0.02
    # A feature the treatment changed is still found, and the check says the SMDs are weighted.
    assert weighted.loc[("opens", "mean"), "max_abs_smd"] > 0.5
    check = balance_check(covariate_balance(*args, propensity=experiment.propensity))
    assert check.level == "warning" and "opens" in check.detail and "region" not in check.detail
    assert "inverse-probability weighted" in check.detail
    assert "weighted" not in balance_check(covariate_balance(*args)).detail
    assert weighted.loc[("age", "mean"), "max_abs_smd"] < SMD_WARNING
