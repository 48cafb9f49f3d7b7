"""Hostile inputs at fit and predict (issue 13, section 2): each is either read exactly like its plain
equivalent or refused with an error naming the argument or column and what was expected.

- category values of another type than the fitted categories (integer codes for text categories, text for
  numeric ones) are refused, never routed as unseen; the same values in another container (object, str,
  category, pyarrow strings; int or float numbers) give the same leaves;
- outcomes and weights whose node statistics would overflow float64 are refused at fit, for every sample a
  model sums (training, ``X_est``, ``X_val``, a forest's bootstrap, distillation, Dask partitions, metrics);
  below the bound every statistic is finite and the model saves, loads and prints its rules;
- duplicated feature columns are refused at fit and predict, naming them;
- numeric object arrays (``df.values`` of mixed frames, None for missing) are read as scikit-learn reads
  them, text in them is refused; pandas nullable dtypes read like their numpy equivalents.
"""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upliftree
from upliftree import (
    UpliftRandomForestRegressor,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
)
from upliftree._validation import MAX_STATISTIC
from upliftree.export.distill import DistilledUpliftTree
from upliftree.metrics import qini_auc_score

N_ROWS = 600
SMALL_TREE = {"criterion": "ed", "max_depth": 3, "min_samples_leaf": 30, "min_samples_treatment": 5, "n_reg": 10}


def experiment(seed: int = 0, n_rows: int = N_ROWS):
    """A category ``code`` (values 1, 2, 3, 10) that moves the uplift, a numeric ``x``, arms 0/1, binary y."""
    rng = np.random.default_rng(seed)
    code = rng.choice([1, 2, 3, 10], n_rows)
    x = rng.normal(size=n_rows)
    treatment = rng.integers(0, 2, n_rows)
    uplift = np.where(code == 10, 0.4, np.where(code == 2, -0.3, 0.0))
    y = (rng.random(n_rows) < 0.4 + treatment * uplift + 0.1 * (x > 0)).astype(np.int64)
    return code, x, treatment, y


# -- 2.3: category values of another type ----------------------------------------------------------------
TEXT_FORMS = {
    "object str": lambda codes: pd.Series(codes.astype(str), dtype=object),
    "str": lambda codes: pd.Series(codes.astype(str), dtype="str"),
    "category of str": lambda codes: pd.Series(codes.astype(str), dtype="category"),
    "string[pyarrow]": lambda codes: pd.Series(codes.astype(str), dtype="string[pyarrow]"),
    "string[python]": lambda codes: pd.Series(codes.astype(str), dtype="string[python]"),
}
NUMBER_FORMS = {
    "object int": lambda codes: pd.Series(codes.tolist(), dtype=object),
    "category of int": lambda codes: pd.Series(codes, dtype="category"),
    "int64": lambda codes: pd.Series(codes, dtype=np.int64),
    "float64": lambda codes: pd.Series(codes, dtype=np.float64),
    "Int64": lambda codes: pd.Series(codes, dtype="Int64"),
    "category of float": lambda codes: pd.Series(codes.astype(np.float64), dtype="category"),
}
# Forms a categorical feature can be fitted from (int64/float64 columns are numeric features).
FIT_FORMS = {**TEXT_FORMS, **{name: NUMBER_FORMS[name] for name in ("object int", "category of int")}}
PREDICT_FORMS = {**TEXT_FORMS, **NUMBER_FORMS,
                 "object mixed": lambda codes: pd.Series([str(v) if i % 2 else int(v) for i, v in enumerate(codes)],
                                                         dtype=object)}


def kind_of_form(name: str) -> set[str]:
    if name == "object mixed":
        return {"text", "numeric"}
    return {"text"} if name in TEXT_FORMS else {"numeric"}


@pytest.fixture(scope="module")
def category_data():
    return experiment(seed=1)


