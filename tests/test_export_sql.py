"""SQL export: quoting and escaping per dialect, exact thresholds, NaN and NULL routing, actions, argument errors.

Generated models are checked row by row in ``test_export_roundtrip.py``; here are the targeted cases.
"""

from __future__ import annotations

import math
import sqlite3

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree import UpliftRandomForestClassifier, UpliftRandomForestRegressor, UpliftTreeClassifier
from upliftree.export.sql import DIALECTS

HOSTILE_COLUMN = 'x"; DROP TABLE victims; --'
HOSTILE_CATEGORY = "two\nlines'); DROP TABLE victims; --"  # the line break must survive indentation
QUOTED_CATEGORY = "'two\nlines''); DROP TABLE victims; --'"


@pytest.fixture(scope="module")
def tree(binary_experiment) -> UpliftTreeClassifier:
    experiment = binary_experiment
    return UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, control="control", random_state=0).fit(
        experiment.X, experiment.treatment, experiment.y)


@pytest.fixture(scope="module")
def hostile_model() -> tuple[UpliftTreeClassifier, pd.DataFrame]:
    """A tree splitting on a column and a category whose names try to end the statement and drop a table."""
    rng = np.random.default_rng(5)
    n_rows = 3000
    arm = rng.integers(0, 2, n_rows)
    category = rng.choice(np.array([HOSTILE_CATEGORY, "back\\slash"], dtype=object), n_rows)
    number = rng.normal(size=n_rows)
    lift = (category == HOSTILE_CATEGORY) * 0.3 + (number > 0.5) * 0.2
    y = (rng.random(n_rows) < 0.1 + arm * lift).astype(int)
    X = pd.DataFrame({HOSTILE_COLUMN: category, "value's \\ name": number})
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=100).fit(X, arm, y)
    assert model.tree_.is_categorical.any() and (~model.tree_.is_categorical & ~model.tree_.is_leaf).any()
    return model, X


def test_hostile_names_cannot_inject_in_sqlite(hostile_model) -> None:
    model, X = hostile_model
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE victims (id INTEGER)")
    X.to_sql("customer rows", connection, index=False)
    query = model.to_sql("customer rows", "sqlite")
    assert '"x""; DROP TABLE victims; --"' in query and QUOTED_CATEGORY in query
    result = pd.read_sql_query(query, connection)
    np.testing.assert_array_equal(result["leaf_id"], model.apply(X))
    np.testing.assert_array_equal(result["uplift"], model.predict(X))
    assert connection.execute("SELECT count(*) FROM victims").fetchone() == (0,)


@pytest.mark.parametrize("dialect", ["duckdb", "ansi", "postgres"])
def test_hostile_names_run_in_duckdb(hostile_model, dialect) -> None:
    """DuckDB also reads the Postgres dialect (E'' strings, CAST('NaN' AS DOUBLE PRECISION)) and ANSI."""
    model, X = hostile_model
    connection = duckdb.connect()
    connection.execute("CREATE TABLE victims (id INTEGER)")
    connection.register("rows", X)
    query = model.to_sql("rows", dialect)
    assert QUOTED_CATEGORY in query
    result = connection.sql(query).df()
    np.testing.assert_array_equal(result["leaf_id"], model.apply(X))
    np.testing.assert_array_equal(result["uplift"], model.predict(X))
    assert connection.sql("SELECT count(*) FROM victims").fetchall()[0] == (0,)


def test_spark_quoting() -> None:
    spark = DIALECTS["spark"]
    assert spark.identifier("a`b c") == "`a``b c`"
    assert spark.string("it's a \\ test") == "'it\\'s a \\\\ test'"
    assert spark.missing_tests("`x`") == ["`x` IS NULL", "isnan(`x`)"]


@pytest.mark.parametrize(("dialect", "identifier", "string"), [
    ("ansi", '"a""b"', "'it''s \\'"),
    ("duckdb", '"a""b"', "'it''s \\'"),
    ("sqlite", '"a""b"', "'it''s \\'"),
    ("postgres", '"a""b"', "E'it''s \\\\'"),
    ("spark", '`a"b`', "'it\\'s \\\\'"),
])
def test_quoting_per_dialect(dialect, identifier, string) -> None:
    assert DIALECTS[dialect].identifier('a"b') == identifier
    assert DIALECTS[dialect].string("it's \\") == string


