"""Every export routes rows exactly like ``apply`` / ``predict`` on hostile values.

Values: ``-inf`` (``log(0)``) and ``inf``, also as split thresholds (thresholds are observed values, so a
feature holding ``-inf`` can be split at ``-inf``, which sends only ``-inf`` left); NaN, which reaches DuckDB as
NULL or as a NaN double and SQLite as NULL; bool and nullable-boolean features, which databases store as
BOOLEAN columns (not comparable with numbers, no NaN). Exports: ``conditions_mask``, pandas query strings, SQL in
DuckDB (the ``duckdb``, ``ansi`` and ``postgres`` dialects) and SQLite, forest SQL (uplift to the last bit), JSON,
rule text and DOT labels. Trees and forests, one or two treatments, classifier and regressor.
"""

from __future__ import annotations

import sqlite3

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upliftree
from upliftree import (
    UpliftRandomForestClassifier,
    UpliftRandomForestRegressor,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
)
from upliftree._validation import FeatureSchema, infer_schema
from upliftree.rules import conditions_mask, format_rule, leaf_conditions

KINDS = ["levels_with_infinities", "continuous_with_infinities", "bool", "nullable_bool", "category"]
EXTREMES = np.array([-np.inf, np.inf, np.nan, -1.7976931348623157e308, 1.7976931348623157e308, 0.0, -0.0, 5e-324])


def feature_values(kind: str, rng: np.random.Generator, n_rows: int, missing: float) -> tuple[object, np.ndarray]:
    """Training values of one feature and the signal it carries."""
    if kind == "levels_with_infinities":  # e.g. log(count): -inf for zero counts, few distinct values
        with np.errstate(divide="ignore"):
            values = np.log(rng.integers(0, 5, n_rows).astype(np.float64)) if rng.random() < 0.7 else \
                rng.choice(np.array([-np.inf, -1.0, 0.0, 2.5, np.inf]), n_rows)
        values[rng.random(n_rows) < missing] = np.nan
        return values, np.nan_to_num(values, nan=0.0, posinf=3.0, neginf=-3.0) < 0.5
    if kind == "continuous_with_infinities":
        values = rng.normal(size=n_rows)
        values[rng.random(n_rows) < 0.15] = -np.inf
        values[rng.random(n_rows) < 0.05] = np.inf
        values[rng.random(n_rows) < missing] = np.nan
        return values, np.nan_to_num(values, nan=0.0) > 0
    if kind in ("bool", "nullable_bool"):
        flags = rng.random(n_rows) < 0.4
        if kind == "bool":
            return flags, flags
        values = pd.array(flags, dtype="boolean")
        values[rng.random(n_rows) < max(missing, 0.05)] = pd.NA
        return values, flags
    codes = rng.integers(0, 3, n_rows)
    values = pd.Series(np.array(["north", "south", "east"], dtype=object)[codes])
    values[rng.random(n_rows) < missing] = None
    return values.to_numpy(dtype=object), codes == 0


def scoring_values(kind: str, training: object, rng: np.random.Generator) -> object:
    """Training values followed by values at the edges: ±inf, NaN, the largest floats, both booleans, NA."""
    if kind in ("levels_with_infinities", "continuous_with_infinities"):
        return np.concatenate([training, EXTREMES, rng.choice(EXTREMES, 40)])
    if kind == "bool":
        return np.concatenate([training, rng.random(48) < 0.5])
    if kind == "nullable_bool":
        extra = pd.array(rng.random(48) < 0.5, dtype="boolean")
        extra[::3] = pd.NA
        return pd.array(np.concatenate([np.asarray(training, dtype=object), np.asarray(extra, dtype=object)]),
                        dtype="boolean")
    return np.concatenate([training, np.array(["mars", None] * 24, dtype=object)])


@st.composite
def experiments(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_rows = draw(st.integers(400, 1200))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))
    missing = draw(st.sampled_from([0.0, 0.1]))
    columns, scoring, signal = {}, {}, np.zeros(n_rows)
    for index, kind in enumerate(kinds):
        name = f"{kind}_{index}"
        columns[name], carried = feature_values(kind, rng, n_rows, missing)
        scoring[name] = scoring_values(kind, columns[name], rng)
        signal += carried
    n_treatments = draw(st.integers(1, 2))
    arm = rng.integers(0, n_treatments + 1, n_rows)
    effect = 0.3 * (arm > 0) * (signal - signal.mean())
    regression = draw(st.booleans())
    y = rng.normal(size=n_rows) + effect if regression else \
        (rng.random(n_rows) < np.clip(0.3 + effect, 0.05, 0.95)).astype(np.int64)
    params = dict(max_depth=draw(st.integers(1, 4)), min_samples_leaf=draw(st.sampled_from([5, 30])),
                  min_samples_treatment=3, max_bins=draw(st.sampled_from([4, 255])), random_state=seed)
    if draw(st.booleans()):
        model_class = UpliftRandomForestRegressor if regression else UpliftRandomForestClassifier
        model = model_class(n_estimators=3, verbose=0, **params)
    else:
        model_class = UpliftTreeRegressor if regression else UpliftTreeClassifier
        model = model_class(honest=draw(st.booleans()), **params)
    model.fit(pd.DataFrame(columns), arm, y)
    return model, pd.DataFrame(scoring)


