"""Profit uplift: modelled costs (redemption), margins per row, budgets against the LP bound, calibrated uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sparse
from scipy.optimize import linprog
from sklearn.linear_model import LinearRegression, LogisticRegression

from upliftree import Policy, UpliftTreeClassifier, make_uplift_data
from upliftree.datasets import FEATURES
from upliftree.metrics import calibration_table, one_vs_control, uplift_by_percentile
from upliftree.policy import RedemptionCost

FACE = {"email": 2.0, "coupon": 10.0}


class ColumnsUplift:
    """A fitted 'uplift model' whose predictions are columns of X (to plant known values)."""

    treatments_ = np.array(["control", "email", "coupon"], dtype=object)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X[["uplift_email", "uplift_coupon"]].to_numpy()


class Inflated:
    """A fitted model's predictions times 3: badly calibrated, well ranked."""

    def __init__(self, model):
        self.model = model
        self.treatments_ = model.treatments_

    def predict(self, X):
        return 3.0 * self.model.predict(X)


def _customers(n_rows: int, seed: int) -> tuple[pd.DataFrame, LogisticRegression, LinearRegression]:
    """Purchase uplift, a redemption classifier (fitted on simulated treated rows) and a margin model."""
    generator = np.random.default_rng(seed)
    X = pd.DataFrame({"loyalty": generator.standard_normal(n_rows), "basket": generator.gamma(2.0, 20.0, n_rows)})
    X["uplift_email"] = np.clip(0.03 + 0.02 * X["loyalty"] + generator.normal(0, 0.01, n_rows), -0.02, None)
    X["uplift_coupon"] = X["uplift_email"] * 2.5 + 0.02
    redeemed = generator.random(n_rows) < 1 / (1 + np.exp(-(X["loyalty"] - 1.0)))
    redemption = LogisticRegression().fit(X[["loyalty", "basket"]], redeemed)
    margin = LinearRegression().fit(X[["loyalty", "basket"]], 0.3 * X["basket"] + generator.normal(0, 1, n_rows))
    return X, redemption, margin


class OnFeatures:
    """A scikit-learn model used on two columns of the wider X the policy sees."""

    def __init__(self, model):
        self.model = model

    def predict_proba(self, X):
        return self.model.predict_proba(X[["loyalty", "basket"]])

    def predict(self, X):
        return self.model.predict(X[["loyalty", "basket"]])


def _profit_policy(X: pd.DataFrame, redemption, margin) -> Policy:
    return Policy(ColumnsUplift(), benefit=OnFeatures(margin), cost=0.05,
                  cost_model=RedemptionCost(OnFeatures(redemption), FACE))


def test_expected_profit_uplift_combines_purchase_redemption_and_margin():
    X, redemption, margin = _customers(500, 0)
    policy = _profit_policy(X, redemption, margin)
    p_redeem = redemption.predict_proba(X[["loyalty", "basket"]])[:, 1]
    unit_margin = margin.predict(X[["loyalty", "basket"]])
    value = policy.net_value(X)
    for label in ("email", "coupon"):
        expected = unit_margin * X[f"uplift_{label}"] - 0.05 - FACE[label] * p_redeem
        np.testing.assert_allclose(value[label], expected)
    np.testing.assert_allclose(policy.treatment_cost(X)[:, 1], 0.05 + 10.0 * p_redeem)
    sheet = policy.eligibility(X, explore=0.0)
    np.testing.assert_allclose(sheet["cost"], [0.05 + FACE[arm] * p if arm in FACE else 0.0
                                               for arm, p in zip(sheet["assigned"], p_redeem, strict=True)])


def _lp_bound(value: np.ndarray, cost: np.ndarray, budget: float) -> float:
    """The LP relaxation of the multiple-choice knapsack: max sum V x, sum_j x[i, j] <= 1, sum C x <= budget."""
    n_rows, n_treatments = value.shape
    one_per_row = sparse.kron(sparse.eye(n_rows), np.ones((1, n_treatments)))
    constraints = sparse.vstack([one_per_row, sparse.csr_matrix(cost.reshape(1, -1))]).tocsr()
    bounds = np.concatenate([np.ones(n_rows), [budget]])
    result = linprog(-np.maximum(value, 0.0).ravel(), A_ub=constraints, b_ub=bounds, bounds=(0, 1), method="highs")
    assert result.status == 0
    return -result.fun


@pytest.mark.parametrize("budget_share", [0.05, 0.2, 0.5])
def test_budget_with_a_cost_model_spends_within_it_and_reaches_the_lp_bound(budget_share):
    X, redemption, margin = _customers(4_000, 1)
    policy = _profit_policy(X, redemption, margin)
    value, cost = policy.net_value(X).to_numpy()[:, 1:], policy.treatment_cost(X)
    best_cost = np.where(value > 0, cost, 0.0).max(axis=1).sum()  # what treating every row at its priciest costs
    budget = budget_share * best_cost
    arms = policy.decide(X, "budget", budget=budget)
    codes = pd.Index(policy.treatments_).get_indexer(arms)
    spent = np.concatenate([np.zeros((len(X), 1)), cost], axis=1)[np.arange(len(X)), codes].sum()
    achieved = np.concatenate([np.zeros((len(X), 1)), value], axis=1)[np.arange(len(X)), codes].sum()
    assert spent <= budget * (1 + 1e-12)
    assert achieved >= 0.99 * _lp_bound(value, cost, budget)
    # The modelled cost is what binds: with the fixed cost alone the same budget would buy far more.
    fixed_only = Policy(ColumnsUplift(), benefit=OnFeatures(margin), cost=0.05).decide(X, "budget", budget=budget)
    assert (fixed_only != "control").sum() > (arms != "control").sum()