@pytest.mark.parametrize("fit_form", sorted(FIT_FORMS))
@pytest.mark.parametrize("predict_form", sorted(PREDICT_FORMS))
def test_category_values_of_another_type_are_refused_never_routed_as_unseen(category_data, fit_form, predict_form):
    code, x, treatment, y = category_data
    X_fit = pd.DataFrame({"code": FIT_FORMS[fit_form](code), "x": x})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X_fit, treatment, y)
    assert tree.schema_.categories[0] is not None  # a categorical feature
    X_predict = pd.DataFrame({"code": PREDICT_FORMS[predict_form](code), "x": x})
    foreign = kind_of_form(predict_form) - kind_of_form(fit_form)
    if foreign:
        fitted = next(iter(kind_of_form(fit_form)))
        pattern = rf"Column 'code' holds {' and '.join(sorted(foreign))} values \(dtype .+\), but the model's " \
                  rf"categories for it are {fitted}"
        with pytest.raises(TypeError, match=pattern):
            tree.apply(X_predict)
    else:
        # The same values (3 and 3.0 are the same number) in another container: the same leaves.
        np.testing.assert_array_equal(tree.apply(X_predict), tree.apply(X_fit))


def test_integer_codes_for_text_categories_would_move_rows(category_data):
    """Why refusing matters: read as unseen categories, integer codes send many rows to other leaves."""
    code, x, treatment, y = category_data
    X_fit = pd.DataFrame({"code": code.astype(str), "x": x})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X_fit, treatment, y)
    assert tree.feature_importances_[0] > 0  # the tree splits on the category
    as_unseen = X_fit.assign(code=np.nan)  # what integer codes were silently read as
    assert (tree.apply(as_unseen) != tree.apply(X_fit)).mean() > 0.1
    with pytest.raises(TypeError, match=r"X\['code'\] = X\['code'\]\.astype\(str\)"):
        tree.apply(X_fit.assign(code=code))


def test_missing_and_unseen_values_of_the_right_type_still_route_as_missing(category_data):
    code, x, treatment, y = category_data
    X_fit = pd.DataFrame({"code": code.astype(str), "x": x})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X_fit, treatment, y)
    missing = tree.apply(X_fit.assign(code=None))
    for column in (pd.Series(["never seen"] * N_ROWS), pd.Series([np.nan] * N_ROWS),  # all-missing float column
                   pd.Series([pd.NA] * N_ROWS, dtype="string[pyarrow]")):
        np.testing.assert_array_equal(tree.apply(X_fit.assign(code=column)), missing)


def test_bool_values_never_match_numeric_categories():
    rng = np.random.default_rng(2)
    code = rng.choice([0, 1], N_ROWS)
    X_fit = pd.DataFrame({"flag": pd.Series(code, dtype="category"), "x": rng.normal(size=N_ROWS)})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X_fit, rng.integers(0, 2, N_ROWS), rng.integers(0, 2, N_ROWS))
    with pytest.raises(TypeError, match="Column 'flag' holds bool values"):
        tree.apply(X_fit.assign(flag=code.astype(bool)))


def test_a_categorical_model_refuses_numpy_input(category_data):
    code, x, treatment, y = category_data
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(pd.DataFrame({"code": code.astype(str), "x": x}), treatment, y)
    for array in (np.column_stack([code, x]), np.column_stack([code, x]).astype(object)):
        with pytest.raises(TypeError, match="categorical features; pass X as a pandas DataFrame"):
            tree.apply(array)


@pytest.mark.parametrize("form", ["str", "object str", "category of str"])
def test_a_numeric_feature_given_as_text_is_refused(category_data, form):
    code, x, treatment, y = category_data
    X_fit = pd.DataFrame({"code": code.astype(str), "x": x})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X_fit, treatment, y)
    text = pd.Series(x.astype(str))
    text = text.astype({"str": "str", "object str": object, "category of str": "category"}[form])
    with pytest.raises(TypeError, match="Column 'x'.*numeric at fit time"):
        tree.apply(X_fit.assign(x=text))


def test_a_numeric_feature_given_as_object_numbers_reads_like_floats(category_data):
    code, x, treatment, y = category_data
    x = np.where(np.arange(N_ROWS) % 7 == 0, np.nan, x)
    X_fit = pd.DataFrame({"code": code.astype(str), "x": x})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X_fit, treatment, y)
    objects = pd.Series([None if np.isnan(value) else value for value in x], dtype=object)
    np.testing.assert_array_equal(tree.apply(X_fit.assign(x=objects)), tree.apply(X_fit))


# -- 2.6: statistics that would overflow --------------------------------------------------------------------
def exact_sum(terms) -> float:
    """The correctly rounded sum of float terms (inf when it overflows)."""
    try:
        return math.fsum(terms)
    except OverflowError:
        return math.inf


