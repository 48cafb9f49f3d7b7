"""Drift monitoring: training profiles, their JSON persistence, PSI and the flagged checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier, from_json
from upliftree.datasets import FEATURES, make_uplift_data
from upliftree.export.model_json import ModelFormatError
from upliftree.monitor import (
    PSI_MAJOR,
    RATE_CHANGE,
    check_profile,
    drift_report,
    population_stability_index,
    record_training_profile,
    training_profile,
)
from upliftree.policy import Policy


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    return make_uplift_data(6_000, random_state=21)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    """New rows from the same distribution."""
    return make_uplift_data(4_000, random_state=22)[FEATURES]


@pytest.fixture(scope="module")
def tree(training):
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, control="control", honest=True, random_state=0)
    model.fit(training[FEATURES], training["treatment"], training["outcome"])
    record_training_profile(model, training[FEATURES], Policy(model, benefit=25.0, cost=0.3))
    return model


def _flagged(report: pd.DataFrame) -> set[tuple[str, str]]:
    return {(row.check, row.name) for row in report[report["flagged"]].itertuples()}


def test_psi_known_values():
    assert population_stability_index([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.6 - 0.5) * np.log(0.6 / 0.5) + (0.4 - 0.5) * np.log(0.4 / 0.5)
    assert population_stability_index([0.5, 0.5], [0.6, 0.4]) == pytest.approx(expected)
    # An emptied bin is floored, so the index is large but finite.
    assert np.isfinite(population_stability_index([0.5, 0.5], [1.0, 0.0])) and \
        population_stability_index([0.5, 0.5], [1.0, 0.0]) > 1.0
    with pytest.raises(ValueError, match="same bins"):
        population_stability_index([0.5, 0.5], [1.0])


def test_profile_describes_the_training_rows(tree, training):
    profile = tree.training_profile_
    assert profile["n_rows"] == len(training)
    assert [entry["name"] for entry in profile["features"]] == FEATURES
    for entry in profile["features"]:
        assert sum(entry["shares"]) == pytest.approx(1.0)
    age = profile["features"][0]
    # Deciles of a continuous feature hold about a tenth of the rows each.
    assert len(age["shares"]) == 10 and max(age["shares"]) < 0.13
    income = profile["features"][3]
    assert income["missing_share"] == pytest.approx(training["income"].isna().mean())
    region = profile["features"][4]
    assert region["categories"] == ["north", "south", "east", "west"]
    leaves = profile["segments"]
    assert leaves["leaf_ids"] == tree.tree_.leaf_ids.tolist() and sum(leaves["shares"]) == pytest.approx(1.0)
    treated = Policy(tree, benefit=25.0, cost=0.3).decide(training[FEATURES]) != "control"
    assert profile["policy"]["treated_share"] == pytest.approx(treated.mean())


def test_same_distribution_flags_nothing(tree, fresh):
    report = drift_report(tree, fresh)
    assert not report["flagged"].any(), report[report["flagged"]]
    assert set(report["check"]) == {"feature", "missing_rate", "uplift", "net_value", "eligibility_rate", "segments",
                                    "segment_share"}
    assert report.attrs["n_rows"] == len(fresh)


def test_shifts_are_flagged(tree, fresh):
    shifted = fresh.copy()
    shifted["age"] = shifted["age"] + 20  # everyone older: fewer persuadables
    shifted.loc[shifted.index[:1_500], "income"] = np.nan
    report = drift_report(tree, shifted)
    flagged = _flagged(report)
    assert ("feature", "age") in flagged
    assert ("missing_rate", "income") in flagged
    assert ("feature", "tenure") not in flagged and ("missing_rate", "age") not in flagged
    age = report[(report["check"] == "feature") & (report["name"] == "age")].iloc[0]
    assert age["value"] > PSI_MAJOR and age["level"] == "major shift"
    income = report[(report["check"] == "missing_rate") & (report["name"] == "income")].iloc[0]
    assert income["value"] == pytest.approx(shifted["income"].isna().mean() - income["training"])
    assert income["value"] > RATE_CHANGE


def test_unseen_categories_count_as_a_shift(tree, fresh):
    changed = fresh.copy()
    changed["region"] = changed["region"].astype(object)
    changed.loc[changed.index[:1_000], "region"] = "mars"
    row = drift_report(tree, changed).query("check == 'feature' and name == 'region'").iloc[0]
    assert row["flagged"] and "unseen" in row["level"]


def test_policy_and_segment_shifts(tree, fresh):
    treated = Policy(tree, benefit=25.0, cost=0.3).decide(fresh) != "control"
    # Mostly rows the policy treats: the treated share, net values and segment shares all move.
    skewed = pd.concat([fresh[treated]] * 4 + [fresh[~treated].iloc[:500]], ignore_index=True)
    flagged = _flagged(drift_report(tree, skewed))
    assert ("eligibility_rate", "treated share") in flagged
    assert ("uplift", "email") in flagged and ("net_value", "email") in flagged
    assert ("segments", "all leaves") in flagged


def test_profile_survives_json(tree, fresh):
    loaded = from_json(tree.to_json())
    assert loaded.training_profile_ == tree.training_profile_
    pd.testing.assert_frame_equal(drift_report(loaded, fresh), drift_report(tree, fresh))


def test_forest_profile(training, fresh):
    forest = UpliftRandomForestClassifier(n_estimators=4, max_depth=3, control="control", random_state=0, verbose=0)
    forest.fit(training[FEATURES], training["treatment"], training["outcome"])
    profile = record_training_profile(forest, training[FEATURES])
    assert profile["segments"] is None and profile["policy"] is None
    report = drift_report(from_json(forest.to_json()), fresh)
    assert set(report["check"]) == {"feature", "missing_rate", "uplift"}


def test_helpful_errors(tree, training, fresh):
    bare = UpliftTreeClassifier(max_depth=2, control="control", random_state=0)
    bare.fit(training[FEATURES], training["treatment"], training["outcome"])
    with pytest.raises(ValueError, match="no training profile"):
        drift_report(bare, fresh)
    with pytest.raises(ValueError, match="bin_mapper_"):
        training_profile(from_json(bare.to_json()), training[FEATURES])
    with pytest.raises(ValueError, match="per-row amounts"):
        training_profile(bare, training[FEATURES], Policy(bare, benefit=1.0, cost=training["tenure"].to_numpy()))
    with pytest.raises(ValueError, match="missing the feature"):
        drift_report(tree, fresh.drop(columns="age"))


@pytest.mark.parametrize("change, message", [
    (lambda p: p.update(version=99), "version"),
    (lambda p: p["features"][0]["shares"].__setitem__(0, -0.5), "shares"),
    (lambda p: p["features"][0].pop("edges"), "fields"),
    (lambda p: p["features"][0]["edges"].reverse(), "increasing"),
    (lambda p: p["uplift"][0].update(mean="high"), "finite numbers"),
    (lambda p: p.update(extra=1), "fields"),
])
def test_malformed_profiles_are_rejected(tree, change, message):
    import copy
    import json

    profile = copy.deepcopy(tree.training_profile_)
    change(profile)
    with pytest.raises(ValueError, match=message):
        check_profile(profile)
    document = json.loads(tree.to_json())
    document["training_profile"] = profile
    with pytest.raises(ModelFormatError, match="training_profile"):
        from_json(json.dumps(document))
