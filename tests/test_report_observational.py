"""Observational data in the report (issue 17): ``--propensity estimate`` recovers the average effect of a
confounded design where the unweighted report is biased (and its design check fails), the estimated-propensity
interval covers the truth, a DR tree's held-out check uses doubly robust scores, and the arms table is weighted."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from upliftree import DRUpliftTree
from upliftree.cli import app
from upliftree.learners import cross_fitted_propensity, doubly_robust_scores
from upliftree.report import ReportSettings, experiment_from_frame, make_report
from upliftree.report.context import arm_outcomes
from upliftree.report.evaluation import average_effect
from upliftree.report.exports import held_out_effects

REPLICATIONS = 100
FAST = {"n_estimators": 10, "n_boot": 20, "learners": (), "max_depth": 2, "min_samples_leaf": 200}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _confounded(n_rows: int, seed: int) -> tuple[pd.DataFrame, float]:
    """x1 drives both the arm (P(treated) = sigmoid(1.5 x1)) and the outcome's baseline; the effect is 0.4 on
    the log-odds scale, 0.8 where x2 > 0. Returns the table and the true average effect of its rows."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n_rows))
    treated = rng.random(n_rows) < _sigmoid(1.5 * x1)
    base, lifted = _sigmoid(-1.0 + 1.5 * x1), _sigmoid(-0.6 + 1.5 * x1 + 0.4 * (x2 > 0))
    y = (rng.random(n_rows) < np.where(treated, lifted, base)).astype(int)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "t": treated.astype(int), "y": y})
    return frame, float((lifted - base).mean())


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The same confounded table reported without a propensity (Python) and with ``--propensity estimate``
    (the command line)."""
    frame, truth = _confounded(8000, 1)
    folder = tmp_path_factory.mktemp("observational")
    frame.to_csv(folder / "data.csv", index=False)
    experiment = experiment_from_frame(frame, treatment="t", control=0, outcome="y", features=["x1", "x2", "x3"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        naive = make_report(experiment, folder / "naive", ReportSettings(**FAST))
    result = CliRunner().invoke(app, [
        "report", str(folder / "data.csv"), "-t", "t", "-c", "0", "-y", "y", "-o", str(folder / "estimate"),
        "--propensity", "estimate", "--n-estimators", "10", "--n-boot", "20", "--learners", "none",
        "--max-depth", "2", "--min-samples-leaf", "200", "--quiet"])
    assert result.exit_code == 0, result.output
    return truth, naive, folder / "estimate"


def test_estimate_recovers_the_average_effect_where_the_unweighted_report_is_biased(reports):
    truth, naive, estimate = reports
    naive_effect = json.loads((naive.out_dir / "report.json").read_text())["effects"][0]
    numbers = json.loads((estimate / "report.json").read_text())
    effect = numbers["effects"][0]
    assert effect["low"] <= truth <= effect["high"], (truth, effect)
    assert abs(effect["effect"] - truth) < 0.04
    assert naive_effect["effect"] > truth + 0.15 and naive_effect["low"] > truth  # confounding: far too high
    # The unweighted report's design check names the confounder; the observational one says what it assumes.
    design = naive.checks[0]
    assert design.level == "failed" and "x1" in design.title
    checks = {check["title"]: check for check in numbers["checks"]}
    observational = next(check for title, check in checks.items() if title.startswith("Observational data"))
    assert observational["level"] == "warning" and "unmeasured confounding" in observational["detail"]
    assert "x1" in observational["detail"]
    # The confounder is kept (in observational data it differs by arm by confounding, not by leakage).
    assert not any(check["level"] == "failed" for check in numbers["checks"])


def test_estimate_features_the_dr_tree_and_shows_the_overlap(reports):
    _, _, estimate = reports
    numbers = json.loads((estimate / "report.json").read_text())
    assert numbers["design"]["propensity"] == "estimate"
    propensity = numbers["propensity"]
    assert propensity["clip"] == 0.01 and [row["arm"] for row in propensity["overlap"]] == ["0", "1"]
    quantiles = {row["arm"]: row for row in propensity["quantiles"]}
    assert quantiles["1"]["q50"] > quantiles["0"]["q50"] + 0.2  # the treated were likelier to be treated
    assert quantiles["0"]["n"] + quantiles["1"]["n"] == numbers["n_rows"]
    html = (estimate / "report.html").read_text()
    for marker in ('id="overlap"', 'id="propensity-table"', 'id="overlap-table"', 'id="propensity-figure"',
                   'id="observational-warning"', "Honest DR uplift tree", 'id="arms-weighted"'):
        assert marker in html, marker
    assert (estimate / "propensity.png").stat().st_size > 1000
    models = [row["model"] for row in numbers["scores"]["1"]]
    assert "uplift tree" in models and "uplift tree (IPW)" in models
    model = json.loads((estimate / "model.json").read_text())
    assert "DRUpliftTree" in json.dumps(model)[:2000]
    segments = pd.DataFrame(numbers["segments"])
    assert np.isfinite(segments[["held_out_uplift", "held_out_ci_low", "held_out_ci_high"]].to_numpy()).all()


def _coverage_draw(rng):
    frame, _ = _confounded(1000, int(rng.integers(2**31)))
    return frame


def test_the_average_effect_with_estimated_propensities_covers_and_the_unweighted_one_does_not():
    """The report's average-effect interval with cross-fitted propensities (a logistic model here, for speed;
    the report's is gradient boosting): it treats them as known, which is conservative for inverse-probability
    weighting (Hirano, Imbens & Ridder 2003), so coverage is at least nominal."""
    from sklearn.linear_model import LogisticRegression

    big = np.random.default_rng(123).normal(size=(2, 1_000_000))
    truth = float((_sigmoid(-0.6 + 1.5 * big[0] + 0.4 * (big[1] > 0)) - _sigmoid(-1.0 + 1.5 * big[0])).mean())
    rng = np.random.default_rng(0)
    covered = naive = 0
    for replication in range(REPLICATIONS):
        frame = _coverage_draw(rng)
        features, treated, y = frame[["x1", "x2", "x3"]], frame["t"].to_numpy(), frame["y"].to_numpy(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimate = cross_fitted_propensity(features, treated, propensity_model=LogisticRegression(
                solver="newton-cholesky"), cv=3, random_state=replication, n_jobs=1)
        weighted = average_effect(y, treated == 1, True, 0.05, propensity=estimate.received)
        plain = average_effect(y, treated == 1, True, 0.05)
        covered += weighted["low"] <= truth <= weighted["high"]
        naive += plain["low"] <= truth <= plain["high"]
    assert 0.93 <= covered / REPLICATIONS <= 1.0, covered
    assert naive / REPLICATIONS < 0.1, naive


def test_cross_fitted_propensity_clips_by_the_learners_rule_and_reports_the_overlap():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 2))
    treated = (rng.random(3000) < _sigmoid(4.0 * X[:, 0])).astype(int)
    with pytest.warns(UserWarning, match="outside"):
        estimate = cross_fitted_propensity(X, treated, cv=3, propensity_clip=0.05, random_state=0)
    assert estimate.by_arm.min() >= 0.05 and estimate.by_arm.max() <= 0.95
    assert np.allclose(estimate.by_arm, np.clip(estimate.raw, 0.05, 0.95))
    assert estimate.overlap.estimated and estimate.overlap.n_below[1] == int((estimate.raw[:, 1] < 0.05).sum())
    assert np.array_equal(estimate.received, estimate.by_arm[np.arange(3000), treated])
    assert estimate.overlap.n_outside > 0 and set(np.unique(estimate.fold)) == {0, 1, 2}
    with pytest.raises(ValueError, match="cv"):
        cross_fitted_propensity(X, treated, cv=1)


def test_a_dr_trees_held_out_effects_use_doubly_robust_scores_not_raw_arm_means():
    from upliftree.segments import node_effects

    columns = ["x1", "x2", "x3"]
    train, _ = _confounded(3000, 5)
    test, truth = _confounded(4000, 6)
    tree = DRUpliftTree(cv=3, max_depth=1, min_samples_leaf=300, random_state=0)
    experiment = experiment_from_frame(test, treatment="t", control=0, outcome="y", features=columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree.fit(train[columns], train["t"], train["y"])
        # The report reads an experiment without a propensity as randomized (arm shares): the DR scores'
        # outcome models still remove most of the confounding, where the raw arm means keep all of it.
        effects = held_out_effects(tree, experiment, 0.05)
        scores = doubly_robust_scores(test[columns], test["t"], test["y"], cv=3, random_state=0)
    raw = test.groupby("t")["y"].mean()
    assert raw[1] - raw[0] > truth + 0.15
    assert abs(effects.uplift[0, 0] - truth) < 0.1
    # With the estimated propensity, the held-out root is the mean DR score of the rows, with its interval
    # (99.9% here: one draw, so the test fails by chance once in a thousand).
    root = node_effects(tree.estimate_nodes(test[columns], scores), True, 0.001)
    assert root.uplift[0, 0] == pytest.approx(scores.mean()[0])
    assert root.ci_low[0, 0] <= truth <= root.ci_high[0, 0]
    assert root.ci_low[0, 0] > 0
    with pytest.raises(ValueError, match="rows"):
        tree.estimate_nodes(test[columns].iloc[:10], scores)
    with pytest.raises(TypeError, match="DRScores"):
        tree.estimate_nodes(test[columns], "scores")


def test_the_arms_table_is_hajek_weighted_with_a_propensity():
    rng = np.random.default_rng(7)
    n_rows = 4000
    north = rng.random(n_rows) < 0.3
    p_treated = np.where(north, 0.8, 0.5)
    treated = rng.random(n_rows) < p_treated
    y = (rng.random(n_rows) < np.where(north, 0.35, 0.10) + 0.02 * treated).astype(int)
    received = np.where(treated, p_treated, 1 - p_treated)
    frame = pd.DataFrame({"north": north.astype(int), "t": treated.astype(int), "y": y, "p": received})
    given = experiment_from_frame(frame, treatment="t", control=0, outcome="y", features=["north"], propensity="p")
    plain = experiment_from_frame(frame, treatment="t", control=0, outcome="y", features=["north"])
    weight = 1 / received
    for code, arm in enumerate((False, True)):
        rows = treated == arm
        assert arm_outcomes(given)[code] == pytest.approx(np.sum(weight[rows] * y[rows]) / np.sum(weight[rows]))
        assert arm_outcomes(plain)[code] == pytest.approx(y[rows].mean())
    # Weighted, each arm stands for all rows: the treated arm's level is no longer inflated by the north.
    assert arm_outcomes(plain)[1] - arm_outcomes(given)[1] > 0.02


def test_estimate_is_refused_with_a_given_propensity_and_checked():
    with pytest.raises(ValueError, match="propensity"):
        ReportSettings(propensity="guess").check()
    frame, _ = _confounded(500, 2)
    frame["p"] = 0.5
    experiment = experiment_from_frame(frame, treatment="t", control=0, outcome="y", features=["x1"], propensity="p")
    with pytest.raises(ValueError, match="estimate"):
        make_report(experiment, "unused", ReportSettings(propensity="estimate"))