def exact_totals(y: np.ndarray, weight: np.ndarray) -> list[float]:
    """The rule's totals computed independently, one Python float product per row (inf once one overflows)."""
    y, weight = y.tolist(), weight.tolist()
    return [exact_sum(weight), exact_sum(w * abs(v) for w, v in zip(weight, y, strict=True)),
            exact_sum(w * v * v for w, v in zip(weight, y, strict=True)), exact_sum(w * w for w in weight)]


def assert_usable(model, X) -> None:
    """Every statistic finite; the model saves, loads (same predictions) and prints its rules and segments,
    with no overflow on the way (numpy's overflow warnings are errors here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "overflow", RuntimeWarning)
        for tree in getattr(model, "estimators_", [model]):
            assert np.isfinite(tree.tree_.stats).all()
        loaded = upliftree.from_json(model.to_json())
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        if not hasattr(model, "estimators_"):
            assert isinstance(model.rules(), str)
            numbers = model.segments().select_dtypes("number").to_numpy(dtype=np.float64)
            assert not np.isinf(numbers).any()


def overflow_case(y_exponent: float, weight_exponent: float, seed: int = 0):
    code, x, treatment, _ = experiment(seed, n_rows=300)
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": x, "code": code.astype(str)})
    y = rng.normal(size=len(x)) * 10.0**y_exponent + treatment * (x > 0) * 10.0**y_exponent
    weight = rng.uniform(0.5, 2.0, len(x)) * 10.0**weight_exponent
    return X, treatment, y, weight


def refused_or_usable(fit, X, y: np.ndarray, weight: np.ndarray, max_draws: int, pattern: str) -> None:
    """``fit()`` must raise exactly when some total of the rule times ``max_draws`` exceeds the bound."""
    too_large = any(not total * max_draws <= MAX_STATISTIC for total in exact_totals(y, weight))
    if too_large:
        with pytest.raises(ValueError, match=pattern):
            fit()
    else:
        assert_usable(fit(), X)


exponents = st.floats(0.0, 160.0, allow_nan=False)
OVERFLOW_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@OVERFLOW_SETTINGS
@given(y_exponent=st.floats(0.0, 80.0), weight_exponent=exponents)
def test_tree_statistics_are_bounded_or_the_fit_is_refused(y_exponent, weight_exponent):
    X, treatment, y, weight = overflow_case(y_exponent, weight_exponent)
    model = UpliftTreeRegressor(**SMALL_TREE)
    refused_or_usable(lambda: model.fit(X, treatment, y, weight), X, y, weight, 1,
                      r"^(y and sample_weight|sample_weight) too large: sum\(")


@OVERFLOW_SETTINGS
@given(y_exponent=st.floats(0.0, 80.0))
def test_unweighted_outcomes_name_y(y_exponent):
    X, treatment, y, _ = overflow_case(y_exponent, 0.0)
    model = UpliftTreeRegressor(**SMALL_TREE)
    refused_or_usable(lambda: model.fit(X, treatment, y), X, y, np.ones(len(y)), 1, r"^y too large: sum\(")


@OVERFLOW_SETTINGS
@given(weight_exponent=exponents)
def test_classifier_weights_are_bounded(weight_exponent):
    X, treatment, _, weight = overflow_case(0.0, weight_exponent)
    y = (X["x"].to_numpy() > 0).astype(int)
    model = UpliftTreeClassifier(**SMALL_TREE)
    refused_or_usable(lambda: model.fit(X, treatment, y, weight), X, y, weight, 1, r"^sample_weight too large")


@OVERFLOW_SETTINGS
@given(y_exponent=st.floats(0.0, 80.0), weight_exponent=exponents, bootstrap=st.booleans())
def test_forest_bound_counts_a_row_drawn_many_times(y_exponent, weight_exponent, bootstrap):
    X, treatment, y, weight = overflow_case(y_exponent, weight_exponent)
    model = UpliftRandomForestRegressor(n_estimators=3, bootstrap=bootstrap, random_state=0, **SMALL_TREE)
    max_draws = len(y) if bootstrap else 1
    refused_or_usable(lambda: model.fit(X, treatment, y, weight), X, y, weight, max_draws,
                      "too large" + (f".* / {len(y)} \\(a bootstrap sample" if bootstrap else ""))


def test_forest_refuses_totals_a_bootstrap_would_multiply_past_the_bound():
    X, treatment, y, _ = overflow_case(0.0, 0.0)
    y = y * np.sqrt(MAX_STATISTIC / np.sum(y * y) / 10)  # sum(y**2) is 1e149: fine for a tree
    UpliftTreeRegressor(**SMALL_TREE).fit(X, treatment, y)
    UpliftRandomForestRegressor(n_estimators=2, bootstrap=False, **SMALL_TREE).fit(X, treatment, y)
    with pytest.raises(ValueError, match=r"^y too large: sum\(y\*\*2\) .* / 300 \(a bootstrap"):
        UpliftRandomForestRegressor(n_estimators=2, **SMALL_TREE).fit(X, treatment, y)


@pytest.mark.parametrize("sample", ["_est", "_val"])
@pytest.mark.parametrize("argument", ["y", "sample_weight"])
def test_second_samples_are_bounded_and_named(sample, argument):
    X, treatment, y, weight = overflow_case(0.0, 0.0)
    huge = {"y": (y * 1e100, None), "sample_weight": (y, weight * 1e160)}[argument]
    model = UpliftTreeRegressor(**SMALL_TREE).fit(X, treatment, y)
    pattern = f"^{argument}{sample} too large"
    with pytest.raises(ValueError, match=pattern):
        if sample == "_est":
            UpliftTreeRegressor(**SMALL_TREE).fit(X, treatment, y, X_est=X, treatment_est=treatment,
                                                  y_est=huge[0], sample_weight_est=huge[1])
        else:
            model.prune(X, treatment, huge[0], huge[1])


def test_distillation_and_metrics_are_bounded():
    X, treatment, y, weight = overflow_case(0.0, 0.0)
    forest = UpliftRandomForestRegressor(n_estimators=2, random_state=0, **SMALL_TREE).fit(X, treatment, y)
    with pytest.raises(ValueError, match="^y too large"):
        DistilledUpliftTree(forest, min_samples_leaf=30).fit(X, treatment, y * 1e100)
    with pytest.raises(ValueError, match="^sample_weight too large"):
        DistilledUpliftTree(forest, min_samples_leaf=30).fit(X, treatment, y, weight * 1e160)
    with pytest.raises(ValueError, match="^y_true too large"):
        qini_auc_score(y * 1e200, forest.predict(X), treatment)
    model = UpliftTreeRegressor(**SMALL_TREE).fit(X, treatment, y)
    with pytest.raises(ValueError, match="^y_true too large"):
        model.calibration(X, treatment, y * 1e200, bins=2)


def test_dask_checks_the_totals_of_all_partitions():
    """Each partition's sum(y**2) is below the bound, their sum is not: the fit is refused, naming the column."""
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    from upliftree.dask import fit_forest, fit_tree

    X, treatment, y, weight = overflow_case(0.0, 0.0)
    frame = X.assign(treatment=treatment, outcome=y, w=weight)
    frame["code"] = frame["code"].astype("category")
    huge = frame.assign(outcome=y * np.sqrt(1.5 * MAX_STATISTIC / np.sum(y * y)))
    parts = np.array_split(huge["outcome"].to_numpy(), 3)
    assert all(np.sum(part * part) < MAX_STATISTIC for part in parts)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") \
            as cluster, distributed.Client(cluster) as client:
        for fit, estimator in ((fit_tree, UpliftTreeRegressor(**SMALL_TREE)),
                               (fit_forest, UpliftRandomForestRegressor(n_estimators=2, **SMALL_TREE))):
            with pytest.raises(ValueError, match=r"^outcome='outcome' too large: sum\(y\*\*2\)"):
                fit(estimator, dd.from_pandas(huge, npartitions=3), client=client)
        model = fit_tree(UpliftTreeRegressor(**SMALL_TREE), dd.from_pandas(frame, npartitions=3), sample_weight="w",
                         client=client)
        assert np.isfinite(model.tree_.stats).all()
        with pytest.raises(ValueError, match=r"^sample_weight='w' too large: sum\(w\*\*2\)"):
            fit_tree(UpliftTreeRegressor(**SMALL_TREE), dd.from_pandas(frame.assign(w=weight * 1e100), npartitions=3),
                     sample_weight="w", client=client)


