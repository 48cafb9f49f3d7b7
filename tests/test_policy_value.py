"""Offline policy value: unbiasedness and interval coverage against a generator with known outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upliftree import Policy, UpliftTreeClassifier, policy_value

ARMS = np.array(["control", "a", "b"], dtype=object)
ARM_PROBABILITY = np.array([0.5, 0.3, 0.2])
BENEFIT = {"a": 10.0, "b": 10.0}
COST = {"a": 0.5, "b": 0.2}


def expected_outcome(X: pd.DataFrame) -> np.ndarray:
    """True mean outcome of every row under each arm, ``(n, 3)``."""
    x1, x2 = X["x1"].to_numpy(), X["x2"].to_numpy()
    control = 0.2 + 0.1 * x1
    return np.column_stack([control, control + 0.15 * (x1 > 0.5) - 0.05, control + 0.1 * (x2 > 0)])


def features(n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"x1": rng.uniform(0, 1, n_rows), "x2": rng.normal(0, 1, n_rows)})


def experiment(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A randomized experiment with unequal arm probabilities and binary outcomes."""
    rng = np.random.default_rng(seed)
    X = features(n_rows, rng)
    arm = rng.choice(3, n_rows, p=ARM_PROBABILITY)
    y = (rng.random(n_rows) < expected_outcome(X)[np.arange(n_rows), arm]).astype(np.int64)
    return X, ARMS[arm], y


def fixed_rule(X: pd.DataFrame) -> np.ndarray:
    return np.where(X["x1"] > 0.5, "a", np.where(X["x2"] > 0, "b", "control")).astype(object)


@pytest.fixture(scope="module")
def population() -> dict[str, np.ndarray]:
    """True per-arm and fixed-rule values, averaged over a large sample of the features (no outcome noise)."""
    big = features(400_000, np.random.default_rng(12345))
    outcome = expected_outcome(big)
    benefit = np.array([0.0, BENEFIT["a"], BENEFIT["b"]])
    cost = np.array([0.0, COST["a"], COST["b"]])
    arm_outcome = outcome.mean(axis=0)
    code = pd.Index(ARMS).get_indexer(fixed_rule(big))
    chosen = outcome[np.arange(len(big)), code]
    return {
        "arm_outcome": arm_outcome,
        "arm_net": benefit * (arm_outcome - arm_outcome[0]) - cost,
        "rule": np.array([chosen.mean(), (benefit[code] * (chosen - outcome[:, 0]) - cost[code]).mean()]),
    }


def truth_table(population: dict[str, np.ndarray], assigned: np.ndarray) -> pd.DataFrame:
    """The rows of ``policy_value``'s table; random targeting uses ``assigned``'s arm shares, as it does."""
    shares = np.bincount(pd.Index(ARMS).get_indexer(assigned), minlength=3) / len(assigned)
    columns = {}
    for position, (column, arms) in enumerate((("outcome", population["arm_outcome"]),
                                               ("net_value", population["arm_net"]))):
        columns[column] = [population["rule"][position], *arms, shares @ arms]
    return pd.DataFrame(columns, index=["policy", "treat none", "treat all: a", "treat all: b",
                                        "random (same shares)"])


@pytest.mark.parametrize("estimator, propensity", [("ipw", "known"), ("ipw", None), ("dr", None)])
def test_estimates_are_unbiased_and_intervals_cover(population, estimator, propensity):
    n_replications, hits, errors = 100, 0, []
    for replication in range(n_replications):
        X, treatment, y = experiment(1_500, replication)
        assigned = fixed_rule(X)
        known = ARM_PROBABILITY[pd.Index(ARMS).get_indexer(treatment)] if propensity == "known" else None
        table = policy_value(assigned, X, treatment, y, control="control", benefit=BENEFIT, cost=COST,
                             propensity=known, estimator=estimator, n_boot=100, random_state=replication)
        truth = truth_table(population, assigned)
        for column in ("outcome", "net_value"):
            hits += ((table[f"{column}_low"] <= truth[column]) & (truth[column] <= table[f"{column}_high"])).to_numpy()
            errors.append((table[column] - truth[column]).to_numpy())
    coverage = hits / (2 * n_replications)  # per reference row, outcome and net value intervals together
    assert ((coverage >= 0.9) & (coverage <= 0.99)).all(), coverage
    errors = np.array(errors)
    standard_error = errors.std(axis=0) / np.sqrt(len(errors))
    assert (np.abs(errors.mean(axis=0)) < 4 * standard_error + 1e-12).all()


