"""Design moments of a tree's nodes: sums over the units of randomization of products of their per-arm totals.

The layout of the last axis is ``upliftree.design``'s (``N_UNITS``, ``OWN_WW``, ``OWN_SW``, ``OWN_SS``, then the
cross sums with control ``CROSS_WW``, ``CROSS_WS``, ``CROSS_SW``, ``CROSS_SS``), written here as literals 0-7 for
Numba; ``tests/test_design.py`` checks every column against a slow reference.
"""

import numpy as np
from numba import njit

N_MOMENTS = 8


@njit(cache=True, nogil=True)
def unit_moments(parent, leaves, arm, weight, y, unit, n_units, n_arms):
    """Moments ``(n_nodes, n_arms, N_MOMENTS)`` of the rows reaching each node, over the units of randomization.

    ``parent`` (int64, -1 for the root), ``leaves`` (int64, the node each row reaches), ``arm`` (int64),
    ``weight`` and ``y`` (float64) are per node / per row; ``unit`` (int64) is each row's unit code, in
    ``0 .. n_units - 1``. Units are summed in the order of their codes, the rows of a unit in row order (a
    counting sort of the rows by unit: linear time, where a comparison sort of a million shuffled codes took
    longer than the moments). One pass over the rows, each walking up its ancestors: a unit's totals
    ``W = sum w`` and ``S = sum w y`` per (node, arm) are built in scratch arrays, then folded into the moments
    of the nodes it touched (the arms it has rows of: an absent arm's totals are 0) and reset.
    """
    n_nodes = parent.shape[0]
    n_rows = leaves.shape[0]
    unit_start = np.zeros(n_units + 1, dtype=np.int64)
    for row in range(n_rows):
        unit_start[unit[row] + 1] += 1
    for code in range(n_units):
        unit_start[code + 1] += unit_start[code]
    next_position = np.empty(n_units, dtype=np.int64)
    for code in range(n_units):
        next_position[code] = unit_start[code]
    unit_order = np.empty(n_rows, dtype=np.int64)
    for row in range(n_rows):
        code = unit[row]
        unit_order[next_position[code]] = row
        next_position[code] += 1
    moments = np.zeros((n_nodes, n_arms, N_MOMENTS), dtype=np.float64)
    unit_weight = np.zeros((n_nodes, n_arms), dtype=np.float64)
    unit_sum = np.zeros((n_nodes, n_arms), dtype=np.float64)
    present = np.zeros((n_nodes, n_arms), dtype=np.bool_)
    touched = np.empty(n_nodes, dtype=np.int64)
    is_touched = np.zeros(n_nodes, dtype=np.bool_)
    for code in range(n_units):
        n_touched = 0
        for position in range(unit_start[code], unit_start[code + 1]):
            row = unit_order[position]
            row_arm = arm[row]
            row_weight = weight[row]
            row_sum = row_weight * y[row]
            node = leaves[row]
            while node >= 0:
                if not is_touched[node]:
                    is_touched[node] = True
                    touched[n_touched] = node
                    n_touched += 1
                unit_weight[node, row_arm] += row_weight
                unit_sum[node, row_arm] += row_sum
                present[node, row_arm] = True
                node = parent[node]
        for index in range(n_touched):
            node = touched[index]
            control_weight = unit_weight[node, 0]
            control_sum = unit_sum[node, 0]
            for arm_code in range(n_arms):
                if not present[node, arm_code]:
                    continue
                total_weight = unit_weight[node, arm_code]
                total_sum = unit_sum[node, arm_code]
                moments[node, arm_code, 0] += 1.0
                moments[node, arm_code, 1] += total_weight * total_weight
                moments[node, arm_code, 2] += total_sum * total_weight
                moments[node, arm_code, 3] += total_sum * total_sum
                if arm_code > 0:
                    moments[node, arm_code, 4] += total_weight * control_weight
                    moments[node, arm_code, 5] += total_weight * control_sum
                    moments[node, arm_code, 6] += total_sum * control_weight
                    moments[node, arm_code, 7] += total_sum * control_sum
                unit_weight[node, arm_code] = 0.0
                unit_sum[node, arm_code] = 0.0
                present[node, arm_code] = False
            is_touched[node] = False
    return moments


@njit(cache=True, nogil=True)
def row_moments(parent, leaves, arm, weight, y, n_arms):
    """:func:`unit_moments` when every row is its own unit: a unit's totals are the row's ``w`` and ``w y``, so
    the sums are per-row sums of ``1, w^2, w^2 y, w^2 y^2`` and the cross sums with control are 0 (a row receives
    one arm). Summed per leaf, then added to every ancestor of the leaf: no walk up the tree per row.
    """
    n_nodes = parent.shape[0]
    n_rows = leaves.shape[0]
    own = np.zeros((n_nodes, n_arms, N_MOMENTS), dtype=np.float64)
    for row in range(n_rows):
        node = leaves[row]
        row_arm = arm[row]
        squared_weight = weight[row] * weight[row]
        own[node, row_arm, 0] += 1.0
        own[node, row_arm, 1] += squared_weight
        own[node, row_arm, 2] += squared_weight * y[row]
        own[node, row_arm, 3] += squared_weight * y[row] * y[row]
    moments = np.zeros((n_nodes, n_arms, N_MOMENTS), dtype=np.float64)
    for node in range(n_nodes):
        ancestor = node
        while ancestor >= 0:
            for arm_code in range(n_arms):
                for column in range(4):
                    moments[ancestor, arm_code, column] += own[node, arm_code, column]
            ancestor = parent[ancestor]
    return moments
