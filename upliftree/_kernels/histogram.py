"""Per-node histograms: for every feature, bin and arm, the sums the split criteria and node statistics need.

Layout ``histogram[feature, bin, arm, stat]`` with the stats below. A node is a sample of rows: indices into
the feature-major bin matrix and, aligned with them, how many times each row is in the sample (``counts``; a
bootstrap draws rows several times): a row drawn ``m`` times adds ``m`` times its values, so each distinct
row is read once.

When the outcome is 0/1 and the weights take few distinct values (``level_weights``, at most
``MAX_WEIGHT_LEVELS``: weights 1, or a stratified design's ``1 / p`` times unit sample weights), each row is one
of ``n_classes = 2 * n_arms * n_levels`` classes (arm, weight level, outcome) and ``bin_class[feature, row] =
bin * n_classes + class`` is computed once per fit (:func:`level_classes` finds the levels): a node's histogram
is then one integer addition per row and feature at ``bin_class[feature, row]`` (2.5 times faster than
gathering the class separately, and than the five float additions of a weighted histogram), expanded to the
stats layout afterwards with the levels' weights, summed over the levels in their (sorted) order
(:func:`class_histograms`). Otherwise :func:`weighted_histograms` sums the weighted stats gathered once per
node. The caller picks the mode, so a fit compiles only the kernel it uses, and fills a histogram allocated
by the caller, a block of features per thread.
"""

import math

import numpy as np
from numba import njit

from .stats_layout import COUNT, WEIGHT, WEIGHT_SQUARED, WEIGHTED_Y, WEIGHTED_Y2


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def gather_node_stats(rows, counts, arm, weight, y):
    """The node's arm codes and per-row stats (times the row's count), contiguous, for every feature."""
    n_node = rows.shape[0]
    node_arm = np.empty(n_node, dtype=np.int64)
    node_count = np.empty(n_node, dtype=np.float64)
    node_weight = np.empty(n_node, dtype=np.float64)
    node_wy = np.empty(n_node, dtype=np.float64)
    node_wy2 = np.empty(n_node, dtype=np.float64)
    node_w2 = np.empty(n_node, dtype=np.float64)
    for i in range(n_node):
        row = rows[i]
        count = np.float64(counts[i])
        node_arm[i] = arm[row]
        node_count[i] = count
        node_weight[i] = count * weight[row]
        node_wy[i] = count * weight[row] * y[row]
        node_wy2[i] = count * weight[row] * y[row] * y[row]
        node_w2[i] = count * weight[row] * weight[row]
    return node_arm, node_count, node_weight, node_wy, node_wy2, node_w2


# Most weight levels of class counting: beyond, the cells (bins x arms x levels x outcomes, cleared and
# expanded per node and feature) outgrow the first-level cache and cost more than small nodes' rows.
MAX_WEIGHT_LEVELS = 16


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def level_classes(arm, y, weight, max_levels):
    """Each row's class ``(arm * n_levels + level) * 2 + y`` (uint16) and the sorted distinct weights
    ``level_weights`` (the row's weight is ``level_weights[level]``), or an empty array of levels when there
    are more than ``max_levels`` of them. ``y`` is 0/1.

    One pass finds the levels (in order of first appearance; a row whose weight is the previous row's takes
    one comparison), a sort of the few levels ranks them, a second pass writes the classes.
    """
    n_rows = weight.shape[0]
    levels = np.empty(max_levels, dtype=np.float64)
    level_of_row = np.empty(n_rows, dtype=np.uint8)
    row_class = np.empty(n_rows, dtype=np.uint16)
    n_levels = 0
    last = 0
    for row in range(n_rows):
        row_weight = weight[row]
        if n_levels > 0 and levels[last] == row_weight:
            level_of_row[row] = last
            continue
        found = -1
        for level in range(n_levels):
            if levels[level] == row_weight:
                found = level
                break
        if found < 0:
            if n_levels == max_levels or row_weight != row_weight:  # too many levels, or NaN (never equal)
                return row_class, levels[:0]
            levels[n_levels] = row_weight
            found = n_levels
            n_levels += 1
        level_of_row[row] = found
        last = found
    # Rank of each level among the sorted levels (they are distinct): a count of the smaller ones.
    rank = np.empty(n_levels, dtype=np.int64)
    level_weights = np.empty(n_levels, dtype=np.float64)
    for level in range(n_levels):
        n_smaller = 0
        for other in range(n_levels):
            if levels[other] < levels[level]:
                n_smaller += 1
        rank[level] = n_smaller
        level_weights[n_smaller] = levels[level]
    for row in range(n_rows):
        row_class[row] = (arm[row] * n_levels + rank[level_of_row[row]]) * 2 + np.int64(y[row])
    return row_class, level_weights


