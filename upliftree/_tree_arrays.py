"""The fitted tree as a node table: plain numpy arrays that prediction, export, plotting and JSON all read."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ._kernels.boundary import block_bounds, read_only, run_blocks, strided_matrix
from ._kernels.histogram import COUNT, N_STATS, WEIGHT, WEIGHTED_Y
from ._kernels.predictor import accumulate_node_stats, apply_tree

BITSET_WORDS = 4
# ``rows`` argument of ``apply_tree`` meaning "row i itself".
ALL_ROWS = read_only(np.zeros(0, dtype=np.int64), np.int64)
# Below this many rows, compiled passes run on one thread: waking the thread pool costs more than it saves.
PARALLEL_MIN_ROWS = 50_000  # 4 x 64 bits cover the at most 255 categories of a feature


@dataclass
class TreeArrays:
    """Node table of one uplift tree; node 0 is the root and children always have larger ids.

    Attributes
    ----------
    children_left, children_right : int64 arrays
        Child node ids, -1 for leaves.
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
        rows = read_only(rows, np.int64)
        leaves = np.empty(len(rows), dtype=np.int64)
        apply_tree(*strided_matrix(encoded), rows, 0, len(rows), *self._routing(), leaves)
        return self.leaf_statistics(leaves, rows, arm, weight, y)

    def leaf_statistics(self, leaves, rows, arm, weight, y) -> np.ndarray:
        """Per-node, per-arm statistics of ``rows`` whose leaves are already known (``leaves[i]`` holds ``rows[i]``)."""
        return self._node_stats(leaves, arm[rows], weight[rows], y[rows])

    def _node_stats(self, leaves, arm, weight, y) -> np.ndarray:
        return accumulate_node_stats(read_only(leaves, np.int64), read_only(arm, np.int64),
                                     read_only(weight, np.float64), read_only(y, np.float64), self.n_arms,
                                     read_only(self.parent, np.int64))

    def _routing(self) -> tuple[np.ndarray, ...]:
        """The arrays the traversal kernels take, each in the one layout and dtype they are compiled for."""
        return (read_only(self.children_left, np.int64), read_only(self.children_right, np.int64),
                read_only(self.feature, np.int64), read_only(self.threshold, np.float64),
                read_only(self.is_categorical, np.bool_), read_only(self.category_bitset, np.uint64),
                read_only(self.missing_left, np.bool_))

    def with_stats(self, stats: np.ndarray, root_fallback: np.ndarray | None = None) -> TreeArrays:
        """The same splits with new node statistics (and the values they imply, see :func:`node_values`)."""
        return replace(self, stats=stats, value=node_values(stats, self.parent, root_fallback))

    def collapse(self, nodes) -> TreeArrays:
        """Turn ``nodes`` into leaves, drop their descendants and renumber the rest in order."""
        keep = np.ones(self.n_nodes, dtype=np.bool_)
        new_leaf = np.zeros(self.n_nodes, dtype=np.bool_)
        new_leaf[np.asarray(nodes, dtype=np.int64)] = True
        for node in range(self.n_nodes):  # parents precede children
            parent = self.parent[node]
            if parent >= 0 and (not keep[parent] or new_leaf[parent]):
                keep[node] = False
        new_id = np.cumsum(keep) - 1
        arrays = {field.name: getattr(self, field.name)[keep].copy() for field in fields(self)}
        for name in ("children_left", "children_right", "parent"):
            old = arrays[name]
            arrays[name] = np.where(old >= 0, new_id[np.maximum(old, 0)], -1)
        leaves = new_leaf[keep]
        arrays["children_left"][leaves] = -1
        arrays["children_right"][leaves] = -1
        arrays["feature"][leaves] = -1
        arrays["threshold"][leaves] = np.nan
        arrays["is_categorical"][leaves] = False
        arrays["category_bitset"][leaves] = 0
        arrays["missing_left"][leaves] = False
        arrays["gain"][leaves] = 0.0
        arrays["raw_gain"][leaves] = 0.0
        return TreeArrays(**arrays)

    def max_depth(self) -> int:
        return int(self.depth[self.is_leaf].max())


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


def empty_stats(n_nodes: int, n_arms: int) -> np.ndarray:
    return np.zeros((n_nodes, n_arms, N_STATS), dtype=np.float64)


def arms_below(stats: np.ndarray, minimum: int) -> np.ndarray:
    """Nodes where some arm has fewer than ``minimum`` rows (or no weight)."""
    return ((stats[:, :, COUNT] < max(minimum, 1)) | (stats[:, :, WEIGHT] <= 0)).any(axis=1)


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
