"""Polars and PyArrow input reads exactly like the equivalent pandas input, everywhere pandas is accepted.

Tables (Polars DataFrames, PyArrow Tables and RecordBatches) and columns (Polars Series, PyArrow Arrays and
ChunkedArrays) go through ``upliftree._validation.as_pandas``: fitted models are the same JSON, and
``predict``, ``apply``, metrics, policies (decisions, eligibility lists, net values, policy value and their
column-name arguments), ``conditions_mask``, distillation and monitoring give the same results, on floats
with NaN, null and ``-inf``, nullable ints, bools with and without nulls, strings, Polars ``Categorical``
and ``Enum`` and PyArrow dictionaries, under hostile column names.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_export_roundtrip import NAME_TEXT, TRICKY_CATEGORIES, TRICKY_NAMES, cases
from test_export_routing import experiments

import upliftree
from upliftree import (
    Policy,
    UpliftRandomForestClassifier,
    UpliftRandomForestRegressor,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    metrics,
    policy_value,
)
from upliftree._validation import as_pandas
from upliftree.monitor import drift_report, training_profile
from upliftree.rules import conditions_mask, leaf_conditions

pytestmark = pytest.mark.filterwarnings("ignore:Column .* more than max_bins:UserWarning")
ESTIMATORS = (UpliftTreeClassifier, UpliftTreeRegressor, UpliftRandomForestClassifier, UpliftRandomForestRegressor)
KINDS = ("float", "nullable_int", "nullable_bool", "bool", "category", "string", "enum")


def polars_frame(frame: pd.DataFrame, enums: dict[str, list]) -> pl.DataFrame:
    """``frame`` in Polars: ``category`` becomes ``Categorical``, the ``enums`` columns ``Enum`` (their order)."""
    return pl.from_pandas(frame).with_columns([pl.col(name).cast(pl.Enum(order)) for name, order in enums.items()])


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` in PyArrow: categoricals become dictionaries (ordered ones ordered)."""
    return pa.Table.from_pandas(frame, preserve_index=False)


def libraries(frame: pd.DataFrame, enums: dict[str, list] | None = None) -> dict[str, object]:
    """The same table as a Polars DataFrame, a PyArrow Table and a PyArrow RecordBatch."""
    table = arrow_table(frame)
    return {"polars": polars_frame(frame, enums or {}), "pyarrow": table,
            "record batch": table.combine_chunks().to_batches()[0]}


