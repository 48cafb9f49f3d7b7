"""A float64 X in Fortran order is used as it is (no copy), gives the same models as in C order, and is never
written into."""

from __future__ import annotations

import numpy as np
import pytest

from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier
from upliftree._tree_arrays import PARALLEL_MIN_ROWS
from upliftree._validation import encode_features, infer_schema
from upliftree.binning import BinMapper


@pytest.fixture(scope="module")
def numeric_experiment(binary_experiment):
    """The binary experiment as a C-ordered float64 matrix: age, tenure, visits, income (with NaN), region code."""
    frame = binary_experiment.X
    X = np.ascontiguousarray(np.column_stack([
        frame[["age", "tenure", "visits", "income"]].to_numpy(dtype=np.float64),
        frame["region"].cat.codes.to_numpy(dtype=np.float64),
    ]))
    assert X.flags.c_contiguous and np.isnan(X).any()
    return X, binary_experiment.treatment, binary_experiment.y


def layouts(X: np.ndarray) -> dict[str, np.ndarray]:
    fortran = np.asfortranarray(X)
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    return {"C": np.ascontiguousarray(X), "F": fortran}


def test_encode_features_keeps_contiguous_float64(numeric_experiment):
    X = numeric_experiment[0]
    schema = infer_schema(X)
    for layout, array in layouts(X).items():
        encoded = encode_features(array, schema)
        assert np.shares_memory(encoded, array), layout
        assert encoded.dtype == np.float64


@pytest.mark.parametrize("make", [
    pytest.param(lambda X: np.asfortranarray(X, dtype=np.float32), id="float32-fortran"),
    pytest.param(lambda X: np.asfortranarray(np.nan_to_num(X)).astype(np.int64, order="F"), id="int64-fortran"),
    pytest.param(lambda X: np.asfortranarray(X)[::2], id="strided-rows"),
    pytest.param(lambda X: np.ascontiguousarray(X)[:, ::2], id="strided-columns"),
    pytest.param(lambda X: np.asfortranarray(X).astype(">f8", order="F"), id="big-endian"),
])
def test_encode_features_copies_other_arrays(numeric_experiment, make):
    array = make(numeric_experiment[0])
    expected = np.asarray(array, dtype=np.float64)
    encoded = encode_features(array, infer_schema(array))
    assert not np.shares_memory(encoded, array)
    assert encoded.dtype == np.float64 and encoded.dtype.isnative and encoded.flags.c_contiguous
    np.testing.assert_array_equal(encoded, expected)


def test_binning_is_the_same_for_both_layouts(numeric_experiment):
    X = numeric_experiment[0]
    schema = infer_schema(X)
    binned = {}
    for layout, array in layouts(X).items():
        mapper = BinMapper(random_state=0).fit(array, schema)
        binned[layout] = mapper.transform(array)
        assert all(np.array_equal(a, b) for a, b in zip(mapper.bin_thresholds_, BinMapper(random_state=0).fit(
            X, schema).bin_thresholds_, strict=True))
    np.testing.assert_array_equal(binned["C"], binned["F"])


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view: a kernel writing into the user's X would fail to compile on it."""
    view = array.view()
    view.flags.writeable = False
    return view


def fit_on_each_layout(model, X, treatment, y) -> tuple[dict, dict]:
    """``X`` as C and Fortran arrays, and a clone of ``model`` fitted on a read-only view of each.

    Checks that fitting left the arrays unchanged (and writeable).
    """
    arrays = layouts(X)
    originals = {layout: array.copy(order="A") for layout, array in arrays.items()}
    models = {layout: type(model)(**model.get_params()).fit(read_only(array), treatment, y)
              for layout, array in arrays.items()}
    for layout, array in arrays.items():
        np.testing.assert_array_equal(array, originals[layout])
        assert array.flags.writeable
    return arrays, models


@pytest.mark.parametrize("honest", [False, True])
def test_tree_same_for_both_layouts(numeric_experiment, honest):
    X, treatment, y = numeric_experiment
    arrays, trees = fit_on_each_layout(
        UpliftTreeClassifier(max_depth=4, min_samples_leaf=200, honest=honest, control="control", random_state=3),
        X, treatment, y)
    assert trees["C"].tree_.n_nodes > 1
    for field in ("feature", "threshold", "children_left", "children_right", "missing_left", "value"):
        np.testing.assert_array_equal(getattr(trees["C"].tree_, field), getattr(trees["F"].tree_, field))
    big = {layout: np.tile(array, (PARALLEL_MIN_ROWS // len(X) + 1, 1)) for layout, array in arrays.items()}
    big["F"] = np.asfortranarray(big["F"])
    for data in (arrays, big):  # one-thread and parallel traversal
        leaves = trees["C"].apply(data["C"])
        for tree in trees.values():
            for array in data.values():
                np.testing.assert_array_equal(tree.apply(read_only(array)), leaves)
                np.testing.assert_array_equal(tree.predict(array), trees["C"].predict(data["C"]))


@pytest.mark.parametrize("honest", [False, True])
def test_forest_same_for_both_layouts(numeric_experiment, honest):
    X, treatment, y = numeric_experiment
    arrays, forests = fit_on_each_layout(
        UpliftRandomForestClassifier(n_estimators=6, max_depth=4, min_samples_leaf=100, max_features=2,
                                     honest=honest, control="control", n_jobs=2, random_state=5),
        X, treatment, y)
    for tree_c, tree_f in zip(forests["C"].estimators_, forests["F"].estimators_, strict=True):
        for field in ("feature", "threshold", "children_left", "value"):
            np.testing.assert_array_equal(getattr(tree_c.tree_, field), getattr(tree_f.tree_, field))
    leaves = forests["C"].apply(arrays["C"])
    uplift = forests["C"].predict(arrays["C"])
    for forest in forests.values():
        for array in arrays.values():
            np.testing.assert_array_equal(forest.apply(read_only(array)), leaves)
            np.testing.assert_array_equal(forest.predict(read_only(array)), uplift)

