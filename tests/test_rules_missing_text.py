"""Rule text leaves out "x is missing or" for features without missing values at fit time; routing stays exact.

The flag lives in ``FeatureSchema.has_missing`` (filled by ``infer_schema``), travels in JSON files (format
version 2; version-1 files read as "every feature had missing values") and only changes text: conditions,
SQL, pandas query strings and ``conditions_mask`` keep the exact missing-value routing.
"""

from __future__ import annotations

import copy
import io
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

import upliftree
from upliftree import UpliftTreeClassifier
from upliftree._validation import FeatureSchema, infer_schema
from upliftree.rules import Condition, conditions_mask, format_condition, format_rule, leaf_conditions, missing_note

NOTE = "Missing values of age, region (none in the training data) and new categories of region follow the larger " \
       "branch at each split."


def experiment(n_rows: int = 8_000, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """income has 20% NaN; age and region have none; the effect depends on all three."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.uniform(18, 80, n_rows))
    income = np.round(rng.lognormal(3.5, 0.5, n_rows))
    income[rng.random(n_rows) < 0.2] = np.nan
    region = rng.choice(np.array(["north", "south", "east", "west"], dtype=object), n_rows)
    arm = rng.choice(np.array(["control", "email"], dtype=object), n_rows)
    lift = (0.15 * (age < 40) - 0.08 * np.isin(region, ["east", "west"])
            + 0.10 * np.nan_to_num(income < 30, nan=0.0) + 0.12 * np.isnan(income))
    y = (rng.random(n_rows) < np.clip(0.1 + (arm == "email") * lift, 0.01, 0.99)).astype(int)
    return pd.DataFrame({"age": age, "income": income, "region": region}), arm, y


@pytest.fixture(scope="module")
def fitted() -> tuple[UpliftTreeClassifier, pd.DataFrame]:
    X, arm, y = experiment()
    model = UpliftTreeClassifier(criterion="ed", max_depth=4, min_samples_leaf=200, control="control",
                                 random_state=0).fit(X, arm, y)
    split = {model.schema_.names[feature] for feature, left in zip(model.tree_.feature, model.tree_.children_left,
                                                                   strict=True) if left >= 0}
    assert split == {"age", "income", "region"}, "the test needs splits on every feature"
    return model, X


@pytest.fixture(scope="module")
def scoring(fitted) -> pd.DataFrame:
    """Rows with missing values in every feature and a region unseen at fit time."""
    X = fitted[1].iloc[:600].copy()
    X["region"] = X["region"].astype(object)
    X.loc[X.index[::3], "age"] = np.nan
    X.loc[X.index[1::4], "income"] = np.nan
    X.loc[X.index[::5], "region"] = None
    X.loc[X.index[2::7], "region"] = "atlantis"
    X.insert(0, "id", np.arange(len(X)))
    return X


def all_texts(model) -> list[str]:
    return [model.rules("text"), model.rules("markdown"), model.rules("csv"), model.to_dot(),
            "\n".join(model.segments()["rule"])]


def test_schema_records_which_features_had_missing_values(fitted) -> None:
    model, X = fitted
    assert model.schema_.has_missing == (False, True, False)
    assert [model.schema_.missing_at_fit(index) for index in range(3)] == [False, True, False]
    frame = pd.DataFrame({
        "float": [1.0, np.nan], "int": [1, 2], "nullable": pd.array([1, pd.NA], dtype="Int64"),
        "object": ["a", None], "string": pd.array(["a", pd.NA], dtype="string"),
        "category": pd.Categorical(["a", np.nan]), "full_category": pd.Categorical(["a", "b"]), "bool": [True, False],
    })
    assert infer_schema(frame).has_missing == (True, False, True, True, True, True, False, False)
    assert infer_schema(np.array([[1.0, np.nan], [2.0, 3.0]])).has_missing == (False, True)
    assert infer_schema(np.array([[1, 2]])).has_missing == (False, False)
    # Without the flags (hand-made schemas, models from version-1 files): every feature "had missing values".
    assert FeatureSchema(("a", "b"), (None, None)).has_missing == (True, True)
    with pytest.raises(ValueError, match="one flag per feature"):
        FeatureSchema(("a", "b"), (None, None), (True,))


def test_rules_mention_missing_values_only_for_the_feature_that_had_them(fitted) -> None:
    model, _ = fitted
    for text in all_texts(model):
        assert "income is missing or" in text
        assert "age is missing" not in text and "region is missing" not in text
        assert "is not missing" not in text and "is any value" not in text
    # The conditions keep the exact routing: some leaves take missing ages and regions.
    conditions = [condition for leaf in model.tree_.leaf_ids
                  for condition in leaf_conditions(model.tree_, model.schema_, leaf)]
    assert any(condition.missing for condition in conditions if condition.feature == "age")
    assert any(condition.missing for condition in conditions if condition.feature == "region")
    assert all(condition.missing_at_fit == (condition.feature == "income") for condition in conditions)


def test_one_note_line_where_the_text_leaves_missing_values_out(fitted) -> None:
    model, _ = fitted
    assert missing_note(model.tree_, model.schema_) == NOTE
    assert model.rules("text").splitlines()[-1] == NOTE
    assert model.rules("markdown").endswith("\n\n" + NOTE + "\n")
    assert model.to_dot().count("none in the training data") == 1
    for text in (model.rules("text"), model.rules("markdown")):
        assert text.count("none in the training data") == 1
    # Machine-readable sheets stay machine-readable.
    assert "none in the training data" not in model.rules("csv")
    assert len(pd.read_csv(io.StringIO(model.rules("csv")))) == model.n_leaves_


def test_sql_query_strings_and_masks_route_missing_values_exactly(fitted, scoring) -> None:
    model, _ = fitted
    features = scoring.drop(columns="id")
    leaves = model.apply(features)
    assert np.isnan(features["age"]).any() and features["region"].isna().any()
    table = scoring  # noqa: F841  (DuckDB reads the local variable by name)
    result = duckdb.sql(model.to_sql("table", "duckdb", key_columns=["id"])).df().sort_values("id")
    np.testing.assert_array_equal(result["leaf_id"].to_numpy(dtype=np.int64), leaves)
    np.testing.assert_array_equal(result["uplift"].to_numpy(), model.predict(features))
    for leaf, query in model.rules("query").items():
        np.testing.assert_array_equal(features.query(query, engine="python").index.to_numpy(),
                                      features.index[leaves == leaf].to_numpy(), err_msg=query)
        np.testing.assert_array_equal(conditions_mask(leaf_conditions(model.tree_, model.schema_, leaf), features),
                                      leaves == leaf)


def test_json_round_trip_keeps_the_flags(fitted, tmp_path) -> None:
    model, X = fitted
    document = json.loads(model.to_json())
    assert document["format_version"] == 4
    assert [feature["has_missing"] for feature in document["features"]] == [False, True, False]
    path = tmp_path / "model.json"
    model.save(path)
    loaded = upliftree.load(path)
    assert loaded.schema_ == model.schema_
    assert loaded.rules("markdown") == model.rules("markdown") and loaded.to_dot() == model.to_dot()
    np.testing.assert_array_equal(loaded.apply(X), model.apply(X))


def test_version_1_files_load_and_print_the_old_text(fitted) -> None:
    model, X = fitted
    document = json.loads(model.to_json())
    old = copy.deepcopy(document)
    old["format_version"] = 1
    for feature in old["features"]:
        del feature["has_missing"]
        feature.pop("pooled", None)  # also new in version 2
    loaded = upliftree.from_json(json.dumps(old))
    assert loaded.schema_.has_missing == (True, True, True)
    np.testing.assert_array_equal(loaded.apply(X), model.apply(X))
    text = loaded.rules("markdown")
    assert "age is missing or" in text and "region is missing or" in text
    assert "none in the training data" not in text and missing_note(loaded.tree_, loaded.schema_) is None
    # The old text is exactly what a schema without the flags gives.
    rules = [format_rule(leaf_conditions(model.tree_, FeatureSchema(model.schema_.names, model.schema_.categories),
                                         leaf)) for leaf in model.tree_.leaf_ids]
    assert [format_rule(leaf_conditions(loaded.tree_, loaded.schema_, leaf)) for leaf in loaded.tree_.leaf_ids] \
        == rules


def test_conditions_every_value_satisfies_are_left_out() -> None:
    quiet = {"feature": "x", "feature_index": 0, "missing_at_fit": False}
    loud = {"feature": "y", "feature_index": 1}
    assert format_condition(Condition(**quiet, high=5.0, missing=True)) == "x <= 5"
    assert format_condition(Condition(**quiet, low=5.0, missing=False)) == "x > 5"
    assert format_condition(Condition(**loud, high=5.0, missing=True)) == "y is missing or y <= 5"
    # "not missing" and "any value" say nothing on data without missing values ...
    assert format_condition(Condition(**quiet, missing=False)) == "x is any value"
    assert format_rule([Condition(**quiet, missing=False), Condition(**loud, high=5.0, missing=False)]) == "y <= 5"
    assert format_rule([Condition(**quiet, missing=True)]) == "all rows"
    # ... but a condition only missing values satisfy is kept, and so is the old text of other features.
    assert format_condition(Condition(**quiet, low=1.0, high=1.0, missing=True)) == "x is missing"
    assert format_rule([Condition(**loud, missing=False)]) == "y is not missing"
    categorical = Condition("r", 0, categories=("a",), known_categories=("a", "b"), missing=True, missing_at_fit=False)
    assert format_condition(categorical) == "r in {a}"


def test_distilled_tree_flags_cover_the_model_and_the_distilled_rows(fitted) -> None:
    model, X = fitted
    X_distill = X.copy()
    X_distill.loc[X_distill.index[::10], "age"] = np.nan
    _, arm, y = experiment()
    distilled = upliftree.distill(model, X_distill, arm, y, max_depth=2)
    assert distilled.schema_.has_missing == (True, True, False)
    assert upliftree.from_json(distilled.to_json()).schema_ == distilled.schema_


def test_dask_fit_finds_missing_values_in_any_partition() -> None:
    pytest.importorskip("distributed")
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import upliftree.dask as udask

    X, arm, y = experiment(4_000)
    frame = X.assign(treatment=arm, outcome=y)
    frame.loc[frame.index[-3:], "age"] = np.nan  # in the last partition only
    frame["region"] = frame["region"].astype("category")
    in_memory = UpliftTreeClassifier(max_depth=2, min_samples_leaf=200, control="control").fit(
        frame[["age", "income", "region"]], arm, y)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        distributed = udask.fit_tree(UpliftTreeClassifier(max_depth=2, min_samples_leaf=200, control="control"),
                                     dd.from_pandas(frame, npartitions=4, sort=False), client=client,
                                     features=["age", "income", "region"])
    assert distributed.schema_.has_missing == in_memory.schema_.has_missing == (True, True, False)
