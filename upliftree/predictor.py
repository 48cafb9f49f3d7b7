"""The forest's predictor: every tree's node table stacked into one table that one compiled pass routes rows
through (``_kernels.predictor.forest_pass``), for all trees at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._base import read_only, restore_frozen
from ._kernels.boundary import block_bounds, run_blocks, strided_matrix
from ._kernels.forest_variance import group_tree_sums, little_bag_terms
from ._kernels.predictor import (
    CATEGORY_CODE,
    CATEGORY_WORDS,
    HIGHEST_KEY,
    LOWEST_KEY,
    NAN_HIGHEST,
    NAN_LOWEST,
    ROW_BLOCK,
    block_size,
    block_slot,
    forest_pass,
    order_keys,
    pass_buffers,
)
from ._tree_arrays import TreeArrays

__all__ = ["PASS_MIN_ROWS", "StackedForest", "debiased_variance"]

# Fewest rows per thread of a forest pass: below it, handing rows to a thread costs more than routing them.
PASS_MIN_ROWS = 8 * ROW_BLOCK
# Rows whose leaves in every tree are held at once by the variance pass (a chunk x trees int64 buffer), so no
# rows x trees matrix is ever stored.
VARIANCE_CHUNK = 32 * ROW_BLOCK
# Blocks of rows whose group sums are kept apart and added in order (a number fixed in advance, not the thread
# count, so the sums do not depend on the threads; each block holds one n_arms x groups x trees table).
GROUP_SUM_BLOCKS = 16


def debiased_variance(between: np.ndarray, noise: np.ndarray, n_groups: int) -> np.ndarray:
    """The little-bag variance ``between - noise`` with grf's objective-Bayes correction, which keeps it positive.

    ``between - noise`` is unbiased but noisy and can be negative; with ``se = max(between, noise) *
    sqrt(2 / n_groups)`` its approximate standard error and ``r = (between - noise) / se``, the estimate is
    ``between - noise + se * phi(r) / Phi(r)`` (the posterior mean under a flat prior on the positive variance;
    grf's ``ObjectiveBayesDebiaser``, Athey, Tibshirani & Wager 2019). Where ``se`` is 0 (every tree agrees),
    the variance is 0.
    """
    from scipy.special import log_ndtr

    initial = between - noise
    se = np.maximum(between, noise) * np.sqrt(2.0 / n_groups)
    positive = se > 0
    ratio = np.divide(initial, se, out=np.zeros_like(initial), where=positive)
    # phi / Phi in logs: Phi underflows for the very negative ratios of rows where the trees hardly differ.
    correction = se * np.exp(-0.5 * ratio * ratio - 0.5 * np.log(2.0 * np.pi) - log_ndtr(ratio))
    return np.where(positive, initial + correction, 0.0)


@dataclass(frozen=True)
class StackedForest:
    """All trees' node tables in one lockstep table, for one compiled pass over the forest.

    Each tree is renumbered breadth first (:meth:`TreeArrays.breadth_first_order`), so the next node is
    ``next_node[node] + goes_right``; tree ``t`` starts at ``tree_roots[t]`` and ``leaf_id`` maps a stacked id
    back to the tree's own. A leaf points to itself and its split key is above every value, so every row can
    take exactly ``tree_depths[t]`` steps without testing for leaves. Numeric splits compare order keys of the
    values (the node's missing direction picks where NaN sorts); categorical splits test a bitset whose bit 256
    is the missing direction. ``routing`` holds these arrays in the order ``forest_pass`` takes them; ``value``
    has one row per arm; ``block_entries`` is the size of the buffer a pass routes a block of rows with.
    """

    columns: np.ndarray
    tree_roots: np.ndarray
    tree_depths: np.ndarray
    routing: tuple
    value: np.ndarray
    block_entries: int

    @classmethod
    def from_trees(cls, trees: list[TreeArrays]) -> StackedForest:
        orders = [tree.breadth_first_order() for tree in trees]
        tables = [tree.renumbered(order) for tree, order in zip(trees, orders, strict=True)]
        sizes = np.array([table.n_nodes for table in tables], dtype=np.int64)
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

        def stacked(name: str) -> np.ndarray:
            return np.ascontiguousarray(np.concatenate([getattr(table, name) for table in tables]))

        is_leaf = stacked("children_left") < 0
        # Breadth first, a split's children are its left child and the node after it.
        next_node = np.where(is_leaf, np.arange(len(is_leaf)), np.repeat(roots, sizes) + stacked("children_left"))
        categorical = stacked("is_categorical") & ~is_leaf
        missing_left = stacked("missing_left")
        columns, column = np.unique(np.where(is_leaf, -1, stacked("feature")), return_inverse=True)
        if len(columns) and columns[0] < 0:  # leaves read any column: a leaf's step never moves
            columns, column = columns[1:], np.maximum(column - 1, 0)
        kind = np.where(categorical, CATEGORY_CODE, np.where(missing_left, NAN_LOWEST, NAN_HIGHEST))
        slot = block_slot(column, kind, len(columns)).astype(np.uint64)
        threshold = stacked("threshold")  # never NaN on a numeric split; if it were, no value is <= it
        split_key = np.where(is_leaf | categorical, HIGHEST_KEY,
                             np.where(np.isnan(threshold), LOWEST_KEY, order_keys(threshold)))
        bitset = np.column_stack([stacked("category_bitset"), missing_left.astype(np.uint64)])
        if bitset.shape[1] != CATEGORY_WORDS:
            raise ValueError(f"category bitsets must have {CATEGORY_WORDS - 1} words, got {bitset.shape[1] - 1}")
        # The kernel's dtypes; __post_init__ makes read-only C-contiguous copies.
        routing = (next_node.astype(np.uint64), slot.astype(np.uint64), split_key.astype(np.int64),
                   categorical, bitset, bool(categorical.any()), np.concatenate(orders).astype(np.int64))
        depths = np.array([table.max_depth() for table in tables], dtype=np.int64)
        return cls(columns.astype(np.int64), roots.astype(np.uint64), depths, routing, stacked("value").T,
                   block_size(len(columns), bool(categorical.any())))

    def __post_init__(self) -> None:
        # Read-only (and C-contiguous) like the node tables it is built from.
        for name in ("columns", "tree_roots", "tree_depths", "value"):
            object.__setattr__(self, name, read_only(getattr(self, name)))
        object.__setattr__(self, "routing", tuple(read_only(item) if isinstance(item, np.ndarray) else item
                                                  for item in self.routing))

    __setstate__ = restore_frozen

    def apply(self, encoded: np.ndarray) -> np.ndarray:
        """Leaf of every row in every tree, ``(n_rows, n_trees)``."""
        leaves = np.empty((len(encoded), len(self.tree_roots)), dtype=np.int64)
        self._pass(encoded, True, leaves, np.empty((0, self.value.shape[0]), dtype=np.float64))
        return leaves

    def mean_values(self, encoded: np.ndarray) -> np.ndarray:
        """Per-arm values averaged over trees, ``(n_rows, n_arms)``."""
        mean = np.empty((len(encoded), self.value.shape[0]), dtype=np.float64)
        self._pass(encoded, False, np.empty((0, len(self.tree_roots)), dtype=np.int64), mean)
        return mean

    def uplift_variance(self, encoded: np.ndarray, group_size: int) -> np.ndarray:
        """Debiased little-bag variance of the forest's uplift of each treatment, ``(n_rows, n_arms - 1)``, when
        trees ``g * group_size ...`` shared group ``g``'s half-sample (:func:`debiased_variance`)."""
        return self.uplift_with_variance(encoded, group_size)[1]

    def uplift_with_variance(self, encoded: np.ndarray, group_size: int) -> tuple[np.ndarray, np.ndarray]:
        """The forest's uplift of each treatment (equal to the difference of :meth:`mean_values`' columns, bit
        for bit) and its :meth:`uplift_variance`, both ``(n_rows, n_arms - 1)``, from one pass over the trees."""
        n_rows, n_trees, n_arms = len(encoded), len(self.tree_roots), self.value.shape[0]
        uplift = np.empty((n_rows, n_arms - 1), dtype=np.float64)
        between = np.empty_like(uplift)
        noise = np.empty_like(uplift)
        matrix = strided_matrix(encoded)
        routing = self._stacked_leaf_routing()

        def estimate(start: int, stop: int) -> None:
            buffers = pass_buffers(self.block_entries, n_arms, True)
            leaves = np.empty((min(VARIANCE_CHUNK, stop - start), n_trees), dtype=np.int64)
            for chunk_start in range(start, stop, VARIANCE_CHUNK):
                chunk = slice(chunk_start, min(stop, chunk_start + VARIANCE_CHUNK))
                n_chunk = chunk.stop - chunk.start
                self._chunk_leaves(matrix, routing, chunk_start, n_chunk, leaves, buffers)
                little_bag_terms(leaves[:n_chunk], self.value, group_size, uplift[chunk], between[chunk],
                                 noise[chunk])

        if n_rows:
            run_blocks(estimate, block_bounds(n_rows, PASS_MIN_ROWS, ROW_BLOCK))
        return uplift, debiased_variance(between, noise, n_trees // group_size)

    def group_uplift_with_variance(self, encoded: np.ndarray, row_group: np.ndarray, n_row_groups: int,
                                   group_size: int) -> tuple[np.ndarray, np.ndarray]:
        """The mean of the forest's uplift over each group of rows and its debiased little-bag variance, both
        ``(n_row_groups, n_arms - 1)``; ``row_group`` holds every row's group code (int64, ``0 .. n_row_groups -
        1``, every code used), trees ``g * group_size ...`` shared group ``g``'s half-sample.

        The little-bag terms are those of the group mean itself, from each tree's mean over the group's rows
        (``_kernels.forest_variance.group_tree_sums``), so they measure how the trees' errors move together over
        the group's rows; averaging the rows' own variances or bounds would not. Rows are summed in chunks of
        :data:`VARIANCE_CHUNK` rows, in at most :data:`GROUP_SUM_BLOCKS` blocks of chunks fixed by the row count,
        each block into its own table, and the tables added in block order, so the result does not depend on the
        kernel threads.
        """
        n_rows, n_trees, n_arms = len(encoded), len(self.tree_roots), self.value.shape[0]
        matrix = strided_matrix(encoded)
        routing = self._stacked_leaf_routing()
        n_chunks = -(-n_rows // VARIANCE_CHUNK)
        # Blocks of chunks fixed by the row count alone, each summing into its own table.
        per_block = -(-n_chunks // GROUP_SUM_BLOCKS) if n_chunks else 1
        blocks = [(first, min(first + per_block, n_chunks)) for first in range(0, n_chunks, per_block)]
        block_sums = np.zeros((len(blocks), n_arms, n_row_groups * n_trees), dtype=np.float64)

        def add_chunks(first: int, stop: int) -> None:
            buffers = pass_buffers(self.block_entries, n_arms, True)
            leaves = np.empty((min(VARIANCE_CHUNK, n_rows), n_trees), dtype=np.int64)
            for chunk_index in range(first, stop):
                start = chunk_index * VARIANCE_CHUNK
                n_chunk = min(n_rows, start + VARIANCE_CHUNK) - start
                self._chunk_leaves(matrix, routing, start, n_chunk, leaves, buffers)
                group_tree_sums(leaves[:n_chunk], self.value, row_group[start:start + n_chunk],
                                block_sums[first // per_block])

        if blocks:
            run_blocks(add_chunks, blocks)
        sums = np.zeros((n_arms, n_row_groups * n_trees), dtype=np.float64)
        for table in block_sums:  # in block order, whatever the threads
            sums += table
        group_rows = np.bincount(row_group, minlength=n_row_groups).astype(np.float64)
        tree_means = np.ascontiguousarray(sums / np.repeat(group_rows, n_trees))
        # Entry ``group * n_trees + tree`` of ``tree_means`` plays the leaf of the group's rows in that tree.
        virtual_leaves = np.arange(n_row_groups * n_trees, dtype=np.int64).reshape(n_row_groups, n_trees)
        uplift = np.empty((n_row_groups, n_arms - 1), dtype=np.float64)
        between = np.empty_like(uplift)
        noise = np.empty_like(uplift)
        little_bag_terms(virtual_leaves, tree_means, group_size, uplift, between, noise)
        return uplift, debiased_variance(between, noise, n_trees // group_size)

    def _chunk_leaves(self, matrix: tuple, routing: tuple, start: int, n_chunk: int, leaves: np.ndarray,
                      buffers: tuple) -> None:
        """The stacked leaf of rows ``start .. start + n_chunk - 1`` of ``matrix`` (``strided_matrix``'s) in every
        tree into ``leaves[:n_chunk]``, with ``routing`` from :meth:`_stacked_leaf_routing` and one thread's
        ``pass_buffers`` (for leaves)."""
        values, row_stride, column_stride = matrix
        # Element [row, column] of the chunk is at start * row_stride + row * row_stride + ..., whatever the
        # layout: the chunk's rows start the view.
        forest_pass(values[start * row_stride:], row_stride, column_stride, 0, n_chunk, self.columns,
                    self.tree_roots, self.tree_depths, *routing, self.value, True, leaves,
                    np.empty((0, self.value.shape[0]), dtype=np.float64), *buffers)

    def _stacked_leaf_routing(self) -> tuple:
        """``routing`` with stacked node ids for leaves instead of each tree's own: ``value[arm, node]`` reads
        them directly."""
        return (*self.routing[:-1], read_only(np.arange(len(self.routing[-1]), dtype=np.int64)))

    def _pass(self, encoded: np.ndarray, want_leaves: bool, leaves: np.ndarray, mean: np.ndarray) -> None:
        matrix = strided_matrix(encoded)

        def route(start: int, stop: int) -> None:
            forest_pass(*matrix, start, stop, self.columns, self.tree_roots, self.tree_depths, *self.routing,
                        self.value, want_leaves, leaves, mean, *pass_buffers(self.block_entries, self.value.shape[0],
                                                                               want_leaves))

        run_blocks(route, block_bounds(len(encoded), PASS_MIN_ROWS, ROW_BLOCK))