def nan_doubles(connection: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> str:
    """A DuckDB table of ``frame`` whose missing float values are NaN doubles, not NULL (what a database holds
    after a computation such as 0/0)."""
    connection.register("frame", frame)
    floats = [column for column in frame.columns if frame[column].dtype == np.float64]
    replaced = ", ".join(f"""coalesce("{column}", 'NaN'::DOUBLE) AS "{column}\"""" for column in floats)
    connection.execute(f"CREATE TABLE nan_doubles AS SELECT * {f'REPLACE ({replaced})' if floats else ''} FROM frame")
    return "nan_doubles"


def sql_results(model, scoring: pd.DataFrame, **options) -> list[tuple[str, pd.DataFrame]]:
    """The query's output in DuckDB (every dialect it reads; NULLs, then NaN doubles) and in SQLite."""
    keyed = scoring.assign(row=np.arange(len(scoring)))
    connection = duckdb.connect()
    connection.register("scoring", keyed)
    results = [(dialect, connection.sql(model.to_sql("scoring", dialect, key_columns=["row"], **options)).df())
               for dialect in ("duckdb", "ansi", "postgres")]
    table = nan_doubles(connection, keyed)
    results += [(f"{dialect} on NaN doubles", connection.sql(model.to_sql(table, dialect, key_columns=["row"],
                                                                          **options)).df())
                for dialect in ("duckdb", "postgres")]  # ANSI SQL has no NaN
    lite = sqlite3.connect(":memory:")
    keyed.astype({column: object for column in keyed.columns if keyed[column].dtype == "boolean"}).to_sql(
        "scoring", lite, index=False)
    results.append(("sqlite", pd.read_sql_query(model.to_sql("scoring", "sqlite", key_columns=["row"], **options),
                                                lite)))
    return [(name, result.sort_values("row").reset_index(drop=True)) for name, result in results]


def uplift_names(model) -> list[str]:
    labels = [str(label) for label in model.treatments_]
    return ["uplift"] if len(labels) == 2 else [f"uplift_{label}" for label in labels[1:]]


def check_tree_exports(model, scoring: pd.DataFrame) -> None:
    leaves = model.apply(scoring)
    for leaf in model.tree_.leaf_ids:
        conditions = leaf_conditions(model.tree_, model.schema_, leaf)
        in_leaf = leaves == leaf
        np.testing.assert_array_equal(conditions_mask(conditions, scoring), in_leaf, err_msg=format_rule(conditions))
        # The text is true to the routing: a feature whose values reach the leaf is never "missing only".
        for condition in (condition for condition in conditions if not condition.is_categorical):
            values = scoring[condition.feature][in_leaf]
            if values.notna().any():
                assert condition.allows_values, (format_rule(conditions), values[values.notna()].iloc[0])
    for leaf, query in model.rules("query").items():
        np.testing.assert_array_equal(scoring.query(query, engine="python").index.to_numpy(),
                                      np.flatnonzero(leaves == leaf), err_msg=query)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(experiments())
def test_every_export_routes_like_predict(experiment) -> None:
    model, scoring = experiment
    is_forest = hasattr(model, "estimators_")
    prediction = model.predict(scoring).reshape(len(scoring), -1)
    trees = model.estimators_ if is_forest else [model]
    for tree in trees:
        check_tree_exports(tree, scoring)
    leaves = np.column_stack([tree.apply(scoring) for tree in trees])
    leaf_names = [f"leaf_id_{index}" for index in range(len(trees))] if is_forest else ["leaf_id"]
    for dialect, result in sql_results(model, scoring, **({"tree_leaf_ids": True} if is_forest else {})):
        np.testing.assert_array_equal(result[leaf_names].to_numpy(dtype=np.int64), leaves, err_msg=dialect)
        # Forests: each arm's leaf values summed in tree order, then divided, as predict does.
        np.testing.assert_array_equal(result[uplift_names(model)].to_numpy(dtype=np.float64), prediction,
                                      err_msg=dialect)
    loaded = upliftree.from_json(model.to_json())
    assert loaded.schema_ == model.schema_  # the bool flags survive the model file
    assert loaded.to_sql("scoring", "postgres") == model.to_sql("scoring", "postgres")


@pytest.fixture(scope="module")
def log_count_experiment() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """log(count) with zero counts (-inf, a fifth of the rows) where the treatment works; a few +inf."""
    rng = np.random.default_rng(1)
    n_rows = 4000
    arm = rng.integers(0, 3, n_rows)
    with np.errstate(divide="ignore"):
        log_count = np.log(rng.integers(0, 5, n_rows).astype(np.float64))
    log_count[rng.random(n_rows) < 0.02] = np.inf
    y = (rng.random(n_rows) < 0.1 + (arm > 0) * np.isneginf(log_count) * 0.4).astype(int)
    return pd.DataFrame({"log_count": log_count}), arm, y


def test_split_at_minus_infinity_reads_and_routes_exactly(log_count_experiment) -> None:
    X, arm, y = log_count_experiment
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=100).fit(X, arm, y)
    assert model.tree_.threshold[0] == -np.inf  # "log_count <= -inf": the zero counts go left
    text = model.rules()
    assert "[leaf 1] log_count = -inf:" in text and "log_count > -inf" in text and "never" not in text
    assert "log_count = -inf" in model.to_dot() and "never" not in model.to_dot()
    scoring = pd.concat([X, pd.DataFrame({"log_count": EXTREMES})], ignore_index=True)
    check_tree_exports(model, scoring)
    check_tree_exports(model, scoring.astype("Float64"))  # nullable floats: NaN becomes pd.NA
    for dialect, result in sql_results(model, scoring):
        np.testing.assert_array_equal(result["leaf_id"], model.apply(scoring), err_msg=dialect)
    forest = UpliftRandomForestClassifier(n_estimators=4, max_depth=2, min_samples_leaf=100, random_state=0,
                                          verbose=0).fit(X, arm, y)
    assert any((tree.tree_.threshold == -np.inf).any() for tree in forest.estimators_)
    for dialect, result in sql_results(forest, scoring):
        np.testing.assert_array_equal(result[["uplift_1", "uplift_2"]].to_numpy(), forest.predict(scoring),
                                      err_msg=dialect)


