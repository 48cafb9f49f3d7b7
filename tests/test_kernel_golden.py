"""Fitted models, predictions and bootstrap results are bit-for-bit those saved in ``golden/kernels.npz``.

The file was written before the kernels were rewritten for compile time (issue 14), so any change to the
compiled kernels that alters a single bit of a node table, a prediction or a bootstrap draw fails here. The
cases cover every kernel mode: class counting and weighted histograms, zero weights (both children built),
sibling subtraction and per-node feature sampling, categorical and numeric-only data, C and Fortran input,
more rows than the threaded thresholds, every criterion, honest estimation, forests (leaves and means),
the curve and bootstrap kernels. Regenerate only after a deliberate change of results:
``UPLIFTREE_UPDATE_GOLDEN=1 pytest tests/test_kernel_golden.py``. The cases spell out every size parameter
(``min_samples_leaf=100``, the tree's ``criterion``) that was a default when the file was saved, so a change
of defaults leaves them, and the file, as they were.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from upliftree import (
    UpliftRandomForestClassifier,
    UpliftRandomForestRegressor,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    make_uplift_data,
)
from upliftree._tree_arrays import PARALLEL_MIN_ROWS
from upliftree.datasets import FEATURES
from upliftree.metrics import bootstrap_ci, bootstrap_curve_band, qini_auc_score, uplift_auc_score

GOLDEN = Path(__file__).parent / "golden" / "kernels.npz"
UPDATE_GOLDEN = os.environ.get("UPLIFTREE_UPDATE_GOLDEN") == "1"
# Node-table fields saved in full (small); predictions and bin codes are saved as digests of their bytes.
NODE_FIELDS = ("children_left", "children_right", "parent", "depth", "feature", "threshold", "is_categorical",
               "category_bitset", "missing_left", "gain", "raw_gain", "stats", "value")
NUMERIC = ["age", "tenure", "visits", "income"]


def _digest(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    text = f"{array.dtype.str}{array.shape}".encode() + array.tobytes()
    return np.frombuffer(hashlib.sha256(text).digest(), dtype=np.uint8)


def _frame(n_rows: int, seed: int, **kwargs):
    data = make_uplift_data(n_rows, random_state=seed, **kwargs)
    return data[FEATURES], data["treatment"].to_numpy(), data["outcome"].to_numpy()


def _record_tree(out: dict, name: str, tree) -> None:
    for field in NODE_FIELDS:
        out[f"{name}.{field}"] = getattr(tree, field)


def _record_model(out: dict, name: str, model, X) -> None:
    if hasattr(model, "estimators_"):
        for index, estimator in enumerate(model.estimators_):
            _record_tree(out, f"{name}.tree{index}", estimator.tree_)
    else:
        _record_tree(out, name, model.tree_)
    out[f"{name}.bins#"] = _digest(model.bin_mapper_.transform(model.fitted_state_.inputs.encode(X)))
    out[f"{name}.apply#"] = _digest(model.apply(X))
    out[f"{name}.predict_outcome#"] = _digest(model.predict_outcome(X))


def golden_results() -> dict[str, np.ndarray]:
    """Every recorded array, keyed ``case.what`` (a ``#`` suffix marks a digest)."""
    out: dict[str, np.ndarray] = {}
    X, t, y = _frame(20_000, 1)
    rng = np.random.default_rng(7)
    cases = {
        "tree_kl": (UpliftTreeClassifier(criterion="kl", min_samples_leaf=100, control="control", random_state=0),
                     X, t, y, None),
        "tree_chi_zero_weights": (
            UpliftTreeClassifier(criterion="chi", normalize=False, min_samples_leaf=50, control="control",
                                 random_state=1),
            X, t, y, np.where(rng.random(len(y)) < 0.1, 0.0, rng.choice([0.5, 1.0, 2.0], len(y)))),
        "tree_numeric_fortran": (
            UpliftTreeClassifier(criterion="ed", max_depth=6, min_samples_leaf=60, max_features=2, control="control",
                                 random_state=2),
            np.asfortranarray(X[NUMERIC].to_numpy(dtype=np.float64)), t, y, None),
    }
    X2, t2, y2 = _frame(20_000, 2, n_treatments=2)
    cases["tree_multi_honest"] = (UpliftTreeClassifier(criterion="ed", honest=True, min_samples_leaf=100,
                                                       control="control", random_state=3), X2, t2, y2, None)
    Xc, tc, yc = _frame(20_000, 3, outcome="continuous")
    cases["regressor_weighted"] = (UpliftTreeRegressor(criterion="tstat", min_samples_leaf=100, control="control",
                                                       random_state=4),
                                   Xc, tc, yc, rng.uniform(0.5, 2.0, len(yc)))
    cases["regressor_ddp"] = (UpliftTreeRegressor(criterion="ddp", max_depth=4, min_samples_leaf=100, control="control",
                                                  random_state=5),
                              Xc, tc, yc, None)
    Xb, tb, yb = _frame(PARALLEL_MIN_ROWS + 10_000, 4)  # threaded histograms and traversal
    cases["tree_big_ddp"] = (UpliftTreeClassifier(criterion="ddp", max_depth=6, min_samples_leaf=100, control="control",
                                                   random_state=6),
                             Xb, tb, yb, None)
    cases["forest_kl"] = (UpliftRandomForestClassifier(n_estimators=8, max_depth=5, min_samples_leaf=100,
                                                       control="control", n_jobs=2, random_state=7, verbose=0),
                          X, t, y, None)
    cases["forest_multi_all_features"] = (
        UpliftRandomForestClassifier(n_estimators=4, max_depth=4, min_samples_leaf=100, max_features=None,
                                     bootstrap=False, max_samples=0.7, control="control", random_state=8, verbose=0),
        X2, t2, y2, None)
    cases["forest_regressor_honest"] = (
        UpliftRandomForestRegressor(n_estimators=5, max_depth=4, min_samples_leaf=100, max_features=None, honest=True,
                                    control="control", random_state=9, verbose=0),
        Xc, tc, yc, rng.uniform(0.5, 2.0, len(yc)))
    for name, (model, features, treatment, outcome, weight) in cases.items():
        model.fit(features, treatment, outcome, sample_weight=weight)
        _record_model(out, name, model, features)

    forest = cases["forest_kl"][0]
    treated = (t == "email").astype(np.int64)
    score = forest.predict(X)
    out["metrics.areas"] = np.array([qini_auc_score(y, score, treated), uplift_auc_score(y, score, treated)])
    out["metrics.bootstrap_ci"] = np.array([
        bootstrap_ci("qini_auc_score", y, score, treated, n_boot=120, random_state=0),
        bootstrap_ci("uplift_auc_score", y, score, treated, n_boot=120, random_state=1),
        bootstrap_ci("qini_auc_score", yc, cases["regressor_ddp"][0].predict(Xc), (tc == "email").astype(np.int64),
                     n_boot=60, random_state=2),
        bootstrap_ci(lambda *args: qini_auc_score(*args), y[:3000], score[:3000], treated[:3000], n_boot=20,
                     random_state=3),
    ])
    for curve in ("qini", "uplift"):
        out[f"metrics.band_{curve}"] = np.vstack(bootstrap_curve_band(y, score, treated, curve=curve, n_boot=80,
                                                                      random_state=4))
    return out


def _bits(array: np.ndarray) -> np.ndarray:
    """The array's bytes as unsigned integers, so -0.0 differs from 0.0 and NaN payloads count."""
    array = np.ascontiguousarray(array)
    return array.view(f"u{array.dtype.itemsize}") if array.dtype.kind == "f" else array


@pytest.fixture(scope="module")
def results() -> dict[str, np.ndarray]:
    return golden_results()


def test_results_are_bit_for_bit_the_golden_ones(results):
    if UPDATE_GOLDEN:
        np.savez_compressed(GOLDEN, **results)
    with np.load(GOLDEN) as golden:
        assert sorted(golden.files) == sorted(results)
        for key in golden.files:
            assert golden[key].dtype == results[key].dtype and golden[key].shape == results[key].shape, key
            np.testing.assert_array_equal(_bits(results[key]), _bits(golden[key]), err_msg=key)