def test_nul_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        DIALECTS["ansi"].identifier("a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        DIALECTS["spark"].string("a\x00")


def test_double_literals_are_exact_and_typed() -> None:
    duck = DIALECTS["duckdb"]
    for value in (0.1, 1 / 3, 1e-300, -2.5e17, 35.0, np.nextafter(0.3, 1.0)):
        literal = duck.number(value)
        assert duckdb.sql(f"SELECT {literal} AS v, typeof({literal}) AS t").fetchall()[0] == (value, "DOUBLE")
        assert sqlite3.connect(":memory:").execute(f"SELECT {DIALECTS['sqlite'].number(value)}").fetchone() == (value,)
    assert duckdb.sql(f"SELECT {duck.number(-np.inf)}").fetchall()[0] == (-np.inf,)
    assert sqlite3.connect(":memory:").execute(f"SELECT {DIALECTS['sqlite'].number(np.inf)}").fetchone() == (np.inf,)
    with pytest.raises(ValueError, match="NaN"):
        duck.number(np.nan)


SQLITE = sqlite3.connect(":memory:")
DUCKDB = duckdb.connect()
# Doubles SQLite 3.40 reads as a neighbouring double when written as their shortest decimal (which ones
# depends on the build): a forest leaf value among them made the SQL uplift differ from predict by 1 ulp.
MISREAD_BY_SQLITE = [-0.3444361095495517, 0.3096649754428418, -0.2768167722081116, 4.097352393619469e-302]


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False) | st.sampled_from(MISREAD_BY_SQLITE))
def test_every_double_reads_back_exactly(value) -> None:
    """SQLite gets integers and powers of two (exact), DuckDB and Postgres the shortest round-trip decimal."""
    results = [("sqlite", SQLITE.execute(f"SELECT {DIALECTS['sqlite'].number(value)}").fetchone()[0])]
    results += [(name, DUCKDB.sql(f"SELECT {DIALECTS[name].double(value)}").fetchall()[0][0])
                for name in ("duckdb", "ansi", "postgres")]
    for name, result in results:
        assert result == value and math.copysign(1.0, result) == math.copysign(1.0, value), (name, value, result)


def test_forest_sql_in_sqlite_is_exact_to_the_last_bit() -> None:
    """Outcomes near 1e-302, where SQLite 3.40 misreads a fifth of all 17-digit literals (every row's uplift
    differed by an ulp), and ordinary ones."""
    rng = np.random.default_rng(4)
    n_rows = 3000
    X = pd.DataFrame({"x": rng.normal(size=n_rows), "k": rng.integers(0, 7, n_rows)})
    arm = rng.integers(0, 3, n_rows)
    y = rng.normal(size=n_rows) + 0.5 * (arm > 0) * (X["x"] > 0)
    connection = sqlite3.connect(":memory:")
    X.to_sql("scoring", connection, index=False)
    for scale in (1e-302, 1.0):
        forest = UpliftRandomForestRegressor(n_estimators=8, max_depth=3, min_samples_leaf=50, random_state=0,
                                             verbose=0).fit(X, arm, y * scale)
        result = pd.read_sql_query(forest.to_sql("scoring", "sqlite"), connection)
        np.testing.assert_array_equal(result[["uplift_1", "uplift_2"]].to_numpy(), forest.predict(X),
                                      err_msg=f"scale {scale}")


def test_adjacent_floats_are_split_exactly() -> None:
    """A threshold printed with fewer digits would send the row just above it to the wrong side."""
    rng = np.random.default_rng(3)
    n_rows = 2000
    low, high = 0.3, np.nextafter(0.3, 1.0)
    arm = rng.integers(0, 2, n_rows)
    x = np.where(rng.random(n_rows) < 0.5, low, high)
    y = (rng.random(n_rows) < 0.1 + 0.4 * arm * (x == high)).astype(int)
    X = pd.DataFrame({"x": x})
    model = UpliftTreeClassifier(max_depth=1, min_samples_leaf=50).fit(X, arm, y)
    assert model.tree_.threshold[0] == low
    expected = model.apply(X)
    assert len(np.unique(expected)) == 2
    np.testing.assert_array_equal(duckdb.sql(model.to_sql("X", "duckdb")).df()["leaf_id"], expected)
    connection = sqlite3.connect(":memory:")
    X.to_sql("X", connection, index=False)
    np.testing.assert_array_equal(pd.read_sql_query(model.to_sql("X", "sqlite"), connection)["leaf_id"], expected)


