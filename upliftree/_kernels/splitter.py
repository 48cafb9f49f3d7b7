"""Best admissible split of one node, from its histograms.

Numeric features are scanned in bin order; categorical features in the order of their categories' observed
uplift in the node, so a split is a set of categories versus the rest. At every threshold the missing bin is
tried on both sides; "missing versus not missing" is a candidate too. Ties keep the first candidate found
(features in the given order, thresholds left to right, missing right before missing left).
"""

import numpy as np
from numba import njit

from .criteria import above_noise, arm_means, divergence, is_admissible, is_normalized, normalization, raw_split_gain
from .histogram import COUNT, WEIGHT, WEIGHTED_Y, WEIGHTED_Y2

# The criteria read count, weight and the weighted outcome moments; the squared weight is not needed here.
SPLIT_STATS = WEIGHTED_Y2 + 1


@njit(cache=True, nogil=True)
def node_totals(histogram, feature=0):
    """Per-arm sums of the node: the histogram of any (built) feature summed over its bins."""
    return histogram[feature].sum(axis=0)


@njit(cache=True, nogil=True)
def _add_cells(total, cells):
    for arm in range(total.shape[0]):
        for stat in range(total.shape[1]):
            total[arm, stat] += cells[arm, stat]


@njit(cache=True, nogil=True)
def category_scan_order(feature_histogram, n_categories, node_means, n_reg):
    """Non-empty category bins sorted by their shrunk uplift (summed over treatments), ties by code."""
    n_arms = feature_histogram.shape[1]
    means = np.empty(n_arms)
    codes = np.empty(n_categories, dtype=np.int64)
    scores = np.empty(n_categories)
    n_present = 0
    for code in range(n_categories):
        if feature_histogram[code, :, COUNT].sum() == 0.0:
            continue
        arm_means(feature_histogram[code], node_means, n_reg, means)
        score = 0.0
        for arm in range(1, n_arms):
            score += means[arm] - means[0]
        codes[n_present] = code
        scores[n_present] = score
        n_present += 1
    order = np.argsort(scores[:n_present], kind="mergesort")
    return codes[:n_present][order]


@njit(cache=True, nogil=True)
def _scan_order(feature_histogram, n_bins, categorical, node_means, n_reg):
    if categorical:
        return category_scan_order(feature_histogram, n_bins, node_means, n_reg)
    return np.arange(n_bins)


@njit(cache=True, nogil=True)
def find_best_split(histogram, features, n_bins_non_missing, is_categorical, missing_bin, criterion,
                    normalize, n_reg, binary, min_samples_leaf, min_samples_treatment):
    """Best split of a node over ``features``.

    Returns ``(feature, gain, raw_gain, left_bins)`` where ``left_bins[b]`` tells whether bin ``b`` (the
    missing bin included) goes to the left child; ``feature == -1`` when no admissible split has a gain above
    rounding noise (:func:`.criteria.above_noise`).
    """
    n_arms = histogram.shape[2]
    node = node_totals(histogram, features[0])
    node_means = np.empty(n_arms)
    for arm in range(n_arms):
        node_means[arm] = node[arm, WEIGHTED_Y] / node[arm, WEIGHT] if node[arm, WEIGHT] > 0.0 else 0.0
    node_divergence = divergence(node_means, criterion, binary)
    left = np.zeros_like(node)
    feature_total = np.zeros_like(node)
    candidate_left = np.zeros_like(node)
    candidate_right = np.zeros_like(node)
    left_means = np.empty(n_arms)
    right_means = np.empty(n_arms)

    normalized = is_normalized(criterion, normalize)
    best_feature = -1
    best_prefix = -1
    best_missing_left = False
    best_gain = 0.0
    best_raw_gain = 0.0
    for feature in features:
        feature_histogram = histogram[feature]
        missing = feature_histogram[missing_bin]
        has_missing = missing[:, COUNT].sum() > 0.0
        order = _scan_order(feature_histogram, n_bins_non_missing[feature], is_categorical[feature],
                            node_means, n_reg)
        # The node's sums re-added in scan order, so that a child's cell is exactly zero when it has no rows
        # or no weight there: ``node - left`` leaves rounding residue of the other order (a tiny positive
        # weight would pass ``is_admissible`` and give a child a 0/0 mean).
        feature_total[:] = 0.0
        for position in range(order.shape[0]):
            _add_cells(feature_total, feature_histogram[order[position]])
        _add_cells(feature_total, missing)
        left[:] = 0.0
        for prefix in range(order.shape[0]):
            _add_cells(left, feature_histogram[order[prefix]])
            last = prefix == order.shape[0] - 1
            for missing_left in (False, True):
                # With every non-missing bin on the left, only "missing goes right" is a real split.
                if (missing_left and not has_missing) or (last and (missing_left or not has_missing)):
                    continue
                # Explicit loops: array expressions here would allocate a temporary for every candidate.
                for arm in range(n_arms):
                    for stat in range(SPLIT_STATS):
                        in_left = left[arm, stat] + missing[arm, stat] if missing_left else left[arm, stat]
                        candidate_left[arm, stat] = in_left
                        candidate_right[arm, stat] = feature_total[arm, stat] - in_left
                if not is_admissible(candidate_left, candidate_right, min_samples_leaf, min_samples_treatment):
                    continue
                raw_gain, signal, scale = raw_split_gain(candidate_left, candidate_right, node, node_means,
                                                         node_divergence, criterion, n_reg, binary, left_means,
                                                         right_means)
                # A gain within rounding noise of the terms it is computed from counts as 0: not a split (the
                # noise check goes first, so the skip below only drops candidates that could not win anyway).
                if not above_noise(signal, scale):
                    continue
                gain = raw_gain
                if normalized:
                    # The normalization factor is 0.5 plus nonnegative terms, so gain <= 2 * raw_gain: a
                    # candidate below half the best gain cannot win, and its logarithms are skipped (the margin
                    # covers rounding in the factor).
                    if 2.01 * raw_gain <= best_gain:
                        continue
                    gain = raw_gain / normalization(candidate_left, node, criterion)
                if gain > best_gain:
                    best_feature = feature
                    best_prefix = prefix
                    best_missing_left = missing_left
                    best_gain = gain
                    best_raw_gain = raw_gain

    left_bins = np.zeros(missing_bin + 1, dtype=np.bool_)
    if best_feature >= 0:
        feature_histogram = histogram[best_feature]
        order = _scan_order(feature_histogram, n_bins_non_missing[best_feature], is_categorical[best_feature],
                            node_means, n_reg)
        for prefix in range(best_prefix + 1):
            left_bins[order[prefix]] = True
        if feature_histogram[missing_bin, :, COUNT].sum() > 0.0:
            left_bins[missing_bin] = best_missing_left
        else:
            # No missing rows here: missing values met later go to the heavier child.
            left_weight = 0.0
            for code in range(missing_bin):
                if left_bins[code]:
                    left_weight += feature_histogram[code, :, WEIGHT].sum()
            left_bins[missing_bin] = left_weight >= node[:, WEIGHT].sum() - left_weight
        if is_categorical[best_feature]:
            # Categories absent from this node follow the missing-value direction, like unseen ones.
            for code in range(n_bins_non_missing[best_feature]):
                if feature_histogram[code, :, COUNT].sum() == 0.0:
                    left_bins[code] = left_bins[missing_bin]
    return best_feature, best_gain, best_raw_gain, left_bins
