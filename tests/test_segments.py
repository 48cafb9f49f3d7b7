"""The segment table: one row per leaf (and treatment), numbers recomputed independently from the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor
from upliftree.inference import diff_proportions_ci, welch_ci
from upliftree.rules import conditions_mask, leaf_conditions


def split_halves(experiment, seed: int = 0):
    """Two disjoint halves of an experiment: one grows the tree, the other estimates it."""
    rows = np.random.default_rng(seed).permutation(len(experiment.y))
    grow, estimate = rows[: len(rows) // 2], rows[len(rows) // 2:]
    return ((experiment.X.iloc[grow], experiment.treatment[grow], experiment.y[grow]),
            (experiment.X.iloc[estimate], experiment.treatment[estimate], experiment.y[estimate]))


def expected_effects(X_est, treatment, y, weight, model, binary: bool) -> pd.DataFrame:
    """Per leaf and treatment: uplift, interval and p-value recomputed from the estimation rows themselves."""
    frame = pd.DataFrame({"leaf": model.apply(X_est), "arm": treatment, "y": y, "w": weight})
    rows = []
    for (leaf, arm), group in frame.groupby(["leaf", "arm"]):
        w, values = group["w"].to_numpy(), group["y"].to_numpy()
        mean = np.average(values, weights=w)
        n_effective = w.sum() ** 2 / (w**2).sum()
        variance = np.sum(w * (values - mean) ** 2) / (w.sum() - (w**2).sum() / w.sum())
        rows.append({"leaf": leaf, "arm": arm, "n": len(group), "mean": mean, "n_eff": n_effective, "var": variance})
    per_arm = pd.DataFrame(rows).set_index(["leaf", "arm"])
    control = model.treatments_[0]
    out = []
    for leaf in model.tree_.leaf_ids:
        c = per_arm.loc[(leaf, control)]
        for label in model.treatments_[1:]:
            t = per_arm.loc[(leaf, label)]
            if binary:
                result = diff_proportions_ci(t.n_eff, t["mean"] * t.n_eff, c.n_eff, c["mean"] * c.n_eff, 0.1)
            else:
                result = welch_ci(t.n_eff, t["mean"], t["var"], c.n_eff, c["mean"], c["var"], 0.1)
            out.append({"leaf_id": leaf, "treatment": label, "n_treated": t.n, "n_control": c.n,
                        **dict(zip(["uplift", "ci_low", "ci_high", "p_value"], map(float, result), strict=True))})
    return pd.DataFrame(out)


@pytest.mark.parametrize("regressor", [False, True])
def test_numbers_come_from_the_estimation_rows(binary_experiment, continuous_experiment, regressor):
    experiment = continuous_experiment if regressor else binary_experiment
    (X, t, y), (X_est, t_est, y_est) = split_halves(experiment)
    weight = np.random.default_rng(1).uniform(0.2, 3.0, len(y_est))
    model_class = UpliftTreeRegressor if regressor else UpliftTreeClassifier
    model = model_class(max_depth=3, min_samples_leaf=300, control="control", random_state=0)
    model.fit(X, t, y, X_est=X_est, treatment_est=t_est, y_est=y_est, sample_weight_est=weight)
    assert model.n_leaves_ >= 3
    table = model.segments(alpha=0.1)
    expected = expected_effects(X_est, t_est, y_est, weight, model, not regressor).set_index("leaf_id")
    expected = expected.loc[table["leaf_id"]]
    assert table["honest"].all()
    np.testing.assert_array_equal(table["n_email"], expected["n_treated"])
    np.testing.assert_array_equal(table["n_control"], expected["n_control"])
    for column in ("uplift", "ci_low", "ci_high", "p_value"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-9, atol=1e-12, err_msg=column)
    outcome = "mean" if regressor else "rate"
    np.testing.assert_allclose(table[f"{outcome}_email"] - table[f"{outcome}_control"], table["uplift"])
    np.testing.assert_allclose(table["uplift"], model.tree_.uplift[table["leaf_id"], 0])


def test_counts_add_up_to_the_estimation_sample_and_ids_match_apply(binary_experiment):
    experiment = binary_experiment
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, control="control", honest=True,
                                 honest_fraction=0.4, random_state=3).fit(experiment.X, experiment.treatment,
                                                                           experiment.y)
    table = model.segments()
    assert list(table.columns) == ["leaf_id", "rule", "n_control", "n_email", "rate_control", "rate_email",
                                   "uplift", "ci_low", "ci_high", "p_value", "honest"]
    per_arm = pd.Series(experiment.treatment).value_counts()
    # The honest split holds out round(0.4 * rows) of every (arm, outcome) stratum.
    strata = pd.crosstab(experiment.treatment, experiment.y)
    expected_estimation = (strata * 0.4).round().sum(axis=1)
    for arm in ("control", "email"):
        assert table[f"n_{arm}"].sum() == expected_estimation[arm] < per_arm[arm]
    assert sorted(table["leaf_id"]) == sorted(model.tree_.leaf_ids)
    assert set(np.unique(model.apply(experiment.X))) == set(table["leaf_id"])
    assert table["uplift"].is_monotonic_decreasing
    assert table["honest"].all()
    assert ((table["ci_low"] <= table["uplift"]) & (table["uplift"] <= table["ci_high"])).all()
    assert table["p_value"].between(0, 1).all()


def test_rules_select_the_rows_of_each_leaf_with_missing_values_and_categories():
    from upliftree.datasets import FEATURES, make_uplift_data

    data = make_uplift_data(8_000, missing_rate=0.3, random_state=5)
    X = data[FEATURES].copy()
    X["region"] = X["region"].astype(object).where(np.random.default_rng(0).random(len(X)) > 0.2, None)
    model = UpliftTreeClassifier(criterion="ed", max_depth=5, min_samples_leaf=150, control="control",
                                 random_state=0).fit(X, data["treatment"], data["outcome"])
    table = model.segments()
    leaves = model.apply(X)
    tested = {condition.feature for leaf in model.tree_.leaf_ids
              for condition in leaf_conditions(model.tree_, model.schema_, leaf)}
    assert {"income", "region"} <= tested, "the tree should split on the features with missing values"
    assert table["rule"].str.contains("is missing").any()
    assert table["rule"].str.contains(r"region in \{", regex=True).any()
    for leaf in table["leaf_id"]:
        mask = conditions_mask(leaf_conditions(model.tree_, model.schema_, leaf), X)
        np.testing.assert_array_equal(mask, leaves == leaf)
    # Not honest: the counts are the training rows, and they add up to them.
    assert not table["honest"].any()
    assert table[["n_control", "n_email"]].to_numpy().sum() == len(X)


def test_several_treatments_give_one_row_per_leaf_and_treatment(multi_treatment_experiment):
    experiment = multi_treatment_experiment
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=400, control="control", honest=True,
                                 random_state=0).fit(experiment.X, experiment.treatment, experiment.y)
    table = model.segments()
    assert len(table) == 2 * model.n_leaves_
    assert table.columns[:3].tolist() == ["leaf_id", "treatment", "rule"]
    assert {"n_control", "n_discount", "n_email", "rate_discount"} <= set(table.columns)
    assert sorted(table["treatment"].unique()) == ["discount", "email"]
    assert table["uplift"].is_monotonic_decreasing
    arm_column = {label: position for position, label in enumerate(model.treatments_[1:])}
    for row in table.itertuples():
        assert row.uplift == pytest.approx(model.tree_.uplift[row.leaf_id, arm_column[row.treatment]])


def test_alpha_sets_the_interval_level(binary_experiment):
    experiment = binary_experiment
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=400, control="control", honest=True,
                                 random_state=0).fit(experiment.X, experiment.treatment, experiment.y)
    wide, narrow = model.segments(alpha=0.01), model.segments(alpha=0.3)
    assert ((wide["ci_high"] - wide["ci_low"]) > (narrow["ci_high"] - narrow["ci_low"])).all()
    np.testing.assert_array_equal(wide["p_value"], narrow["p_value"])
    with pytest.raises(ValueError, match="alpha"):
        model.segments(alpha=1.5)
    with pytest.raises(ValueError, match="not fitted"):
        UpliftTreeClassifier().segments()


def test_calibration_is_a_thin_call_for_trees(binary_experiment, multi_treatment_experiment):
    experiment = binary_experiment
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=400, control="control", honest=True,
                                 random_state=0).fit(experiment.X, experiment.treatment, experiment.y)
    table = model.calibration(experiment.X, experiment.treatment, experiment.y, bins=10)
    # A tree predicts one value per leaf, and tied predictions share a bin.
    assert len(table) == len(np.unique(model.predict(experiment.X)))
    assert table[["n_treatment", "n_control"]].to_numpy().sum() == len(experiment.y)
    multi = UpliftTreeClassifier(max_depth=2, min_samples_leaf=400, control="control").fit(
        multi_treatment_experiment.X, multi_treatment_experiment.treatment, multi_treatment_experiment.y)
    with pytest.raises(ValueError, match="arm"):
        multi.calibration(multi_treatment_experiment.X, multi_treatment_experiment.treatment,
                          multi_treatment_experiment.y)
    by_arm = multi.calibration(multi_treatment_experiment.X, multi_treatment_experiment.treatment,
                               multi_treatment_experiment.y, arm="discount")
    in_arms = np.isin(multi_treatment_experiment.treatment, ["control", "discount"]).sum()
    assert by_arm[["n_treatment", "n_control"]].to_numpy().sum() == in_arms
