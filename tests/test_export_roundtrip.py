"""Round trips of generated models: JSON, SQL (run in DuckDB and SQLite) and pandas query strings must route
and score every row exactly like ``apply`` / ``predict``.

Hypothesis draws the experiment: numeric (float with NaN and -inf, int, bool) and categorical (string or int categories)
features whose names and category values contain quotes, spaces, backticks, backslashes and non-ASCII
letters; 1-3 treatments with string or int labels; classifier or regressor. Scoring data adds missing
values, infinities and categories unseen at fit time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

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
from upliftree.export.sql import DIALECTS

TRICKY_NAMES = ['weird "col"; drop table x; --', "it's", "a b", "größe", "`tick`", "名前", "back\\slash", "x.y",
                "SELECT", "leaf_id ", "émoji 🙂", "[bracket]", "semi;colon", "tab\there", "line\nbreak"]
TRICKY_CATEGORIES = ["north", "it's", 'say "hi"', "a|b", "ünïcödé", "back\\slash", " padded ", "", "NULL",
                     "%_like", "🙂", "x')); DROP TABLE t; --", "two\nlines"]
NAME_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)


@dataclass(frozen=True)
class Case:
    model: object
    X_score: pd.DataFrame
    key: str


@st.composite
def cases(draw) -> Case:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_features = draw(st.integers(1, 4))
    names = draw(st.lists(st.sampled_from(TRICKY_NAMES) | NAME_TEXT, min_size=n_features, max_size=n_features,
                          unique_by=lambda name: name.casefold()))
    # A key column that cannot collide with the features or the outputs.
    key = "row key"
    names = [name for name in names if name.casefold() not in ("row key", "leaf_id", "scored")] or ["feature"]
    kinds = [draw(st.sampled_from(["float", "int", "bool", "str_category", "int_category"])) for _ in names]
    n_rows = draw(st.integers(300, 900))
    columns, score_columns = {}, {}
    signal = np.zeros(n_rows)
    for name, kind in zip(names, kinds, strict=True):
        n_score = 200
        if kind == "float":
            values = rng.normal(size=n_rows) * 10.0 ** rng.integers(-3, 4)
            values[rng.random(n_rows) < draw(st.sampled_from([0.0, 0.1, 0.3]))] = np.nan
            values[rng.random(n_rows) < draw(st.sampled_from([0.0, 0.2]))] = -np.inf  # log(0), a split value
            score = rng.normal(size=n_score) * np.nanstd(values[np.isfinite(values)]) * 1.5
            score[rng.random(n_score) < 0.2] = np.nan
            score[rng.random(n_score) < 0.1] = rng.choice([-np.inf, np.inf])
            signal += np.nan_to_num(values > np.nanmedian(values))
        elif kind == "int":
            values = rng.integers(-5, 6, n_rows)
            score = rng.integers(-8, 9, n_score)
            signal += values > 0
        elif kind == "bool":  # a BOOLEAN column in the databases
            values = rng.random(n_rows) < 0.4
            score = rng.random(n_score) < 0.5
            signal += values
        else:
            n_categories = draw(st.integers(2, 6))
            if kind == "str_category":
                categories = draw(st.lists(st.sampled_from(TRICKY_CATEGORIES) | NAME_TEXT, min_size=n_categories,
                                           max_size=n_categories, unique=True))
                unseen = "never seen before"
                while unseen in categories:
                    unseen += "!"
            else:
                categories = draw(st.lists(st.integers(-50, 50), min_size=n_categories, max_size=n_categories,
                                           unique=True))
                unseen = max(categories) + 1
            codes = rng.integers(0, len(categories), n_rows)
            values = pd.Categorical.from_codes(codes, categories=categories)
            if draw(st.booleans()):
                values = pd.Categorical(values.astype(object), categories=categories)
                values[rng.random(n_rows) < 0.1] = np.nan
            score = np.asarray(rng.choice(np.asarray(categories + [unseen], dtype=object), n_score), dtype=object)
            score[rng.random(n_score) < 0.15] = None
            signal += codes % 2
        columns[name] = values
        score_columns[name] = score
    X = pd.DataFrame(columns)
    n_treatments = draw(st.integers(1, 3))
    if draw(st.booleans()):
        labels = ["control"] + draw(st.lists(st.sampled_from(TRICKY_CATEGORIES[1:]) | NAME_TEXT,
                                             min_size=n_treatments, max_size=n_treatments,
                                             unique_by=lambda label: label.casefold()).filter(
            lambda labels: "control" not in [label.casefold() for label in labels]))
    else:
        labels = list(range(n_treatments + 1))
    arm = rng.integers(0, n_treatments + 1, n_rows)
    treatment = np.asarray(labels, dtype=object)[arm]
    if isinstance(labels[0], int):
        treatment = treatment.astype(np.int64)
    effect = 0.3 * (arm > 0) * (signal - signal.mean())
    regression = draw(st.booleans())
    estimator_class = UpliftTreeRegressor if regression else UpliftTreeClassifier
    if regression:
        y = rng.normal(size=n_rows) + effect
    else:
        y = (rng.random(n_rows) < np.clip(0.3 + effect, 0.05, 0.95)).astype(np.int64)
    model = estimator_class(max_depth=draw(st.integers(1, 4)), min_samples_leaf=draw(st.sampled_from([5, 20, 60])),
                            min_samples_treatment=3, n_reg=draw(st.sampled_from([0, 10])),
                            max_bins=draw(st.sampled_from([8, 255])), control=labels[0],
                            honest=draw(st.booleans()), random_state=seed)
    model.fit(X, treatment, y)
    X_score = pd.DataFrame(score_columns)
    X_score.insert(0, key, np.arange(len(X_score)))
    return Case(model, X_score, key)


def uplift_columns(model) -> list[str]:
    labels = [str(label) for label in model.treatments_]
    return ["uplift"] if len(labels) == 2 else [f"uplift_{label}" for label in labels[1:]]


def sqlite_table(frame: pd.DataFrame, name: str) -> sqlite3.Connection:
    """A SQLite table holding ``frame``, created with quoted names so any column name works."""
    connection = sqlite3.connect(":memory:")
    dialect = DIALECTS["sqlite"]
    columns = ", ".join(dialect.identifier(str(column)) for column in frame.columns)
    connection.execute(f"CREATE TABLE {dialect.identifier(name)} ({columns})")
    rows = [[None if pd.isna(value) else (value.item() if isinstance(value, np.generic) else value)
             for value in row] for row in frame.astype(object).itertuples(index=False)]
    marks = ", ".join("?" * frame.shape[1])
    connection.executemany(f"INSERT INTO {dialect.identifier(name)} VALUES ({marks})", rows)
    return connection


def check_scores(result: pd.DataFrame, case: Case, apply_ids: np.ndarray, prediction: np.ndarray) -> None:
    result = result.sort_values(case.key).reset_index(drop=True)
    assert result[case.key].tolist() == case.X_score[case.key].tolist()
    np.testing.assert_array_equal(result["leaf_id"].to_numpy(dtype=np.int64), apply_ids)
    np.testing.assert_array_equal(result[uplift_columns(case.model)].to_numpy(dtype=np.float64), prediction)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_json_sql_and_query_round_trips(case: Case) -> None:
    model, features = case.model, case.X_score.drop(columns=[case.key])
    apply_ids = model.apply(features)
    outcome = model.predict_outcome(features)
    prediction = outcome[:, 1:] - outcome[:, :1]  # what predict returns, as a matrix

    # JSON: same predictions, and writing the loaded model gives the same text.
    text = model.to_json()
    loaded = upliftree.from_json(text)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.apply(features), apply_ids)
    np.testing.assert_array_equal(loaded.predict_outcome(features), outcome)
    assert loaded.to_json() == text
    assert loaded.schema_ == model.schema_  # names, categories and the "had missing values" flags
    assert loaded.rules() == model.rules()
    assert list(loaded.treatments_) == list(model.treatments_)
    assert [type(label) for label in loaded.treatments_] == [type(label) for label in model.treatments_]

    # SQL in DuckDB (the frame is scanned directly) and SQLite (a real table).
    scoring = case.X_score  # noqa: F841  (DuckDB reads the local variable by name)
    check_scores(duckdb.sql(model.to_sql("scoring", "duckdb", key_columns=[case.key])).df(), case, apply_ids,
                 prediction)
    connection = sqlite_table(case.X_score, "scoring table")
    query = model.to_sql("scoring table", "sqlite", key_columns=[case.key])
    check_scores(pd.read_sql_query(query, connection), case, apply_ids, prediction)

    # pandas query strings select exactly each leaf's rows (pandas cannot parse some names, e.g. with tabs).
    try:
        queries = model.rules(format="query")
    except ValueError as error:
        assert "pandas query strings cannot refer to the column" in str(error)
        return
    for leaf, text in queries.items():
        selected = features.query(text, engine="python").index.to_numpy()
        np.testing.assert_array_equal(selected, np.flatnonzero(apply_ids == leaf), err_msg=text)


@pytest.mark.parametrize("forest_class", [UpliftRandomForestClassifier, UpliftRandomForestRegressor])
def test_forest_round_trips(forest_class, multi_treatment_experiment) -> None:
    experiment = multi_treatment_experiment
    X = experiment.X.copy()
    X["region"] = X["region"].astype(object)
    y = experiment.y if forest_class is UpliftRandomForestClassifier else experiment.y * 12.5
    forest = forest_class(n_estimators=6, max_depth=3, min_samples_leaf=100, control="control", random_state=3,
                          verbose=0).fit(X, experiment.treatment, y)
    scoring = X.iloc[:500].copy()
    scoring.loc[scoring.index[::9], "region"] = "atlantis"
    scoring.loc[scoring.index[::7], "income"] = np.nan
    scoring.insert(0, "id", np.arange(len(scoring)))
    features = scoring.drop(columns="id")
    prediction, leaves = forest.predict(features), forest.apply(features)

    loaded = upliftree.from_json(forest.to_json())
    assert type(loaded) is forest_class and len(loaded.estimators_) == 6
    assert loaded.schema_ == forest.schema_ and loaded.schema_.has_missing == (False, False, False, True, False, False)
    assert all(tree.schema_ == forest.schema_ for tree in loaded.estimators_)
    np.testing.assert_array_equal(loaded.predict(features), prediction)
    np.testing.assert_array_equal(loaded.apply(features), leaves)
    np.testing.assert_array_equal(loaded.feature_importances_, forest.feature_importances_)

    names = ["uplift_discount", "uplift_email"]
    leaf_names = [f"leaf_id_{index}" for index in range(6)]
    duck = duckdb.sql(forest.to_sql("scoring", "duckdb", key_columns=["id"], tree_leaf_ids=True)).df()
    np.testing.assert_array_equal(duck.sort_values("id")[leaf_names].to_numpy(), leaves)
    connection = sqlite_table(scoring, "scoring")
    lite = pd.read_sql_query(forest.to_sql("scoring", "sqlite", key_columns=["id"]), connection)
    assert list(lite.columns) == ["id", *names]
    # The SQL sums the trees' leaf values in tree order and divides, as predict does: equal to the last bit.
    for result in (duck, lite):
        np.testing.assert_array_equal(result.sort_values("id")[names].to_numpy(), prediction)