def columns(values: np.ndarray) -> dict[str, object]:
    """The same column as a Polars Series, a PyArrow Array and a PyArrow ChunkedArray."""
    return {"polars": pl.Series(values), "pyarrow": pa.array(values),
            "chunked": pa.chunked_array([values[: len(values) // 2], values[len(values) // 2:]])}


def feature(kind: str, rng: np.random.Generator, n_rows: int, categories: list[str]) -> tuple[object, np.ndarray]:
    """Values of one pandas column of ``kind`` and the signal they carry."""
    missing = rng.random(n_rows) < 0.1
    if kind == "float":
        values = rng.normal(size=n_rows)
        values[rng.random(n_rows) < 0.05] = -np.inf
        values[missing] = np.nan
        return values, np.nan_to_num(values) > 0
    if kind == "nullable_int":
        values = rng.integers(-5, 6, n_rows)
        return pd.array(np.where(missing, None, values), dtype="Int64"), values > 0
    if kind in ("nullable_bool", "bool"):
        flags = rng.random(n_rows) < 0.4
        return (flags if kind == "bool" else pd.array(np.where(missing, None, flags), dtype="boolean")), flags
    codes = rng.integers(0, len(categories), n_rows)
    values = np.where(missing, None, np.asarray(categories, dtype=object)[codes])
    if kind == "category":
        return pd.Categorical(values), codes % 2 == 0
    if kind == "enum":  # an order of its own, not sorted
        return pd.Categorical(values, categories=categories[::-1], ordered=True), codes % 2 == 0
    return values, codes % 2 == 0


@st.composite
def experiments_in_pandas(draw):
    """A pandas experiment whose columns each have a Polars and an Arrow equivalent, and a model to fit."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_rows = draw(st.integers(300, 800))
    names = draw(st.lists(st.sampled_from(TRICKY_NAMES) | NAME_TEXT, min_size=1, max_size=4, unique=True))
    columns_, enums, signal = {}, {}, np.zeros(n_rows)
    for name in names:
        kind = draw(st.sampled_from(KINDS))
        categories = draw(st.lists(st.sampled_from(TRICKY_CATEGORIES) | NAME_TEXT, min_size=2, max_size=5,
                                   unique=True))
        columns_[name], carried = feature(kind, rng, n_rows, categories)
        signal += carried
        if kind == "enum":
            enums[name] = categories[::-1]
    arm = rng.integers(0, draw(st.integers(2, 3)), n_rows)
    treatment = np.array(["control", "email", "call"], dtype=object)[arm]
    effect = 0.3 * (arm > 0) * (signal - signal.mean())
    estimator = draw(st.sampled_from(ESTIMATORS))
    if estimator in (UpliftTreeClassifier, UpliftRandomForestClassifier):
        y = (rng.random(n_rows) < np.clip(0.3 + effect, 0.05, 0.95)).astype(np.int64)
    else:
        y = rng.normal(size=n_rows) + effect
    options = {"n_estimators": 3, "verbose": 0} if estimator in ESTIMATORS[2:] else \
        {"honest": draw(st.booleans())}
    model = estimator(max_depth=draw(st.integers(1, 3)), min_samples_leaf=20, min_samples_treatment=3,
                      max_bins=draw(st.sampled_from([4, 255])), control="control", random_state=seed, **options)
    return model, pd.DataFrame(columns_), enums, treatment, y


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(experiments_in_pandas())
def test_polars_and_arrow_fit_the_same_model_as_pandas(experiment) -> None:
    model, X, enums, treatment, y = experiment
    reference = upliftree.from_json(model.fit(X, treatment, y).to_json())
    prediction = reference.predict(X)
    # Columns of the libraries for the labels and the outcome too; the treatment as a Categorical once.
    labels = {**columns(treatment), "polars categorical": pl.Series(treatment.tolist(), dtype=pl.Categorical)}
    outcomes = columns(y)
    for index, (library, frame) in enumerate(libraries(X, enums).items()):
        label_values = list(labels.values())[index % len(labels)]
        fitted = model.fit(frame, label_values, list(outcomes.values())[index % len(outcomes)])
        assert fitted.to_json() == reference.to_json(), library
        np.testing.assert_array_equal(fitted.predict(frame), prediction, err_msg=library)
        np.testing.assert_array_equal(reference.apply(frame), reference.apply(X), err_msg=library)


def generated_scoring() -> st.SearchStrategy:
    """(model, scoring features) of the export tests: hostile names and categories, ±inf, nullable bools."""
    return st.one_of(experiments(), cases().map(lambda case: (case.model, case.X_score.drop(columns=case.key))))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(generated_scoring())
def test_polars_and_arrow_score_like_pandas(experiment) -> None:
    model, scoring = experiment
    prediction, leaves = model.predict(scoring), model.apply(scoring)
    for library, frame in libraries(scoring).items():
        np.testing.assert_array_equal(model.predict(frame), prediction, err_msg=library)
        np.testing.assert_array_equal(model.apply(frame), leaves, err_msg=library)


def test_unordered_dictionaries_read_in_sorted_order() -> None:
    """An unordered dictionary's order means nothing (a Polars Categorical's is the order strings first
    appeared in the process): its categories are sorted, so the model is that of the strings."""
    rng = np.random.default_rng(3)
    n_rows = 2000
    region = rng.choice(np.array(["west", "east", "north", "south"], dtype=object), n_rows)
    arm = rng.integers(0, 2, n_rows)
    y = (rng.random(n_rows) < 0.2 + 0.3 * arm * np.isin(region, ["west", "north"])).astype(int)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=100)
    reference = model.fit(pd.DataFrame({"region": region}), arm, y).to_json()
    pl.Series(["south", "north", "west", "east"], dtype=pl.Categorical)  # another first-seen order
    dictionary = pa.array(region).dictionary_encode()
    assert dictionary.dictionary.to_pylist() != sorted(dictionary.dictionary.to_pylist())
    for frame in (pl.DataFrame({"region": pl.Series(region.tolist(), dtype=pl.Categorical)}),
                  pa.table({"region": dictionary}), pa.table({"region": pa.array(region)})):
        assert model.fit(frame, arm, y).to_json() == reference
        assert as_pandas(frame, "X")["region"].dtype != object
    ordered = pa.DictionaryArray.from_arrays(dictionary.indices, dictionary.dictionary, ordered=True)
    read = as_pandas(pa.table({"region": ordered}), "X")["region"]
    assert list(read.cat.categories) == dictionary.dictionary.to_pylist() and read.cat.ordered


def test_dtypes_keep_their_meaning() -> None:
    frame = pl.DataFrame({
        "flag": pl.Series([True, None, False]), "count": pl.Series([1, None, 3], dtype=pl.UInt16),
        "amount": pl.Series([1.5, None, float("nan")]), "city": pl.Series(["b", None, "a"]),
        "tier": pl.Series(["gold", "basic", None], dtype=pl.Enum(["basic", "gold"])),
    })
    read = as_pandas(frame, "X")
    assert list(read.dtypes.astype(str)) == ["boolean", "UInt16", "float64", read["city"].dtype.name, "category"]
    assert pd.api.types.is_string_dtype(read["city"].dtype)
    assert read["amount"].isna().tolist() == [False, True, True]  # null and NaN: both missing values
    assert list(read["tier"].cat.categories) == ["basic", "gold"] and read["tier"].cat.ordered
    schema = UpliftTreeClassifier(max_depth=1, min_samples_leaf=1, min_samples_treatment=1).fit(
        frame, [0, 1, 1], [0, 1, 0]).schema_
    # A nullable bool stays a bool feature (NumPy would make it an object column: categories).
    assert schema.is_bool == (True, False, False, False, False)
    assert schema.categories[3:] == (("a", "b"), ("basic", "gold"))
    assert schema.has_missing == (True, True, True, True, True)
    series = as_pandas(pl.Series("y", [1, None]), "y")
    assert isinstance(series, pd.Series) and series.dtype == "Int64"
    for same in (np.arange(3), pd.DataFrame({"a": [1]}), pd.Series([1]), [1, 2]):
        assert as_pandas(same, "X") is same


def test_without_pyarrow_tables_say_so_and_columns_stay(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # "import pyarrow" now raises ImportError
    with pytest.raises(ImportError, match=r"X_est is a polars\..*DataFrame; reading it needs pyarrow"):
        as_pandas(pl.DataFrame({"a": [1]}), "X_est")
    column = pl.Series([1.0, 2.0])
    assert as_pandas(column, "y") is column


@pytest.fixture(scope="module")
def policy_experiment(multi_treatment_experiment):
    """Three arms; features plus the policy's columns: a cost, an eligibility flag, contacts and an id."""
    experiment = multi_treatment_experiment
    rng = np.random.default_rng(8)
    n_rows = len(experiment.y)
    X = experiment.X.assign(**{
        "cost per contact": rng.uniform(0.0, 2.0, n_rows), "may contact": rng.random(n_rows) < 0.8,
        "contacts": rng.integers(0, 5, n_rows), "customer id": np.arange(n_rows) * 7,
        "opted in": pd.array(np.where(rng.random(n_rows) < 0.1, None, rng.random(n_rows) < 0.5),
                             dtype="boolean"),
    })
    features = [*experiment.X.columns, "opted in"]
    tree = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, control="control", random_state=0).fit(
        X[features], experiment.treatment, experiment.y)
    return X, features, experiment.treatment, experiment.y, tree


def test_policies_take_polars_and_arrow(policy_experiment) -> None:
    X, _, treatment, y, tree = policy_experiment
    policy = Policy(tree, benefit={"email": 20.0, "discount": 25.0}, cost="cost per contact")
    decide = dict(rule="top_k", k=0.3, eligible="may contact", contacts="contacts", max_contacts=4)
    decided = policy.decide(X, **decide)
    queried = policy.decide(X, eligible="contacts < 3 and `may contact`")
    net_value = policy.net_value(X)
    listing = policy.eligibility(X, ids="customer id", random_state=1, **decide)
    sheet = policy.segment_sheet(X)
    value = policy_value(policy, X, treatment, y, n_boot=20, random_state=2)
    for library, frame in libraries(X).items():
        np.testing.assert_array_equal(policy.decide(frame, **decide), decided, err_msg=library)
        np.testing.assert_array_equal(policy.decide(frame, eligible="contacts < 3 and `may contact`"), queried)
        pd.testing.assert_frame_equal(policy.net_value(frame), net_value)
        pd.testing.assert_frame_equal(policy.eligibility(frame, ids="customer id", random_state=1, **decide),
                                      listing)
        pd.testing.assert_frame_equal(policy.segment_sheet(frame), sheet)
        np.testing.assert_array_equal(policy.treatment_cost(frame), policy.treatment_cost(X))
        labels = list(columns(treatment).values())[len(library) % 3]
        outcome = list(columns(y).values())[len(library) % 3]
        pd.testing.assert_frame_equal(policy_value(policy, frame, labels, outcome, n_boot=20, random_state=2),
                                      value)
    flags = X["may contact"].to_numpy()
    for library, mask in columns(flags).items():
        np.testing.assert_array_equal(policy.decide(X, eligible=mask), policy.decide(X, eligible=flags), library)


def test_exports_monitor_and_distill_take_polars_and_arrow(policy_experiment) -> None:
    X, features, treatment, y, tree = policy_experiment
    X = X[features]
    forest = UpliftRandomForestClassifier(n_estimators=4, max_depth=3, min_samples_leaf=200, control="control",
                                          random_state=5, verbose=0).fit(X, treatment, y)
    distilled = upliftree.distill(forest, X, treatment, y, max_depth=2, random_state=0).to_json()
    profile = training_profile(tree, X)
    drift = drift_report(tree, X, profile)
    leaves = tree.tree_.leaf_ids
    for library, frame in libraries(X).items():
        for leaf in leaves:
            conditions = leaf_conditions(tree.tree_, tree.schema_, leaf)
            np.testing.assert_array_equal(conditions_mask(conditions, frame), conditions_mask(conditions, X))
        assert upliftree.distill(forest, frame, treatment, y, max_depth=2, random_state=0).to_json() == distilled
        assert training_profile(tree, frame) == profile, library
        pd.testing.assert_frame_equal(drift_report(tree, frame, profile), drift)
        honest = UpliftTreeClassifier(max_depth=2, min_samples_leaf=200, control="control")
        np.testing.assert_array_equal(
            honest.fit(frame, treatment, y, X_est=frame, treatment_est=treatment, y_est=y).predict(X),
            honest.fit(X, treatment, y, X_est=X, treatment_est=treatment, y_est=y).predict(X))
        pruned = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, control="control").fit(X, treatment, y)
        assert pruned.prune(frame, treatment, y).to_json() == \
            UpliftTreeClassifier(**pruned.get_params()).fit(X, treatment, y).prune(X, treatment, y).to_json()


def test_metrics_take_polars_and_arrow_columns(binary_experiment) -> None:
    experiment = binary_experiment
    treated = (experiment.treatment != "control").astype(np.int64)
    y = experiment.y
    uplift = np.random.default_rng(9).normal(size=len(y))
    expected = {"qini": metrics.qini_auc_score(y, uplift, treated),
                "auuc": metrics.uplift_auc_score(y, uplift, treated),
                "deciles": metrics.uplift_by_percentile(y, uplift, treated)}
    for library in columns(y):
        args = [columns(values)[library] for values in (y, uplift, treated)]
        assert metrics.qini_auc_score(*args) == expected["qini"], library
        assert metrics.uplift_auc_score(*args) == expected["auuc"], library
        pd.testing.assert_frame_equal(metrics.uplift_by_percentile(*args), expected["deciles"])
        rows = metrics.one_vs_control(columns(y)[library], columns(uplift)[library],
                                      columns(experiment.treatment)[library], arm="email", control="control")
        reference = metrics.one_vs_control(y, uplift, experiment.treatment, arm="email", control="control")
        for got, want in zip(rows, reference, strict=True):
            np.testing.assert_array_equal(got, want)
