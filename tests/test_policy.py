"""Policy: net values, decisions under rules and limits, eligibility lists with exploration, per-leaf sheet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upliftree import Policy, UpliftTreeClassifier
from upliftree.datasets import make_uplift_data
from upliftree.rules import format_rule, leaf_conditions


class KnownUplift:
    """A fitted-model stand-in whose predicted uplift is read from columns of X (the truth, in tests)."""

    def __init__(self, treatments: list, columns: list[str]):
        self.treatments_ = np.asarray(treatments, dtype=object)
        self.columns = columns

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        uplift = X[self.columns].to_numpy(dtype=np.float64)
        return uplift[:, 0] if uplift.shape[1] == 1 else uplift


@pytest.fixture(scope="module")
def two_arm_data() -> pd.DataFrame:
    return make_uplift_data(4_000, n_treatments=2, random_state=3)


@pytest.fixture(scope="module")
def oracle(two_arm_data) -> KnownUplift:
    return KnownUplift(["control", "email", "discount"], ["true_uplift_email", "true_uplift_discount"])


@pytest.fixture(scope="module")
def tree(multi_treatment_experiment) -> UpliftTreeClassifier:
    data = multi_treatment_experiment
    return UpliftTreeClassifier(max_depth=3, min_samples_leaf=300, control="control", random_state=0).fit(
        data.X, data.treatment, data.y)


# -- net value and the coupon example ------------------------------------------------------------------
def test_coupon_example_per_row_costs_change_the_decision():
    # Uplift +8pp x $25 margin = $2.00 expected gain: a $0.80 coupon pays, a $10 one does not.
    X = pd.DataFrame({"uplift": [0.08, 0.08, 0.08], "coupon_cost": [0.80, 10.0, 1.99]})
    policy = Policy(KnownUplift(["control", "coupon"], ["uplift"]), benefit=25.0, cost="coupon_cost")
    np.testing.assert_allclose(policy.net_value(X)["coupon"], [1.20, -8.00, 0.01], atol=1e-12)
    assert policy.decide(X).tolist() == ["coupon", "control", "coupon"]
    per_row = Policy(KnownUplift(["control", "coupon"], ["uplift"]), benefit=25.0, cost=np.array([0.8, 10.0, 0.8]))
    assert per_row.decide(X).tolist() == ["coupon", "control", "coupon"]


def test_net_value_formula_with_every_component(two_arm_data, oracle):
    X = two_arm_data.copy()
    X["risk"] = np.linspace(0.0, 0.3, len(X))
    harm = KnownUplift(["control", "discount", "email"], ["harm_discount", "harm_email"])
    X["harm_email"], X["harm_discount"] = 0.02, np.where(X["age"] > 50, 0.10, -0.01)
    cost = np.column_stack([np.full(len(X), 0.5), X["income"].fillna(0).to_numpy() / 100])
    policy = Policy(oracle, benefit={"email": 20.0, "discount": 30.0}, cost=cost, risk_penalty="risk",
                    harm_model=harm, harm_weight=[5.0, 10.0])
    values = policy.net_value(X)
    assert list(values.columns) == ["control", "email", "discount"]
    assert (values["control"] == 0).all() and values.index.equals(X.index)
    expected_email = X["true_uplift_email"] * 20 - 0.5 - X["risk"] - 5.0 * 0.02
    expected_discount = X["true_uplift_discount"] * 30 - cost[:, 1] - X["risk"] - 10.0 * X["harm_discount"]
    np.testing.assert_allclose(values["email"], expected_email)
    np.testing.assert_allclose(values["discount"], expected_discount)


def test_harm_cap_forbids_treatments(two_arm_data, oracle):
    X = two_arm_data.copy()
    X["harm_email"], X["harm_discount"] = 0.0, np.where(X["age"] > 25, 0.10, 0.0)
    harm = KnownUplift(["control", "email", "discount"], ["harm_email", "harm_discount"])
    # The discount is the better option (0.06 * 40 > 0.08 * 20) except where its harm is above the cap.
    policy = Policy(oracle, benefit={"email": 20.0, "discount": 40.0}, cost=0.1, harm_model=harm, harm_cap=0.05)
    arms = policy.decide(X)
    old = X["age"].to_numpy() > 25
    persuadable = (X["segment"] == "persuadables").to_numpy()
    assert (arms[persuadable & ~old] == "discount").all()
    assert (arms[persuadable & old] == "email").all() and (persuadable & old).any()


# -- decisions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cost", [0.0, 0.1, 1.0])
def test_sleeping_dogs_never_treated_under_threshold(two_arm_data, oracle, cost):
    arms = Policy(oracle, benefit=25.0, cost=cost).decide(two_arm_data)
    dogs = (two_arm_data["segment"] == "sleeping dogs").to_numpy()
    assert dogs.any() and (arms[dogs] == "control").all()
    if cost < 2.0:  # persuadables are worth 25 * 0.08 = 2 (email) or 25 * 0.06 = 1.5 (discount)
        assert (arms[(two_arm_data["segment"] == "persuadables").to_numpy()] == "email").all()


def test_fitted_tree_never_treats_negative_uplift_leaves(tree, multi_treatment_experiment):
    X = multi_treatment_experiment.X
    uplift = tree.predict(X)
    for cost in (0.0, 0.2):
        policy = Policy(tree, benefit=25.0, cost=cost)
        for rule, limits in (("threshold", {}), ("top_k", {"k": 0.5}), ("budget", {"budget": 500.0})):
            arms = policy.decide(X, rule, **limits)
            for column, label in enumerate(["discount", "email"]):
                assert not (arms[uplift[:, column] <= 0] == label).any()


def test_multi_treatment_picks_best_option_including_nothing(two_arm_data, oracle):
    X = two_arm_data.assign(coupon=np.random.default_rng(0).uniform(0.0, 3.0, len(two_arm_data)))
    policy = Policy(oracle, benefit={"email": 25.0, "discount": 50.0}, cost={"email": 0.3, "discount": "coupon"})
    values = policy.net_value(X)
    expected = np.where(values.max(axis=1) > 0, values.to_numpy().argmax(axis=1), 0)
    np.testing.assert_array_equal(policy.decide(X), policy.treatments_[expected])
    assert set(policy.decide(X)) == {"control", "email", "discount"}


def test_top_k_takes_the_best_rows(two_arm_data, oracle):
    X = two_arm_data.assign(noise=np.random.default_rng(0).normal(0, 0.01, len(two_arm_data)))
    X["true_uplift_email"] += X["noise"]
    policy = Policy(oracle, benefit=25.0, cost=0.5)
    best = policy.net_value(X).max(axis=1).to_numpy()
    for k in (10, 0.05):
        arms = policy.decide(X, "top_k", k=k)
        n_expected = k if isinstance(k, int) else int(np.floor(k * len(X)))
        treated = arms != "control"
        assert treated.sum() == n_expected
        assert best[treated].min() >= best[~treated].max()
    # Only rows worth treating, unless the threshold says otherwise.
    assert (policy.decide(X, "top_k", k=len(X)) != "control").sum() == (best > 0).sum()
    assert (policy.decide(X, "top_k", k=len(X), threshold=-np.inf) != "control").all()


def test_budget_rule_respects_budget_and_capacity(two_arm_data, oracle):
    X = two_arm_data
    cost = np.random.default_rng(1).uniform(0.2, 1.2, (len(X), 2))
    policy = Policy(oracle, benefit=25.0, cost=cost)
    arms = policy.decide(X, "budget", budget=150.0, capacity={"discount": 20})
    codes = pd.Index(policy.treatments_).get_indexer(arms)
    spent = np.pad(cost, ((0, 0), (1, 0)))[np.arange(len(X)), codes].sum()
    assert spent <= 150.0 and spent > 145.0
    assert (arms == "discount").sum() <= 20


def test_capacity_with_threshold_rule(two_arm_data, oracle):
    policy = Policy(oracle, benefit=25.0, cost=0.1)
    free = policy.decide(two_arm_data)
    limited = policy.decide(two_arm_data, capacity={"email": 30})
    assert (free == "email").sum() > 30 and (limited == "email").sum() == 30
    # Persuadables denied email take the discount (worth 1.4 > 0) rather than nothing.
    assert (limited == "discount").sum() == (free == "email").sum() - 30 + (free == "discount").sum()


def test_eligibility_rules_and_frequency_caps(two_arm_data, oracle):
    X = two_arm_data.assign(opted_in=two_arm_data["channel"] != "store", contacts=np.arange(len(two_arm_data)) % 5)
    policy = Policy(oracle, benefit=25.0, cost=0.1)
    treated = policy.decide(X) != "control"
    opted = X["opted_in"].to_numpy()
    young = (X["age"] < 30).to_numpy()
    by_column = policy.decide(X, eligible="opted_in") != "control"
    assert (by_column == (treated & opted)).all()
    by_array = policy.decide(X, eligible=opted) != "control"
    assert (by_array == by_column).all()
    by_query = policy.decide(X, eligible="age < 30 and channel != 'store'") != "control"
    assert (by_query == (treated & opted & young)).all()
    capped = policy.decide(X, contacts="contacts", max_contacts=3) != "control"
    assert (capped == (treated & (X["contacts"] < 3).to_numpy())).all()
    per_arm = policy.decide(X, eligible={"email": "opted_in"})
    assert not ((per_arm == "email") & ~opted).any()
    assert ((per_arm == "discount") & ~opted).any()  # the discount is still allowed for them


# -- eligibility list and exploration ----------------------------------------------------------------
def test_eligibility_list_columns_and_probabilities(two_arm_data, oracle):
    X = pd.concat([two_arm_data] * 5, ignore_index=True)  # 20,000 rows
    policy = Policy(oracle, benefit=25.0, cost=0.1)
    explore = 0.1
    sheet = policy.eligibility(X, explore=explore, random_state=7, eligible=(X["age"] < 70).to_numpy())
    assert {"id", "assigned", "expected_uplift", "net_value", "exploration", "assignment_probability"} <= set(sheet)
    eligible = (X["age"] < 70).to_numpy()
    # Bucket size: Binomial(n_eligible, explore); 4 standard deviations.
    n_eligible = eligible.sum()
    assert abs(sheet["exploration"].sum() - explore * n_eligible) < 4 * np.sqrt(n_eligible * explore * (1 - explore))
    assert not sheet["exploration"][~eligible].any()
    policy_arm = sheet["policy_arm"].to_numpy()
    assigned = sheet["assigned"].to_numpy()
    assert (assigned[~sheet["exploration"]] == policy_arm[~sheet["exploration"]]).all()
    n_options = np.where(eligible, 3, 1)
    expected = (1 - explore) * (assigned == policy_arm) + explore / n_options
    np.testing.assert_allclose(sheet["assignment_probability"], expected)
    assert (sheet["assignment_probability"][~eligible] == 1.0).all()
    # Bucket arms are uniform over the three options.
    counts = pd.Series(assigned[sheet["exploration"]]).value_counts()
    assert ((counts / counts.sum() - 1 / 3).abs() < 0.03).all()
    # The logged values are those of the assigned arm.
    values = policy.net_value(X)
    assigned_value = values.to_numpy()[np.arange(len(X)), values.columns.get_indexer(assigned)]
    np.testing.assert_allclose(sheet["net_value"], assigned_value)
    again = policy.eligibility(X, explore=explore, random_state=7, eligible=(X["age"] < 70).to_numpy())
    pd.testing.assert_frame_equal(sheet, again)


def test_logged_probabilities_are_the_assignment_frequencies(two_arm_data, oracle):
    # Over many draws, each row gets its arm with the logged probability.
    X = two_arm_data.iloc[:200]
    policy = Policy(oracle, benefit=25.0, cost=0.1)
    draws = [policy.eligibility(X, explore=0.3, random_state=seed) for seed in range(400)]
    assigned = np.stack([draw["assigned"].to_numpy() for draw in draws])
    policy_arm = draws[0]["policy_arm"].to_numpy()
    frequency = (assigned == policy_arm).mean(axis=0)
    np.testing.assert_allclose(frequency.mean(), 1 - 0.3 + 0.3 / 3, atol=0.01)
    assert np.abs(frequency - (1 - 0.3 + 0.3 / 3)).max() < 0.1


def test_eligibility_without_exploration_is_the_decision(tree, multi_treatment_experiment, tmp_path):
    X = multi_treatment_experiment.X
    policy = Policy(tree, benefit=25.0, cost={"email": 0.2, "discount": 0.5})
    sheet = policy.eligibility(X, ids=np.arange(len(X)) + 1000, explore=0.0, rule="budget", budget=100.0)
    np.testing.assert_array_equal(sheet["assigned"], policy.decide(X, "budget", budget=100.0))
    assert not sheet["exploration"].any() and (sheet["assignment_probability"] == 1.0).all()
    assert sheet["cost"].sum() <= 100.0
    np.testing.assert_array_equal(sheet["leaf_id"], tree.apply(X))
    # Every row carries its leaf's rule text, stored once per leaf (categorical).
    assert isinstance(sheet["rule"].dtype, pd.CategoricalDtype)
    assert sheet["rule"].cat.categories.size == sheet["leaf_id"].nunique()
    for leaf, rule in sheet.groupby("leaf_id", observed=True)["rule"].first().items():
        assert rule == format_rule(leaf_conditions(tree.tree_, tree.schema_, leaf))
    assert sheet["id"].iloc[0] == 1000
    sheet.to_parquet(tmp_path / "list.parquet")
    sheet.to_csv(tmp_path / "list.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "list.parquet"), sheet)
    assert len(pd.read_csv(tmp_path / "list.csv")) == len(X)
    without_text = policy.eligibility(X, explore=0.0, rule_text=False, rule="budget", budget=100.0)
    assert "rule" not in without_text
    pd.testing.assert_frame_equal(without_text, sheet.drop(columns="rule").assign(id=X.index.to_numpy()))


# -- per-leaf sheet ------------------------------------------------------------------------------------
def test_segment_sheet_and_leaf_actions(tree, multi_treatment_experiment):
    X = multi_treatment_experiment.X
    policy = Policy(tree, benefit=25.0, cost={"email": 0.2, "discount": 0.5})
    sheet = policy.segment_sheet()
    assert sorted(sheet["leaf_id"]) == tree.tree_.leaf_ids.tolist()
    assert {"rule", "n_rows", "uplift_email", "net_value_email", "net_value_discount", "action"} <= set(sheet)
    assert (sheet["net_value"].diff().dropna() <= 0).all()
    actions = policy.leaf_actions()
    # With costs per treatment the leaf action is what every row of the leaf gets under the threshold rule.
    np.testing.assert_array_equal(pd.Series(tree.apply(X)).map(actions), policy.decide(X))
    with_data = policy.segment_sheet(X).set_index("leaf_id")
    assert with_data["n_rows"].sum() == len(X)
    np.testing.assert_allclose(with_data.loc[sheet["leaf_id"], "net_value_email"], sheet["net_value_email"])


def test_leaf_actions_feed_the_rule_sheet_and_sql_exports(tree, multi_treatment_experiment):
    import duckdb

    from upliftree.export import segment_sheet, to_sql

    X = multi_treatment_experiment.X
    policy = Policy(tree, benefit=25.0, cost={"email": 0.2, "discount": 0.5})
    actions, values = policy.leaf_actions(), policy.leaf_net_values()
    sheet = segment_sheet(tree, leaf_actions=actions, leaf_values=values).set_index("leaf_id")
    ours = policy.segment_sheet().set_index("leaf_id")
    assert sheet["action"].to_dict() == ours["action"].to_dict()
    np.testing.assert_allclose(sheet.loc[ours.index, "net_value"], ours["net_value"])
    connection = duckdb.connect()
    connection.register("customers", X.assign(row_id=np.arange(len(X))).astype({"region": object, "channel": object}))
    query = to_sql(tree, "customers", dialect="duckdb", key_columns=["row_id"], leaf_actions=actions)
    scored = connection.sql(query).df().sort_values("row_id")
    np.testing.assert_array_equal(scored["action"], policy.decide(X))


def test_segment_sheet_averages_per_row_costs(tree, multi_treatment_experiment):
    X = multi_treatment_experiment.X
    cost = np.random.default_rng(0).uniform(0, 1, len(X))
    policy = Policy(tree, benefit=25.0, cost=cost)
    sheet = policy.segment_sheet(X).set_index("leaf_id")
    leaf = tree.apply(X)
    mean_cost = pd.Series(cost).groupby(leaf).mean()
    uplift = tree.tree_.uplift[mean_cost.index, 1]  # treatments_ = control, discount, email
    np.testing.assert_allclose(sheet.loc[mean_cost.index, "net_value_email"], uplift * 25 - mean_cost.to_numpy())
    with pytest.raises(ValueError, match="per row; pass X"):
        policy.segment_sheet()


def test_segment_sheet_needs_a_tree(two_arm_data, oracle):
    with pytest.raises(TypeError, match="single uplift tree"):
        Policy(oracle).segment_sheet()


# -- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    ({"benefit": {"email": 1.0, "sms": 2.0, "discount": 1.0}}, ValueError, "'sms' is not a treatment"),
    ({"benefit": {"email": 1.0}}, ValueError, r"no value for the treatment\(s\) \['discount'\]"),
    ({"benefit": {"control": 1.0, "email": 1.0, "discount": 1.0}}, ValueError, "is the control arm"),
    ({"benefit": [1.0, 2.0, 3.0]}, ValueError, "one per treatment"),
    ({"benefit": "25"}, TypeError, "benefit must be"),
    ({"cost": -1.0}, ValueError, "cost must be a finite number >= 0"),
    ({"cost": {"email": 1.0, "mail": 2.0}}, ValueError, "'mail' is not a treatment"),
    ({"cost": np.array([1.0, np.nan])}, ValueError, "NaN"),
    ({"risk_penalty": -0.5}, ValueError, "risk_penalty must be a finite number >= 0"),
    ({"harm_weight": 1.0}, ValueError, "need a harm_model"),
])
def test_bad_policy_arguments(oracle, kwargs, error, match):
    with pytest.raises(error, match=match):
        Policy(oracle, **kwargs)


def test_harm_model_needs_weight_or_cap(oracle):
    with pytest.raises(ValueError, match="without harm_weight or harm_cap"):
        Policy(oracle, harm_model=oracle)
    with pytest.raises(ValueError, match="control"):
        Policy(oracle, harm_model=KnownUplift(["none", "email", "discount"], ["a", "b"]), harm_cap=0.1)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rule": "best"}, ValueError, "rule must be one of"),
    ({"rule": "budget", "budget": -5.0}, ValueError, "budget must be a finite number >= 0"),
    ({"rule": "budget"}, ValueError, "needs budget"),
    ({"rule": "threshold", "budget": 10.0}, ValueError, "only with rule='budget'"),
    ({"rule": "top_k"}, ValueError, "needs k"),
    ({"rule": "top_k", "k": 1.5}, ValueError, "k must be"),
    ({"rule": "top_k", "k": -3}, ValueError, "k must be"),
    ({"k": 3}, ValueError, "only with rule='top_k'"),
    ({"threshold": float("nan")}, ValueError, "threshold"),
    ({"capacity": 10}, TypeError, "capacity must be a dict"),
    ({"capacity": {"email": -1}}, ValueError, "capacity"),
    ({"capacity": {"sms": 3}}, ValueError, "'sms' is not a treatment"),
    ({"eligible": "no_such_column > 3"}, ValueError, "neither a column of X nor a query"),
    ({"eligible": "age"}, TypeError, "must be boolean"),
    ({"eligible": np.ones(5, dtype=bool)}, ValueError, "rows"),
    ({"contacts": "visits"}, ValueError, "go together"),
])
def test_bad_decide_arguments(two_arm_data, oracle, kwargs, error, match):
    with pytest.raises(error, match=match):
        Policy(oracle, benefit=25.0).decide(two_arm_data, **kwargs)


def test_misaligned_series_is_refused(two_arm_data, oracle):
    shuffled = pd.Series(np.ones(len(two_arm_data)), index=two_arm_data.index[::-1])
    with pytest.raises(ValueError, match="index differs"):
        Policy(oracle, cost=shuffled).decide(two_arm_data)


@pytest.mark.parametrize("explore", [-0.1, 1.0, 1.5, True])
def test_explore_outside_unit_interval(two_arm_data, oracle, explore):
    with pytest.raises(ValueError, match=r"explore must be a number in \[0, 1\)"):
        Policy(oracle).eligibility(two_arm_data, explore=explore)


def test_unfitted_model_is_refused():
    with pytest.raises(ValueError, match="not fitted"):
        Policy(UpliftTreeClassifier())
    with pytest.raises(TypeError, match="predict"):
        Policy(object())


def test_numpy_features_work_without_column_names(oracle):
    X = np.random.default_rng(0).normal(size=(50, 2))
    policy = Policy(KnownArrayUplift(), benefit=10.0, cost=np.full(50, 0.5))
    arms = policy.decide(X)
    np.testing.assert_array_equal(arms == 1, X[:, 0] * 10 - 0.5 > 0)
    with pytest.raises(TypeError, match="DataFrame"):
        policy.decide(X, eligible="x0 > 0")


class KnownArrayUplift:
    """Uplift = the first column of a numpy X; arms 0 (control) and 1."""

    treatments_ = np.array([0, 1], dtype=object)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)[:, 0]
