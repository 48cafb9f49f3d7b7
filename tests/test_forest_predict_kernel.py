"""The lockstep forest kernel against a slow, obvious reference, on random node tables and real forests.

The reference follows each row down each tree in plain Python (NaN to the missing direction, category codes
through the bitset, ``x <= threshold`` left) and sums leaf values in tree order before dividing once, as the
exported SQL does; the kernel must match it bit for bit.
"""

import math

import numba
import numpy as np
import pytest

from upliftree import UpliftRandomForestClassifier, make_uplift_data
from upliftree._kernels.predictor import ROW_BLOCK
from upliftree._tree_arrays import BITSET_WORDS, TreeArrays
from upliftree.datasets import FEATURES
from upliftree.predictor import StackedForest

# Numeric values and thresholds share this pool, so rows land exactly on thresholds, on both zeros and on
# both infinities.
POOL = np.array([-np.inf, -1e300, -2.5, -1.0, -0.0, 0.0, 5e-324, 0.5, 1.0, 3.0, 1e300, np.inf])
N_CATEGORIES = 200


def _leaf(tree: TreeArrays, x: np.ndarray) -> int:
    node = 0
    while tree.children_left[node] >= 0:
        value = float(x[tree.feature[node]])
        if math.isnan(value):
            goes_left = bool(tree.missing_left[node])
        elif tree.is_categorical[node]:
            code = int(value)
            goes_left = (int(tree.category_bitset[node, code // 64]) >> (code % 64)) & 1 == 1
        else:
            goes_left = value <= float(tree.threshold[node])
        node = int(tree.children_left[node] if goes_left else tree.children_right[node])
    return node


def _reference(trees: list[TreeArrays], encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_arms = trees[0].value.shape[1]
    leaves = np.zeros((encoded.shape[0], len(trees)), dtype=np.int64)
    mean = np.zeros((encoded.shape[0], n_arms))
    for row in range(encoded.shape[0]):
        total = [0.0] * n_arms
        for index, tree in enumerate(trees):
            leaf = _leaf(tree, encoded[row])
            leaves[row, index] = leaf
            for arm in range(n_arms):
                total[arm] += float(tree.value[leaf, arm])
        mean[row] = [value / len(trees) for value in total]
    return leaves, mean


def _random_tree(rng: np.random.Generator, categorical: np.ndarray, n_arms: int, max_depth: int,
                 shuffle_ids: bool) -> TreeArrays:
    """A random node table; with ``shuffle_ids`` children get random ids (still after their parent, and a split's
    two children adjacent, as every node table has them)."""
    nodes = [dict(parent=-1, depth=0)]
    open_nodes = [0]
    while open_nodes:
        node = open_nodes.pop(int(rng.integers(len(open_nodes))))
        if nodes[node]["depth"] >= max_depth or rng.random() < 0.25 * (node > 0):
            continue
        feature = int(rng.integers(len(categorical)))
        split = dict(feature=feature, missing_left=bool(rng.random() < 0.5), is_categorical=bool(categorical[feature]))
        if categorical[feature]:
            split["bitset"] = rng.integers(0, 2**63, BITSET_WORDS, dtype=np.uint64) * np.uint64(2) + np.uint64(
                rng.integers(2))
        else:
            split["threshold"] = float(rng.choice(POOL)) if rng.random() < 0.8 else float(rng.normal())
        children = []
        for _ in range(2):
            nodes.append(dict(parent=node, depth=nodes[node]["depth"] + 1))
            children.append(len(nodes) - 1)
            open_nodes.append(children[-1])
        nodes[node].update(split, children=children)
    order = list(range(len(nodes)))
    if shuffle_ids:  # a random order in which parents still come before their children, siblings side by side
        order, ready = [0], [nodes[0]["children"]] if "children" in nodes[0] else []
        while ready:
            siblings = ready.pop(int(rng.integers(len(ready))))
            order += siblings
            ready += [nodes[child]["children"] for child in siblings if "children" in nodes[child]]
    new_id = np.empty(len(nodes), dtype=np.int64)
    new_id[order] = np.arange(len(nodes))
    n = len(nodes)
    tree = dict(children_left=np.full(n, -1), children_right=np.full(n, -1), parent=np.full(n, -1),
                depth=np.zeros(n, dtype=np.int64), feature=np.full(n, -1), threshold=np.full(n, np.nan),
                is_categorical=np.zeros(n, dtype=bool), category_bitset=np.zeros((n, BITSET_WORDS), dtype=np.uint64),
                missing_left=np.zeros(n, dtype=bool))
    for old, node in enumerate(nodes):
        i = new_id[old]
        tree["depth"][i] = node["depth"]
        tree["parent"][i] = new_id[node["parent"]] if node["parent"] >= 0 else -1
        if "children" in node:
            tree["children_left"][i], tree["children_right"][i] = new_id[node["children"]]
            tree["feature"][i] = node["feature"]
            tree["missing_left"][i] = node["missing_left"]
            tree["is_categorical"][i] = node["is_categorical"]
            if node["is_categorical"]:
                tree["category_bitset"][i] = node["bitset"]
            else:
                tree["threshold"][i] = node["threshold"]
    # Values of very different sizes, so a different summation order would change the bits.
    value = rng.normal(size=(n, n_arms)) * 10.0 ** rng.integers(-8, 9, size=(n, n_arms))
    return TreeArrays(**tree, gain=np.zeros(n), raw_gain=np.zeros(n), stats=np.zeros((n, n_arms, 5)), value=value)


def _random_rows(rng: np.random.Generator, categorical: np.ndarray, n_rows: int) -> np.ndarray:
    encoded = np.where(rng.random((n_rows, len(categorical))) < 0.7, rng.choice(POOL, (n_rows, len(categorical))),
                       rng.normal(size=(n_rows, len(categorical))))
    codes = rng.integers(0, N_CATEGORIES, (n_rows, len(categorical))).astype(np.float64)
    encoded[:, categorical] = codes[:, categorical]
    encoded[rng.random(encoded.shape) < 0.15] = np.nan
    return encoded


def _random_forest(seed: int, with_categorical: bool, n_rows: int | None = None):
    rng = np.random.default_rng(seed)
    n_features = int(rng.integers(1, 7))
    categorical = (rng.random(n_features) < 0.5) & with_categorical
    n_arms = int(rng.integers(2, 4))
    trees = [_random_tree(rng, categorical, n_arms, int(rng.integers(0, 9)), shuffle_ids=bool(rng.random() < 0.5))
             for _ in range(int(rng.integers(1, 9)))]
    if n_rows is None:
        n_rows = int(rng.choice([0, 1, ROW_BLOCK - 1, ROW_BLOCK, ROW_BLOCK + 1, rng.integers(2, 3 * ROW_BLOCK + 7)]))
    return trees, _random_rows(rng, categorical, n_rows)


def _assert_bits_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual.view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize("with_categorical", [False, True])
@pytest.mark.parametrize("seed", range(25))
def test_kernel_matches_reference(seed, with_categorical):
    trees, encoded = _random_forest(seed, with_categorical)
    expected_leaves, expected_mean = _reference(trees, encoded)
    forest = StackedForest.from_trees(trees)
    for layout in (encoded, np.asfortranarray(encoded), np.repeat(encoded, 2, axis=1)[:, ::2]):
        np.testing.assert_array_equal(forest.apply(layout), expected_leaves)
        _assert_bits_equal(forest.mean_values(layout), expected_mean)
    for index, tree in enumerate(trees):  # the single-tree path agrees too
        np.testing.assert_array_equal(tree.apply(encoded), expected_leaves[:, index])


def test_nan_and_unseen_categories_follow_the_missing_direction():
    rng = np.random.default_rng(0)
    categorical = np.array([False, True])
    trees = [_random_tree(rng, categorical, 2, 4, shuffle_ids=False) for _ in range(6)]
    encoded = np.full((3 * ROW_BLOCK + 5, 2), np.nan)
    encoded[1::3, 1] = 7.0
    encoded[2::3, 0] = -0.0
    expected_leaves, expected_mean = _reference(trees, encoded)
    forest = StackedForest.from_trees(trees)
    np.testing.assert_array_equal(forest.apply(encoded), expected_leaves)
    _assert_bits_equal(forest.mean_values(encoded), expected_mean)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_thread_count_does_not_change_predictions():
    trees, encoded = _random_forest(99, with_categorical=True, n_rows=20 * ROW_BLOCK + 3)
    forest = StackedForest.from_trees(trees)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = forest.apply(encoded), forest.mean_values(encoded)
        numba.set_num_threads(2)
        double = forest.apply(encoded), forest.mean_values(encoded)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(single[0], double[0])
    _assert_bits_equal(single[1], double[1])


def test_fitted_forest_matches_its_trees():
    data = make_uplift_data(3_000, n_treatments=2, random_state=4)  # categorical region, missing income
    X, t, y = data[FEATURES], data["treatment"], data["outcome"]
    forest = UpliftRandomForestClassifier(n_estimators=12, max_depth=6, min_samples_leaf=30, control="control",
                                          random_state=2, verbose=0).fit(X, t, y)
    trees = [tree.tree_ for tree in forest.estimators_]
    assert any(tree.is_categorical.any() for tree in trees)
    encoded = forest.fitted_state_.inputs.encode(X.iloc[:500])
    expected_leaves, expected_mean = _reference(trees, encoded)
    np.testing.assert_array_equal(forest.apply(X.iloc[:500]), expected_leaves)
    _assert_bits_equal(forest.predict_outcome(X.iloc[:500]), expected_mean)
