"""The one growth loop (``_grower.TreeGrower``): the same tree whatever order a source grows nodes in.

Feature sampling is keyed by node (the tree's seed and the node's path from the root), so a level-wise
source (as on Dask) grows exactly the depth-first tree, and a node's tried features do not depend on how
many nodes were grown before it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from itertools import combinations, product
from typing import ClassVar

import numpy as np
import pytest
from scipy import stats

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor, make_uplift_data
from upliftree._grower import HistogramSource, TreeGrower, grow_tree
from upliftree.binning import BinMapper
from upliftree.datasets import FEATURES
from upliftree.tree import growth_params


@dataclass(frozen=True)
class LevelWiseRows(HistogramSource):
    """Rows in memory handed to the grower a whole level at a time, as the Dask source is."""

    level_wise: ClassVar[bool] = True


def _grown(outcome: str, weights: str, max_features, max_depth: int = 5):
    frame = make_uplift_data(3_000, n_treatments=2, outcome=outcome, random_state=31)
    estimator = (UpliftTreeClassifier if outcome == "binary" else UpliftTreeRegressor)(
        max_depth=max_depth, min_samples_leaf=40, min_samples_treatment=5, max_features=max_features,
        control="control")
    rng = np.random.default_rng(3)
    weight = {"unit": None, "positive": rng.uniform(0.5, 2.0, len(frame)),
              "zero": np.where(rng.random(len(frame)) < 0.2, 0.0, rng.uniform(0.5, 2.0, len(frame)))}[weights]
    schema, arms, data = estimator._prepare(frame[FEATURES], frame["treatment"], frame["outcome"], weight)
    mapper = BinMapper(63, random_state=0).fit(data.encoded, schema)
    source = HistogramSource.of(mapper.transform(data.encoded), data.arm, data.weight, data.y, arms.n_arms,
                                mapper.missing_bin_ + 1, estimator.outcome_type == "binary")
    return source, mapper, growth_params(estimator, schema.n_features, parallel=False), len(frame)


def _assert_same_arrays(tree, other) -> None:
    for field in fields(tree):
        np.testing.assert_array_equal(getattr(tree, field.name), getattr(other, field.name), err_msg=field.name)


@pytest.mark.parametrize(("outcome", "weights"), [("binary", "unit"), ("continuous", "positive"),
                                                  ("binary", "zero")])
@pytest.mark.parametrize("max_features", [None, 2, 4])  # of 6: all; tried-only histograms; subtraction
def test_level_wise_growth_is_the_depth_first_tree(outcome, weights, max_features):
    source, mapper, params, n_rows = _grown(outcome, weights, max_features)
    sample = np.arange(n_rows), np.ones(n_rows, dtype=np.int32)
    depth_first = grow_tree(source, mapper, *sample, params, np.random.default_rng(8))
    levels = LevelWiseRows(**{field.name: getattr(source, field.name) for field in fields(source)})
    level_wise = TreeGrower.uplift(levels, mapper, params, np.random.default_rng(8)).grow(sample)
    assert depth_first.n_nodes >= 15 and depth_first.depth.max() == 5  # the case grows a real tree
    # Same nodes, ids and bits: every node's histograms are built from the same rows in the same order.
    _assert_same_arrays(level_wise, depth_first)


def _splits_by_path(tree) -> dict[str, tuple]:
    splits, stack = {}, [(0, "")]
    while stack:
        node, path = stack.pop()
        if tree.children_left[node] >= 0:
            goes_left = tuple(tree.category_bitset[node]) if tree.is_categorical[node] else tree.threshold[node]
            splits[path] = (int(tree.feature[node]), goes_left, bool(tree.missing_left[node]))
            stack += [(tree.children_left[node], path + "L"), (tree.children_right[node], path + "R")]
    return splits


@pytest.mark.parametrize("max_features", [2, 4])
def test_a_nodes_tried_features_do_not_depend_on_the_nodes_grown_before_it(max_features):
    """Deeper trees grow more nodes in the left subtree before the right one: with draws from one stream,
    the right subtree's features (and splits) would change with ``max_depth``."""
    source, mapper, params, n_rows = _grown("binary", "unit", max_features)
    sample = np.arange(n_rows), np.ones(n_rows, dtype=np.int32)
    shallow = _splits_by_path(grow_tree(source, mapper, *sample, replace(params, max_depth=3),
                                        np.random.default_rng(4)))
    deep = _splits_by_path(grow_tree(source, mapper, *sample, params, np.random.default_rng(4)))
    assert len(shallow) >= 5 and any(path.startswith("R") for path in shallow)
    assert {path: split for path, split in deep.items() if len(path) < 3} == shallow
    other_seed = _splits_by_path(grow_tree(source, mapper, *sample, params, np.random.default_rng(5)))
    assert other_seed != deep  # the draws depend on the seed


def test_tried_features_are_uniform_subsets_independent_across_nodes():
    n_features, n_tried = 6, 2
    source, mapper, params, _ = _grown("binary", "unit", n_tried)
    grower = TreeGrower.uplift(source, mapper, params, np.random.default_rng(0))
    paths = [path for depth in range(11) for path in product((0, 1), repeat=depth)]  # a full tree of 2,047 nodes
    subsets = list(combinations(range(n_features), n_tried))
    drawn = {path: tuple(grower.tried_features(path).tolist()) for path in paths}
    assert all(subset in subsets for subset in drawn.values())
    frequencies = np.array([sum(subset == drawn_subset for drawn_subset in drawn.values()) for subset in subsets])
    assert stats.chisquare(frequencies).pvalue > 1e-3
    # Siblings draw independently: they try the same subset about once in len(subsets) pairs.
    siblings = [(drawn[path + (0,)], drawn[path + (1,)]) for path in paths if len(path) < 10]
    n_same = sum(left == right for left, right in siblings)
    assert stats.binomtest(n_same, len(siblings), 1 / len(subsets)).pvalue > 1e-3
    # The same seed draws the same subsets; another seed others.
    again = TreeGrower.uplift(source, mapper, params, np.random.default_rng(0))
    other = TreeGrower.uplift(source, mapper, params, np.random.default_rng(9))
    some = paths[-50:]
    assert all(tuple(again.tried_features(path)) == drawn[path] for path in some)
    assert sum(tuple(other.tried_features(path)) == drawn[path] for path in some) < 20