# -- 2.7: duplicated column names ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def numeric_tree():
    code, x, treatment, y = experiment(seed=3)
    X = pd.DataFrame({"x": x, "code": code.astype(np.float64)})
    return UpliftTreeClassifier(**SMALL_TREE).fit(X, treatment, y), X


def test_duplicated_feature_columns_are_refused_at_predict(numeric_tree):
    tree, X = numeric_tree
    for duplicated in (pd.concat([X, X[["x"]]], axis=1),  # the same label twice
                       X.rename(columns={"code": "x"}),
                       pd.concat([X, X[["code"]].set_axis(["x"], axis=1)], axis=1)):
        with pytest.raises(ValueError, match=re.escape("X has several columns named ['x']")):
            tree.predict(duplicated)


def test_labels_that_read_alike_are_duplicates():
    """Names are compared as text, as the schema records them: the labels 1 and '1' are one name."""
    code, x, treatment, y = experiment(seed=3)
    X = pd.DataFrame({1: x, "code": code})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X, treatment, y)
    with pytest.raises(ValueError, match=re.escape("several columns named ['1']")):
        tree.predict(X.assign(**{"1": x[::-1]}))
    with pytest.raises(ValueError, match=re.escape("several columns named ['1']")):
        UpliftTreeClassifier(**SMALL_TREE).fit(X.assign(**{"1": x}), treatment, y)


