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
    ([1, 2], {"holdout": 0.0}, ValueError, "holdout must be in"),
    ([1, 2], {"holdout": 1.0}, ValueError, "holdout must be in"),
    ([1, 2], {"explore": 1.0}, ValueError, "explore must be in"),
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
