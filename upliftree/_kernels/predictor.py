"""Traverse a node table on raw (encoded, unbinned) feature values.

A saved model therefore needs no bin mapper: numeric splits send ``x <= threshold`` left, categorical splits
send the category codes in the node's bitset left, and NaN (missing or unseen category) follows the node's
missing direction.
"""

import numpy as np
from numba import njit, prange

from .histogram import WEIGHT, WEIGHTED_Y, WEIGHTED_Y2

# Per-node statistics of rows routed through a tree: histogram sums plus the sum of squared weights,
# which gives effective sample sizes (sum w)^2 / sum w^2 for weighted intervals.
NODE_STATS = 5
WEIGHT_SQUARED = 4


@njit(cache=True, nogil=True)
def _goes_left(value, node, threshold, is_categorical, category_bitset, missing_left):
    if np.isnan(value):
        return missing_left[node]
    if is_categorical[node]:
        code = np.int64(value)
        return (category_bitset[node, code >> 6] >> np.uint64(code & 63)) & np.uint64(1) == np.uint64(1)
    return value <= threshold[node]


@njit(cache=True, nogil=True)
def _leaf_of_row(encoded, row, children_left, children_right, feature, threshold, is_categorical,
                 category_bitset, missing_left):
    node = 0
    while children_left[node] >= 0:
        value = encoded[row, feature[node]]
        if _goes_left(value, node, threshold, is_categorical, category_bitset, missing_left):
            node = children_left[node]
        else:
            node = children_right[node]
    return node


@njit(cache=True, nogil=True, parallel=True)
def apply_tree(encoded, children_left, children_right, feature, threshold, is_categorical, category_bitset,
               missing_left):
    """Leaf id of every row."""
    n_rows = encoded.shape[0]
    leaves = np.empty(n_rows, dtype=np.int64)
    for row in prange(n_rows):
        leaves[row] = _leaf_of_row(encoded, row, children_left, children_right, feature, threshold,
                                   is_categorical, category_bitset, missing_left)
    return leaves


@njit(cache=True, nogil=True)
def accumulate_node_stats(encoded, arm, weight, y, n_arms, children_left, children_right, feature, threshold,
                          is_categorical, category_bitset, missing_left):
    """Per node and arm: count, weight, weighted y, weighted y^2 and squared weight of the rows reaching it."""
    n_nodes = children_left.shape[0]
    stats = np.zeros((n_nodes, n_arms, NODE_STATS), dtype=np.float64)
    for row in range(encoded.shape[0]):
        arm_code = arm[row]
        w = weight[row]
        node = 0
        while True:
            stats[node, arm_code, 0] += 1.0
            stats[node, arm_code, WEIGHT] += w
            stats[node, arm_code, WEIGHTED_Y] += w * y[row]
            stats[node, arm_code, WEIGHTED_Y2] += w * y[row] * y[row]
            stats[node, arm_code, WEIGHT_SQUARED] += w * w
            if children_left[node] < 0:
                break
            value = encoded[row, feature[node]]
            if _goes_left(value, node, threshold, is_categorical, category_bitset, missing_left):
                node = children_left[node]
            else:
                node = children_right[node]
    return stats