def test_duplicates_among_columns_the_model_does_not_read_are_fine(numeric_tree):
    tree, X = numeric_tree
    extra = pd.DataFrame(np.zeros((len(X), 2)), columns=["other", "other"], index=X.index)
    np.testing.assert_array_equal(tree.predict(pd.concat([X, extra], axis=1)), tree.predict(X))


def test_duplicated_columns_are_refused_at_fit_naming_them():
    code, x, treatment, y = experiment(seed=3)
    X = pd.DataFrame(np.column_stack([x, code, x, code, x]), columns=["a", "b", "a", "c", "b"])
    with pytest.raises(ValueError, match=re.escape("several columns named ['a', 'b']")):
        UpliftTreeClassifier(**SMALL_TREE).fit(X, treatment, y)


def test_a_duplicated_policy_column_is_refused(numeric_tree):
    tree, X = numeric_tree
    policy = upliftree.Policy(tree, benefit=10.0, cost="cost")
    priced = X.assign(cost=1.0)
    policy.decide(priced)
    with pytest.raises(ValueError, match="^cost='cost' names several columns of X"):
        policy.decide(pd.concat([priced, priced[["cost"]]], axis=1))


# -- 2.9: numeric object arrays and nullable dtypes ---------------------------------------------------------
MISSING = (None, np.nan, pd.NA, float("nan"))


def scalar_as(value: float, style: int):
    """``value`` as one of several Python or numpy scalar types that hold it exactly."""
    if np.isnan(value):
        return MISSING[style % len(MISSING)]
    if value.is_integer() and math.copysign(1.0, value) > 0 and style % 3 == 0:  # (int(-0.0) is +0)
        return int(value) if style % 2 else np.int64(value)
    return float(value) if style % 2 else np.float64(value)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), styles=st.lists(st.integers(0, 11), min_size=1, max_size=12))
def test_numeric_object_arrays_fit_and_predict_like_float_arrays(seed, styles):
    rng = np.random.default_rng(seed)
    code, x, treatment, y = experiment(seed % 1000)
    values = np.column_stack([x, code.astype(np.float64), np.round(rng.normal(size=N_ROWS) * 3)])
    values[rng.random(values.shape) < 0.1] = np.nan
    objects = np.empty(values.shape, dtype=object)
    for index, value in enumerate(values.ravel()):
        objects.flat[index] = scalar_as(value, styles[index % len(styles)])
    plain = UpliftTreeClassifier(**SMALL_TREE).fit(values, treatment, y)
    from_objects = UpliftTreeClassifier(**SMALL_TREE).fit(objects, treatment, y)
    assert from_objects.to_json() == plain.to_json()
    np.testing.assert_array_equal(plain.apply(objects), plain.apply(values))


def test_bools_in_object_arrays_are_numbers():
    code, x, treatment, y = experiment(seed=4)
    flags = x > 0
    plain = UpliftTreeClassifier(**SMALL_TREE).fit(np.column_stack([flags, code]).astype(np.float64), treatment, y)
    objects = np.array([[bool(flag), int(value)] for flag, value in zip(flags, code, strict=True)], dtype=object)
    np.testing.assert_array_equal(plain.apply(objects), plain.apply(objects.astype(np.float64)))


