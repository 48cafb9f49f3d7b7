"""Traverse a node table on raw (encoded, unbinned) feature values.

A saved model therefore needs no bin mapper: numeric splits send ``x <= threshold`` left, categorical splits
send the category codes in the node's bitset left, and NaN (missing or unseen category) follows the node's
missing direction.

The step of one tree level is written inside the loop, not as a helper taking arrays: an array argument costs
reference counting on every call, which made traversal about ten times slower.
"""

import math

import numpy as np
from numba import njit

from .boundary import kernel_array
from .stats_layout import N_STATS, WEIGHT, WEIGHT_SQUARED, WEIGHTED_Y, WEIGHTED_Y2

# Words of a node's category bitset: 4 x 64 bits cover the at most 255 categories of a feature.
BITSET_WORDS = 4
# The node-table fields :func:`apply_tree` takes after the row range, in its order, with their dtypes (the
# fields are read-only C arrays of these dtypes, converted once with ``kernel_array``).
ROUTING_FIELDS = (("children_left", np.int64), ("children_right", np.int64), ("feature", np.int64),
                  ("threshold", np.float64), ("is_categorical", np.bool_), ("category_bitset", np.uint64),
                  ("missing_left", np.bool_))
# ``rows`` argument of ``apply_tree`` meaning "row i itself".
ALL_ROWS = kernel_array(np.zeros(0, dtype=np.int64), np.int64)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def apply_tree(values, row_stride, column_stride, rows, start, stop, children_left, children_right, feature,
               threshold, is_categorical, category_bitset, missing_left, leaves):
    """Leaf id of row ``i`` (of row ``rows[i]`` when ``rows`` is not empty) into ``leaves[i]``, for ``i`` in
    ``start..stop``; the matrix is ``values`` with its strides. Callers run blocks of ``i`` on threads."""
    use_rows = rows.shape[0] > 0
    for i in range(start, stop):
        row_start = (rows[i] if use_rows else i) * row_stride
        node = np.int64(0)  # not a literal 0, which is typed again per loop level (docs/architecture.md)
        while children_left[node] >= 0:
            value = values[row_start + feature[node] * column_stride]
            if math.isnan(value):
                goes_left = missing_left[node]
            elif is_categorical[node]:
                code = np.int64(value)
                goes_left = ((category_bitset[node, code >> 6] >> np.uint64(code & 63)) & np.uint64(1)
                             == np.uint64(1))
            else:
                goes_left = value <= threshold[node]
            node = children_left[node] if goes_left else children_right[node]
        leaves[i] = node


def accumulate_node_stats(leaves, arm, weight, y, n_arms, parent):
    """Per node and arm: count, weight, weighted y, weighted y^2 and squared weight of the rows reaching it,
    ``(n_nodes, n_arms, N_STATS)``.

    Rows are summed into their leaves, then every node's sums are added to its parent's (children have
    larger ids than their parents). The output is allocated here: a 3-D ``np.empty`` in the kernel is a Numba
    routine of its own to compile.
    """
    stats = np.empty((parent.shape[0], n_arms, N_STATS), dtype=np.float64)
    accumulate_node_stats_into(leaves, arm, weight, y, parent, stats)
    return stats


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def accumulate_node_stats_into(leaves, arm, weight, y, parent, stats):
    """:func:`accumulate_node_stats` into ``stats`` (float64, ``(n_nodes, n_arms, N_STATS)``, any contents)."""
    n_nodes, n_arms = stats.shape[0], stats.shape[1]
    for node in range(n_nodes):
        for arm_code in range(n_arms):
            for stat in range(N_STATS):
                stats[node, arm_code, stat] = 0.0
    for row in range(leaves.shape[0]):
        node = leaves[row]
        arm_code = arm[row]
        w = weight[row]
        stats[node, arm_code, 0] += 1.0
        stats[node, arm_code, WEIGHT] += w
        stats[node, arm_code, WEIGHTED_Y] += w * y[row]
        stats[node, arm_code, WEIGHTED_Y2] += w * y[row] * y[row]
        stats[node, arm_code, WEIGHT_SQUARED] += w * w
    # Explicit loops: the 2-D slice ``stats[parent[node]] += stats[node]`` took over a second to compile.
    for node in range(n_nodes - 1, 0, -1):
        for arm_code in range(n_arms):
            for stat in range(N_STATS):
                stats[parent[node], arm_code, stat] += stats[node, arm_code, stat]


# Rows routed together through one tree, level by level: their independent lookups overlap in the CPU.
ROW_BLOCK = 128

# Each block copies its rows' values of the features the forest splits on (its ``columns``) into a small
# buffer, ``ROW_BLOCK`` values per kind and column: numeric values as order keys (int64 ordered like the
# floats), NaN being the lowest key in the first kind and the highest in the second, so a node reading the kind
# of its missing direction sends NaN there with the same single comparison as every other value; and, for
# forests with categorical splits, category codes.
NAN_LOWEST = 0
NAN_HIGHEST = 1
CATEGORY_CODE = 2
BLOCK_KINDS = 3
LOWEST_KEY = np.int64(-(2**63))
HIGHEST_KEY = np.int64(2**63 - 1)
MAGNITUDE_BITS = np.int64(2**63 - 1)
# Code of NaN (and of anything that is not a category code): bit 256 of a node's 5-word bitset is set when
# missing values go left.
MISSING_CODE = 256
CATEGORY_WORDS = BITSET_WORDS + 1


def block_size(n_columns, categorical):
    """Entries of the int64 buffer :func:`forest_pass` routes a block of rows with."""
    return (BLOCK_KINDS if categorical else CATEGORY_CODE) * n_columns * ROW_BLOCK


