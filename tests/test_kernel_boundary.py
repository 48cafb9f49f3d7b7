"""The kernel boundary: results independent of threads and blocks, and one compiled version per kernel.

Kernels are compiled once per tuple of argument types, and an array's type includes its layout and whether it
is writeable: ``boundary.read_only`` and ``boundary.strided_matrix`` give every caller the same types, so C,
Fortran and read-only inputs must not add specializations (each costs compile time on a fresh machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier, make_uplift_data
from upliftree._grower import HistogramSource
from upliftree._kernels import boundary
from upliftree._tree_arrays import PARALLEL_MIN_ROWS
from upliftree.datasets import FEATURES

REPOSITORY = Path(__file__).resolve().parents[1]


@settings(max_examples=200, deadline=None)
@given(n_items=st.integers(0, 10_000), min_block=st.integers(1, 3_000), granularity=st.sampled_from((1, 7, 128)),
       n_threads=st.integers(1, 9), blocks_per_thread=st.integers(1, 5))
def test_blocks_cover_every_item_once(n_items, min_block, granularity, n_threads, blocks_per_thread):
    original = boundary.kernel_threads
    boundary.kernel_threads = lambda: n_threads
    try:
        blocks = boundary.block_bounds(n_items, min_block, granularity, blocks_per_thread)
    finally:
        boundary.kernel_threads = original
    assert blocks[0][0] == 0 and blocks[-1][1] == n_items
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(blocks, blocks[1:], strict=False))
    assert all(start < stop for start, stop in blocks) or blocks == [(0, 0)]
    assert all(start % granularity == 0 for start, _ in blocks)
    if len(blocks) > 1:
        assert len(blocks) <= n_threads * blocks_per_thread
        assert all(stop - start >= min_block for start, stop in blocks[:-1])


def test_run_blocks_runs_every_block_and_raises_errors():
    seen = []
    boundary.run_blocks(lambda start, stop: seen.append((start, stop)), [(0, 2), (2, 5), (5, 6)])
    assert sorted(seen) == [(0, 2), (2, 5), (5, 6)]

    def fail(start, stop):
        if start == 2:
            raise ValueError("block failed")

    with pytest.raises(ValueError, match="block failed"):
        boundary.run_blocks(fail, [(0, 2), (2, 5)])


def test_strided_matrix_reads_every_layout_without_copying():
    matrix = np.arange(12.0).reshape(4, 3)
    for layout in (np.ascontiguousarray(matrix), np.asfortranarray(matrix)):
        values, row_stride, column_stride = boundary.strided_matrix(layout)
        assert np.shares_memory(values, layout) and not values.flags.writeable
        rows, columns = np.indices(matrix.shape)
        np.testing.assert_array_equal(values[rows * row_stride + columns * column_stride], matrix)
    strided = np.arange(24.0).reshape(4, 6)[:, ::2]
    values, row_stride, column_stride = boundary.strided_matrix(strided)
    rows, columns = np.indices(strided.shape)
    np.testing.assert_array_equal(values[rows * row_stride + columns * column_stride], strided)


@pytest.fixture(scope="module")
def big_experiment():
    """More rows than the threaded thresholds (histograms, traversal), with categorical features."""
    data = make_uplift_data(PARALLEL_MIN_ROWS + 7_001, n_treatments=2, random_state=21)
    return data[FEATURES], data["treatment"].to_numpy(), data["outcome"].to_numpy()


def _results(X, treatment, y) -> list[np.ndarray]:
    tree = UpliftTreeClassifier(max_depth=5, min_samples_leaf=200, control="control", random_state=1).fit(
        X, treatment, y)
    forest = UpliftRandomForestClassifier(n_estimators=4, max_depth=4, control="control", random_state=2,
                                          verbose=0).fit(X, treatment, y)
    encoded = tree.fitted_state_.inputs.encode(X)
    binned = tree.bin_mapper_.transform(encoded)
    arm = np.searchsorted(np.asarray(tree.treatments_, dtype=object), treatment).astype(np.int64)
    rows = np.arange(len(y))
    weighted = HistogramSource.of(binned, arm, np.full(len(y), 0.5), y.astype(np.float64), 3, 256, True)
    histogram = weighted.build(rows, np.ones(len(y), dtype=np.int32), np.arange(binned.shape[0]), parallel=True)
    return [binned, histogram, tree.tree_.stats, tree.tree_.threshold, tree.apply(X), forest.apply(X),
            forest.predict_outcome(X)]


def test_results_do_not_depend_on_threads_or_blocks(big_experiment, monkeypatch):
    """Every threaded path (binning, histograms, traversal, forest pass) split into 1 to 7 threads' blocks."""
    results = {}
    for n_threads in (1, 2, 7):
        monkeypatch.setattr(boundary, "kernel_threads", lambda n_threads=n_threads: n_threads)
        results[n_threads] = _results(*big_experiment)
    for n_threads in (2, 7):
        for single, threaded in zip(results[1], results[n_threads], strict=True):
            assert single.dtype == threaded.dtype
            np.testing.assert_array_equal(np.ascontiguousarray(single).view(np.uint8),
                                          np.ascontiguousarray(threaded).view(np.uint8))