def test_logged_exploration_evaluates_other_policies_without_bias():
    # A tree fitted on one experiment decides; new rows are assigned by its eligibility list with exploration,
    # and the logged probabilities let us evaluate "treat everyone with b" (IPW) and the policy itself (DR,
    # with the tree's predict_outcome) on those rows. Truths come from the known outcome means.
    X_train, treatment_train, y_train = experiment(20_000, 999)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=1_000, control="control", random_state=0)
    model.fit(X_train, treatment_train, y_train)
    policy = Policy(model, benefit=BENEFIT, cost=COST)
    big = features(50_000, np.random.default_rng(54321))
    big_outcome = expected_outcome(big)
    truth = {"treat all b": big_outcome[:, 2].mean(),
             "policy": outcome_of(big, pd.Index(ARMS).get_indexer(policy.decide(big))).mean()}

    errors = {name: [] for name in truth}
    covered = 0
    n_replications = 50
    for replication in range(n_replications):
        rng = np.random.default_rng(replication)
        X = features(2_000, rng)
        logged = policy.eligibility(X, explore=0.4, random_state=replication)
        y = (rng.random(len(X)) < outcome_of(X, pd.Index(ARMS).get_indexer(logged["assigned"]))).astype(np.int64)
        probability = logged["assignment_probability"].to_numpy()
        treat_b = policy_value(np.full(len(X), "b", dtype=object), X, logged["assigned"], y, control="control",
                               propensity=probability, estimator="ipw", n_boot=100, random_state=replication)
        errors["treat all b"].append(treat_b.loc["policy", "outcome"] - truth["treat all b"])
        covered += treat_b.loc["policy", "outcome_low"] <= truth["treat all b"] <= treat_b.loc["policy", "outcome_high"]
        own = policy_value(policy, X, logged["assigned"], y, propensity=probability, n_boot=20,
                           random_state=replication)
        errors["policy"].append(own.loc["policy", "outcome"] - truth["policy"])
    for name, values in errors.items():
        assert abs(np.mean(values)) < 4 * np.std(values) / np.sqrt(n_replications), name
    assert covered >= 0.85 * n_replications


def outcome_of(X: pd.DataFrame, arm: np.ndarray) -> np.ndarray:
    return expected_outcome(X)[np.arange(len(X)), arm]


def test_reference_rows_and_policy_gain():
    X, treatment, y = experiment(3_000, 7)
    table = policy_value(np.full(len(X), "control", dtype=object), X, treatment, y, control="control",
                         estimator="ipw", n_boot=100, random_state=0)
    assert list(table.index) == ["policy", "treat none", "treat all: a", "treat all: b", "random (same shares)"]
    assert table.loc["policy", "net_value"] == 0.0 and table.loc["policy", "treated_share"] == 0.0
    assert table.loc["policy", "outcome"] == pytest.approx(y[treatment == "control"].mean())
    np.testing.assert_allclose(table["policy_gain"], -table["net_value"])
    assert table.attrs == {"estimator": "ipw", "alpha": 0.05, "n_boot": 100, "n_rows": 3_000}


