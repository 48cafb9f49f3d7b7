"""UpliftTreeClassifier / UpliftTreeRegressor as users meet them: planted segments, invariances, bad input,
sklearn conventions, output shapes and determinism."""

from __future__ import annotations

from dataclasses import fields

import numba
import numpy as np
import pandas as pd
import pytest

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor
from upliftree._tree_arrays import categories_in_bitset

CLASSIFIER_CRITERIA = ("kl", "ed", "chi", "ddp")
REGRESSOR_CRITERIA = ("ed", "ddp", "tstat")


def assert_same_tree(tree, other) -> None:
    for field in fields(tree):
        np.testing.assert_array_equal(getattr(tree, field.name), getattr(other, field.name), err_msg=field.name)


# -- planted segments -----------------------------------------------------------------------------------
# A score with 40 values (one bin each): uplift +8pp below 12, -5pp from 28 on, none between.
POSITIVE_BOUNDARY, NEGATIVE_BOUNDARY = 12, 28


def planted_score_data(continuous: bool, seed: int = 2, n_rows: int = 100_000):
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 40, n_rows)
    treatment = rng.integers(0, 2, n_rows)
    uplift = np.where(score < POSITIVE_BOUNDARY, 0.08, np.where(score >= NEGATIVE_BOUNDARY, -0.05, 0.0))
    y = (rng.random(n_rows) < 0.2 + uplift * treatment).astype(np.float64)
    if continuous:
        y *= np.round(rng.gamma(4.0, 12.5, n_rows), 2)  # spend: mean basket 50, so uplift +4 and -2.5
    return pd.DataFrame({"score": score, "noise": rng.normal(size=n_rows)}), treatment, y


@pytest.mark.parametrize(("estimator", "criterion"), [(UpliftTreeClassifier, c) for c in CLASSIFIER_CRITERIA]
                         + [(UpliftTreeRegressor, c) for c in REGRESSOR_CRITERIA])
def test_planted_segments_recovered(estimator, criterion):
    continuous = estimator is UpliftTreeRegressor
    X, treatment, y = planted_score_data(continuous)
    model = estimator(criterion=criterion, max_depth=2, min_samples_leaf=5000, random_state=0).fit(X, treatment, y)
    tree = model.tree_
    # "x <= threshold" goes left: the boundary "score < 12" is threshold 11; one bin either side is allowed.
    thresholds = tree.threshold[tree.feature == 0]
    assert np.any(np.abs(thresholds - (POSITIVE_BOUNDARY - 1)) <= 1), thresholds
    assert np.any(np.abs(thresholds - (NEGATIVE_BOUNDARY - 1)) <= 1), thresholds
    scale = 50.0 if continuous else 1.0
    probe = pd.DataFrame({"score": [0, 5, 10, 15, 20, 25, 30, 35, 39], "noise": 0.0})
    uplift = model.predict(probe) / scale
    np.testing.assert_array_less(0.04, uplift[:2])
    np.testing.assert_array_less(uplift[-2:], -0.02)
    assert np.all(np.abs(uplift[3:6]) < 0.03)


@pytest.mark.parametrize("criterion", CLASSIFIER_CRITERIA)
def test_planted_category_segments_recovered(criterion):
    rng = np.random.default_rng(0)
    n_rows = 60_000
    segment_of = {"a": 1, "b": 1, "c": 0, "d": 0, "e": -1, "f": -1}
    region = rng.choice(sorted(segment_of), n_rows)
    treatment = rng.integers(0, 2, n_rows)
    uplift = np.select([np.isin(region, ["a", "b"]), np.isin(region, ["e", "f"])], [0.08, -0.05], 0.0)
    y = (rng.random(n_rows) < 0.2 + uplift * treatment).astype(np.float64)
    model = UpliftTreeClassifier(criterion, max_depth=2, min_samples_leaf=2000).fit(
        pd.DataFrame({"region": region}), treatment, y)
    # Every leaf holds categories of one segment only, and no segment is left unseparated from another.
    probe = pd.DataFrame({"region": sorted(segment_of)})
    leaves = model.apply(probe)
    for leaf in np.unique(leaves):
        assert len({segment_of[c] for c in probe["region"][leaves == leaf]}) == 1
    # The root's category set is a union of whole segments.
    left = set(categories_in_bitset(model.tree_.category_bitset[0], 6).tolist())
    for codes in ({0, 1}, {2, 3}, {4, 5}):
        assert codes <= left or not codes & left
    predicted = dict(zip(probe["region"], model.predict(probe), strict=True))
    assert min(predicted["a"], predicted["b"]) > 0.04
    assert max(predicted["e"], predicted["f"]) < -0.02