SPECIALIZATIONS_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from upliftree import (UpliftRandomForestClassifier, UpliftRandomForestRegressor, UpliftTreeClassifier,
                           UpliftTreeRegressor, make_uplift_data)
    from upliftree.datasets import FEATURES
    from upliftree.metrics import bootstrap_ci, bootstrap_curve_band, qini_auc_score
    import upliftree._kernels as kernels
    import importlib, pkgutil

    def read_only(array):
        view = array.view()
        view.flags.writeable = False
        return view

    data = make_uplift_data(3000, random_state=0)
    frame, treatment, y = data[FEATURES], data["treatment"].to_numpy(), data["outcome"].to_numpy()
    numeric = frame[["age", "tenure", "visits", "income"]].to_numpy(dtype=np.float64)
    layouts = [np.ascontiguousarray(numeric), np.asfortranarray(numeric), read_only(np.asfortranarray(numeric)),
               read_only(np.ascontiguousarray(numeric))]
    for X in [frame, *layouts]:
        for model in (UpliftTreeClassifier(max_depth=3, control="control"),
                      UpliftTreeClassifier(max_depth=3, honest=True, control="control"),
                      UpliftRandomForestClassifier(n_estimators=3, max_depth=3, control="control", verbose=0),
                      UpliftRandomForestClassifier(n_estimators=3, max_depth=3, honest=True, max_features=None,
                                                   control="control", verbose=0)):
            model.fit(X, treatment, read_only(y))
            for layout in ([X] if X is frame else layouts):
                model.predict(layout)
                model.apply(layout)
    continuous = make_uplift_data(3000, outcome="continuous", random_state=1)
    for model in (UpliftTreeRegressor(max_depth=3, control="control"),
                  UpliftRandomForestRegressor(n_estimators=2, max_depth=3, control="control", verbose=0)):
        model.fit(continuous[FEATURES], continuous["treatment"], continuous["outcome"],
                  sample_weight=np.full(3000, 2.0))
        model.predict(continuous[FEATURES])
    score = model.predict(continuous[FEATURES])
    treated = (treatment == "email").astype(int)
    qini_auc_score(y, score, treated)
    bootstrap_ci("qini_auc_score", y, score, treated, n_boot=20, random_state=0)
    bootstrap_ci("uplift_auc_score", read_only(y), read_only(score), treated, n_boot=20, random_state=0)
    bootstrap_curve_band(y, score, treated, n_boot=20, random_state=0)
    # Known propensities and clusters (issue 16): weighted sweeps and the cluster resampling kernels.
    received = np.where(treated == 1, 0.4, 0.6)
    stores = np.arange(len(y)) // 7
    qini_auc_score(y, score, treated, propensity=received)
    for cluster in (None, stores):
        bootstrap_ci("qini_auc_score", y, score, treated, n_boot=20, random_state=0, propensity=received,
                     cluster=cluster)
        bootstrap_ci("uplift_at_k", y, score, treated, n_boot=3, random_state=0, propensity=received, cluster=cluster)
        bootstrap_curve_band(y, score, treated, n_boot=20, random_state=0, propensity=received, cluster=cluster)
    counts = {}
    for module in pkgutil.iter_modules(kernels.__path__):
        mod = importlib.import_module(f"upliftree._kernels.{module.name}")
        for name, value in vars(mod).items():
            if hasattr(value, "signatures") and getattr(value, "__module__", None) == mod.__name__:
                counts[f"{module.name}.{name}"] = [str(signature) for signature in value.signatures]
    json.dump(counts, sys.stdout)
""")


def test_each_kernel_compiles_once_whatever_the_input_layout():
    """C, Fortran and read-only matrices and outcomes, trees, forests, honest, weighted, metrics: in a fresh
    process, no kernel holds more than one compiled version."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", SPECIALIZATIONS_SCRIPT], capture_output=True, text=True,
                            env=environment, cwd=REPOSITORY, timeout=600, check=True)
    counts = json.loads(result.stdout)
    assert counts, "no kernels found"
    repeated = {name: signatures for name, signatures in counts.items() if len(signatures) > 1}
    assert not repeated, f"kernels compiled more than once: {repeated}"
