"""UpliftSearchCV (cross-validated search scored by held-out Qini) and min_samples_leaf="auto"."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier, UpliftTreeRegressor
from upliftree.model_selection import UpliftSearchCV, stratified_folds
from upliftree.tree import AUTO_LEAF_FLOOR, auto_min_samples_leaf


def threshold_design(n_rows: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Uplift +0.3 where x0 > 0.5 and 0 elsewhere, on a 20% base rate: one split is the right tree."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x0": rng.random(n_rows), "x1": rng.random(n_rows), "x2": rng.normal(size=n_rows)})
    treatment = rng.integers(0, 2, n_rows)
    rate = 0.2 + 0.3 * treatment * (X["x0"].to_numpy() > 0.5)
    return X, treatment, (rng.random(n_rows) < rate).astype(np.int64)


def test_search_picks_the_clearly_right_candidate():
    X, treatment, y = threshold_design()
    # A stump cannot rank (Qini 0); leaves over half the rows cannot split; depth 1 with small leaves finds x0.
    grid = [{"max_depth": [0, 1], "min_samples_leaf": [100]}, {"max_depth": [1], "min_samples_leaf": [2500]}]
    search = UpliftSearchCV(UpliftTreeClassifier(honest=True), grid, cv=3, random_state=0).fit(X, treatment, y)
    assert search.best_params_ == {"max_depth": 1, "min_samples_leaf": 100}
    assert search.n_candidates_ == search.n_candidates_tried_ == 3 and not search.stopped_early_
    table = search.results_
    assert list(table["rank"]) == [2, 1, 3] or list(table["rank"]) == [3, 1, 2]
    assert table.loc[1, "mean"] > 0.05 and abs(table.loc[0, "mean"]) < 1e-9
    assert np.allclose(table["high"] - table["low"], 2 * table["se"])
    assert search.best_estimator_.tree_.feature[0] == 0  # the refitted winner splits on x0
    np.testing.assert_array_equal(search.predict(X), search.best_estimator_.predict(X))
    results = search.cv_results_
    assert list(results["param_max_depth"]) == [0, 1, 1]
    assert np.allclose(results["mean_test_score"], np.mean([results[f"split{k}_test_score"] for k in range(3)], 0))


def test_estimator_key_compares_model_families():
    X, treatment, y = threshold_design(3000)
    grid = [{"estimator": [UpliftTreeClassifier(honest=True, max_depth=0)]},
            {"estimator": [UpliftRandomForestClassifier(n_estimators=10, verbose=0)], "max_depth": [2]}]
    search = UpliftSearchCV(UpliftTreeClassifier(), grid, cv=3, random_state=1).fit(X, treatment, y)
    assert list(search.results_["model"]) == ["UpliftTreeClassifier", "UpliftRandomForestClassifier"]
    assert isinstance(search.best_estimator_, UpliftRandomForestClassifier)
    assert search.best_params_["max_depth"] == 2


def test_folds_are_stratified_by_arm_and_outcome():
    X, treatment, y = threshold_design(3001)
    search = UpliftSearchCV(UpliftTreeClassifier(), {"max_depth": [1]}, cv=4, random_state=3).fit(X, treatment, y)
    stratum = treatment * 2 + y
    for value in np.unique(stratum):
        per_fold = np.bincount(search.folds_[0][stratum == value], minlength=4)
        assert per_fold.max() - per_fold.min() <= 1


def test_folds_keep_clusters_whole_and_the_design_reaches_fits_and_scores():
    rng = np.random.default_rng(5)
    n_clusters, size = 120, 25
    store = np.repeat(np.arange(n_clusters), size)
    treated_store = rng.permutation(np.arange(n_clusters) % 2)
    X, _, _ = threshold_design(n_clusters * size, 5)
    treatment = treated_store[store]
    y = (rng.random(len(store)) < 0.2 + 0.3 * treatment * (X["x0"].to_numpy() > 0.5)).astype(np.int64)
    propensity = np.full(len(y), 0.5)
    X["store"] = store
    seen = []

    def spy_qini(y_true, uplift, treatment, *, propensity=None, cluster=None):
        from upliftree.metrics import qini_auc_score

        seen.append((len(y_true), propensity, cluster))
        return qini_auc_score(y_true, uplift, treatment, propensity=propensity, cluster=cluster)

    search = UpliftSearchCV(UpliftTreeClassifier(honest=True), {"max_depth": [1, 2]}, scoring=spy_qini, cv=3,
                            random_state=0).fit(X, treatment, y, propensity=propensity, cluster="store")
    for cluster_id in range(n_clusters):
        assert len(np.unique(search.folds_[0][store == cluster_id])) == 1
    assert len(seen) == 6
    for n_rows, fold_propensity, fold_cluster in seen:
        assert fold_propensity is not None and len(fold_propensity) == n_rows
        assert fold_cluster is not None and len(fold_cluster) == n_rows
        assert len(np.unique(fold_cluster)) == n_rows // size  # whole stores of 25 rows
    assert "store" not in list(search.best_estimator_.feature_names_in_)  # a design column, not a feature


def test_propensity_changes_the_scores():
    X, treatment, y = threshold_design(3000, 7)
    rng = np.random.default_rng(0)
    propensity = np.where(treatment == 1, rng.uniform(0.2, 0.8, len(y)), 0.5)
    grid = {"max_depth": [1, 2]}
    plain = UpliftSearchCV(UpliftTreeClassifier(), grid, cv=3, random_state=0).fit(X, treatment, y)
    weighted = UpliftSearchCV(UpliftTreeClassifier(), grid, cv=3, random_state=0).fit(X, treatment, y,
                                                                                     propensity=propensity)
    np.testing.assert_array_equal(plain.folds_, weighted.folds_)
    assert not np.allclose(plain.results_["mean"], weighted.results_["mean"])


def test_deterministic_whatever_n_jobs():
    X, treatment, y = threshold_design(3000, 11)
    grid = {"max_depth": [1, 3], "max_features": [1, None]}
    runs = [UpliftSearchCV(UpliftRandomForestClassifier(n_estimators=5, verbose=0), grid, cv=3, n_jobs=n_jobs,
                           random_state=4).fit(X, treatment, y) for n_jobs in (1, 2, 1)]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.folds_, runs[0].folds_)
        pd.testing.assert_frame_equal(run.results_.drop(columns="fit_seconds"),
                                      runs[0].results_.drop(columns="fit_seconds"))
        np.testing.assert_array_equal(run.predict(X), runs[0].predict(X))
    other = UpliftSearchCV(UpliftRandomForestClassifier(n_estimators=5, verbose=0), grid, cv=3,
                           random_state=5).fit(X, treatment, y)
    assert not np.array_equal(other.folds_, runs[0].folds_)


def test_time_budget_stops_the_search_and_says_so():
    X, treatment, y = threshold_design(3000)
    grid = {"max_depth": [1, 2, 3, 4], "min_samples_leaf": [100, 200]}
    search = UpliftSearchCV(UpliftTreeClassifier(), grid, cv=3, time_budget=1e-6, random_state=0)
    search.fit(X, treatment, y)
    assert search.n_candidates_ == 8 and search.n_candidates_tried_ == 1 and search.stopped_early_
    assert len(search.results_) == 1 and len(search.cv_results_["params"]) == 1
    assert hasattr(search, "best_estimator_")
    # A budget a few candidates long: the search stops within one candidate of it.
    first = UpliftSearchCV(UpliftTreeClassifier(), {"max_depth": [4]}, cv=3, random_state=0).fit(X, treatment, y)
    budget = 2.5 * first.elapsed_
    timed = UpliftSearchCV(UpliftTreeClassifier(), {"max_depth": list(range(1, 60))}, cv=3, time_budget=budget,
                           random_state=0).fit(X, treatment, y)
    assert 1 <= timed.n_candidates_tried_ < 59 and timed.stopped_early_
    slowest = timed.results_["fit_seconds"].max()
    assert timed.elapsed_ - timed.refit_time_ <= budget + 3 * slowest + 0.5
    generous = UpliftSearchCV(UpliftTreeClassifier(), {"max_depth": [1, 2]}, cv=3, time_budget=600,
                              random_state=0).fit(X, treatment, y)
    assert generous.n_candidates_tried_ == 2 and not generous.stopped_early_


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cv": 1}, "cv must be an integer >= 2"),
    ({"cv": 2.5}, "cv must be an integer >= 2"),
    ({"scoring": "gini"}, "scoring must be one of"),
    ({"param_grid": {"depth": [1]}}, r"\['depth'\] not parameter\(s\) of UpliftTreeClassifier"),
    ({"param_grid": []}, "param_grid must be a dict"),
    ({"param_grid": {"max_depth": 3}}, "max_depth"),
    ({"time_budget": 0}, "time_budget must be"),
    ({"refit": "yes"}, "refit must be True or False"),
    ({"n_jobs": 0}, "n_jobs must be"),
    ({"param_grid": {"max_depth": [-1]}}, "max_depth must be an integer >= 0"),
])
def test_bad_parameters_raise_naming_them(kwargs, message):
    X, treatment, y = threshold_design(1000)
    params = {"estimator": UpliftTreeClassifier(), "param_grid": {"max_depth": [1]}, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        UpliftSearchCV(**params).fit(X, treatment, y)


def test_bad_data_raise_naming_the_problem():
    X, treatment, y = threshold_design(1000)
    few = y.copy()
    few[(treatment == 1) & (y == 1)] = 0
    few[np.flatnonzero(treatment == 1)[:2]] = 1  # two treated responders, three folds
    with pytest.raises(ValueError, match="cv=3: the rows of arm code 1 with outcome 1 number 2"):
        UpliftSearchCV(UpliftTreeClassifier(), {"max_depth": [1]}, cv=3).fit(X, treatment, few)
    with pytest.raises(ValueError, match="cluster has 2 clusters, fewer than the folds"):
        UpliftSearchCV(UpliftTreeClassifier(), {"max_depth": [1]}, cv=3).fit(X, treatment, y,
                                                                               cluster=np.arange(1000) % 2)
    with pytest.raises(ValueError, match="control=0 is not a label in treatment"):
        UpliftSearchCV(UpliftTreeClassifier(), {"max_depth": [1]}).fit(X, treatment + 1, y)
    with pytest.raises(TypeError, match="estimator must be an uplift estimator"):
        UpliftSearchCV(object(), {"max_depth": [1]}).fit(X, treatment, y)


def test_stratified_folds_alone():
    rng = np.random.default_rng(0)
    arm, y = rng.integers(0, 3, 999), rng.integers(0, 2, 999)
    fold = stratified_folds(arm, y, True, None, 3, np.random.default_rng(1))
    assert set(np.unique(fold)) == {0, 1, 2}
    for value in range(6):
        counts = np.bincount(fold[arm * 2 + y == value], minlength=3)
        assert counts.max() - counts.min() <= 1


# -- min_samples_leaf="auto" ---------------------------------------------------------------------------------
def expected_auto_leaf(base_rate: float, treated_share: float, n_growing: float, ratio: float = 1.0) -> int:
    """The documented rule, written out: an uplift of 0.3 x base rate two standard errors from zero."""
    rows = 2.0**2 * (1 - base_rate) / base_rate * (1 / (1 - treated_share) + 1 / treated_share) / 0.3**2
    return min(max(math.ceil(rows * ratio), AUTO_LEAF_FLOOR), max(1, int(0.25 * n_growing)))


def test_auto_leaf_follows_the_documented_rule():
    rng = np.random.default_rng(0)
    n_rows = 40_000
    X = pd.DataFrame({"x": rng.random(n_rows)})
    treatment = (rng.random(n_rows) < 0.3).astype(np.int64)
    for base_rate in (0.05, 0.1, 0.4):
        y = (rng.random(n_rows) < base_rate).astype(np.int64)
        control_rate = y[treatment == 0].mean()
        share = treatment.mean()
        tree = UpliftTreeClassifier(max_depth=1).fit(X, treatment, y)
        assert tree.min_samples_leaf_ == expected_auto_leaf(control_rate, share, n_rows)
        honest = UpliftTreeClassifier(max_depth=1, honest=True, honest_fraction=0.4).fit(X, treatment, y)
        assert honest.min_samples_leaf_ == expected_auto_leaf(control_rate, share, 0.6 * n_rows, 0.6 / 0.4)
    rare = UpliftTreeClassifier(max_depth=1).fit(X, treatment, (rng.random(n_rows) < 0.02).astype(np.int64))
    common = UpliftTreeClassifier(max_depth=1).fit(X, treatment, (rng.random(n_rows) < 0.5).astype(np.int64))
    assert rare.min_samples_leaf_ > 10 * common.min_samples_leaf_  # rare outcomes need large leaves
    small = UpliftTreeClassifier(max_depth=2).fit(X[:800], treatment[:800], (rng.random(800) < 0.05).astype(int))
    assert small.min_samples_leaf_ == 200  # a quarter of the rows: small data still splits
    explicit = UpliftTreeClassifier(max_depth=1, min_samples_leaf=37).fit(X, treatment, y)
    assert explicit.min_samples_leaf_ == 37 and explicit.min_samples_leaf == 37


def test_auto_leaf_of_forests_and_regressors():
    rng = np.random.default_rng(1)
    n_rows = 20_000
    X = pd.DataFrame({"x": rng.random(n_rows)})
    treatment = rng.integers(0, 2, n_rows)
    y = (rng.random(n_rows) < 0.1).astype(np.int64)
    forest = UpliftRandomForestClassifier(n_estimators=3, max_samples=0.5, verbose=0, random_state=0)
    forest.fit(X, treatment, y)
    expected = expected_auto_leaf(y[treatment == 0].mean(), treatment.mean(), n_rows // 2)
    assert forest.min_samples_leaf_ == expected
    assert all(tree.min_samples_leaf_ == expected for tree in forest.estimators_)
    assert forest.min_samples_leaf == "auto"
    revenue = rng.exponential(10.0, n_rows) * (rng.random(n_rows) < 0.2)
    control = revenue[treatment == 0]
    squared_cv = control.var() / control.mean() ** 2
    regressor = UpliftTreeRegressor(max_depth=1).fit(X, treatment, revenue)
    rows = 4.0 * squared_cv * (1 / (1 - treatment.mean()) + 1 / treatment.mean()) / 0.09
    assert regressor.min_samples_leaf_ == min(max(math.ceil(rows), AUTO_LEAF_FLOOR), n_rows // 4)


def test_auto_leaf_edge_cases_and_bad_values():
    totals = np.array([[1000, 1000.0, 0.0, 0.0], [1000, 1000.0, 50.0, 50.0]])  # no control responders
    assert auto_min_samples_leaf(totals, 2000, 1.0) == 500
    with pytest.raises(ValueError, match="min_samples_leaf must be 'auto' or an integer >= 1, got 'big'"):
        UpliftTreeClassifier(min_samples_leaf="big").check_params()
    with pytest.raises(ValueError, match="min_samples_leaf must be an integer >= 1"):
        UpliftRandomForestClassifier(min_samples_leaf=0).check_params()


def test_report_chooses_the_tree_by_a_search_and_shows_it(tmp_path):
    from upliftree import make_uplift_data
    from upliftree.datasets import FEATURES
    from upliftree.report import ReportSettings, experiment_from_frame, make_report

    frame = make_uplift_data(4000, random_state=0)
    experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                       features=FEATURES)
    settings = ReportSettings(max_depth=2, learners=(), n_boot=10, search_seconds=600)
    report = make_report(experiment, tmp_path / "searched", settings)
    html = report.html.read_text(encoding="utf-8")
    # ed/ddp/kl/chi x depth 2, 1 x leaves auto and 100 (0.5% and 2% of the 2,800 training rows, at least 100)
    assert "16 of\n        16 candidates tried in" in html and "(chosen)" in html
    assert "time budget of 600 s" in html
    numbers = json.loads((tmp_path / "searched" / "report.json").read_text())
    search = numbers["search"]
    assert search["time_budget"] == 600 and search["n_candidates"] == search["n_tried"] == 16
    assert search["folds"] == 3 and not search["stopped_early"] and len(search["candidates"]) == 16
    best = min(search["candidates"], key=lambda row: row["rank"])
    assert {name: best[name] for name in search["best_params"]} == search["best_params"]
    assert best["mean"] == max(row["mean"] for row in search["candidates"])
    fixed = make_report(experiment, tmp_path / "fixed", ReportSettings(max_depth=2, learners=(), n_boot=10,
                                                                       search_seconds=None))
    assert "How the tree's settings were chosen" not in fixed.html.read_text(encoding="utf-8")
    assert fixed.tree.min_samples_leaf == "auto"
    assert json.loads((tmp_path / "fixed" / "report.json").read_text())["search"] is None