# -- invariances ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("estimator", "criterion", "experiment"), [
    (UpliftTreeClassifier, "kl", "binary_experiment"), (UpliftTreeClassifier, "ddp", "binary_experiment"),
    (UpliftTreeRegressor, "tstat", "continuous_experiment"),
])
def test_row_order_and_positive_scaling_do_not_change_predictions(estimator, criterion, experiment, request):
    data = request.getfixturevalue(experiment)
    params = dict(criterion=criterion, max_depth=4, min_samples_leaf=100, control="control")
    model = estimator(**params).fit(data.X, data.treatment, data.y)
    expected = model.predict(data.X)
    assert model.n_leaves_ > 3

    permutation = np.random.default_rng(0).permutation(len(data.y))
    permuted = estimator(**params).fit(data.X.iloc[permutation], data.treatment[permutation], data.y[permutation])
    np.testing.assert_allclose(permuted.predict(data.X), expected, rtol=1e-9, atol=1e-12)

    # income has more distinct values than bins (quantile edges) and missing values; age has few.
    scaled_X = data.X.assign(age=data.X["age"] * 3.7, income=data.X["income"] * 1e-3)
    scaled = estimator(**params).fit(scaled_X, data.treatment, data.y)
    assert data.X["income"].nunique() > 255
    np.testing.assert_allclose(scaled.predict(scaled_X), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(scaled.apply(scaled_X), model.apply(data.X))


# -- bad input ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(binary_experiment):
    return binary_experiment.X.iloc[:600], binary_experiment.treatment[:600], binary_experiment.y[:600]


def fit_small(small, **changes):
    X, treatment, y = small
    arguments = {"X": X, "treatment": treatment, "y": y, "sample_weight": None, **changes}
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=20, control="control")
    return model.fit(arguments["X"], arguments["treatment"], arguments["y"], arguments["sample_weight"])


@pytest.mark.parametrize(("changes", "argument"), [
    (lambda X, t, y: {"treatment": t[:-1]}, "treatment"),
    (lambda X, t, y: {"y": y[:-1]}, "y"),
    (lambda X, t, y: {"sample_weight": np.ones(len(y) + 1)}, "sample_weight"),
    (lambda X, t, y: {"y": np.where(np.arange(len(y)) == 3, np.nan, y)}, "y"),
    (lambda X, t, y: {"y": np.where(np.arange(len(y)) == 3, np.inf, y)}, "y"),
    (lambda X, t, y: {"sample_weight": np.where(np.arange(len(y)) == 3, np.nan, 1.0)}, "sample_weight"),
    (lambda X, t, y: {"sample_weight": np.where(np.arange(len(y)) == 3, np.inf, 1.0)}, "sample_weight"),
    (lambda X, t, y: {"sample_weight": np.where(np.arange(len(y)) == 3, -1.0, 1.0)}, "sample_weight"),
    (lambda X, t, y: {"y": y * 2}, "y"),  # 0/2 is not binary
    (lambda X, t, y: {"y": y + 0.5}, "y"),
    (lambda X, t, y: {"y": np.where(y > 0, 0.7, 0.0)}, "y"),  # never thresholded to 0/1
    (lambda X, t, y: {"treatment": np.where(t == "control", "email", t)}, "treatment"),  # only one arm
    (lambda X, t, y: {"treatment": np.where(t == "control", "ctl", t)}, "control"),  # control absent
    (lambda X, t, y: {"treatment": np.where(np.arange(len(t)) < 5, "sms", t)}, "min_samples_treatment"),
    (lambda X, t, y: {"X": X.iloc[:-1]}, "treatment"),
])
def test_bad_data_raises_naming_the_argument(small, changes, argument):
    with pytest.raises(ValueError, match=argument):
        fit_small(small, **changes(*small))


