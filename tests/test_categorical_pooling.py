"""A categorical feature with more categories than ``max_bins``: the rare ones are pooled into one category.

Fit warns, the pooled categories route together (and unseen ones like missing values), and every export (JSON,
SQL, pandas query strings, rule text, ``conditions_mask``) agrees with ``predict`` / ``apply``.
"""

from __future__ import annotations

import copy
import json
import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

import upliftree
from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier
from upliftree._validation import FeatureSchema, PooledCategories, infer_schema
from upliftree.export.model_json import ModelFormatError, read_document
from upliftree.export.sheets import leaf_queries
from upliftree.monitor import training_profile
from upliftree.rules import conditions_mask, leaf_conditions

N_FREQUENT, N_RARE = 250, 150  # 400 categories; rare ones (c250..c399) carry the uplift
CITIES = [f"c{index:03d}" for index in range(N_FREQUENT + N_RARE)]
KEPT_RARE = 254 - N_FREQUENT  # the 4 first rare categories win the ties for the last kept places
POOLED = tuple(CITIES[N_FREQUENT + KEPT_RARE:])  # 146 categories
TREE_PARAMS = {"max_depth": 2, "min_samples_leaf": 400, "min_samples_treatment": 50, "random_state": 0}


def make_data(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    city = np.array([name for index, name in enumerate(CITIES) for _ in range(60 if index < N_FREQUENT else 40)],
                    dtype=object)
    rng.shuffle(city)
    n_rows = len(city)
    arm = rng.integers(0, 2, n_rows)
    rare = np.isin(city, POOLED)
    y = (rng.random(n_rows) < 0.15 + arm * rare * 0.4).astype(int)
    X = pd.DataFrame({"city": city, "age": rng.normal(40, 10, n_rows)})
    return X, arm, y


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def tree(data) -> UpliftTreeClassifier:
    X, arm, y = data
    with pytest.warns(UserWarning, match="'city' has 400 categories.*146 least frequent"):
        return UpliftTreeClassifier(**TREE_PARAMS).fit(X, arm, y)


@pytest.fixture(scope="module")
def forest(data) -> UpliftRandomForestClassifier:
    X, arm, y = data
    with pytest.warns(UserWarning, match="pooled into one category"):
        return UpliftRandomForestClassifier(n_estimators=4, max_features=None, random_state=0,
                                            **{k: v for k, v in TREE_PARAMS.items() if k != "random_state"}
                                            ).fit(X, arm, y)


def scoring_rows(X: pd.DataFrame) -> pd.DataFrame:
    """Training rows plus pooled, kept, unseen and missing cities."""
    extra = pd.DataFrame({"city": [POOLED[0], POOLED[-1], "c000", "never-seen", None, "c251"],
                          "age": [30.0, 50.0, 40.0, 45.0, 35.0, np.nan]})
    return pd.concat([X.iloc[:500], extra], ignore_index=True)


def test_schema_keeps_the_most_frequent_and_pools_the_rest(tree) -> None:
    cats = tree.schema_.categories[0]
    assert len(cats) == 255 and cats[:-1] == tuple(CITIES[:N_FREQUENT + KEPT_RARE])
    assert isinstance(cats[-1], PooledCategories) and cats[-1].values == POOLED
    assert tree.schema_.pooled == (POOLED, None)
    assert str(cats[-1]) == "146 other rare categories"
    # Rebuilding the schema from its parts keeps the pooling.
    assert tree.schema_.with_missing((False, False)).pooled == tree.schema_.pooled
    assert FeatureSchema(tree.schema_.names, tree.schema_.categories).pooled == tree.schema_.pooled


def test_ties_follow_the_category_order_and_no_warning_without_pooling() -> None:
    X = pd.DataFrame({"x": [f"v{index}" for index in range(6)] + ["v5"]})
    with pytest.warns(UserWarning, match="'x' has 6 categories.*3 least frequent"):
        schema = infer_schema(X, max_categories=4)
    assert schema.categories[0][:-1] == ("v0", "v1", "v5") and schema.pooled == (("v2", "v3", "v4"),)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert infer_schema(X, max_categories=6).pooled == (None,)


def test_pooled_categories_route_as_one_group_and_unseen_as_missing(tree, data) -> None:
    X, _, _ = data
    assert tree.tree_.is_categorical.any()  # the tree splits on city
    row = X.iloc[[0] * len(POOLED)].reset_index(drop=True).assign(city=list(POOLED))
    predictions = tree.predict(row)
    assert np.all(predictions == predictions[0])
    unseen = X.iloc[[0, 0, 0]].reset_index(drop=True).assign(city=["never-seen", None, "zzz"])
    np.testing.assert_array_equal(tree.apply(unseen), tree.apply(unseen.assign(city=None)))
    # The pooled group has the planted uplift.
    assert predictions[0] > tree.predict(X.iloc[[0]].assign(city="c000"))[0] + 0.2


def test_rule_text_names_the_pooled_group(tree, data) -> None:
    rules = tree.rules()
    text = rules if isinstance(rules, str) else "\n".join(map(str, rules))
    assert "146 other rare categories" in text
    assert "city in {" in text
    assert "146 other rare categories" in tree.to_dot()


def test_conditions_mask_and_query_strings_route_like_apply(tree, data) -> None:
    X, _, _ = data
    rows = scoring_rows(X)
    leaves = tree.apply(rows)
    queries = leaf_queries(tree)
    for leaf in tree.tree_.leaf_ids:
        expected = leaves == leaf
        np.testing.assert_array_equal(conditions_mask(leaf_conditions(tree.tree_, tree.schema_, int(leaf)), rows),
                                      expected)
        selected = rows.query(queries[int(leaf)], engine="python").index
        np.testing.assert_array_equal(np.isin(rows.index, selected), expected)


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_json_round_trip_keeps_the_pooling(kind, tree, forest, data) -> None:
    model = tree if kind == "tree" else forest
    X, _, _ = data
    text = model.to_json()
    feature = json.loads(text)["features"][0]
    assert feature["pooled"] == list(POOLED) and len(feature["categories"]) == 254
    assert json.loads(text)["features"][1] == {"name": "age", "type": "numeric", "has_missing": False}
    loaded = upliftree.from_json(text)
    assert loaded.schema_ == model.schema_
    rows = scoring_rows(X)
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))