def test_capacity_and_segment_sheet_use_the_modelled_cost():
    train = make_uplift_data(20_000, random_state=2)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=500, control="control", random_state=0)
    model.fit(train[FEATURES], train["treatment"], train["outcome"])
    redeem = UpliftTreeClassifier(max_depth=2, min_samples_leaf=500, control="control", random_state=0)
    generator = np.random.default_rng(0)
    redeemed = (train["treatment"] == "email") & (generator.random(len(train)) < 0.2 + 0.3 * (train["age"] > 40))
    redeem.fit(train[FEATURES], train["treatment"], redeemed.astype(int))
    policy = Policy(model, benefit=25.0, cost_model=RedemptionCost(redeem, 1.0))
    with pytest.raises(ValueError, match="cost_model's cost is per row; pass X"):
        policy.segment_sheet()
    sheet = policy.segment_sheet(train[FEATURES])
    leaf = model.apply(train[FEATURES])
    p_redeem = redeem.predict_outcome(train[FEATURES])[:, 1]
    for row in sheet.itertuples():
        rows = leaf == row.leaf_id
        assert row.net_value_email == pytest.approx(25.0 * row.uplift - p_redeem[rows].mean())
    decided = policy.decide(train[FEATURES], capacity=1_000, threshold=-np.inf)
    assert (decided == "email").sum() == 1_000


def test_calibration_replaces_predictions_by_the_observed_uplift_of_their_bin():
    train, held_out = make_uplift_data(30_000, random_state=5), make_uplift_data(30_000, random_state=6)
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=500, control="control", random_state=0)
    model.fit(train[FEATURES], train["treatment"], train["outcome"])
    table = model.calibration(held_out[FEATURES], held_out["treatment"], held_out["outcome"], bins=5)
    policy = Policy(model, benefit=25.0, cost=0.5, calibration=table)
    score = model.predict(held_out[FEATURES])
    calibrated = policy.predicted_uplift(held_out[FEATURES])[:, 0]
    for bin_row in table.itertuples():
        rows = (score >= bin_row.score_min) & (score <= bin_row.score_max)
        np.testing.assert_allclose(calibrated[rows], bin_row.observed_uplift)
    np.testing.assert_allclose(policy.net_value(held_out[FEATURES])["email"], 25.0 * calibrated - 0.5)
    # A model whose predictions are 3x too large: calibrated on held-out rows, its values are close to the
    # true uplift of fresh rows again.
    inflated = Inflated(model)
    rows = one_vs_control(held_out["outcome"], inflated.predict(held_out[FEATURES]), held_out["treatment"],
                          arm="email", control="control")
    fresh = make_uplift_data(30_000, random_state=8)
    truth = fresh["true_uplift_email"].to_numpy()
    recalibrated = Policy(inflated, calibration=calibration_table(*rows, bins=5)).predicted_uplift(fresh[FEATURES])
    raw_error = np.mean((inflated.predict(fresh[FEATURES]) - truth) ** 2)
    assert np.mean((recalibrated[:, 0] - truth) ** 2) < 0.5 * raw_error
    sheet = policy.segment_sheet()
    assert set(np.round(sheet["uplift"], 12)) <= set(np.round(table["observed_uplift"], 12))


def test_calibration_and_cost_model_errors():
    train = make_uplift_data(5_000, random_state=7)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=300, control="control", random_state=0)
    model.fit(train[FEATURES], train["treatment"], train["outcome"])
    with pytest.raises(ValueError, match="score_min and observed_uplift"):
        Policy(model, calibration=pd.DataFrame({"bin": [1]}))
    table = pd.DataFrame({"score_min": [0.1, 0.0], "observed_uplift": [0.05, np.nan]})
    with pytest.raises(ValueError, match="NaN"):
        Policy(model, calibration=table)
    with pytest.raises(ValueError, match="highest predictions down"):
        Policy(model, calibration=pd.DataFrame({"score_min": [0.0, 0.1], "observed_uplift": [0.05, 0.1]}))
    with pytest.raises(TypeError, match="expected_cost"):
        Policy(model, cost_model=LogisticRegression())
    with pytest.raises(TypeError, match="RedemptionCost.model"):
        Policy(model, cost_model=RedemptionCost(object(), 1.0)).net_value(train[FEATURES])


def test_decile_tables_show_net_value_with_a_modelled_cost():
    data = make_uplift_data(20_000, random_state=9)
    generator = np.random.default_rng(1)
    score = data["true_uplift_email"].to_numpy() + generator.normal(0, 0.01, len(data))
    cost = 0.5 * generator.random(len(data))  # e.g. face value x P(redeem | treated, x)
    treated = (data["treatment"] == "email").astype(int)
    table = calibration_table(data["outcome"], score, treated, bins=5, benefit=25.0, cost=cost)
    order = np.argsort(-score, kind="stable")
    bins = np.array_split(order, 5)  # no ties: the bins are the rows by descending score, split evenly
    for row, rows in zip(table.itertuples(), bins, strict=True):
        assert row.net_value == pytest.approx(25.0 * row.observed_uplift - cost[rows].mean())
        assert row.net_value_low == pytest.approx(25.0 * row.ci_low - cost[rows].mean())
        assert row.net_value_low <= row.net_value <= row.net_value_high
    deciles = uplift_by_percentile(data["outcome"], score, treated, bins=5, total=True, benefit=25.0, cost=cost)
    np.testing.assert_allclose(deciles["net_value"].iloc[:5], table["net_value"])
    assert deciles["net_value"].iloc[-1] == pytest.approx(25.0 * deciles["uplift"].iloc[-1] - cost.mean())
    with pytest.raises(ValueError, match="strategy='overall'"):
        uplift_by_percentile(data["outcome"], score, treated, strategy="by_group", benefit=25.0, cost=cost)