def test_non_numeric_outcome_raises_type_error(small):
    X, treatment, y = small
    with pytest.raises(TypeError, match="y"):
        fit_small(small, y=np.where(y > 0, "yes", "no").astype(object))


@pytest.mark.parametrize("estimator", [UpliftTreeClassifier, UpliftTreeRegressor])
@pytest.mark.parametrize(("parameter", "value"), [
    ("criterion", "gini"), ("max_depth", -1), ("max_depth", 2.5), ("max_depth", True), ("min_samples_leaf", 0),
    ("min_samples_treatment", -1), ("n_reg", -1.0), ("n_reg", float("nan")), ("normalize", "yes"),
    ("max_features", "most"), ("max_features", 0), ("max_features", 1.5), ("max_bins", 1), ("max_bins", 256),
    ("honest", 1), ("honest_fraction", 0.0), ("honest_fraction", 1.0), ("random_state", -3),
])
def test_bad_parameters_raise_naming_the_parameter(small, estimator, parameter, value):
    X, treatment, y = small
    with pytest.raises(ValueError, match=parameter):
        estimator(**{"control": "control", parameter: value}).fit(X, treatment, y)


@pytest.mark.parametrize(("estimator", "criterion"), [(UpliftTreeClassifier, "tstat"), (UpliftTreeRegressor, "kl"),
                                                      (UpliftTreeRegressor, "chi")])
def test_criterion_of_the_other_estimator_is_rejected(small, estimator, criterion):
    X, treatment, y = small
    with pytest.raises(ValueError, match="criterion"):
        estimator(criterion=criterion, control="control").fit(X, treatment, y)


def test_predict_needs_the_fitted_columns_and_reorders_them_by_name(small):
    X, treatment, y = small
    model = fit_small(small)
    with pytest.raises(ValueError, match="age"):
        model.predict(X.drop(columns="age"))
    reordered = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(model.predict(reordered), model.predict(X))
    np.testing.assert_array_equal(model.apply(reordered), model.apply(X))
    numeric = X.drop(columns=["region", "channel"]).to_numpy()
    array_model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=20, control="control").fit(numeric, treatment, y)
    with pytest.raises(ValueError, match="features"):
        array_model.predict(numeric[:, :-1])


def test_predict_before_fit_raises():
    with pytest.raises(ValueError, match="not fitted"):
        UpliftTreeClassifier().predict(np.zeros((3, 2)))


# -- sklearn conventions, attributes and shapes ---------------------------------------------------------
PARAMETERS = {"criterion", "max_depth", "min_samples_leaf", "min_samples_treatment", "n_reg", "normalize",
              "max_features", "max_bins", "control", "honest", "honest_fraction", "random_state"}


@pytest.mark.parametrize("estimator", [UpliftTreeClassifier, UpliftTreeRegressor])
def test_get_params_and_set_params(estimator):
    model = estimator(max_depth=3, control="control")
    params = model.get_params()
    assert set(params) == PARAMETERS
    assert params["max_depth"] == 3 and params["control"] == "control"
    assert model.set_params(max_depth=4, n_reg=0.0) is model
    assert (model.max_depth, model.n_reg) == (4, 0.0)
    with pytest.raises(ValueError, match="max_dept"):
        model.set_params(max_dept=2)
    assert estimator(**model.get_params()).get_params() == model.get_params()


