"""DRUpliftTree: doubly robust segments on observational data, with honest intervals that cover, exported like any
tree (issue 17)."""

from __future__ import annotations

import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

import upliftree
from upliftree import DRUpliftTree, UpliftTreeRegressor
from upliftree.learners import doubly_robust_scores

FEATURES = ["x0", "x1", "x2"]
# A large sample of the feature distribution: the true average effect of any leaf is the mean of tau over the
# sample's rows in it (Monte Carlo error about 0.005, against leaf intervals about 0.5 wide).
REFERENCE = pd.DataFrame(np.random.default_rng(2026).uniform(-1.0, 1.0, (100_000, 3)), columns=FEATURES)


def true_effect(X: np.ndarray) -> np.ndarray:
    return np.where(X[:, 1] > 0.0, 1.0, 0.0) + 0.5 * X[:, 2]


REFERENCE_EFFECT = true_effect(REFERENCE.to_numpy())


def confounded(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Observational rows: x0 raises both the chance of treatment (logistic) and the outcome, so treated rows of
    any leaf have a higher baseline; the effect steps with x1 and grows with x2. Returns X, treatment, y and the
    true probability of each row's arm."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n_rows, 3))
    treated_probability = 1.0 / (1.0 + np.exp(-2.0 * x[:, 0]))
    treatment = (rng.random(n_rows) < treated_probability).astype(np.int64)
    y = 2.0 * x[:, 0] + x[:, 2] + treatment * true_effect(x) + rng.standard_normal(n_rows)
    received = np.where(treatment == 1, treated_probability, 1.0 - treated_probability)
    return pd.DataFrame(x, columns=FEATURES), treatment, y, received


def leaf_coverage(model) -> np.ndarray:
    """Whether each leaf's 95% interval (segment table) holds the leaf's true average effect."""
    leaves = model.apply(REFERENCE)
    n_nodes = model.tree_.n_nodes
    truth = np.bincount(leaves, weights=REFERENCE_EFFECT, minlength=n_nodes) / np.maximum(
        np.bincount(leaves, minlength=n_nodes), 1)
    segments = model.segments(alpha=0.05)
    leaf_truth = truth[segments["leaf_id"].to_numpy()]
    return ((segments["ci_low"] <= leaf_truth) & (leaf_truth <= segments["ci_high"])).to_numpy()


N_REPLICATIONS = 100
TREE_SETTINGS = dict(max_depth=3, min_samples_leaf=100, min_samples_treatment=10)


@pytest.fixture(scope="module")
def coverage() -> dict[str, np.ndarray]:
    """Leaf coverage over 100 confounded experiments of 2,000 rows: the DR tree with an estimated (logistic,
    correctly specified) propensity and with the known one, both with per-arm linear outcome models (wrong for
    the treated arm's step), and the plain honest uplift tree."""
    found: dict[str, list] = {"estimated": [], "known": [], "plain": []}
    for seed in range(N_REPLICATIONS):
        X, treatment, y, received = confounded(2000, seed)
        settings = dict(cv=2, random_state=seed, n_jobs=1, **TREE_SETTINGS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # overlap warnings of the few extreme propensities
            estimated = DRUpliftTree(LinearRegression(), LogisticRegression(solver="newton-cholesky"),
                                     **settings).fit(X, treatment, y)
            known = DRUpliftTree(LinearRegression(), **settings).fit(X, treatment, y, propensity=received)
        plain = UpliftTreeRegressor(honest=True, random_state=seed, **TREE_SETTINGS).fit(X, treatment, y)
        for name, model in (("estimated", estimated), ("known", known), ("plain", plain)):
            found[name].append(leaf_coverage(model))
    return {name: np.concatenate(values) for name, values in found.items()}


@pytest.mark.parametrize("propensity", ["estimated", "known"])
def test_dr_leaf_intervals_cover_the_true_leaf_effect(coverage, propensity) -> None:
    covered = coverage[propensity]
    assert len(covered) >= 4 * N_REPLICATIONS  # several leaves per tree: the rate is pooled over all of them
    assert 0.93 <= covered.mean() <= 0.97, f"{propensity} propensity: {covered.mean():.3f} of {len(covered)}"


def test_plain_honest_tree_intervals_miss_under_confounding(coverage) -> None:
    """The same leaves' raw difference of arm means is biased by x0 (treated rows have a higher baseline)."""
    assert coverage["plain"].mean() < 0.6  # about 0.46, against 0.96 for the DR tree on the same data


def clustered(n_clusters: int, size: int, seed: int):
    """Clusters of ``size`` rows treated as a whole with probability ``sigmoid(1.5 x0)`` (``x0`` a cluster
    feature, which also raises the outcome), and a shock shared by each cluster's outcomes. Returns X, treatment,
    y, the known probability of each row's arm and the cluster ids."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    x = rng.uniform(-1.0, 1.0, (n_clusters * size, 3))
    x[:, 0] = rng.uniform(-1.0, 1.0, n_clusters)[cluster]
    treated_probability = 1.0 / (1.0 + np.exp(-1.5 * x[:, 0]))
    treatment = (rng.random(n_clusters) < treated_probability[::size]).astype(np.int64)[cluster]
    shock = rng.standard_normal(n_clusters)[cluster]
    y = 2.0 * x[:, 0] + x[:, 2] + shock + treatment * true_effect(x) + rng.standard_normal(len(cluster))
    received = np.where(treatment == 1, treated_probability, 1.0 - treated_probability)
    return pd.DataFrame(x, columns=FEATURES), treatment, y, received, cluster


def test_cluster_robust_leaf_intervals_cover_and_row_intervals_do_not() -> None:
    """100 cluster-assigned experiments (150 clusters of 10 rows, known propensity): with cluster= the folds, the
    honest split and the intervals keep clusters whole and the leaf intervals cover; without it the same scores'
    row-level intervals are too narrow."""
    found: dict[str, list] = {"cluster": [], "rows": []}
    for seed in range(N_REPLICATIONS):
        X, treatment, y, received, cluster = clustered(150, 10, seed)
        settings = dict(cv=2, max_depth=1, min_samples_leaf=200, random_state=seed, n_jobs=1)
        found["cluster"].append(leaf_coverage(DRUpliftTree(LinearRegression(), **settings).fit(
            X, treatment, y, propensity=received, cluster=cluster)))
        found["rows"].append(leaf_coverage(DRUpliftTree(LinearRegression(), **settings).fit(
            X, treatment, y, propensity=received)))
    by_cluster, by_row = np.concatenate(found["cluster"]), np.concatenate(found["rows"])
    assert len(by_cluster) >= 2 * N_REPLICATIONS
    assert 0.93 <= by_cluster.mean() <= 0.97, f"{by_cluster.mean():.3f} of {len(by_cluster)}"  # 0.96
    assert by_row.mean() < 0.85, f"{by_row.mean():.3f}"  # about 0.73


@pytest.fixture(scope="module")
def observational():
    X, treatment, y, received = confounded(4000, 7)
    X = X.assign(region=pd.Categorical(np.random.default_rng(1).choice(["north", "south", "east"], len(y))))
    return X, treatment, y, received


def small_boosting(binary: bool = False):
    options = dict(max_iter=10, max_leaf_nodes=7)
    return (HistGradientBoostingClassifier(**options) if binary else HistGradientBoostingRegressor(**options),
            HistGradientBoostingClassifier(**options))


@pytest.fixture(scope="module")
def fitted(observational):
    X, treatment, y, _ = observational
    outcome_model, propensity_model = small_boosting()
    return DRUpliftTree(outcome_model, propensity_model, cv=3, max_depth=3, random_state=0).fit(X, treatment, y)


def test_leaves_are_mean_scores_of_held_out_rows(observational) -> None:
    """A leaf's uplift is the mean pseudo-outcome of its estimation rows, its interval the scores' sandwich
    interval (t quantile), and the tree grown on the other rows; with honest=False on all rows."""
    X, treatment, y, received = observational
    scores = doubly_robust_scores(X, treatment, y, propensity=received, outcome_model=LinearRegression(), cv=3,
                                  random_state=0)
    model = DRUpliftTree(cv=3, max_depth=2, random_state=0).fit_scores(X, scores)
    leaves = model.apply(X)
    segments = model.segments().set_index("leaf_id")
    structure = DRUpliftTree(cv=3, max_depth=2, honest=False, random_state=0).fit_scores(X, scores)
    assert structure.honest_estimates_ is False and model.honest_estimates_ is True
    total_rows = 0
    for leaf, row in segments.iterrows():
        in_leaf = leaves == leaf
        # Estimation rows are those of the leaf the honest split held out: the leaf's counts say how many.
        n_leaf = int(row["n_0"] + row["n_1"])
        total_rows += n_leaf
        assert n_leaf < in_leaf.sum()
        low, high = row["ci_low"], row["ci_high"]
        assert low < row["uplift"] < high
    assert total_rows == pytest.approx(len(y) / 2, abs=2)
    # All rows (honest=False): the mean and the sandwich interval of each leaf's scores, exactly.
    leaves = structure.apply(X)
    table = structure.segments().set_index("leaf_id")
    from scipy import stats

    for leaf, row in table.iterrows():
        rows = leaves == leaf
        assert row["uplift"] == pytest.approx(scores.mean(rows)[0], rel=1e-10)
        half_width = (row["ci_high"] - row["ci_low"]) / 2
        z_width = 1.959963984540054 * scores.standard_error(rows)[0]
        dof_low, dof_high = rows.sum() - 1, 2 * (rows.sum() - 1)
        assert stats.norm.ppf(0.975) * half_width / stats.t.ppf(0.975, dof_low) <= z_width * (1 + 1e-9)
        assert z_width <= stats.norm.ppf(0.975) * half_width / stats.t.ppf(0.975, dof_high) * (1 + 1e-9)
        assert row["n_1"] == int(((treatment == 1) & rows).sum())
    outcome_means = structure.predict_outcome(X)
    potential = scores.potential_outcome_scores()
    np.testing.assert_allclose(outcome_means[leaves == leaves[0]][0], potential[leaves == leaves[0]].mean(axis=0))
    np.testing.assert_allclose(potential[:, 1] - potential[:, 0], scores.pseudo_outcomes[:, 0], atol=1e-12)


def test_fit_is_doubly_robust_scores_then_fit_scores(observational) -> None:
    X, treatment, y, received = observational
    model = DRUpliftTree(LinearRegression(), cv=3, max_depth=2, random_state=0).fit(X, treatment, y,
                                                                                    propensity=received)
    again = DRUpliftTree(LinearRegression(), cv=3, max_depth=2, random_state=0).fit(X, treatment, y,
                                                                                    propensity=received)
    assert model.to_json() == again.to_json()
    assert model.overlap_.estimated is False


def test_sql_in_duckdb_equals_predict_and_json_round_trip_is_exact(fitted, observational, tmp_path) -> None:
    X = observational[0]
    frame = X.assign(region=X["region"].astype(str))  # noqa: F841  (DuckDB reads the local variable by name)
    scored = duckdb.sql(fitted.to_sql("frame", "duckdb")).df()
    np.testing.assert_array_equal(scored["leaf_id"].to_numpy(), fitted.apply(X))
    np.testing.assert_array_equal(scored["uplift"].to_numpy(), fitted.predict(X))
    fitted.save(tmp_path / "dr.json")
    loaded = upliftree.load(tmp_path / "dr.json")
    assert type(loaded) is DRUpliftTree and loaded.to_json() == fitted.to_json()
    assert loaded.outcome_model is None and loaded.get_params()["cv"] == 3
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    pd.testing.assert_frame_equal(loaded.segments(), fitted.segments())
    for name in ("value", "stats", "design_moments", "threshold"):
        np.testing.assert_array_equal(getattr(loaded.tree_, name), getattr(fitted.tree_, name))
    assert not hasattr(loaded, "overlap_") and fitted.overlap_.n_outside >= 0


def test_it_is_an_ordinary_tree(fitted, observational, tmp_path) -> None:
    """Segments, rules, drawings, Policy, policy_value and Dask scoring take it like any tree."""
    import dask.dataframe as dd

    import upliftree.dask
    from upliftree import Policy, policy_value

    X, treatment, y, received = observational
    segments = fitted.segments()
    assert len(segments) == fitted.n_leaves_ and segments["honest"].all()
    assert fitted.rules("markdown").startswith("| segment | rule |")
    assert fitted.to_dot().startswith("digraph")
    assert fitted.plot(tmp_path / "tree.svg", renderer="matplotlib").exists()
    policy = Policy(fitted, benefit=1.0, cost=0.2)
    sheet = policy.segment_sheet()
    assert set(sheet["leaf_id"]) == set(fitted.tree_.leaf_ids)
    decision = policy.decide(X)
    np.testing.assert_array_equal(decision, np.where(fitted.predict(X) > 0.2, 1, 0))
    value = policy_value(policy, X, treatment, y, propensity=received, n_boot=50, random_state=0)
    assert {"policy", "treat none"} <= set(value.index) and np.isfinite(value.loc["policy", "net_value"])
    frame = dd.from_pandas(X, npartitions=3, sort=False)
    np.testing.assert_array_equal(upliftree.dask.predict(fitted, frame).compute().to_numpy(), fitted.predict(X))


def test_several_treatments_share_one_tree(observational) -> None:
    X = observational[0]
    rng = np.random.default_rng(3)
    treatment = rng.choice(["control", "email", "sms"], len(X))
    y = (2.0 * X["x0"] + rng.standard_normal(len(X)) + np.where(treatment == "email", X["x1"] > 0, 0.0)
         - np.where(treatment == "sms", X["x2"] > 0.5, 0.0)).to_numpy()
    model = DRUpliftTree(LinearRegression(), cv=2, max_depth=2, control="control", random_state=0).fit(
        X, treatment, y, propensity={"control": 1 / 3, "email": 1 / 3, "sms": 1 / 3})
    assert model.predict(X).shape == (len(y), 2)
    assert set(model.tree_.feature[model.tree_.feature >= 0]) <= {1, 2}  # the two effect modifiers
    assert len(model.segments()) == 2 * model.n_leaves_
    frame = X.assign(region=X["region"].astype(str))  # noqa: F841
    scored = duckdb.sql(model.to_sql("frame", "duckdb")).df()
    np.testing.assert_array_equal(scored[["uplift_email", "uplift_sms"]].to_numpy(), model.predict(X))


def test_binary_outcome_and_clusters(observational) -> None:
    """A binary outcome with classifiers; with clusters the intervals are cluster-robust (wider than the rows'
    when clusters share a shock) and the honest split keeps clusters whole."""
    X, treatment, _, received = observational
    rng = np.random.default_rng(5)
    cluster = np.arange(len(treatment)) // 20
    shock = rng.normal(0, 1.0, cluster.max() + 1)[cluster]
    y = (rng.random(len(treatment)) < 1 / (1 + np.exp(-(X["x0"].to_numpy() + shock + treatment)))).astype(int)
    settings = dict(cv=3, max_depth=1, random_state=0)
    by_cluster = DRUpliftTree(LogisticRegression(), **settings).fit(X, treatment, y, propensity=received,
                                                                    cluster=cluster)
    rows = DRUpliftTree(LogisticRegression(), **settings).fit(X, treatment, y, propensity=received)
    assert by_cluster.outcome_type_ == "binary"
    held_out = by_cluster.tree_.stats[0, :, 0].sum()
    assert held_out % 20 == 0 and held_out == pytest.approx(len(y) / 2, abs=40)  # whole clusters of 20 rows
    width = lambda model: (model.segments()["ci_high"] - model.segments()["ci_low"]).mean()  # noqa: E731
    assert width(by_cluster) > width(rows)


def test_bad_input_is_refused_clearly(observational) -> None:
    X, treatment, y, received = observational
    binary_y = (y > 0).astype(int)
    with pytest.raises(TypeError, match="outcome_model must be a classifier with predict_proba"):
        DRUpliftTree(LinearRegression(), cv=2).fit(X, treatment, binary_y)
    with pytest.raises(TypeError, match="propensity_model must be a classifier with predict_proba"):
        DRUpliftTree(LinearRegression(), LinearRegression(), cv=2).fit(X, treatment, y)
    with pytest.raises(ValueError, match="cv must be an integer >= 2"):
        DRUpliftTree(cv=1).fit(X, treatment, y)
    few_treated = np.zeros_like(treatment)
    few_treated[:3] = 1
    with pytest.raises(ValueError, match="arm 1 has 3 rows, fewer than cv=5"):
        DRUpliftTree(LinearRegression()).fit(X, few_treated, y, propensity=0.5)
    certain = received.copy()
    certain[0] = 1.0
    with pytest.raises(ValueError, match="probability 1"):
        DRUpliftTree(LinearRegression(), cv=2).fit(X, treatment, y, propensity=certain)
    impossible = received.copy()
    impossible[0] = 0.0
    with pytest.raises(ValueError, match="propensity"):
        DRUpliftTree(LinearRegression(), cv=2).fit(X, treatment, y, propensity=impossible)
    with pytest.raises(ValueError, match="propensity=1.0 must be in"):
        DRUpliftTree(LinearRegression(), cv=2).fit(X, treatment, y, propensity=1.0)
    with pytest.raises(ValueError, match="honest_fraction"):
        DRUpliftTree(honest_fraction=1.0).fit(X, treatment, y)
    with pytest.raises(TypeError, match="scores must be the DRScores"):
        DRUpliftTree().fit_scores(X, np.zeros(len(y)))
    scores = doubly_robust_scores(X, treatment, y, propensity=received, outcome_model=LinearRegression(), cv=2)
    with pytest.raises(ValueError, match="X has 10 rows but scores has"):
        DRUpliftTree().fit_scores(X.iloc[:10], scores)
    with pytest.raises(ValueError, match="structure rows of the honest split"):
        DRUpliftTree(min_samples_treatment=1500, min_samples_leaf=1).fit_scores(X, scores)


def test_same_random_state_same_tree_for_any_n_jobs(observational) -> None:
    X, treatment, y, _ = observational
    documents = set()
    for n_jobs in (1, 2, None):
        outcome_model, propensity_model = small_boosting()
        model = DRUpliftTree(outcome_model, propensity_model, cv=3, random_state=11, n_jobs=n_jobs)
        documents.add(model.fit(X, treatment, y).to_json().replace(f'"n_jobs": {n_jobs}', '"n_jobs": null'))
    assert len(documents) == 1
    outcome_model, propensity_model = small_boosting()
    other = DRUpliftTree(outcome_model, propensity_model, cv=3, random_state=12).fit(X, treatment, y)
    assert other.to_json() not in documents


@pytest.mark.parametrize("seed", range(5))
def test_row_unit_moments_are_the_design_moments_of_rows_in_every_arm(fitted, seed) -> None:
    """The fast path (every row its own unit) equals design.design_moments over the arm-major copies of the rows,
    with each row's copies in one unit."""
    from upliftree.design import design_moments
    from upliftree.dr_tree import row_unit_moments

    rng = np.random.default_rng(seed)
    tree = fitted.tree_
    n_rows, n_arms = int(rng.integers(1, 300)), int(rng.integers(2, 5))
    leaves = rng.choice(tree.leaf_ids, n_rows)
    weight = rng.choice([0.0, 0.5, 1.0, 3.0], n_rows)
    scores = rng.normal(0, 2, (n_rows, n_arms))
    expected = design_moments(tree.parent, np.tile(leaves, n_arms), np.repeat(np.arange(n_arms), n_rows),
                              np.tile(weight, n_arms), scores.T.reshape(-1), np.tile(np.arange(n_rows), n_arms),
                              n_arms)
    np.testing.assert_allclose(row_unit_moments(tree.parent, leaves, weight, scores), expected, rtol=1e-12,
                               atol=1e-9)


def test_command_line_and_drift_monitoring_take_its_model_file(observational, tmp_path) -> None:
    """`upliftree score` and `rules` read a saved DR tree; its training profile survives the file."""
    from typer.testing import CliRunner

    from upliftree import monitor
    from upliftree.cli import app

    X, treatment, y, received = observational
    model = DRUpliftTree(LinearRegression(), cv=2, max_depth=2, random_state=0).fit(X, treatment, y,
                                                                                    propensity=received)
    monitor.record_training_profile(model, X)
    model.save(tmp_path / "dr.json")
    X.to_csv(tmp_path / "rows.csv", index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["score", str(tmp_path / "dr.json"), str(tmp_path / "rows.csv"), "--out",
                                 str(tmp_path / "scored.csv"), "--quiet"])
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(pd.read_csv(tmp_path / "scored.csv")["uplift"], model.predict(X), rtol=1e-12)
    result = runner.invoke(app, ["rules", str(tmp_path / "dr.json")])
    assert result.exit_code == 0 and "uplift" in result.stdout
    loaded = upliftree.load(tmp_path / "dr.json")
    assert loaded.training_profile_ == model.training_profile_
    assert len(monitor.drift_report(loaded, X)) > 0