def test_json_pooled_field_is_checked(tree) -> None:
    document = json.loads(tree.to_json())
    missing = copy.deepcopy(document)
    del missing["features"][0]["pooled"]
    with pytest.raises(ModelFormatError, match="features\\[0\\]: missing field\\(s\\) \\['pooled'\\]"):
        read_document(missing)
    clash = copy.deepcopy(document)
    clash["features"][0]["pooled"][0] = "c000"
    with pytest.raises(ModelFormatError, match="duplicated values"):
        read_document(clash)
    empty = copy.deepcopy(document)
    empty["features"][0]["pooled"] = []
    with pytest.raises(ModelFormatError, match="pooled: expected null or at least one category"):
        read_document(empty)
    old = copy.deepcopy(document)
    old["format_version"] = 1
    for feature in old["features"]:
        del feature["has_missing"]
    with pytest.raises(ModelFormatError, match="unknown field\\(s\\) \\['pooled'\\]"):
        read_document(old)


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_sql_in_duckdb_routes_pooled_and_unseen_categories_like_apply(kind, tree, forest, data) -> None:
    model = tree if kind == "tree" else forest
    X, _, _ = data
    rows = scoring_rows(X)
    connection = duckdb.connect()
    connection.register("scored_rows", rows)
    query = model.to_sql("scored_rows", "duckdb", tree_leaf_ids=kind == "forest")
    assert f"'{POOLED[0]}'" in query
    result = connection.execute(query).df()
    if kind == "tree":
        np.testing.assert_array_equal(result["leaf_id"], model.apply(rows))
    np.testing.assert_allclose(result["uplift"], model.predict(rows), rtol=0, atol=1e-12)


def test_training_profile_of_a_pooled_column(tree, data) -> None:
    X, _, _ = data
    profile = training_profile(tree, X)
    city = profile["features"][0]
    assert city["categories"][-1] == "146 other rare categories" and len(city["shares"]) == 255
    assert city["shares"][-1] == pytest.approx(len(POOLED) * 40 / len(X))
    json.dumps(profile)  # JSON-ready


def test_dask_refuses_pooling_with_a_clear_error(data) -> None:
    dd = pytest.importorskip("dask.dataframe")
    import upliftree.dask as udask

    X, arm, y = data
    frame = X.assign(city=X["city"].astype("category"), treatment=arm, outcome=y)
    ddf = dd.from_pandas(frame, npartitions=2)
    columns = udask._columns(ddf, "treatment", "outcome", None, None, None, None)
    with pytest.raises(ValueError, match="'city' has 400 categories.*not supported on Dask yet"):
        udask._schema(ddf, columns, 255)