@pytest.mark.parametrize("estimator", [UpliftTreeClassifier, UpliftTreeRegressor])
def test_sklearn_clone(small, estimator):
    clone = pytest.importorskip("sklearn.base").clone
    X, treatment, y = small
    model = estimator(max_depth=2, min_samples_leaf=20, control="control", max_features="sqrt", random_state=5)
    model.fit(X, treatment, y)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert not hasattr(copy, "tree_")
    np.testing.assert_array_equal(copy.fit(X, treatment, y).predict(X), model.predict(X))


def test_fit_returns_self_and_sets_attributes(binary_experiment):
    data = binary_experiment
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=100, control="control")
    assert model.fit(data.X, data.treatment, data.y) is model
    assert list(model.treatments_) == ["control", "email"]
    assert list(model.feature_names_in_) == list(data.X.columns) and model.n_features_in_ == data.X.shape[1]
    assert model.n_leaves_ == model.tree_.is_leaf.sum() > 1
    assert model.depth_ == model.tree_.depth[model.tree_.is_leaf].max() <= 3
    importances = model.feature_importances_
    assert importances.shape == (data.X.shape[1],) and (importances >= 0).all()
    assert importances.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("stump", [{"max_depth": 0}, {"min_samples_leaf": 5_000}])
def test_feature_importances_of_a_stump_are_zeros(binary_experiment, stump):
    data = binary_experiment
    model = UpliftTreeClassifier(**{"control": "control", **stump}).fit(data.X, data.treatment, data.y)
    assert model.n_leaves_ == 1 and model.depth_ == 0
    np.testing.assert_array_equal(model.feature_importances_, np.zeros(data.X.shape[1]))
    prediction = model.predict(data.X)
    assert np.unique(prediction).size == 1


def test_multi_treatment_output_shapes(multi_treatment_experiment):
    data = multi_treatment_experiment
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=100, control="control").fit(
        data.X, data.treatment, data.y)
    n_rows = len(data.y)
    assert list(model.treatments_) == ["control", "discount", "email"]
    uplift, outcome, leaves = model.predict(data.X), model.predict_outcome(data.X), model.apply(data.X)
    assert uplift.shape == (n_rows, 2) and outcome.shape == (n_rows, 3) and leaves.shape == (n_rows,)
    np.testing.assert_allclose(uplift, outcome[:, 1:] - outcome[:, :1])
    assert model.tree_.is_leaf[leaves].all()
    single = UpliftTreeRegressor(max_depth=2, min_samples_leaf=100, control="control").fit(
        data.X, np.where(data.treatment == "control", "control", "treated"), data.y)
    assert single.predict(data.X).shape == (n_rows,) and single.predict_outcome(data.X).shape == (n_rows, 2)


# -- determinism ----------------------------------------------------------------------------------------
def test_same_random_state_gives_the_same_tree(binary_experiment):
    data = binary_experiment
    params = dict(max_depth=5, min_samples_leaf=50, max_features="sqrt", control="control")
    first = UpliftTreeClassifier(**params, random_state=7).fit(data.X, data.treatment, data.y)
    again = UpliftTreeClassifier(**params, random_state=7).fit(data.X, data.treatment, data.y)
    assert_same_tree(first.tree_, again.tree_)
    # Feature sampling really happens: another seed grows another tree.
    other = UpliftTreeClassifier(**params, random_state=8).fit(data.X, data.treatment, data.y)
    assert not np.array_equal(other.tree_.feature, first.tree_.feature)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("estimator", [UpliftTreeClassifier, UpliftTreeRegressor])
def test_thread_count_does_not_change_the_tree(binary_experiment, continuous_experiment, estimator):
    data = binary_experiment if estimator is UpliftTreeClassifier else continuous_experiment
    weight = np.random.default_rng(0).uniform(0.1, 3.0, len(data.y))
    params = dict(max_depth=5, min_samples_leaf=50, max_features="sqrt", random_state=3, control="control")
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = estimator(**params).fit(data.X, data.treatment, data.y, weight)
        numba.set_num_threads(2)
        double = estimator(**params).fit(data.X, data.treatment, data.y, weight)
    finally:
        numba.set_num_threads(threads)
    assert_same_tree(single.tree_, double.tree_)