@pytest.mark.parametrize("kwargs, error, match", [
    ({"estimator": "aipw"}, ValueError, "estimator must be one of"),
    ({"propensity": 0.5}, ValueError, "a number is the probability of treatment in a two-arm experiment"),
    ({"propensity": np.zeros(3_000)}, ValueError, r"propensity holds 3000 value\(s\) outside \(0, 1\]"),
    ({"propensity": {"control": 0.5, "a": 0.3, "b": 0.3}}, ValueError, "must sum to 1"),
    ({"propensity": {"control": 0.5, "a": 0.3}}, ValueError, r"no probability for arm\(s\) \['b'\]"),
    ({"n_boot": 0}, ValueError, "n_boot"),
    ({"alpha": 1.5}, ValueError, "alpha"),
    ({"control": None}, ValueError, "control=<label"),
    ({"rule": "top_k"}, ValueError, "need a Policy"),
])
def test_bad_value_arguments(kwargs, error, match):
    X, treatment, y = experiment(3_000, 1)
    arguments = {"control": "control", **kwargs}
    with pytest.raises(error, match=match):
        policy_value(fixed_rule(X), X, treatment, y, **arguments)


def test_assignments_with_unseen_arms_and_policy_conflicts():
    X, treatment, y = experiment(3_000, 2)
    with pytest.raises(ValueError, match="not received by any row"):
        policy_value(np.full(len(X), "c", dtype=object), X, treatment, y, control="control")
    model = UpliftTreeClassifier(max_depth=1, min_samples_leaf=500, control="control").fit(X, treatment, y)
    with pytest.raises(ValueError, match="come from the Policy"):
        policy_value(Policy(model), X, treatment, y, cost=1.0)