def class_histograms(histogram, bin_class, rows, counts, level_weights, features):
    """Fill ``histogram[feature]`` for the listed ``features`` of the node sample ``rows, counts`` by counting
    (bin, arm, weight level, outcome) cells with integer additions (class ``(arm * n_levels + level) * 2 + y``,
    outcome 0/1), then writing each (bin, arm)'s stats as sums over the levels, in order, of the level's counts
    times its weight ``level_weights[level]`` (and squared weight); other features are left as they are.

    Counts are exact integers, so the stats depend on the rows only through the counts per cell: not on their
    order. With one level of weight 1 they are the unit-weight counts themselves.
    """
    cells = histogram.shape[1] * 2 * histogram.shape[2] * level_weights.shape[0]
    class_histograms_into(histogram, bin_class, rows, counts, level_weights, features,
                          np.empty(cells, dtype=np.int64))


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def class_histograms_into(histogram, bin_class, rows, counts, level_weights, features, cell_counts):
    """:func:`class_histograms` with the scratch ``cell_counts`` (int64, one per (bin, class), any contents)
    from the caller: an int64 ``np.empty`` in the kernel is a Numba routine compiled for it alone."""
    n_bins, n_arms = histogram.shape[1], histogram.shape[2]
    n_levels = level_weights.shape[0]
    n_classes = 2 * n_arms * n_levels
    for position in range(features.shape[0]):
        feature = features[position]
        feature_histogram = histogram[feature]
        bin_class_column = bin_class[feature]
        for cell in range(n_bins * n_classes):
            cell_counts[cell] = 0
        for i in range(rows.shape[0]):
            cell_counts[bin_class_column[rows[i]]] += counts[i]
        for bin_code in range(n_bins):
            for arm_code in range(n_arms):
                first_cell = bin_code * n_classes + 2 * n_levels * arm_code
                n_rows = 0
                sum_weight = 0.0
                sum_weighted_y = 0.0
                sum_squared_weight = 0.0
                for level in range(n_levels):
                    n_negative = cell_counts[first_cell + 2 * level]
                    n_positive = cell_counts[first_cell + 2 * level + 1]
                    n_rows += n_negative + n_positive
                    level_weight = level_weights[level]
                    level_rows = np.float64(n_negative + n_positive)
                    sum_weight += level_rows * level_weight
                    sum_weighted_y += np.float64(n_positive) * level_weight
                    sum_squared_weight += level_rows * (level_weight * level_weight)
                feature_histogram[bin_code, arm_code, COUNT] = np.float64(n_rows)
                feature_histogram[bin_code, arm_code, WEIGHT] = sum_weight
                feature_histogram[bin_code, arm_code, WEIGHTED_Y] = sum_weighted_y
                feature_histogram[bin_code, arm_code, WEIGHTED_Y2] = sum_weighted_y
                feature_histogram[bin_code, arm_code, WEIGHT_SQUARED] = sum_squared_weight


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def weighted_histograms(histogram, binned, rows, node_arm, node_count, node_weight, node_wy, node_wy2, node_w2,
                        features):
    """Fill ``histogram[feature]`` for the listed ``features`` from the node's per-row stats
    (:func:`gather_node_stats`); other features are left as they are."""
    for position in range(features.shape[0]):
        feature = features[position]
        feature_histogram = histogram[feature]
        column = binned[feature]
        # One statement per stat (not a loop over a stats row): measurably faster in this innermost loop.
        for i in range(rows.shape[0]):
            bin_code = column[rows[i]]
            arm_code = node_arm[i]
            feature_histogram[bin_code, arm_code, COUNT] += node_count[i]
            feature_histogram[bin_code, arm_code, WEIGHT] += node_weight[i]
            feature_histogram[bin_code, arm_code, WEIGHTED_Y] += node_wy[i]
            feature_histogram[bin_code, arm_code, WEIGHTED_Y2] += node_wy2[i]
            feature_histogram[bin_code, arm_code, WEIGHT_SQUARED] += node_w2[i]