@pytest.mark.parametrize("bad", ["2.5", "a", b"1", 1 + 2j, pd.Timestamp("2024-01-01"), pd.NaT, [1]])
def test_non_numbers_in_object_arrays_are_refused_naming_x(bad):
    code, x, treatment, y = experiment(seed=4)
    objects = np.column_stack([x, code]).astype(object)
    objects[5, 1] = bad
    with pytest.raises(TypeError, match=rf"^X is an object array holding {type(bad).__name__} values .*"
                                        "Pass a pandas DataFrame"):
        UpliftTreeClassifier(**SMALL_TREE).fit(objects, treatment, y)


def _feature_types_apart(model) -> tuple[list[str], dict]:
    """The model's JSON document without the features' types, and those types."""
    document = json.loads(model.to_json())
    return [feature.pop("type") for feature in document["features"]], document


@pytest.mark.parametrize("dtype, missing", [("Int64", pd.NA), ("Float64", pd.NA), ("boolean", pd.NA),
                                            ("float64", np.nan)])
def test_nullable_feature_dtypes_read_like_floats_with_nan(dtype, missing):
    code, x, treatment, y = experiment(seed=5)
    values = (code > 2) if dtype == "boolean" else code
    column = pd.Series(values, dtype=dtype)
    column[::9] = missing
    X = pd.DataFrame({"v": column, "x": x})
    X_float = pd.DataFrame({"v": column.to_numpy(dtype=np.float64, na_value=np.nan), "x": x})
    tree = UpliftTreeClassifier(**SMALL_TREE).fit(X, treatment, y)
    # A nullable boolean column is recorded as a bool feature (SQL compares it by value); all else is the same.
    kinds, document = _feature_types_apart(tree)
    float_kinds, float_document = _feature_types_apart(UpliftTreeClassifier(**SMALL_TREE).fit(X_float, treatment, y))
    assert kinds == ["bool" if dtype == "boolean" else "numeric", "numeric"] and float_kinds == ["numeric"] * 2
    assert document == float_document
    np.testing.assert_array_equal(tree.apply(X_float), tree.apply(X))


def test_pyarrow_string_categories_fit_like_object_ones():
    code, x, treatment, y = experiment(seed=6)
    text = pd.Series(code.astype(str), dtype=object)
    text[::11] = None
    as_object = UpliftTreeClassifier(**SMALL_TREE).fit(pd.DataFrame({"c": text, "x": x}), treatment, y)
    arrow = pd.DataFrame({"c": text.astype("string[pyarrow]"), "x": x})
    assert UpliftTreeClassifier(**SMALL_TREE).fit(arrow, treatment, y).to_json() == as_object.to_json()


def test_outcome_weight_and_treatment_object_arrays():
    """Object outcomes and weights of numbers read like floats; text is refused, missing values named."""
    code, x, treatment, y = experiment(seed=7)
    X = pd.DataFrame({"x": x, "code": code})
    weight = np.linspace(0.5, 2.0, N_ROWS)
    plain = UpliftTreeClassifier(**SMALL_TREE).fit(X, treatment, y, weight).to_json()
    assert UpliftTreeClassifier(**SMALL_TREE).fit(
        X, treatment.astype(object), np.array([bool(v) for v in y], dtype=object),
        np.array(weight.tolist(), dtype=object)).to_json() == plain
    assert UpliftTreeClassifier(**SMALL_TREE).fit(X, treatment, pd.Series(y, dtype="Int64"), weight).to_json() == plain

    tree = UpliftTreeClassifier(**SMALL_TREE)
    with_none = y.astype(object)
    with_none[3] = None
    cases = [
        ((X, treatment, with_none), ValueError, "^y contains 1 NaN"),
        ((X, treatment, pd.Series(y, dtype="Int64").where(np.arange(N_ROWS) != 3)), ValueError, "^y contains 1 NaN"),
        ((X, treatment, y.astype(str).astype(object)), TypeError, "^y is an object array holding str values"),
        ((X, treatment, y, weight.astype(str).astype(object)), TypeError,
         "^sample_weight is an object array holding str"),
        ((X, treatment, y, np.where(np.arange(N_ROWS) == 3, None, weight)), ValueError, "^sample_weight contains NaN"),
        ((X, np.where(np.arange(N_ROWS) == 3, None, treatment), y), ValueError, "^treatment contains missing values"),
    ]
    for arguments, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            tree.fit(*arguments)
