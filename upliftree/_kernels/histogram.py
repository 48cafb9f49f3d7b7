"""Per-node histograms: for every feature, bin and arm, the sums the split criteria and node statistics need.

Layout ``histogram[feature, bin, arm, stat]`` with the stats below. A node is a sample of rows: indices into
the feature-major bin matrix and, aligned with them, how many times each row is in the sample (``counts``; a
bootstrap draws rows several times): a row drawn ``m`` times adds ``m`` times its values, so each distinct
row is read once.

When every weight is 1 and the outcome is 0/1, each row is one of ``n_classes = 2 * n_arms`` classes (arm,
outcome) and ``bin_class[feature, row] = bin * n_classes + class`` is computed once per fit: a node's
histogram is then one integer addition per row and feature at ``bin_class[feature, row]`` (2.5 times faster
than gathering the class separately), expanded to the stats layout afterwards. An empty ``bin_class`` means
the general mode, which sums the weighted stats.
"""

import numpy as np
from numba import njit, prange

COUNT = 0  # number of rows (unweighted), for min_samples_leaf / min_samples_treatment
WEIGHT = 1  # sum of sample weights
WEIGHTED_Y = 2  # sum of weight * y
WEIGHTED_Y2 = 3  # sum of weight * y**2, for variances of continuous outcomes
WEIGHT_SQUARED = 4  # sum of weight**2, for effective sample sizes (sum w)^2 / sum w^2 of weighted intervals
N_STATS = 5


@njit(cache=True, nogil=True)
def _gather_node_stats(rows, counts, arm, weight, y):
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


@njit(cache=True, nogil=True)
def _accumulate_stats(feature_histogram, column, rows, node_arm, node_count, node_weight, node_wy, node_wy2,
                      node_w2):
    # One statement per stat (not a loop over a stats row): measurably faster in this innermost loop.
    for i in range(rows.shape[0]):
        bin_code = column[rows[i]]
        arm_code = node_arm[i]
        feature_histogram[bin_code, arm_code, COUNT] += node_count[i]
        feature_histogram[bin_code, arm_code, WEIGHT] += node_weight[i]
        feature_histogram[bin_code, arm_code, WEIGHTED_Y] += node_wy[i]
        feature_histogram[bin_code, arm_code, WEIGHTED_Y2] += node_wy2[i]
        feature_histogram[bin_code, arm_code, WEIGHT_SQUARED] += node_w2[i]


@njit(cache=True, nogil=True)
def _accumulate_classes(feature_histogram, bin_class_column, rows, counts):
    """Count (bin, arm, outcome) cells with integer additions, then write them as unit-weight stats."""
    n_bins, n_arms = feature_histogram.shape[0], feature_histogram.shape[1]
    n_classes = 2 * n_arms
    cell_counts = np.zeros(n_bins * n_classes, dtype=np.int64)
    for i in range(rows.shape[0]):
        cell_counts[bin_class_column[rows[i]]] += counts[i]
    for bin_code in range(n_bins):
        for arm_code in range(n_arms):
            n_positive = np.float64(cell_counts[bin_code * n_classes + 2 * arm_code + 1])
            n_rows = np.float64(cell_counts[bin_code * n_classes + 2 * arm_code]) + n_positive
            feature_histogram[bin_code, arm_code, COUNT] = n_rows
            feature_histogram[bin_code, arm_code, WEIGHT] = n_rows
            feature_histogram[bin_code, arm_code, WEIGHTED_Y] = n_positive
            feature_histogram[bin_code, arm_code, WEIGHTED_Y2] = n_positive
            feature_histogram[bin_code, arm_code, WEIGHT_SQUARED] = n_rows


@njit(cache=True, nogil=True)
def build_histograms(binned, bin_class, rows, counts, arm, weight, y, n_arms, n_bins_total, features):
    """Histograms of the listed ``features`` of the node sample ``rows, counts`` (other features stay zero).

    Single-threaded, for callers that parallelize over trees or nodes.
    """
    histogram = np.zeros((binned.shape[0], n_bins_total, n_arms, N_STATS), dtype=np.float64)
    if bin_class.shape[0] > 0:
        for feature in features:
            _accumulate_classes(histogram[feature], bin_class[feature], rows, counts)
        return histogram
    node_arm, node_count, node_weight, node_wy, node_wy2, node_w2 = _gather_node_stats(rows, counts, arm, weight, y)
    for feature in features:
        _accumulate_stats(histogram[feature], binned[feature], rows, node_arm, node_count, node_weight, node_wy,
                          node_wy2, node_w2)
    return histogram


@njit(cache=True, nogil=True, parallel=True)
def build_histograms_parallel(binned, bin_class, rows, counts, arm, weight, y, n_arms, n_bins_total, features):
    """:func:`build_histograms` with one feature per thread (results do not depend on the threads)."""
    histogram = np.zeros((binned.shape[0], n_bins_total, n_arms, N_STATS), dtype=np.float64)
    if bin_class.shape[0] > 0:
        for position in prange(features.shape[0]):
            feature = features[position]
            _accumulate_classes(histogram[feature], bin_class[feature], rows, counts)
        return histogram
    node_arm, node_count, node_weight, node_wy, node_wy2, node_w2 = _gather_node_stats(rows, counts, arm, weight, y)
    for position in prange(features.shape[0]):
        feature = features[position]
        _accumulate_stats(histogram[feature], binned[feature], rows, node_arm, node_count, node_weight, node_wy,
                          node_wy2, node_w2)
    return histogram


@njit(cache=True, nogil=True)
def sibling_histogram(parent, child):
    """``parent - child``: the histograms of ``child``'s sibling, without building them from its rows.

    A cell of the sibling with no rows (count exactly 0: counts are integers) is set to exactly 0. Otherwise
    the rounding residue of subtracting sums taken in different orders (e.g. a weight of 1e-17) could make
    an arm with no rows look present to the split admissibility test.
    """
    sibling = parent - child
    n_features, n_bins, n_arms = sibling.shape[0], sibling.shape[1], sibling.shape[2]
    for feature in range(n_features):
        for bin_code in range(n_bins):
            for arm in range(n_arms):
                if sibling[feature, bin_code, arm, COUNT] == 0.0:
                    sibling[feature, bin_code, arm, :] = 0.0
    return sibling