# -- without propensity: the arms must not depend on the features ------------------------------------------------
def mixed_features(n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Numeric (with missing values and ties), boolean and categorical columns."""
    x1 = rng.uniform(0, 1, n_rows)
    x1[rng.random(n_rows) < 0.1] = np.nan
    return pd.DataFrame({"x1": x1, "x2": rng.normal(0, 1, n_rows), "visits": rng.poisson(2, n_rows),
                         "opted_in": rng.random(n_rows) < 0.8,
                         "region": rng.choice(["north", "south", "east", "west", "rare"], n_rows,
                                              p=[0.4, 0.3, 0.2, 0.095, 0.005])})


def test_randomized_experiments_are_not_refused():
    # >= 95% required; the documented threshold (1e-3 after Bonferroni) refuses about 1 in 1,000.
    refused = 0
    for replication in range(200):
        rng = np.random.default_rng(replication)
        n_rows = int(rng.integers(300, 3_000))
        X = mixed_features(n_rows, rng)
        arms = np.array(["control", "a", "b"][: 2 + replication % 2], dtype=object)
        treatment = arms[rng.choice(len(arms), n_rows, p=[0.6, 0.4] if len(arms) == 2 else [0.5, 0.3, 0.2])]
        y = rng.random(n_rows) < 0.3
        assigned = np.where(X["x2"] > 0, arms[-1], "control").astype(object)
        try:
            policy_value(assigned, X, treatment, y, control="control", n_boot=1, random_state=0)
        except ValueError as error:
            assert "propensity=" in str(error)
            refused += 1
    assert refused <= 0.05 * 200, refused


def logged_by_policy(n_rows: int, seed: int, explore: float = 0.05):
    """Rows a fitted policy decided on, with a small exploration bucket, and their outcomes."""
    X_train, treatment_train, y_train = experiment(20_000, 999)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=1_000, control="control", random_state=0)
    policy = Policy(model.fit(X_train, treatment_train, y_train), benefit=BENEFIT, cost=COST)
    rng = np.random.default_rng(seed)
    X = features(n_rows, rng)
    logged = policy.eligibility(X, explore=explore, random_state=seed)
    y = (rng.random(n_rows) < outcome_of(X, pd.Index(ARMS).get_indexer(logged["assigned"]))).astype(np.int64)
    return policy, X, logged, y


def test_logged_policy_data_without_propensity_is_refused():
    treat_b = None
    for seed in range(20):
        policy, X, logged, y = logged_by_policy(2_000, seed)
        treat_b = np.full(len(X), "b", dtype=object)
        with pytest.raises(ValueError, match=r"not randomized with fixed probabilities.*propensity=<the logged"):
            policy_value(treat_b, X, logged["assigned"], y, control="control", n_boot=10)
        with pytest.raises(ValueError, match="propensity="):
            policy_value(policy, X, logged["assigned"], y, n_boot=10)
    # With the logged probabilities the same call is fine.
    table = policy_value(treat_b, X, logged["assigned"], y, control="control", n_boot=10,
                         propensity=logged["assignment_probability"].to_numpy())
    assert np.isfinite(table.loc["policy", "outcome"])


def clustered_experiment(n_clusters: int, seed: int, rows_per_cluster: int = 20):
    """Arms randomized by cluster (p = 0.5), a cluster-level feature, outcomes with a cluster effect."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), rows_per_cluster)
    level = rng.normal(0, 1, n_clusters)
    X = pd.DataFrame({"cluster_size": np.repeat(rng.normal(0, 1, n_clusters), rows_per_cluster),
                      "x": rng.normal(0, 1, len(cluster))})
    treated = rng.random(n_clusters) < 0.5
    arm = np.where(treated[cluster], "a", "control").astype(object)
    y = level[cluster] + 0.5 * X["x"].to_numpy() + 0.3 * treated[cluster] + rng.normal(0, 1, len(cluster))
    return X, arm, y, cluster


def test_cluster_randomized_experiments_are_tested_per_cluster():
    from upliftree.policy.randomization import arm_dependence

    refused = naive = 0
    for seed in range(100):
        X, arm, y, cluster = clustered_experiment(60, seed)
        try:
            policy_value(np.full(len(X), "a", dtype=object), X, arm, y, control="control", cluster=cluster,
                         n_boot=1)
        except ValueError:
            refused += 1
        codes = (arm == "a").astype(np.int64)
        naive += arm_dependence({"cluster_size": X["cluster_size"].to_numpy()}, codes).clear
    assert refused <= 5
    assert naive >= 50  # rows of a cluster are not independent draws: a row-level test refuses most of them


def test_cluster_bootstrap_covers_and_row_bootstrap_does_not():
    truth = pd.Series({"treat none": 0.0, "treat all: a": 0.3})  # E[level] = E[x] = 0
    covered = {True: 0, False: 0}
    n_replications = 100
    for seed in range(n_replications):
        X, arm, y, cluster = clustered_experiment(80, 1_000 + seed, rows_per_cluster=8)
        for by_cluster in (True, False):
            table = policy_value(np.full(len(X), "a", dtype=object), X, arm, y, control="control",
                                 propensity={"control": 0.5, "a": 0.5}, estimator="ipw", n_boot=100,
                                 cluster=cluster if by_cluster else None, random_state=seed).loc[truth.index]
            covered[by_cluster] += ((table["outcome_low"] <= truth) & (truth <= table["outcome_high"])).to_numpy()
    assert (covered[True] >= 0.86 * n_replications).all(), covered  # measured: 92-93% over 300 replications
    assert (covered[False] <= 0.75 * n_replications).all(), covered


def test_the_design_columns_themselves_are_not_tested():
    X, treatment, y = experiment(3_000, 11)
    full = X.assign(treatment=treatment, outcome=y)
    policy_value(fixed_rule(X), full, full["treatment"], full["outcome"], control="control", n_boot=5)
    with pytest.raises(ValueError, match="depend on 'opened'.*recorded after treatment, leave it out of X"):
        policy_value(fixed_rule(X), full.assign(opened=(treatment != "control") & (y == 1)), treatment, y,
                     control="control", n_boot=5)
    # A Policy decides on its model's features: only those (and its assignments) are tested.
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=300, control="control").fit(X, treatment, y)
    policy_value(Policy(model, benefit=BENEFIT, cost=COST), full.assign(opened=treatment != "control"), treatment, y,
                 n_boot=5)
