"""The node-table module: the statistics layout it owns and the one renumbering routine of node tables.

Every renumbering (depth first as the in-memory grower numbers nodes, breadth first for the stacked forest,
collapsing splits for merging and pruning) is ``TreeArrays.renumbered``; these tests check, on random trees,
that a renumbered tree routes every row to the same leaf with the same values and keeps the table's invariants.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fitted_state import node_tables

import upliftree
import upliftree._tree_arrays as nodes
from upliftree import UpliftTreeClassifier
from upliftree._tree_arrays import InvalidTreeError, TreeArrays
from upliftree.datasets import make_uplift_data
from upliftree.export import ModelFormatError

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def test_stats_layout_names_every_column_in_order() -> None:
    columns = [nodes.COUNT, nodes.WEIGHT, nodes.WEIGHTED_Y, nodes.WEIGHTED_Y2, nodes.WEIGHT_SQUARED]
    assert columns == list(range(nodes.N_STATS))
    assert [nodes.STAT_NAMES[column] for column in columns] == [
        "count", "weight", "weighted_y", "weighted_y2", "weight_squared"]


# -- slow, obvious references --------------------------------------------------------------------------------
def reference_depth_first(tree: TreeArrays) -> list[int]:
    """Recursion: a split numbers its two children, then the left subtree is numbered before the right."""
    order = [0]

    def visit(node: int) -> None:
        if tree.children_left[node] >= 0:
            left, right = int(tree.children_left[node]), int(tree.children_right[node])
            order.extend([left, right])
            visit(left)
            visit(right)

    visit(0)
    return order


def reference_breadth_first(tree: TreeArrays) -> list[int]:
    """A queue of nodes: the root, then the children of each node taken from the queue, left first."""
    order, queue = [0], [0]
    while queue:
        node = queue.pop(0)
        if tree.children_left[node] >= 0:
            children = [int(tree.children_left[node]), int(tree.children_right[node])]
            order.extend(children)
            queue.extend(children)
    return order


def reference_leaf(tree: TreeArrays, row: np.ndarray) -> int:
    """The leaf of one encoded row, by walking the tree in Python (the rules of docs/architecture.md)."""
    node = 0
    while tree.children_left[node] >= 0:
        value = row[tree.feature[node]]
        if np.isnan(value):
            left = tree.missing_left[node]
        elif tree.is_categorical[node]:
            code = int(value)
            left = bool((int(tree.category_bitset[node, code >> 6]) >> (code & 63)) & 1)
        else:
            left = value <= tree.threshold[node]
        node = int(tree.children_left[node] if left else tree.children_right[node])
    return node


@st.composite
def trees_and_rows(draw) -> tuple[TreeArrays, np.ndarray]:
    """A random valid tree and rows to route through it: its own thresholds, values near them, NaN."""
    arrays, n_categories = draw(node_tables())
    tree = TreeArrays(**arrays)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_rows = 60
    thresholds = tree.threshold[np.isfinite(tree.threshold)]
    columns = []
    for n_cat in n_categories:
        if n_cat < 0:
            pool = np.concatenate([thresholds, np.nextafter(thresholds, np.inf), rng.normal(0, 10, 8), [np.nan]])
        else:
            pool = np.concatenate([np.arange(n_cat, dtype=np.float64), [np.nan]])
        columns.append(rng.choice(pool, n_rows))
    return tree, np.column_stack(columns)


def random_order(tree: TreeArrays, rng: np.random.Generator) -> list[int]:
    """Any valid order: grow the numbering from the root, taking the children of a random numbered split next."""
    order, waiting = [0], [0]
    while waiting:
        node = waiting.pop(int(rng.integers(len(waiting))))
        if tree.children_left[node] >= 0:
            children = [int(tree.children_left[node]), int(tree.children_right[node])]
            order.extend(children)
            waiting.extend(children)
    return order


def assert_same_routing(old: TreeArrays, new: TreeArrays, order: np.ndarray, rows: np.ndarray) -> None:
    """Every row reaches the renumbered copy of its leaf, with the same values and statistics."""
    new_id = np.full(old.n_nodes, -1)
    new_id[order] = np.arange(len(order))
    old_leaves = old.apply(rows)
    np.testing.assert_array_equal(new.apply(rows), new_id[old_leaves])
    np.testing.assert_array_equal(new.value[new.apply(rows)], old.value[old_leaves])
    np.testing.assert_array_equal(new.stats, old.stats[order])
    np.testing.assert_array_equal(new.depth, old.depth[order])


# -- renumbering -----------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(case=trees_and_rows(), seed=st.integers(0, 2**32 - 1))
def test_renumbered_trees_route_every_row_to_the_same_leaf(case, seed) -> None:
    tree, rows = case
    assert [reference_leaf(tree, row) for row in rows] == tree.apply(rows).tolist()
    depth_first, breadth_first = tree.depth_first_order(), tree.breadth_first_order()
    assert depth_first.tolist() == reference_depth_first(tree)
    assert breadth_first.tolist() == reference_breadth_first(tree)
    for order in (depth_first, breadth_first, np.array(random_order(tree, np.random.default_rng(seed)))):
        assert sorted(order.tolist()) == list(range(tree.n_nodes))
        renumbered = tree.renumbered(order)  # validated on construction: ids, parents, depths, split fields
        assert_same_routing(tree, renumbered, order, rows)


@settings(max_examples=100, deadline=None)
@given(case=trees_and_rows())
def test_orders_are_the_invariants_they_promise(case) -> None:
    tree, _ = case
    # Breadth first: depths never decrease, and the k-th split's children are nodes 2k + 1 and 2k + 2.
    layered = tree.renumbered(tree.breadth_first_order())
    assert (np.diff(layered.depth) >= 0).all()
    splits = np.flatnonzero(~layered.is_leaf)
    np.testing.assert_array_equal(layered.children_left[splits], 2 * np.arange(len(splits)) + 1)
    assert layered.max_depth() == tree.max_depth()
    # Depth first: a renumbered tree is already in that order, and the order depends on the structure only.
    grown = tree.renumbered(tree.depth_first_order())
    np.testing.assert_array_equal(grown.depth_first_order(), np.arange(tree.n_nodes))
    for name in ("children_left", "feature", "threshold", "value"):
        np.testing.assert_array_equal(getattr(layered.renumbered(layered.depth_first_order()), name),
                                      getattr(grown, name))


@settings(max_examples=100, deadline=None)
@given(case=trees_and_rows(), data=st.data())
def test_collapsed_trees_route_rows_to_the_collapsed_ancestor(case, data) -> None:
    tree, rows = case
    splits = np.flatnonzero(~tree.is_leaf).tolist()
    collapsed = data.draw(st.lists(st.sampled_from(splits), unique=True) if splits else st.just([]))
    pruned = tree.collapse(collapsed)
    # Reference: a row stops at its highest collapsed ancestor (or its leaf); surviving nodes keep id order.
    stops = []
    for leaf in tree.apply(rows):
        path = [int(leaf)]
        while tree.parent[path[-1]] >= 0:
            path.append(int(tree.parent[path[-1]]))
        stops.append(next((node for node in reversed(path) if node in collapsed), int(leaf)))
    kept = [node for node in range(tree.n_nodes)
            if not any(ancestor in collapsed for ancestor in _strict_ancestors(tree, node))]
    np.testing.assert_array_equal(pruned.apply(rows), [kept.index(stop) for stop in stops])
    np.testing.assert_array_equal(pruned.value, tree.value[kept])
    expected_leaves = [new for new, node in enumerate(kept) if tree.is_leaf[node] or node in collapsed]
    np.testing.assert_array_equal(pruned.leaf_ids, expected_leaves)
    np.testing.assert_array_equal(pruned.feature[expected_leaves], -1)  # split fields cleared (and validated)


def _strict_ancestors(tree: TreeArrays, node: int) -> list[int]:
    ancestors = []
    while tree.parent[node] >= 0:
        node = int(tree.parent[node])
        ancestors.append(node)
    return ancestors


def stump_arrays() -> dict:
    """The arrays of one numeric split (feature 0 at 0.5) and its two leaves."""
    return dict(
        children_left=np.array([1, -1, -1]), children_right=np.array([2, -1, -1]), parent=np.array([-1, 0, 0]),
        depth=np.array([0, 1, 1]), feature=np.array([0, -1, -1]), threshold=np.array([0.5, np.nan, np.nan]),
        is_categorical=np.zeros(3, dtype=bool), category_bitset=np.zeros((3, nodes.BITSET_WORDS), dtype=np.uint64),
        missing_left=np.zeros(3, dtype=bool), gain=np.array([1.0, 0, 0]), raw_gain=np.array([1.0, 0, 0]),
        stats=np.ones((3, 2, nodes.N_STATS)), value=np.ones((3, 2)))


def test_an_order_that_breaks_the_rules_is_refused() -> None:
    stump = TreeArrays(**stump_arrays())
    with pytest.raises(InvalidTreeError, match="must be larger than its parent"):
        stump.renumbered([1, 0, 2])  # a child before its parent
    with pytest.raises(InvalidTreeError, match="both be -1 or both be node ids"):
        stump.renumbered([0, 2])  # one child of a split left out
    with pytest.raises(InvalidTreeError, match="must be adjacent"):
        stump.renumbered([0, 2, 1])  # right child before left: the split's left child must come first
    leaf = stump.renumbered([0])  # both children left out: the split becomes a leaf
    assert leaf.n_nodes == 1 and leaf.feature[0] == -1 and np.isnan(leaf.threshold[0]) and leaf.gain[0] == 0


# -- the checks of a model file's tree are the node table's, pointed at the file's fields -------------------
def test_model_file_category_errors_name_the_left_categories_field() -> None:
    frame = make_uplift_data(6_000, random_state=11)
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, control="control", random_state=0).fit(
        frame[["age", "region", "channel"]], frame["treatment"], frame["outcome"])
    tree = model.tree_
    categorical = int(np.flatnonzero(tree.is_categorical)[0])
    numeric = int(np.flatnonzero(~tree.is_leaf & ~tree.is_categorical)[0])
    leaf = int(tree.leaf_ids[0])
    n_categories = len(model.schema_.categories[tree.feature[categorical]])
    document = json.loads(model.to_json())

    def load_with(node: int, codes: list) -> None:
        changed = json.loads(json.dumps(document))
        changed["tree"]["left_categories"][node] = codes
        upliftree.from_json(json.dumps(changed))

    cases = [
        (categorical, [0, n_categories], rf"tree.left_categories\[{categorical}\]: category_bitset\[{categorical}\]: "
                                         rf"holds codes beyond the {n_categories} categories"),
        (numeric, [0], rf"tree.left_categories\[{numeric}\]: node {numeric}: a numeric split needs a threshold "
                       r"\(not nan\) and no categories"),
        (leaf, [1], rf"tree.left_categories\[{leaf}\]: node {leaf}: a leaf must have feature -1"),
        (categorical, [0, 0], rf"tree.left_categories\[{categorical}\]: duplicated category codes"),
        (categorical, [256], rf"tree.left_categories\[{categorical}\]\[0\]: expected an integer in \[0, 255\]"),
    ]
    for node, codes, message in cases:
        with pytest.raises(ModelFormatError, match=message):
            load_with(node, codes)
    load_with(categorical, list(range(n_categories)))  # every category left is a valid split


def test_invalid_tree_errors_name_the_field_and_node() -> None:
    cases = [  # (field, node, value, the field and node the error names)
        ("gain", 1, 0.5, ("gain", 1)), ("category_bitset", 2, 1, ("category_bitset", 2)),
        ("threshold", 0, np.nan, ("threshold", 0)), ("children_left", 0, 7, ("children_left", 0)),
        ("stats", 2, -1.0, ("stats", 2)), ("depth", 2, 3, ("depth", 2)),
    ]
    for name, node, value, (field, at) in cases:
        arrays = stump_arrays()
        arrays[name][node] = value
        with pytest.raises(InvalidTreeError) as raised:
            TreeArrays(**arrays)
        assert (raised.value.field, raised.value.node) == (field, at), name
    arrays = stump_arrays()
    arrays["children_right"][0] = -1
    with pytest.raises(InvalidTreeError, match="both be -1") as raised:
        TreeArrays(**arrays)
    assert raised.value.field is None and raised.value.node == 0  # about the node, not one field
