"""The fitted tree as a node table: plain read-only numpy arrays that prediction, export, plotting and JSON all
read, checked to describe one tree whenever a table is built.

This module owns the nodes: the layout of their statistics (``COUNT``, ``WEIGHT``, ... from
``_kernels.stats_layout``, re-exported here for every module above the kernels), the table and its checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from ._base import read_only, restore_frozen
from ._kernels.boundary import block_bounds, kernel_array, run_blocks, strided_matrix
from ._kernels.predictor import ALL_ROWS, BITSET_WORDS, ROUTING_FIELDS, accumulate_node_stats, apply_tree
from ._kernels.stats_layout import COUNT, N_STATS, STAT_NAMES, WEIGHT, WEIGHT_SQUARED, WEIGHTED_Y, WEIGHTED_Y2
from .design import N_MOMENTS, N_UNITS, design_moments

__all__ = [
    "ALL_ROWS", "BITSET_WORDS", "COUNT", "N_STATS", "PARALLEL_MIN_ROWS", "STAT_NAMES", "WEIGHT", "WEIGHTED_Y",
    "WEIGHTED_Y2", "WEIGHT_SQUARED", "EstimationRows", "InvalidTreeError", "TreeArrays", "arms_below",
    "categories_in_bitset", "categories_per_feature", "category_bitset_of", "empty_stats", "estimate_nodes",
    "estimated", "merge_short_leaves", "no_design_moments", "node_values", "MIN_UNITS_PER_ARM",
]

# Below this many rows, compiled passes run on one thread: waking the thread pool costs more than it saves.
PARALLEL_MIN_ROWS = 50_000
# dtype of every field and the shape of one node's entry (after the node axis; None: n_arms).
_INT, _FLOAT, _BOOL = np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.bool_)
DESIGN = "design"  # entry size of the design moments in _LAYOUT: N_MOMENTS, or 0 without a design
_LAYOUT = {
    "children_left": (_INT, ()), "children_right": (_INT, ()), "parent": (_INT, ()), "depth": (_INT, ()),
    "feature": (_INT, ()), "threshold": (_FLOAT, ()), "is_categorical": (_BOOL, ()),
    "category_bitset": (np.dtype(np.uint64), (BITSET_WORDS,)), "missing_left": (_BOOL, ()), "gain": (_FLOAT, ()),
    "raw_gain": (_FLOAT, ()), "stats": (_FLOAT, (None, N_STATS)), "value": (_FLOAT, (None,)),
    "design_moments": (_FLOAT, (None, DESIGN)),
}


class InvalidTreeError(ValueError):
    """The arrays do not describe one uplift tree; the message names the field and node.

    ``field`` is the field at fault and ``node`` the node, when a check knows them (else None), so a reader of
    a file whose fields are named otherwise can point to its own field.
    """

    def __init__(self, message: str, field: str | None = None, node: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.node = node


@dataclass(frozen=True)
class TreeArrays:
    """Node table of one uplift tree; node 0 is the root and children always have larger ids.

    The arrays are read-only (copied unless they already are read-only arrays owning their data, as another
    table's are) and checked by :meth:`validate` on construction, so a table always describes one tree:
    traversals end, and every id points into the table.

    Attributes
    ----------
    children_left, children_right : int64 arrays
        Child node ids, -1 for leaves; a split's right child is its left child + 1.
    parent : int64 array
        Parent node id, -1 for the root.
    depth : int64 array
    feature : int64 array
        Feature index of the split, -1 for leaves.
    threshold : float64 array
        Numeric splits send ``x <= threshold`` left (``inf`` means "not missing" goes left); NaN otherwise.
    is_categorical : bool array
        Whether the split tests category membership.
    category_bitset : uint64 array ``(n_nodes, 4)``
        Bit ``c`` set: category code ``c`` goes left.
    missing_left : bool array
        Direction of missing values and unseen categories.
    gain : float64 array
        Criterion value of the chosen split (normalized when ``normalize=True``), 0 for leaves.
    raw_gain : float64 array
        The same before normalization, weighted by the node's share of the root's weight.
    stats : float64 array ``(n_nodes, n_arms, 5)``
        Count, weight, weighted outcome, weighted squared outcome and squared weight of the rows reaching
        each node per arm: estimation rows for an honest tree, else the training rows.
    value : float64 array ``(n_nodes, n_arms)``
        Expected outcome per arm. A node without weight in an arm takes its parent's value for that arm.
    design_moments : float64 array ``(n_nodes, n_arms, N_MOMENTS)``, or ``(n_nodes, n_arms, 0)``
        Sums of the units' totals of the estimation rows (:func:`upliftree.design.design_moments`) when the fit
        was given ``propensity`` or ``cluster``: node intervals are then design-based (robust); empty otherwise.
    """

    children_left: np.ndarray
    children_right: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    is_categorical: np.ndarray
    category_bitset: np.ndarray
    missing_left: np.ndarray
    gain: np.ndarray
    raw_gain: np.ndarray
    stats: np.ndarray
    value: np.ndarray
    design_moments: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.design_moments is None:
            object.__setattr__(self, "design_moments", no_design_moments(self.stats))
        self._freeze(_LAYOUT)
        self.validate()

    __setstate__ = restore_frozen

    def _freeze(self, names) -> None:
        """Check the dtype and dimensions of the fields ``names`` and make them read-only."""
        for name in names:
            dtype, entry_shape = _LAYOUT[name]
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.dtype != dtype or array.ndim != 1 + len(entry_shape):
                got = f"{array.dtype} with {array.ndim} dimension(s)" if isinstance(array, np.ndarray) \
                    else type(array).__name__
                raise InvalidTreeError(f"{name} must be a {1 + len(entry_shape)}-dimensional {dtype} array, "
                                       f"got {got}")
            object.__setattr__(self, name, read_only(array))

    @property
    def has_design(self) -> bool:
        """Whether the node statistics carry design moments (a fit with ``propensity`` or ``cluster``)."""
        return self.design_moments.shape[2] > 0

    @property
    def n_nodes(self) -> int:
        return int(self.children_left.shape[0])

    @property
    def n_arms(self) -> int:
        return int(self.value.shape[1])

    @property
    def is_leaf(self) -> np.ndarray:
        return self.children_left < 0

    @property
    def leaf_ids(self) -> np.ndarray:
        return np.flatnonzero(self.is_leaf)

    @property
    def uplift(self) -> np.ndarray:
        """Uplift of each treatment over control per node, shape ``(n_nodes, n_arms - 1)``."""
        return self.value[:, 1:] - self.value[:, :1]

    def apply(self, encoded: np.ndarray) -> np.ndarray:
        """Leaf id of each row of an encoded feature matrix (blocks of rows on threads when there are many)."""
        matrix = strided_matrix(encoded)
        routing = self._routing()
        leaves = np.empty(len(encoded), dtype=np.int64)

        def descend(start: int, stop: int) -> None:
            apply_tree(*matrix, ALL_ROWS, start, stop, *routing, leaves)

        run_blocks(descend, block_bounds(len(encoded), PARALLEL_MIN_ROWS))
        return leaves

    def route_statistics(self, encoded, arm, weight, y, rows=None) -> np.ndarray:
        """Per-node, per-arm statistics of the given rows (all rows, or the index array ``rows``).

        With ``rows`` the traversal runs on one thread, for callers that parallelize over trees.
        """
        if rows is None:
            return self._node_stats(self.apply(encoded), arm, weight, y)
        rows = kernel_array(rows, np.int64)
        leaves = np.empty(len(rows), dtype=np.int64)
        apply_tree(*strided_matrix(encoded), rows, 0, len(rows), *self._routing(), leaves)
        return self.leaf_statistics(leaves, rows, arm, weight, y)

    def leaf_statistics(self, leaves, rows, arm, weight, y) -> np.ndarray:
        """Per-node, per-arm statistics of ``rows`` whose leaves are already known (``leaves[i]`` holds ``rows[i]``)."""
        return self._node_stats(leaves, arm[rows], weight[rows], y[rows])

    def _node_stats(self, leaves, arm, weight, y) -> np.ndarray:
        return accumulate_node_stats(kernel_array(leaves, np.int64), kernel_array(arm, np.int64),
                                     kernel_array(weight, np.float64), kernel_array(y, np.float64), self.n_arms,
                                     kernel_array(self.parent, np.int64))

    def _routing(self) -> tuple[np.ndarray, ...]:
        """The arrays the traversal kernels take, each in the one layout and dtype they are compiled for."""
        return tuple(kernel_array(getattr(self, name), dtype) for name, dtype in ROUTING_FIELDS)

    def with_stats(self, stats: np.ndarray, root_fallback: np.ndarray | None = None,
                   design_moments: np.ndarray | None = None) -> TreeArrays:
        """The same splits with new node statistics (and the values they imply, see :func:`node_values`) and
        the design moments of the same rows (none when not given: the old ones belong to other rows)."""
        # The splits are this valid table's: only the new statistics need checking.
        table = object.__new__(TreeArrays)
        for field in fields(self):
            object.__setattr__(table, field.name, getattr(self, field.name))
        object.__setattr__(table, "stats", stats)
        object.__setattr__(table, "value", node_values(stats, self.parent, root_fallback))
        object.__setattr__(table, "design_moments",
                           no_design_moments(stats) if design_moments is None else design_moments)
        table._freeze(("stats", "value", "design_moments"))
        table._check_shapes()
        table._check_statistics()
        return table

    def collapse(self, nodes) -> TreeArrays:
        """Turn ``nodes`` into leaves, drop their descendants and renumber the rest in order."""
        keep = np.ones(self.n_nodes, dtype=np.bool_)
        new_leaf = np.zeros(self.n_nodes, dtype=np.bool_)
        new_leaf[np.asarray(nodes, dtype=np.int64)] = True
        for node in range(self.n_nodes):  # parents precede children
            parent = self.parent[node]
            if parent >= 0 and (not keep[parent] or new_leaf[parent]):
                keep[node] = False
        return self.renumbered(np.flatnonzero(keep))

    def depth_first_order(self) -> np.ndarray:
        """Node ids in the order the depth-first grower creates them.

        A split's two children come together when the split is reached, and the left child's subtree is
        explored before the right child's: the numbering of the in-memory grower, whatever order grew the tree.
        """
        order, stack = [0], [0]
        while stack:
            node = stack.pop()
            if self.children_left[node] >= 0:
                order += [self.children_left[node], self.children_right[node]]
                stack += [self.children_right[node], self.children_left[node]]
        return np.asarray(order, dtype=np.int64)

    def breadth_first_order(self) -> np.ndarray:
        """Node ids level by level, the two children of each split side by side (left first).

        Renumbered in this order, the ``k``-th split of the tree has its children at ``2k + 1`` and ``2k + 2``.
        """
        levels = [np.zeros(1, dtype=np.int64)]
        while True:
            splits = levels[-1][self.children_left[levels[-1]] >= 0]
            if len(splits) == 0:
                return np.concatenate(levels)
            levels.append(np.column_stack([self.children_left[splits], self.children_right[splits]]).ravel())

    def renumbered(self, order) -> TreeArrays:
        """The table of the nodes ``order``, node ``order[i]`` becoming node ``i``: the one renumbering routine.

        ``order`` starts with the root and lists every node after its parent, with the two children of a split
        side by side (left first) or both left out; a split whose children are left out becomes a leaf. The
        orders above, and :meth:`collapse`, are all renumberings; the new table is validated like any other,
        so an order that breaks these rules raises :class:`InvalidTreeError`.
        """
        order = np.asarray(order, dtype=np.int64)
        new_id = np.full(self.n_nodes, -1, dtype=np.int64)
        new_id[order] = np.arange(len(order))
        arrays = {field.name: getattr(self, field.name)[order] for field in fields(self)}
        for name in ("children_left", "children_right", "parent"):
            old = arrays[name]
            arrays[name] = np.where(old >= 0, new_id[np.maximum(old, 0)], -1)
        # Splits whose children were left out: leaves now, without split fields.
        leaves = (arrays["children_left"] < 0) & (self.children_left[order] >= 0)
        arrays["feature"][leaves] = -1
        arrays["threshold"][leaves] = np.nan
        arrays["is_categorical"][leaves] = False
        arrays["category_bitset"][leaves] = 0
        arrays["missing_left"][leaves] = False
        arrays["gain"][leaves] = 0.0
        arrays["raw_gain"][leaves] = 0.0
        return TreeArrays(**arrays)

    def validate(self, n_categories: np.ndarray | None = None) -> None:
        """Raise :class:`InvalidTreeError` unless the arrays describe one tree (construction calls this).

        Checks shapes; children ids in range, larger than their parent's, adjacent, each node but the root
        the child of exactly one split (so node 0 reaches every node and traversals end); parents and depths
        consistent with the children; leaves without split fields; splits with a feature, numeric splits
        with a threshold that is not NaN and no categories, categorical splits with threshold NaN; finite
        gains, statistics and values; counts and weights >= 0. With ``n_categories`` (see
        :meth:`validate_features`) also the splits against the model's features.
        """
        self._check_shapes()
        self._check_structure()
        self._check_statistics()
        if n_categories is not None:
            self.validate_features(n_categories)

    def _check_shapes(self) -> None:
        n_nodes = self.children_left.shape[0]
        if n_nodes == 0:
            raise InvalidTreeError("a tree has at least one node (the root), got 0")
        n_arms = self.value.shape[1]
        for name, (_, entry_shape) in _LAYOUT.items():
            # The design moments have N_MOMENTS columns, or none without a design.
            design = N_MOMENTS if self.design_moments.shape[-1:] == (N_MOMENTS,) else 0
            shape = (n_nodes, *(n_arms if size is None else design if size is DESIGN else size
                                for size in entry_shape))
            if getattr(self, name).shape != shape:
                raise InvalidTreeError(f"{name} must have shape {shape} (n_nodes = {n_nodes} from children_left"
                                       f"{', n_arms from value' if None in entry_shape else ''}), got "
                                       f"{getattr(self, name).shape}")

    def _check_structure(self) -> None:
        n_nodes = self.children_left.shape[0]
        left, right = self.children_left, self.children_right
        for name, children in (("children_left", left), ("children_right", right)):
            _first((children < -1) | (children >= n_nodes), lambda node, name=name, children=children:
                   f"{name}[{node}]: {children[node]} is not -1 or a node id (0 to {n_nodes - 1})", field=name)
        is_leaf = left < 0
        _first(is_leaf != (right < 0),
               lambda node: f"node {node}: children_left and children_right must both be -1 or both be node ids")
        splits = np.flatnonzero(~is_leaf)
        # Children after their parent rule out cycles; one parent each rules out shared subtrees.
        _first(left[splits] <= splits,
               lambda node: f"node {node}: child id {left[node]} must be larger than its parent's id", splits)
        _first(right[splits] != left[splits] + 1, lambda node: f"node {node}: a split's children must be adjacent "
               f"(children_right = children_left + 1), got {left[node]} and {right[node]}", splits)
        parent = np.full(n_nodes, -1, dtype=np.int64)
        parent[left[splits]] = splits
        parent[right[splits]] = splits
        if 2 * len(splits) != n_nodes - 1 or (parent[1:] < 0).any():
            n_parents = np.bincount(left[splits], minlength=n_nodes) + np.bincount(right[splits], minlength=n_nodes)
            _first(n_parents > 1, lambda node: f"node {node} is the child of two nodes")
            _first(n_parents[1:] == 0, lambda node: f"node {node + 1} is not reached from the root")
        _first(self.parent != parent, lambda node: f"parent: does not match children_left / children_right "
               f"(parent[{node}] is {self.parent[node]}, expected {parent[node]})", field="parent")
        # Parents precede children, so depth 0 at the root and one more than the parent's reaches every node.
        expected_depth = np.zeros(n_nodes, dtype=np.int64)
        expected_depth[1:] = self.depth[parent[1:]] + 1
        _first(self.depth != expected_depth, lambda node: f"depth: does not match the tree structure "
               f"(depth[{node}] is {self.depth[node]}, expected {expected_depth[node]})", field="depth")
        has_categories = (self.category_bitset != 0).any(axis=1)
        no_threshold = np.isnan(self.threshold)
        split_fields = {"feature": self.feature != -1, "threshold": ~no_threshold,
                        "is_categorical": self.is_categorical, "missing_left": self.missing_left,
                        "category_bitset": has_categories, "gain": self.gain != 0, "raw_gain": self.raw_gain != 0}
        _first(is_leaf & np.logical_or.reduce(list(split_fields.values())),
               lambda node: f"node {node}: a leaf must have feature -1, threshold nan, is_categorical false, "
               "missing_left false, no categories and gains 0",
               field=lambda node: next(name for name, is_set in split_fields.items() if is_set[node]))
        _first(self.feature[splits] < 0, lambda node: f"feature[{node}]: a split node needs a feature index, got "
               f"{self.feature[node]}", splits, "feature")
        _first(~is_leaf & ~self.is_categorical & (no_threshold | has_categories),
               lambda node: f"node {node}: a numeric split needs a threshold (not nan) and no categories",
               field=lambda node: "threshold" if no_threshold[node] else "category_bitset")
        _first(self.is_categorical & ~no_threshold,
               lambda node: f"threshold[{node}]: a categorical split must have threshold nan", field="threshold")

    def _check_statistics(self) -> None:
        n_nodes = self.children_left.shape[0]
        for name in ("gain", "raw_gain", "value", "stats", "design_moments"):
            values = getattr(self, name).reshape(n_nodes, -1)
            if not np.isfinite(values).all():
                _first(~np.isfinite(values).all(axis=1), lambda node, name=name: f"{name}[{node}]: not finite",
                       field=name)
        amounts = self.stats[:, :, [COUNT, WEIGHT, WEIGHT_SQUARED]]
        if amounts.min(initial=0.0) < 0:
            _first((amounts < 0).any(axis=(1, 2)),
                   lambda node: f"stats[{node}]: counts, weights and squared weights must be >= 0", field="stats")

    def validate_features(self, n_categories: np.ndarray) -> None:
        """Raise :class:`InvalidTreeError` unless every split fits the model's features.

        ``n_categories`` holds, per feature, -1 for a numeric feature, else its number of categories (see
        :func:`categories_per_feature`): split features must exist and have the split's kind, and bitsets
        hold only codes of existing categories.
        """
        splits = np.flatnonzero(self.feature >= 0)  # leaves have feature -1
        split_feature = self.feature[splits]
        n_features = len(n_categories)
        _first(split_feature >= n_features, lambda node: f"feature[{node}]: {self.feature[node]} is not a feature "
               f"index (0 to {n_features - 1})", splits, "feature")
        categorical = n_categories[split_feature] >= 0
        _first(self.is_categorical[splits] != categorical,
               lambda node: f"is_categorical[{node}]: does not match the type of feature {self.feature[node]}",
               splits, "is_categorical")
        if categorical.any():
            nodes = splits[categorical]
            counts = n_categories[self.feature[nodes]]
            # Bits at and above the feature's number of categories must be clear (no such category).
            valid_bits = np.clip(counts[:, None] - 64 * np.arange(BITSET_WORDS), 0, 64).astype(np.uint64)
            masks = np.where(valid_bits == 64, np.uint64(2**64 - 1),
                             (np.uint64(1) << np.minimum(valid_bits, np.uint64(63))) - np.uint64(1))
            _first((self.category_bitset[nodes] & ~masks).any(axis=1), lambda node: f"category_bitset[{node}]: "
                   f"holds codes beyond the {n_categories[self.feature[node]]} categories of feature "
                   f"{self.feature[node]}", nodes, "category_bitset")

    def max_depth(self) -> int:
        return int(self.depth[self.is_leaf].max())

    @property
    def n_splits(self) -> int:
        return int((~self.is_leaf).sum())


def node_values(stats: np.ndarray, parent: np.ndarray, root_fallback: np.ndarray | None = None) -> np.ndarray:
    """Expected outcome per node and arm; an arm without weight in a node falls back to the parent's value.

    At the root, an arm without weight takes ``root_fallback`` (e.g. the arm's mean over a whole forest's
    data), or 0 when none is given, so values are never NaN.
    """
    weight = stats[:, :, WEIGHT]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(weight > 0, stats[:, :, WEIGHTED_Y] / np.where(weight > 0, weight, 1.0), np.nan)
    for node in range(value.shape[0]):  # parents precede children
        empty = np.isnan(value[node])
        if empty.any():
            if parent[node] >= 0:
                value[node, empty] = value[parent[node], empty]
            else:
                value[node, empty] = 0.0 if root_fallback is None else root_fallback[empty]
    return value


def no_design_moments(stats: np.ndarray) -> np.ndarray:
    """The design moments of a table without a design: no columns."""
    return np.zeros((*stats.shape[:2], 0), dtype=np.float64)


def empty_stats(n_nodes: int, n_arms: int) -> np.ndarray:
    return np.zeros((n_nodes, n_arms, N_STATS), dtype=np.float64)


def arms_below(stats: np.ndarray, minimum: int) -> np.ndarray:
    """Nodes where some arm has fewer than ``minimum`` rows (or no weight)."""
    return ((stats[:, :, COUNT] < max(minimum, 1)) | (stats[:, :, WEIGHT] <= 0)).any(axis=1)


class EstimationRows(Protocol):
    """Rows whose statistics estimate a tree's nodes (``tree.ExperimentData`` is one)."""

    @property
    def encoded(self) -> np.ndarray: ...  # the encoded feature matrix the tree routes
    @property
    def arm(self) -> np.ndarray: ...
    @property
    def weight(self) -> np.ndarray: ...  # design weights: sample_weight / propensity of the received arm
    @property
    def y(self) -> np.ndarray: ...
    @property
    def cluster(self) -> np.ndarray | None: ...  # codes of the units of randomization, or None (rows)
    @property
    def design(self) -> bool: ...  # whether the fit was given propensity or cluster: design-based intervals


# With a design (propensity or cluster), every arm of a leaf needs this many units of randomization (clusters,
# or rows): the robust variance of an arm's mean is undefined with one and unreliable with very few.
MIN_UNITS_PER_ARM = 5


def estimate_nodes(tree: TreeArrays, estimation: EstimationRows, min_samples_treatment: int,
                   rows: np.ndarray | None = None, root_fallback: np.ndarray | None = None) -> tuple[TreeArrays, int]:
    """Fill node statistics from ``estimation`` rows (all, or ``rows``); merge leaves lacking an arm.

    A leaf with fewer than ``min_samples_treatment`` rows (or no weight) of some arm would report a made-up
    rate, so its parent's split is undone, repeatedly; with a design a leaf also needs ``MIN_UNITS_PER_ARM``
    units in every arm. Returns the tree and the number of splits undone.
    """
    return merge_short_leaves(estimated(tree, estimation, rows, root_fallback), min_samples_treatment)


def estimated(tree: TreeArrays, estimation: EstimationRows, rows: np.ndarray | None = None,
              root_fallback: np.ndarray | None = None) -> TreeArrays:
    """The same splits with the node statistics of ``estimation`` rows (all, or ``rows``), and with a design
    their design moments (:func:`upliftree.design.design_moments`)."""
    if not estimation.design:
        stats = tree.route_statistics(estimation.encoded, estimation.arm, estimation.weight, estimation.y, rows)
        return tree.with_stats(stats, root_fallback)
    arm, weight, y, cluster = estimation.arm, estimation.weight, estimation.y, estimation.cluster
    if rows is None:  # all rows: no copies of the matrix and the row arrays
        leaves = tree.apply(estimation.encoded)
    else:
        rows = np.asarray(rows, dtype=np.int64)
        leaves = tree.apply(estimation.encoded[rows])
        arm, weight, y = arm[rows], weight[rows], y[rows]
        cluster = None if cluster is None else cluster[rows]
    stats = tree._node_stats(leaves, arm, weight, y)
    moments = design_moments(tree.parent, leaves, arm, weight, y, cluster, tree.n_arms)
    return tree.with_stats(stats, root_fallback, moments)


def merge_short_leaves(tree: TreeArrays, min_samples_treatment: int) -> tuple[TreeArrays, int]:
    """Undo the splits of leaves lacking an arm in ``tree.stats`` (or, with design moments, lacking
    ``MIN_UNITS_PER_ARM`` units of an arm), repeatedly (see :func:`estimate_nodes`).

    A node's statistics already sum its subtree's rows, so a collapsed node keeps them: no rows are routed
    again, which lets distributed fits pass statistics summed over partitions.
    """
    n_splits_before = tree.n_splits
    while True:
        short = arms_below(tree.stats, min_samples_treatment)
        if tree.has_design:
            short |= (tree.design_moments[:, :, N_UNITS] < MIN_UNITS_PER_ARM).any(axis=1)
        short &= tree.is_leaf
        short[0] = False
        if not short.any():
            break
        tree = tree.collapse(np.unique(tree.parent[short]))
    return tree, n_splits_before - tree.n_splits


def categories_per_feature(categories: Sequence[tuple | None]) -> np.ndarray:
    """Per feature, -1 for a numeric feature (``None``), else its number of categories."""
    return read_only(np.array([-1 if values is None else len(values) for values in categories], dtype=np.int64))


def category_bitset_of(left_codes: np.ndarray) -> np.ndarray:
    """Bitset words with bit ``c`` set for every code ``c`` in ``left_codes``."""
    words = np.zeros(BITSET_WORDS, dtype=np.uint64)
    for code in np.asarray(left_codes, dtype=np.int64):
        words[code >> 6] |= np.uint64(1) << np.uint64(code & 63)
    return words


def categories_in_bitset(words: np.ndarray, n_categories: int) -> np.ndarray:
    """Codes whose bit is set, among ``range(n_categories)``."""
    codes = np.arange(n_categories)
    return codes[((words[codes >> 6] >> (codes & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)]


def _first(where: np.ndarray, message, nodes: np.ndarray | None = None, field=None) -> None:
    """Raise ``InvalidTreeError(message(node))`` for the first node where ``where`` holds.

    ``where`` is indexed like ``nodes`` (node ids) when given, else by node id. ``field`` names the field at
    fault: a name, a function of the node, or None.
    """
    if where.any():
        hit = int(np.flatnonzero(where)[0])
        node = hit if nodes is None else int(nodes[hit])
        raise InvalidTreeError(message(node), field(node) if callable(field) else field, node)
