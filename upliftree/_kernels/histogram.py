"""Per-node histograms: for every feature, bin and arm, the sums the split criteria need.

Layout ``histogram[feature, bin, arm, stat]`` with the stats below. Rows are a node's row indices into the
feature-major bin matrix; the larger child of a split is obtained by subtracting its sibling from the parent.
"""

import numpy as np
from numba import njit, prange

COUNT = 0  # number of rows (unweighted), for min_samples_leaf / min_samples_treatment
WEIGHT = 1  # sum of sample weights
WEIGHTED_Y = 2  # sum of weight * y
WEIGHTED_Y2 = 3  # sum of weight * y**2, for variances of continuous outcomes
N_STATS = 4


@njit(cache=True, nogil=True)
def _gather_node_rows(rows, arm, weight, y):
    n_node = rows.shape[0]
    node_arm = np.empty(n_node, dtype=np.int64)
    node_stats = np.empty((n_node, N_STATS), dtype=np.float64)
    for i in range(n_node):
        row = rows[i]
        node_arm[i] = arm[row]
        node_stats[i, COUNT] = 1.0
        node_stats[i, WEIGHT] = weight[row]
        node_stats[i, WEIGHTED_Y] = weight[row] * y[row]
        node_stats[i, WEIGHTED_Y2] = weight[row] * y[row] * y[row]
    return node_arm, node_stats


@njit(cache=True, nogil=True)
def _accumulate_feature(histogram, feature, column, rows, node_arm, node_stats):
    for i in range(rows.shape[0]):
        bin_code = column[rows[i]]
        arm_code = node_arm[i]
        for stat in range(N_STATS):
            histogram[feature, bin_code, arm_code, stat] += node_stats[i, stat]


@njit(cache=True, nogil=True, parallel=True)
def build_histograms_parallel(binned, rows, arm, weight, y, n_arms, n_bins_total):
    """Histograms of the node holding ``rows``, one feature per thread (results do not depend on threads)."""
    n_features = binned.shape[0]
    histogram = np.zeros((n_features, n_bins_total, n_arms, N_STATS), dtype=np.float64)
    node_arm, node_stats = _gather_node_rows(rows, arm, weight, y)
    for feature in prange(n_features):
        _accumulate_feature(histogram, feature, binned[feature], rows, node_arm, node_stats)
    return histogram


@njit(cache=True, nogil=True)
def build_histograms(binned, rows, arm, weight, y, n_arms, n_bins_total):
    """Single-threaded twin of :func:`build_histograms_parallel`, for callers that parallelize over trees."""
    n_features = binned.shape[0]
    histogram = np.zeros((n_features, n_bins_total, n_arms, N_STATS), dtype=np.float64)
    node_arm, node_stats = _gather_node_rows(rows, arm, weight, y)
    for feature in range(n_features):
        _accumulate_feature(histogram, feature, binned[feature], rows, node_arm, node_stats)
    return histogram
