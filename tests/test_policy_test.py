"""Policy tests: stable hashed assignment, the analysis of a test that ran (coverage with known truth), the CLI."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from upliftree import policy_test

ARMS = ["control", "email", "sms"]


def reference_uniforms(identifier: object, salt: str) -> np.ndarray:
    """The documented hash, written out for one id: keyed BLAKE2b, three 64-bit words, top 53 bits each."""
    key = hashlib.blake2b(salt.encode("utf-8"), digest_size=32).digest()
    digest = hashlib.blake2b(str(identifier).encode("utf-8"), digest_size=24, key=key).digest()
    return np.array([(int.from_bytes(digest[8 * k: 8 * k + 8], "big") >> 11) / 2.0**53 for k in range(3)])


def within_3_se(count: int, n: int, p: float) -> bool:
    return abs(count / n - p) <= 3 * np.sqrt(p * (1 - p) / n)


# -- assign ------------------------------------------------------------------------------------------------------
def test_assignment_follows_the_documented_hash():
    ids = [0, 7, -42, 10**15, "customer-9", "Ünïcode"]
    frame = policy_test.assign(ids, salt="june test", holdout=0.3, explore=0.4, policy_arm=["email"] * 6,
                               arms=ARMS, business_as_usual="control")
    for row, identifier in zip(frame.itertuples(), ids, strict=True):
        u = reference_uniforms(identifier, "june test")
        assert row.group == ("holdout" if u[0] < 0.3 else "personalization")
        assert row.exploration == (u[0] >= 0.3 and u[1] < 0.4)
        expected = ARMS[int(u[2] * 3)] if row.exploration else ("control" if u[0] < 0.3 else "email")
        assert row.assigned == expected


def test_same_id_same_place_in_every_batch_order_and_type():
    ids = np.arange(30_000) * 7 + 3
    policy_arm = np.where(ids % 5 == 0, "email", "control")
    arguments = {"salt": "test 1", "holdout": 0.2, "explore": 0.1, "arms": ARMS}
    whole = policy_test.assign(ids, policy_arm=policy_arm, **arguments).set_index("id")
    order = np.random.default_rng(0).permutation(len(ids))
    shuffled = policy_test.assign(ids[order], policy_arm=policy_arm[order], **arguments).set_index("id")
    batches = pd.concat([policy_test.assign(ids[part], policy_arm=policy_arm[part], **arguments)
                         for part in np.array_split(order, 7)]).set_index("id")
    as_text = policy_test.assign(pd.Series(ids.astype(str)), policy_arm=policy_arm, **arguments)
    as_text.index = ids
    for other in (shuffled, batches, as_text.drop(columns="id")):
        pd.testing.assert_frame_equal(other.loc[whole.index], whole, check_names=False)


def test_shares_are_within_three_standard_errors():
    n = 200_000
    probabilities = {"control": 0.5, "email": 0.3, "sms": 0.2}
    for salt in ("a", "b", "c"):
        frame = policy_test.assign(np.arange(n), salt=salt, holdout=0.1, explore=0.05, arms=ARMS,
                                   probabilities=probabilities, policy_arm=np.full(n, "control", dtype=object))
        held_out = frame["group"] == "holdout"
        assert within_3_se(held_out.sum(), n, 0.1)
        assert within_3_se(frame["exploration"].sum(), int((~held_out).sum()), 0.05)
        assert not frame.loc[held_out, "exploration"].any()
        bucket = frame.loc[frame["exploration"], "assigned"]
        for arm, p in probabilities.items():
            assert within_3_se((bucket == arm).sum(), len(bucket), p), (salt, arm)


def test_salts_are_independent_and_shares_only_grow():
    ids = np.arange(100_000)
    first = policy_test.assign(ids, salt="one", holdout=0.2)["group"] == "holdout"
    second = policy_test.assign(ids, salt="two", holdout=0.2)["group"] == "holdout"
    assert within_3_se((first & second).sum(), len(ids), 0.04)  # independent: 0.2 * 0.2 of the ids in both
    larger = policy_test.assign(ids, salt="one", holdout=0.3, explore=0.2)
    smaller = policy_test.assign(ids, salt="one", holdout=0.2, explore=0.1)
    assert (larger["group"] == "holdout")[first].all()
    assert larger["exploration"][smaller["exploration"] & (larger["group"] == "personalization")].all()


def test_clusters_are_held_out_whole_and_explored_by_id():
    n = 40_000
    store = np.random.default_rng(1).integers(0, 400, n)
    frame = policy_test.assign(np.arange(n), salt="stores", cluster=store, holdout=0.25, explore=0.2)
    frame["store"] = store
    per_store = frame.groupby("store")["group"].nunique()
    assert (per_store == 1).all()
    held_out_stores = frame.groupby("store")["group"].first().eq("holdout")
    assert within_3_se(held_out_stores.sum(), 400, 0.25)
    explored = frame.loc[frame["group"] == "personalization"].groupby("store")["exploration"].mean()
    assert 0.15 < explored.mean() < 0.25 and explored.std() > 0  # per customer, not per store


def test_logged_probability_is_the_frequency_of_the_arm():
    n = 300_000
    policy_arm = np.where(np.arange(n) % 3 == 0, "email", "control")
    frame = policy_test.assign(np.arange(n), salt="p", holdout=0.1, explore=0.2, arms=ARMS,
                               policy_arm=policy_arm, business_as_usual="control")
    personalization = frame[frame["group"] == "personalization"]
    for (policy, assigned), rows in personalization.groupby([policy_arm[personalization.index], "assigned"]):
        p = rows["assignment_probability"].iloc[0]
        assert (rows["assignment_probability"] == p).all()
        total = int((policy_arm[personalization.index] == policy).sum())
        assert within_3_se(len(rows), total, p), (policy, assigned)
        assert p == pytest.approx(0.8 * (assigned == policy) + 0.2 / 3)
    holdout = frame[frame["group"] == "holdout"]
    assert (holdout["assigned"] == "control").all() and (holdout["assignment_probability"] == 1.0).all()
    assert (frame["group_probability"] == np.where(frame["group"] == "holdout", 0.1, 0.9)).all()


def test_assignment_joins_the_eligibility_list():
    from upliftree import Policy, UpliftTreeClassifier, make_uplift_data
    from upliftree.datasets import FEATURES

    data = make_uplift_data(6_000, random_state=0)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=500, control="control").fit(
        data[FEATURES], data["treatment"], data["outcome"])
    customers = data[FEATURES].assign(customer_id=np.arange(len(data)) + 100).iloc[::2]
    sheet = Policy(model, benefit=25.0, cost=0.5).eligibility(customers, ids="customer_id", explore=0.0)
    plan = policy_test.assign(sheet["id"], salt="s", policy_arm=sheet["policy_arm"], arms=model.treatments_)
    joined = sheet[["id", "policy_arm", "leaf_id"]].join(plan.drop(columns="id"))
    assert joined.index.equals(sheet.index) and joined["group"].notna().all()
    kept = (joined["group"] == "personalization") & ~joined["exploration"]
    assert (joined.loc[kept, "assigned"] == joined.loc[kept, "policy_arm"]).all()
    assert joined.loc[joined["group"] == "holdout", "assigned"].isna().all()


@pytest.mark.parametrize("ids, kwargs, error, match", [
    ([1.0, 2.0], {}, TypeError, "integers or strings.*float"),
    (pd.Series([1, None], dtype="Int64"), {}, ValueError, "ids has 1 missing"),
    ([1, True], {}, TypeError, "found True"),
    ([1, 2], {"salt": ""}, ValueError, "salt must be a non-empty string"),
    ([1, 2], {"holdout": 0.0}, ValueError, "holdout must be .*in"),
    ([1, 2], {"holdout": 1.0}, ValueError, "holdout must be .*in"),
    ([1, 2], {"explore": 1.0}, ValueError, "explore must be .*in"),
    ([1, 2], {"arms": ARMS}, ValueError, "needs policy_arm"),
    ([1, 2], {"policy_arm": ["email", "email"]}, ValueError, "explore > 0 needs arms"),
    ([1, 2], {"policy_arm": ["email", "push"], "arms": ARMS}, ValueError, r"labels \['push'\] that are not in arms"),
    ([1, 2], {"policy_arm": ["email"] * 2, "arms": ARMS, "probabilities": [0.5, 0.5, 0.5]}, ValueError,
     "sum to 1"),
    ([1, 2], {"policy_arm": ["email"] * 2, "arms": ARMS, "probabilities": {"control": 1.0}}, ValueError,
     "no probability for arm"),
    ([1, 2], {"policy_arm": ["email"] * 2, "arms": ARMS, "probabilities": [0.0, 0.5, 0.5]}, ValueError,
     r"probability in \(0, 1\]"),
    ([1, 2], {"policy_arm": ["email"] * 3, "arms": ARMS}, ValueError, "policy_arm has 3 values but ids has 2"),
    (pd.Series([1, 2]), {"cluster": pd.Series([1, 1], index=[5, 6])}, ValueError, "index differs"),
    ([1, 2], {"policy_arm": ["email"] * 2, "arms": ["email", "email"]}, ValueError, "repeated labels"),
])
def test_bad_assignment_arguments(ids, kwargs, error, match):
    with pytest.raises(error, match=match):
        policy_test.assign(ids, **{"salt": "s", **kwargs})


# -- analyze: a simulated test with known truth ------------------------------------------------------------------
# Customers in stores; the policy gives the coupon to segments 2 and 3 (effects -0.5, 0, +0.5, +1.5 on spend);
# business as usual gives nothing; stores are held out whole (the holdout is randomized by store).
EFFECT = np.array([-0.5, 0.0, 0.5, 1.5])
HOLDOUT, EXPLORE = 0.2, 0.1
# Personalization: the policy's arm, except the bucket's uniform draw; the holdout gets nothing.
TRUE_INCREMENT = (1 - EXPLORE) * EFFECT[2:].sum() / 4 + EXPLORE * EFFECT.mean() / 2
TRUE_MEAN = {"policy": 0.75 + EFFECT[2:].sum() / 4, "treat none": 0.75, "treat all: coupon": 0.75 + EFFECT.mean()}


def simulated_tests(n_tests: int, n_stores: int, seed: int, by_store: bool = True) -> pd.DataFrame:
    """``n_tests`` independent policy tests stacked (ids and stores distinct across tests), with spend."""
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(14, n_tests * n_stores)
    store = np.repeat(np.arange(n_tests * n_stores), sizes)
    segment = rng.integers(0, 4, len(store))
    policy_arm = np.where(segment >= 2, "coupon", "control").astype(object)
    plan = policy_test.assign(np.arange(len(store)), salt=f"simulated {seed}", cluster=store if by_store else None,
                              holdout=HOLDOUT, explore=EXPLORE, policy_arm=policy_arm, arms=["control", "coupon"],
                              business_as_usual="control")
    coupon = plan["assigned"].to_numpy() == "coupon"
    spend = (rng.normal(0, 1, n_tests * n_stores)[store] + 0.5 * segment + EFFECT[segment] * coupon
             + rng.normal(0, 2, len(store)))
    return plan.assign(spend=spend, store=store, test=store // n_stores, segment=segment, policy_arm=policy_arm)


def covers(table: pd.DataFrame, truth: float) -> float:
    return float(((table["low"] <= truth) & (truth <= table["high"])).mean())


@pytest.fixture(scope="module")
def store_tests() -> pd.DataFrame:
    return simulated_tests(400, 100, seed=0)


def test_incremental_interval_covers_the_truth_by_cluster(store_tests):
    # One analysis of the stacked tests: each test is a segment, and a segment's row is that test's analysis.
    by_store = policy_test.analyze(store_tests, outcome="spend", cluster="store", segment="test", propensity=None)
    coverage = covers(by_store.segments, TRUE_INCREMENT)
    assert 0.93 <= coverage <= 0.97, coverage
    errors = by_store.segments["incremental_value"] - TRUE_INCREMENT
    assert abs(errors.mean()) < 3 * errors.std() / np.sqrt(len(errors))
    # The naive interval treats customers as independent although whole stores were held out: too narrow.
    naive = policy_test.analyze(store_tests, outcome="spend", segment="test", propensity=None)
    assert covers(naive.segments, TRUE_INCREMENT) < 0.8


def test_incremental_interval_covers_the_truth_by_customer():
    # Customers randomized one by one (store effects remain): rows are the units.
    tests = simulated_tests(400, 60, seed=1, by_store=False)
    table = policy_test.analyze(tests, outcome="spend", segment="test", propensity=None).segments
    assert 0.93 <= covers(table, TRUE_INCREMENT) <= 0.97, covers(table, TRUE_INCREMENT)


def test_a_segment_row_is_the_analysis_of_that_segment(store_tests):
    stacked = policy_test.analyze(store_tests, outcome="spend", cluster="store", segment="test", propensity=None)
    one = store_tests[store_tests["test"] == 7]
    alone = policy_test.analyze(one, outcome="spend", cluster="store", propensity=None)
    pd.testing.assert_series_equal(stacked.segments.loc[7], alone.summary.iloc[0], check_names=False)


def test_without_clusters_it_is_welchs_t_test():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(5)
    groups = np.where(rng.random(500) < 0.15, "holdout", "personalization")
    spend = rng.gamma(2.0, 3.0, 500) + (groups == "personalization")
    row = policy_test.analyze(pd.DataFrame({"group": groups, "spend": spend}), outcome="spend",
                              propensity=None, alpha=0.1).summary.iloc[0]
    welch = ttest_ind(spend[groups == "personalization"], spend[groups == "holdout"], equal_var=False)
    interval = welch.confidence_interval(0.9)
    np.testing.assert_allclose([row["df"], row["p_value"], row["low"], row["high"]],
                               [welch.df, welch.pvalue, interval.low, interval.high], rtol=1e-9)


def test_with_equal_clusters_it_is_welchs_t_test_on_cluster_means():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(6)
    store = np.repeat(np.arange(90), 12)
    groups = np.where(rng.random(90) < 0.3, "holdout", "personalization")[store]
    spend = rng.normal(0, 1, 90)[store] + rng.normal(0, 1, len(store))
    row = policy_test.analyze(pd.DataFrame({"group": groups, "spend": spend, "store": store}), outcome="spend",
                              cluster="store", propensity=None).summary.iloc[0]
    means = pd.Series(spend).groupby(store).mean().to_numpy()
    held_out = groups[::12] == "holdout"
    welch = ttest_ind(means[~held_out], means[held_out], equal_var=False)
    interval = welch.confidence_interval(0.95)
    assert row["units_holdout"] == held_out.sum() and row["n_holdout"] == 12 * held_out.sum()
    np.testing.assert_allclose([row["df"], row["p_value"], row["low"], row["high"]],
                               [welch.df, welch.pvalue, interval.low, interval.high], rtol=1e-9)


def test_policy_value_inside_personalization_covers_the_truth(store_tests):
    hits, n_tests = 0, 100
    for test in range(n_tests):
        log = store_tests[store_tests["test"] == test]
        table = policy_test.analyze(log, outcome="spend", cluster="store", control="control", n_boot=100,
                                    random_state=test).policy
        hits += np.array([table.loc[name, "outcome_low"] <= truth <= table.loc[name, "outcome_high"]
                          for name, truth in TRUE_MEAN.items()])
    assert (hits >= 0.86 * n_tests).all(), hits


def test_policy_part_is_policy_value_on_the_personalization_rows(store_tests):
    from upliftree import policy_value

    log = store_tests[store_tests["test"] == 3]
    result = policy_test.analyze(log, outcome="spend", cluster="store", control="control", n_boot=50,
                                 random_state=0, estimator="ipw")
    rows = log[log["group"] == "personalization"]
    direct = policy_value(rows["policy_arm"].to_numpy(), rows, rows["assigned"].to_numpy(), rows["spend"],
                          propensity=rows["assignment_probability"].to_numpy(), cluster=rows["store"].to_numpy(),
                          control="control", estimator="ipw", n_boot=50, random_state=0)
    pd.testing.assert_frame_equal(result.policy, direct)
    assert any("treat none" in sentence for sentence in result.policy_comparisons())


def test_verdicts():
    rng = np.random.default_rng(8)
    groups = np.where(rng.random(4_000) < 0.5, "holdout", "personalization")
    personalized = groups == "personalization"
    results = {effect: policy_test.analyze(pd.DataFrame({"group": groups,
                                                         "y": rng.normal(0, 1, 4_000) + effect * personalized}),
                                           outcome="y", propensity=None)
               for effect in (0.5, -0.5, 0.0)}
    assert [result.verdict for result in results.values()] == ["wins", "loses", "inconclusive"]
    assert results[0.5].headline.startswith("Personalization wins: +0.5")
    assert "95% CI" in results[0.5].headline and "p < 0.001" in results[0.5].headline


def test_html_page(store_tests, tmp_path):
    log = store_tests[store_tests["test"] == 1].assign(segment=lambda frame: "segment <" + frame["segment"].astype(str))
    result = policy_test.analyze(log, outcome="spend", cluster="store", segment="segment", control="control",
                                 n_boot=50, random_state=0)
    html = result.to_html(tmp_path / "test.html")
    assert (tmp_path / "test.html").read_text() == html
    assert html.startswith("<!DOCTYPE html>") and "http" not in html.replace("http-equiv", "")
    assert result.headline.replace("&", "&amp;") in html.replace("&#39;", "'")
    for part in ('id="groups"', 'id="policy-value"', 'id="segments"', "treat all: coupon", "segment &lt;3",
                 "clusters (store)"):
        assert part in html, part
    assert "segment <3" not in html  # escaped


def test_missing_logged_probabilities_are_refused(store_tests):
    log = store_tests[store_tests["test"] == 2]
    with pytest.raises(ValueError, match=r"no column 'assignment_probability'.*biased.*propensity=None"):
        policy_test.analyze(log.drop(columns="assignment_probability"), outcome="spend", control="control")
    result = policy_test.analyze(log.drop(columns="assignment_probability"), outcome="spend", propensity=None)
    assert result.policy is None and result.verdict in ("wins", "inconclusive")


@pytest.mark.parametrize("change, kwargs, match", [
    (lambda log: log, {}, "control=<the arm that means doing nothing>"),
    (lambda log: log.drop(columns="policy_arm"), {"control": "control"}, "policy_arm='policy_arm'"),
    (lambda log: log.assign(assignment_probability=np.where(log["group"] == "personalization", np.nan, 1.0)),
     {"control": "control"}, "missing value"),
    (lambda log: log.assign(assignment_probability=1.0), {"control": "control"}, "nothing was explored"),
    (lambda log: log.assign(group="test"), {"propensity": None}, r"holds \['test'\]"),
    (lambda log: log.assign(spend=np.nan), {"propensity": None}, "NaN"),
    (lambda log: log, {"outcome": "revenue", "propensity": None}, "outcome='revenue' is not a column"),
    (lambda log: log.assign(segment=np.nan), {"segment": "segment", "propensity": None}, "segment has missing"),
    (lambda log: log.assign(store=np.where(log["group"] == "holdout", 1, log["store"])),
     {"cluster": "store", "propensity": None}, "holdout group has 1 cluster"),
    (lambda log: log, {"alpha": 2.0, "propensity": None}, "alpha"),
])
def test_bad_analysis_arguments(store_tests, change, kwargs, match):
    log = change(store_tests[store_tests["test"] == 4].copy())
    with pytest.raises(ValueError, match=match):
        policy_test.analyze(log, **{"outcome": "spend", **kwargs})


# -- command line ------------------------------------------------------------------------------------------------
def test_command_line_assigns_and_analyses(store_tests, tmp_path):
    import json

    from typer.testing import CliRunner

    from upliftree.cli import EXIT_BAD_INPUT, app

    def run(*args: object):
        return CliRunner().invoke(app, [str(arg) for arg in args])

    for command in ("policy-test", "policy-test assign", "policy-test analyze"):
        assert run(*command.split(), "--help").exit_code == 0
    log = store_tests[store_tests["test"] == 5]
    log[["id", "store", "policy_arm", "segment"]].to_csv(tmp_path / "sheet.csv", index=False)
    result = run("policy-test", "assign", tmp_path / "sheet.csv", "--id", "id", "--salt", "simulated 0", "--cluster",
                 "store", "--holdout", HOLDOUT, "--explore", EXPLORE, "--policy-arm", "policy_arm", "--arms",
                 "control,coupon", "--business-as-usual", "control", "--out", tmp_path / "plan.parquet")
    assert result.exit_code == 0, result.stderr
    plan = pd.read_parquet(tmp_path / "plan.parquet")
    expected = log[plan.columns].reset_index(drop=True)  # the fixture's own assignment: same salt, same ids
    pd.testing.assert_frame_equal(plan, expected, check_dtype=False)

    log.to_csv(tmp_path / "log.csv", index=False)
    common = ("policy-test", "analyze", tmp_path / "log.csv", "--outcome", "spend", "--cluster", "store")
    result = run(*common, "--control", "control", "--segment", "segment", "--n-boot", 50, "--html",
                 tmp_path / "test.html", "--format", "json")
    assert result.exit_code == 0, result.stderr
    tables = json.loads(result.stdout)
    python = policy_test.analyze(log, outcome="spend", cluster="store", segment="segment", control="control",
                                 n_boot=50, random_state=0)
    assert tables["summary"][0]["incremental_value"] == pytest.approx(python.incremental_value)
    assert tables["summary"][0]["verdict"] == python.verdict
    assert [row["policy"] for row in tables["policy"]] == list(python.policy.index)
    assert len(tables["segments"]) == 4 and (tmp_path / "test.html").read_text() == python.to_html()
    assert python.headline in result.stderr.replace("\n", " ")

    refused = run(*common, "--propensity", "logged_p", "--control", "control")
    assert refused.exit_code == EXIT_BAD_INPUT and "no column 'logged_p'" in refused.stderr
    assert "--groups-only" in refused.stderr
    groups_only = run(*common, "--groups-only", "--format", "json")
    assert groups_only.exit_code == 0 and set(json.loads(groups_only.stdout)) == {"summary"}