def pass_buffers(block_entries, n_arms, want_leaves):
    """The scratch of one thread's :func:`forest_pass` calls, allocated by the caller (a uint64 ``np.empty``
    in the kernel is a Numba routine of its own to compile): ``(block, block_float, node, total)``."""
    block = np.empty(block_entries, dtype=np.int64)
    total = np.empty(0 if want_leaves else n_arms * ROW_BLOCK, dtype=np.float64)
    return block, block.view(np.float64), np.empty(ROW_BLOCK, dtype=np.uint64), total


def block_slot(column, kind, n_columns):
    """Where the values of one kind of the ``column``-th of ``n_columns`` columns start in a block's buffer."""
    return (np.asarray(kind, dtype=np.int64) * n_columns + column) * ROW_BLOCK


def order_keys(values):
    """int64 keys ordered as the float64 ``values`` (NaN excepted); -0.0 and 0.0 get the same key."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)
    return bits ^ ((bits >> 63) & MAGNITUDE_BITS)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def forest_pass(values, row_stride, column_stride, start, stop, columns, tree_roots, tree_depths, next_node, slot,
                split_key, is_categorical, category_bitset, categorical, leaf_id, value, want_leaves, leaves, mean,
                block, block_float, node, total):
    """One pass of rows ``start..stop`` through a lockstep forest table (built by ``predictor.StackedForest``).

    Blocks of ``ROW_BLOCK`` rows copy the ``columns`` of the matrix (``values`` with its strides) the forest
    splits on into a buffer, and a node reads its row's entry at ``slot[node] + offset`` of it (see
    ``block_slot``): a numeric split goes right when the key exceeds ``split_key``; a categorical split (only
    looked at when ``categorical``) goes left when the code's bit is set in its ``category_bitset`` row.

    Every row takes exactly ``tree_depths[tree]`` steps: leaves point to themselves and no key exceeds their
    split key, and a split's children are adjacent, so a step is ``next_node[node] + goes_right``. Steps run
    level by level over the block's rows, which keep their current node in a small contiguous buffer.

    With ``want_leaves`` writes each row's leaf in every tree, as ``leaf_id`` gives it, into ``leaves``
    ``(n_rows, n_trees)``; otherwise the mean over trees of those leaves' ``value`` (one row per arm, one
    column per node) into ``mean`` ``(n_rows, n_arms)``. Rows are independent: callers run blocks of rows
    (starting at multiples of ``ROW_BLOCK``) on threads, and the result does not depend on the blocks.

    ``block`` is the int64 buffer (``block_size`` entries) and ``block_float`` a float64 view of it, made by
    the caller (``ndarray.view`` inside a kernel cost a quarter of this kernel's compile time): a value is
    written as a float and read back as its bits. ``node`` (uint64, ``ROW_BLOCK``) holds the block's current
    nodes and ``total`` (float64, ``n_arms * ROW_BLOCK``, or empty with ``want_leaves``) their sums; all four
    come from :func:`pass_buffers`, so the kernel allocates nothing.
    """
    kind_size = columns.shape[0] * ROW_BLOCK
    n_arms = value.shape[0]
    for block_start in range(start, stop, ROW_BLOCK):
        n_block_rows = ROW_BLOCK if block_start + ROW_BLOCK < stop else stop - block_start
        for column in range(columns.shape[0]):
            base = column * ROW_BLOCK
            for offset in range(ROW_BLOCK):
                # Offsets past the last row repeat it: every offset routes on real values, none is tested.
                row = block_start + offset if block_start + offset < stop else stop - 1
                x = values[row * row_stride + columns[column] * column_stride] + 0.0  # -0.0 + 0.0 is 0.0
                if math.isnan(x):
                    block[base + offset] = LOWEST_KEY
                    block[kind_size + base + offset] = HIGHEST_KEY
                else:
                    block_float[base + offset] = x
                    bits = block[base + offset]
                    key = bits ^ ((bits >> 63) & MAGNITUDE_BITS)
                    block[base + offset] = key
                    block[kind_size + base + offset] = key
                if categorical:
                    code = MISSING_CODE
                    if 0.0 <= x < MISSING_CODE:
                        code = np.int64(x)
                    block[CATEGORY_CODE * kind_size + base + offset] = code
        for cell in range(total.shape[0]):
            total[cell] = 0.0
        for tree in range(tree_roots.shape[0]):
            for offset in range(ROW_BLOCK):
                node[offset] = tree_roots[tree]
            for _ in range(tree_depths[tree]):
                if categorical:
                    for offset in range(ROW_BLOCK):
                        current = node[offset]
                        entry = block[slot[current] + np.uint64(offset)]
                        if is_categorical[current]:
                            code = np.uint64(entry)
                            word = category_bitset[current, code >> np.uint64(6)]
                            goes_right = np.uint64(1) - ((word >> (code & np.uint64(63))) & np.uint64(1))
                        else:
                            goes_right = np.uint64(entry > split_key[current])
                        node[offset] = next_node[current] + goes_right
                else:
                    for offset in range(ROW_BLOCK):
                        current = node[offset]
                        node[offset] = next_node[current] + np.uint64(block[slot[current] + np.uint64(offset)]
                                                                      > split_key[current])
            if want_leaves:
                for offset in range(n_block_rows):
                    leaves[block_start + offset, tree] = leaf_id[node[offset]]
            else:
                for arm in range(n_arms):
                    for offset in range(ROW_BLOCK):
                        total[arm * ROW_BLOCK + offset] += value[arm, node[offset]]
        if not want_leaves:
            # Sum in tree order, divide once: the exported SQL reproduces this order exactly.
            for offset in range(n_block_rows):
                for arm in range(n_arms):
                    mean[block_start + offset, arm] = total[arm * ROW_BLOCK + offset] / tree_roots.shape[0]