def test_nan_doubles_follow_the_missing_direction_in_duckdb(tree, binary_experiment) -> None:
    """pandas NaN reaches DuckDB as NULL; a stored NaN double is a value, which the SQL must treat as missing."""
    X = binary_experiment.X.iloc[:400].copy()
    X.loc[X.index[::3], "income"] = np.nan
    X.loc[X.index[::4], "age"] = np.nan
    connection = duckdb.connect()
    connection.register("frame", X)
    connection.execute("CREATE TABLE scoring AS SELECT * REPLACE (coalesce(income, 'NaN'::DOUBLE) AS income, "
                       "coalesce(age, 'NaN'::DOUBLE) AS age) FROM frame")
    assert connection.sql("SELECT count(*) FROM scoring WHERE isnan(income)").fetchall()[0][0] > 100
    result = connection.sql(tree.to_sql("scoring", "duckdb")).df()
    np.testing.assert_array_equal(result["leaf_id"], tree.apply(X))


def test_actions_keys_and_qualified_table(tree, binary_experiment) -> None:
    X = binary_experiment.X.assign(customer=np.arange(len(binary_experiment.X)))
    leaves = tree.tree_.leaf_ids
    actions = {int(leaf): ("email" if tree.tree_.uplift[leaf, 0] > 0 else "nothing") for leaf in leaves}
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA crm")
    connection.register("frame", X)
    connection.execute("CREATE TABLE crm.customers AS SELECT * FROM frame")
    query = tree.to_sql(("crm", "customers"), "duckdb", key_columns=["customer"], leaf_actions=actions)
    assert 'FROM "crm"."customers"' in query
    result = connection.sql(query).df().sort_values("customer")
    assert list(result.columns) == ["customer", "leaf_id", "uplift", "action"]
    expected = [actions[leaf] for leaf in tree.apply(X)]
    assert result["action"].tolist() == expected


def test_stump_scores_every_row_in_its_only_leaf(binary_experiment) -> None:
    experiment = binary_experiment
    stump = UpliftTreeClassifier(max_depth=0, control="control").fit(experiment.X, experiment.treatment, experiment.y)
    frame = experiment.X
    result = duckdb.sql(stump.to_sql("frame", "duckdb")).df()
    assert (result["leaf_id"] == 0).all() and len(result) == len(frame)
    np.testing.assert_array_equal(result["uplift"], stump.predict(frame))


def test_argument_errors(tree, binary_experiment) -> None:
    with pytest.raises(ValueError, match="dialect must be one of"):
        tree.to_sql("t", "mysql")
    with pytest.raises(TypeError, match="key_columns must be a sequence of column names"):
        tree.to_sql("t", key_columns="id")
    with pytest.raises(TypeError, match="table must be a table name"):
        tree.to_sql(42)
    with pytest.raises(ValueError, match="several columns named \\['LEAF_ID', 'leaf_id'\\]"):
        tree.to_sql("t", key_columns=["LEAF_ID"])
    leaves = tree.tree_.leaf_ids
    with pytest.raises(ValueError, match="missing \\[" + str(leaves[-1])):
        tree.to_sql("t", leaf_actions={int(leaf): "a" for leaf in leaves[:-1]})
    with pytest.raises(TypeError, match="leaf ids"):
        tree.to_sql("t", leaf_actions={str(leaf): "a" for leaf in leaves})
    with pytest.raises(ValueError, match="not fitted"):
        UpliftTreeClassifier().to_sql("t")
    experiment = binary_experiment
    forest = UpliftRandomForestClassifier(n_estimators=2, max_depth=2, min_samples_leaf=300, control="control",
                                          verbose=0).fit(experiment.X, experiment.treatment, experiment.y)
    with pytest.raises(ValueError, match="leaf_actions applies to a single tree"):
        forest.to_sql("t", leaf_actions={0: "a"})