def test_bool_features_score_in_every_dialect() -> None:
    """DuckDB had no isnan(BOOLEAN) and ANSI/Postgres cannot compare BOOLEAN with DOUBLE PRECISION."""
    rng = np.random.default_rng(2)
    n_rows = 4000
    arm = rng.integers(0, 2, n_rows)
    member = rng.random(n_rows) < 0.4
    opted_in = pd.array(rng.random(n_rows) < 0.5, dtype="boolean")
    opted_in[rng.random(n_rows) < 0.1] = pd.NA
    y = (rng.random(n_rows) < 0.1 + arm * (member * 0.3 + opted_in.fillna(False).to_numpy(bool) * 0.2)).astype(int)
    X = pd.DataFrame({"member": member, "opted in": opted_in})
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=100).fit(X, arm, y)
    assert model.schema_.is_bool == (True, True)
    assert set(model.tree_.feature[model.tree_.children_left >= 0]) == {0, 1}
    sql = model.to_sql("scoring", "postgres")
    assert '"member" IN (TRUE)' in sql or '"member" IN (FALSE)' in sql
    assert "isnan" not in model.to_sql("scoring", "duckdb") and "isnan" not in model.to_sql("scoring", "spark")
    check_tree_exports(model, X)
    for dialect, result in sql_results(model, X):
        np.testing.assert_array_equal(result["leaf_id"], model.apply(X), err_msg=dialect)
        np.testing.assert_array_equal(result["uplift"], model.predict(X), err_msg=dialect)


def test_schema_records_bool_columns() -> None:
    X = pd.DataFrame({"flag": [True, False], "nullable": pd.array([True, None], dtype="boolean"), "count": [1, 0],
                      "text flags": np.array([True, False], dtype=object)})
    assert infer_schema(X).is_bool == (True, True, False, False)  # an object column is categorical
    assert infer_schema(np.array([[True], [False]])).is_bool == (True,)
    assert FeatureSchema(("a",), (None,)).is_bool == (False,)  # models saved before the flag
    assert infer_schema(X).with_missing((False,) * 4).is_bool == (True, True, False, False)