# Worst-case relative error of a float64 sum of n terms taken in some order is about n * 2**-52 of the sum of
# the terms' sizes; twice that bounds the difference of two such sums of the same terms.
SUM_ROUNDING = 2.0 * 2.0**-52


def sibling_histogram(parent, child):
    """``parent - child``: the histograms of ``child``'s sibling, without building them from its rows.

    A difference of two sums taken in different orders is exact only to their rounding error, so a sibling
    sum within that error of 0 is set to exactly 0: a cell with no rows (count exactly 0: counts are
    integers) entirely, and any other sum below ``SUM_ROUNDING * count`` of the size of the parent's terms
    (the parent's sum for the nonnegative weight, squared-outcome and squared-weight sums; for the weighted
    outcome sum, which can mix signs, the Cauchy-Schwarz bound ``sqrt(sum w * sum w y^2)``). Otherwise the
    residue (e.g. a weight of 1e-17, or outcome sums of 1e-16 in a node whose outcomes are all 0) could make
    an arm with no rows look present to the split admissibility test, or give a node whose exact gains are
    all 0 a best split of gain 1e-33: its criteria see only the residue, whose size no longer tells that it
    is rounding. Explicit loops: the 4-D array expression ``parent - child`` took seconds to compile; and the
    output is allocated here, as a 4-D ``np.empty`` in the kernel is one more Numba routine to compile.
    """
    sibling = np.empty(parent.shape, dtype=np.float64)
    sibling_histogram_into(parent, child, sibling)
    return sibling


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def sibling_histogram_into(parent, child, sibling):
    """:func:`sibling_histogram` into ``sibling``, a float64 array of ``parent``'s shape."""
    n_features, n_bins, n_arms, n_stats = parent.shape
    for feature in range(n_features):
        for bin_code in range(n_bins):
            for arm in range(n_arms):
                n_terms = parent[feature, bin_code, arm, COUNT]
                if n_terms - child[feature, bin_code, arm, COUNT] == 0.0:
                    for stat in range(n_stats):
                        sibling[feature, bin_code, arm, stat] = 0.0
                    continue
                for stat in range(n_stats):
                    sibling[feature, bin_code, arm, stat] = (parent[feature, bin_code, arm, stat]
                                                             - child[feature, bin_code, arm, stat])
                tolerance = SUM_ROUNDING * n_terms
                for stat in (WEIGHT, WEIGHTED_Y2, WEIGHT_SQUARED):
                    if sibling[feature, bin_code, arm, stat] <= tolerance * parent[feature, bin_code, arm, stat]:
                        sibling[feature, bin_code, arm, stat] = 0.0
                outcome_terms = math.sqrt(parent[feature, bin_code, arm, WEIGHT]
                                          * parent[feature, bin_code, arm, WEIGHTED_Y2])
                if abs(sibling[feature, bin_code, arm, WEIGHTED_Y]) <= tolerance * outcome_terms:
                    sibling[feature, bin_code, arm, WEIGHTED_Y] = 0.0
