"""Traverse a node table on raw (encoded, unbinned) feature values.

A saved model therefore needs no bin mapper: numeric splits send ``x <= threshold`` left, categorical splits
send the category codes in the node's bitset left, and NaN (missing or unseen category) follows the node's
missing direction.

The step of one tree level is written inside the loop, not as a helper taking arrays: an array argument costs
reference counting on every call, which made traversal about ten times slower.
"""

import numpy as np
from numba import njit, prange

from .histogram import WEIGHT, WEIGHTED_Y, WEIGHTED_Y2

# Per-node statistics of rows routed through a tree: histogram sums plus the sum of squared weights,
# which gives effective sample sizes (sum w)^2 / sum w^2 for weighted intervals.
NODE_STATS = 5
WEIGHT_SQUARED = 4


@njit(cache=True, nogil=True)
def _descend(encoded, row, node, children_left, children_right, feature, threshold, is_categorical,
             category_bitset, missing_left):
    """Follow ``row`` from ``node`` down to a leaf."""
    while children_left[node] >= 0:
        value = encoded[row, feature[node]]
        if np.isnan(value):
            goes_left = missing_left[node]
        elif is_categorical[node]:
            code = np.int64(value)
            goes_left = (category_bitset[node, code >> 6] >> np.uint64(code & 63)) & np.uint64(1) == np.uint64(1)
        else:
            goes_left = value <= threshold[node]
        node = children_left[node] if goes_left else children_right[node]
    return node


@njit(cache=True, nogil=True, parallel=True)
def apply_tree(encoded, children_left, children_right, feature, threshold, is_categorical, category_bitset,
               missing_left):
    """Leaf id of every row."""
    n_rows = encoded.shape[0]
    leaves = np.empty(n_rows, dtype=np.int64)
    for row in prange(n_rows):
        leaves[row] = _descend(encoded, row, 0, children_left, children_right, feature, threshold,
                               is_categorical, category_bitset, missing_left)
    return leaves


@njit(cache=True, nogil=True)
def apply_tree_rows(encoded, rows, children_left, children_right, feature, threshold, is_categorical,
                    category_bitset, missing_left):
    """Leaf id of the rows ``rows`` of ``encoded``, on one thread."""
    leaves = np.empty(rows.shape[0], dtype=np.int64)
    for i in range(rows.shape[0]):
        leaves[i] = _descend(encoded, rows[i], 0, children_left, children_right, feature, threshold,
                             is_categorical, category_bitset, missing_left)
    return leaves


@njit(cache=True, nogil=True)
def accumulate_node_stats(leaves, arm, weight, y, n_arms, parent):
    """Per node and arm: count, weight, weighted y, weighted y^2 and squared weight of the rows reaching it.

    Rows are summed into their leaves, then every node's sums are added to its parent's (children have
    larger ids than their parents).
    """
    n_nodes = parent.shape[0]
    stats = np.zeros((n_nodes, n_arms, NODE_STATS), dtype=np.float64)
    for row in range(leaves.shape[0]):
        node = leaves[row]
        arm_code = arm[row]
        w = weight[row]
        stats[node, arm_code, 0] += 1.0
        stats[node, arm_code, WEIGHT] += w
        stats[node, arm_code, WEIGHTED_Y] += w * y[row]
        stats[node, arm_code, WEIGHTED_Y2] += w * y[row] * y[row]
        stats[node, arm_code, WEIGHT_SQUARED] += w * w
    for node in range(n_nodes - 1, 0, -1):
        stats[parent[node]] += stats[node]
    return stats


# Rows routed together through one tree, level by level: their independent lookups overlap in the CPU.
ROW_BLOCK = 64


@njit(cache=True, nogil=True)
def _route_block(encoded, start, n_block_rows, tree_roots, tree_depths, child, feature, threshold, is_categorical,
                 category_bitset, nan_right, block_leaves):
    """Global leaf ids of rows ``start..start + n_block_rows`` in every tree, into ``block_leaves[row, tree]``.

    Every row takes exactly ``tree_depths[tree]`` steps: leaves point to themselves, and the next node is
    ``child[2 * node + goes_right]``, so no row needs a branch to know when to stop.
    """
    for tree in range(tree_roots.shape[0]):
        for offset in range(n_block_rows):
            block_leaves[offset, tree] = tree_roots[tree]
        for _ in range(tree_depths[tree]):
            for offset in range(n_block_rows):
                node = block_leaves[offset, tree]
                value = encoded[start + offset, feature[node]]
                if is_categorical[node] and not np.isnan(value):
                    code = np.int64(value)
                    bit = (category_bitset[node, code >> 6] >> np.uint64(code & 63)) & np.uint64(1)
                    goes_right = 1 - np.int64(bit)
                else:
                    missing_right = np.int64(np.isnan(value)) & np.int64(nan_right[node])
                    goes_right = np.int64(value > threshold[node]) | missing_right
                block_leaves[offset, tree] = child[2 * node + goes_right]


@njit(cache=True, nogil=True, parallel=True)
def forest_pass(encoded, tree_roots, tree_depths, child, feature, threshold, is_categorical, category_bitset,
                nan_right, value, want_leaves):
    """One pass of all rows through a lockstep forest table.

    Returns ``(leaves, mean)``: with ``want_leaves`` each row's leaf in every tree as ids local to the tree,
    ``(n_rows, n_trees)``; otherwise the mean over trees of the per-arm ``value`` of those leaves,
    ``(n_rows, n_arms)`` (the other output is empty).
    """
    n_rows = encoded.shape[0]
    n_trees = tree_roots.shape[0]
    n_arms = value.shape[1]
    leaves = np.empty((n_rows if want_leaves else 0, n_trees), dtype=np.int64)
    mean = np.zeros((0 if want_leaves else n_rows, n_arms), dtype=np.float64)
    n_blocks = (n_rows + ROW_BLOCK - 1) // ROW_BLOCK
    for block in prange(n_blocks):
        start = block * ROW_BLOCK
        n_block_rows = min(n_rows, start + ROW_BLOCK) - start
        block_leaves = np.empty((ROW_BLOCK, n_trees), dtype=np.int64)
        _route_block(encoded, start, n_block_rows, tree_roots, tree_depths, child, feature, threshold,
                     is_categorical, category_bitset, nan_right, block_leaves)
        for offset in range(n_block_rows):
            for tree in range(n_trees):
                node = block_leaves[offset, tree]
                if want_leaves:
                    leaves[start + offset, tree] = node - tree_roots[tree]
                else:
                    for arm in range(n_arms):
                        mean[start + offset, arm] += value[node, arm]
            # Sum first, divide once: the exported SQL reproduces this order exactly.
            if not want_leaves:
                for arm in range(n_arms):
                    mean[start + offset, arm] /= n_trees
    return leaves, mean
