"""Best admissible split of one node, from its histograms.

Numeric features are scanned in bin order; categorical features in the order of their categories' observed
uplift in the node, so a split is a set of categories versus the rest. At every threshold the missing bin is
tried on both sides; "missing versus not missing" is a candidate too. Ties keep the first candidate found
(features in the given order, thresholds left to right, missing right before missing left).

:func:`find_best_split` orders the categories with :func:`category_orders` only when some feature is
categorical, so numeric data never compiles that kernel.
"""

import math

import numpy as np
from numba import njit

from .boundary import kernel_array
from .criteria import DDP, TSTAT, arm_divergence, arm_means, split_gain
from .stats_layout import COUNT, N_STATS, WEIGHT, WEIGHTED_Y, WEIGHTED_Y2

# The criteria read count, weight and the weighted outcome moments; the squared weight is not needed here.
SPLIT_STATS = WEIGHTED_Y2 + 1
# Scratch of the uplift scan, allocated by find_best_split: per-arm sums (the node, the scanned prefix, the
# feature's total, the candidate's children) and per-arm means (the node, the candidate's children).
SCAN_SUMS = 5
SCAN_MEANS = 3
# Scan orders of a call without categorical features: never read.
NO_ORDERS = np.zeros((0, 0), dtype=np.int64)
NO_ORDER_SIZES = np.zeros(0, dtype=np.int64)


def node_totals(histogram, feature, out=None):
    """Per-arm sums of the node: the histogram of any (built) ``feature`` summed over its bins,
    ``(n_arms, n_stats)`` (into ``out`` when given).

    NumPy adds the bins one after another along the first axis, as :func:`node_totals_into` does: the same
    sums bit for bit, without a compiled kernel (with its wrapper for Python, 0.1 s of a first fit).
    """
    return histogram[feature].sum(axis=0, out=out)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True, _nrt=False)
def node_totals_into(histogram, feature, totals):
    """:func:`node_totals` into ``totals`` (float64, ``(n_arms, n_stats)``, any contents), in a kernel."""
    feature_histogram = histogram[feature]
    n_bins, n_arms, n_stats = feature_histogram.shape
    for arm in range(n_arms):
        for stat in range(n_stats):
            totals[arm, stat] = 0.0
    for bin_code in range(n_bins):
        add_cells(totals, feature_histogram[bin_code])


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True, _nrt=False)
def add_cells(total, cells):
    for arm in range(total.shape[0]):
        for stat in range(total.shape[1]):
            total[arm, stat] += cells[arm, stat]


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True, _nrt=False)
def row_count(cells):
    """Rows of an ``(n_arms, N_STATS)`` block of sums: ``cells[:, COUNT].sum()``, as a loop."""
    total = 0.0
    for arm in range(cells.shape[0]):
        total += cells[arm, COUNT]
    return total


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def category_orders(histogram, node, features, n_bins_non_missing, is_categorical, missing_bin, n_reg,
                    by_mean_target, orders, order_sizes, means, scores):
    """Scan order of each categorical feature among ``features``: its non-empty category bins sorted by their
    shrunk uplift in the node (summed over treatments) or, ``by_mean_target``, for the squared-error rule, by
    their mean target summed over the target columns ``Σ_c S_c / W`` (0 without weight; ``histogram`` is then
    a target histogram, see :func:`find_best_squared_error_split`, and ``n_reg`` is not read); ties by code.

    Fills ``orders`` (int64, ``(len(features), missing_bin)``) and ``order_sizes`` (int64, ``len(features)``):
    feature ``features[k]`` is scanned as ``orders[k, :order_sizes[k]]`` (rows of numeric features are not
    filled). ``node`` holds the node's sums (:func:`node_totals` of ``features[0]``; not read ``by_mean_target``).
    The caller allocates them, as every kernel of the split search its outputs and scratch (``means``: float64
    ``(2, n_arms)``, ``scores``: ``missing_bin``; any contents): the
    split search allocates nothing, so it is compiled without Numba's reference counting (``_nrt=False``,
    docs/architecture.md). The sort is a stable insertion sort
    (at most 255 categories) with NaN last: exactly the order of numba's ``argsort(kind="mergesort")``, which
    cost a second of compile time. One kernel for both statistics: the second is three lines.
    """
    n_arms = histogram.shape[2]
    node_means = means[0]
    for arm in range(n_arms):
        node_means[arm] = node[arm, WEIGHTED_Y] / node[arm, WEIGHT] if node[arm, WEIGHT] > 0.0 else 0.0
    code_means = means[1]
    for position in range(features.shape[0]):
        feature = features[position]
        order_sizes[position] = 0
        if not is_categorical[feature]:
            continue
        feature_histogram = histogram[feature]
        order = orders[position]
        n_present = np.int64(0)  # not a literal 0, which is typed again per loop level (docs/architecture.md)
        for code in range(n_bins_non_missing[feature]):
            if row_count(feature_histogram[code]) == 0.0:
                continue
            score = 0.0
            if by_mean_target:
                for column in range(n_arms):
                    score += feature_histogram[code, column, WEIGHTED_Y]
                weight = feature_histogram[code, 0, WEIGHT]
                score = score / weight if weight > 0.0 else 0.0
            else:
                arm_means(feature_histogram[code], node_means, n_reg, code_means)
                for arm in range(1, n_arms):
                    score += code_means[arm] - code_means[0]
            # Insert after every earlier code whose score does not sort after this one.
            slot = n_present
            while slot > 0 and (score < scores[slot - 1] or (math.isnan(scores[slot - 1]) and not math.isnan(score))):
                scores[slot] = scores[slot - 1]
                order[slot] = order[slot - 1]
                slot -= 1
            scores[slot] = score
            order[slot] = code
            n_present += 1
        order_sizes[position] = n_present


def find_best_split(histogram, features, n_bins_non_missing, is_categorical, missing_bin, criterion, normalize,
                    n_reg, binary, min_samples_leaf, min_samples_treatment):
    """Best split of a node over ``features``.

    Returns ``(feature, gain, raw_gain, left_bins)`` where ``left_bins[b]`` tells whether bin ``b`` (the
    missing bin included) goes to the left child; ``feature == -1`` when no admissible split has a gain above
    rounding noise (see :func:`.criteria.split_gain`).
    """
    n_bins_non_missing = kernel_array(n_bins_non_missing, np.int64)
    is_categorical = kernel_array(is_categorical, np.bool_)
    n_arms = histogram.shape[2]
    sums = np.empty((SCAN_SUMS, n_arms, N_STATS), dtype=np.float64)
    node_totals(histogram, features[0], out=sums[0])  # the node's sums, where the scan kernels read them
    means = np.empty((SCAN_MEANS, n_arms), dtype=np.float64)
    orders, order_sizes = _scan_orders(histogram, sums[0], features, n_bins_non_missing, is_categorical,
                                       missing_bin, n_reg, False, means[:2])
    return best_split(histogram, features, orders, order_sizes, n_bins_non_missing, is_categorical, missing_bin,
                      criterion, normalize, n_reg, binary, min_samples_leaf, min_samples_treatment,
                      np.empty(missing_bin + 1, dtype=np.bool_), sums, means)


def _scan_orders(histogram, node, features, n_bins_non_missing, is_categorical, missing_bin, n_reg, by_mean_target,
                 means):
    """The arrays of :func:`category_orders` (``node`` and its scratch ``means`` as it takes them) when some
    feature is categorical, else empty ones (never read)."""
    if not is_categorical.any():
        return NO_ORDERS, NO_ORDER_SIZES
    orders = np.empty((len(features), missing_bin), dtype=np.int64)
    order_sizes = np.empty(len(features), dtype=np.int64)
    category_orders(histogram, node, features, n_bins_non_missing, is_categorical, missing_bin, n_reg,
                    by_mean_target, orders, order_sizes, means, np.empty(missing_bin, dtype=np.float64))
    return orders, order_sizes


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def best_split(histogram, features, orders, order_sizes, n_bins_non_missing, is_categorical, missing_bin,
               criterion, normalize, n_reg, binary, min_samples_leaf, min_samples_treatment, left_bins, sums, means):
    """The scan of :func:`find_best_split`: a numeric feature in bin order, categorical feature
    ``features[k]`` in the order ``orders[k, :order_sizes[k]]`` (:func:`category_orders`). ``left_bins``
    (bool, ``missing_bin + 1``, any contents) is filled and returned; ``sums`` (float64, ``(SCAN_SUMS, n_arms,
    N_STATS)``) holds the node's sums (:func:`node_totals` of ``features[0]``) in ``sums[0]``, and is scratch
    otherwise, as ``means`` (float64, ``(SCAN_MEANS, n_arms)``) is; any contents."""
    n_arms = histogram.shape[2]
    node = sums[0]
    node_means = means[0]
    for arm in range(n_arms):
        node_means[arm] = node[arm, WEIGHTED_Y] / node[arm, WEIGHT] if node[arm, WEIGHT] > 0.0 else 0.0
    # The divergence of the treatments from control, averaged over treatments (uniform weights).
    node_divergence = 0.0
    for arm in range(1, n_arms):
        node_divergence += arm_divergence(node_means[arm], node_means[0], criterion, binary)
    node_divergence = node_divergence / (n_arms - 1)
    # Scratch sums: ``left`` and ``feature_total`` are cleared for every feature; the candidates' stats up to
    # SPLIT_STATS are written before they are read, the others never read.
    left = sums[1]
    feature_total = sums[2]
    candidate_left = sums[3]
    candidate_right = sums[4]
    left_means = means[1]
    right_means = means[2]

    # ΔΔP and the t-statistic are never normalized.
    normalized = normalize and criterion != DDP and criterion != TSTAT
    # Typed (not literal) starting values: a literal's type is widened one loop level per typing pass.
    best_position = np.int64(-1)
    best_prefix = np.int64(-1)
    best_missing_left = np.bool_(False)
    best_gain = 0.0
    best_raw_gain = 0.0
    for position in range(features.shape[0]):
        feature = features[position]
        categorical = is_categorical[feature]
        n_order = order_sizes[position] if categorical else n_bins_non_missing[feature]
        feature_histogram = histogram[feature]
        missing = feature_histogram[missing_bin]
        has_missing = row_count(missing) > 0.0
        # The node's sums re-added in scan order, so that a child's cell is exactly zero when it has no rows
        # or no weight there: ``node - left`` leaves rounding residue of the other order (a tiny positive
        # weight would pass the admissibility test and give a child a 0/0 mean).
        for arm in range(n_arms):
            for stat in range(N_STATS):
                feature_total[arm, stat] = 0.0
                left[arm, stat] = 0.0
        for prefix in range(n_order):
            add_cells(feature_total, feature_histogram[orders[position, prefix] if categorical else prefix])
        add_cells(feature_total, missing)
        for prefix in range(n_order):
            add_cells(left, feature_histogram[orders[position, prefix] if categorical else prefix])
            last = prefix == n_order - 1
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
                # Admissible: both children keep min_samples_leaf rows, and min_samples_treatment rows and some
                # weight in every arm.
                admissible = True
                left_rows = 0.0
                right_rows = 0.0
                for arm in range(n_arms):
                    if (candidate_left[arm, COUNT] < min_samples_treatment
                            or candidate_right[arm, COUNT] < min_samples_treatment
                            or candidate_left[arm, WEIGHT] <= 0.0 or candidate_right[arm, WEIGHT] <= 0.0):
                        admissible = False
                        break
                    left_rows += candidate_left[arm, COUNT]
                    right_rows += candidate_right[arm, COUNT]
                if not (admissible and left_rows >= min_samples_leaf and right_rows >= min_samples_leaf):
                    continue
                gain, raw_gain = split_gain(candidate_left, candidate_right, node, node_means, node_divergence,
                                            criterion, normalized, n_reg, binary, best_gain, left_means,
                                            right_means)
                if gain > best_gain:
                    best_position = position
                    best_prefix = prefix
                    best_missing_left = missing_left
                    best_gain = gain
                    best_raw_gain = raw_gain

    for code in range(missing_bin + 1):
        left_bins[code] = False
    if best_position < 0:
        return -1, best_gain, best_raw_gain, left_bins
    best_feature = features[best_position]
    categorical = is_categorical[best_feature]
    feature_histogram = histogram[best_feature]
    for prefix in range(best_prefix + 1):
        left_bins[orders[best_position, prefix] if categorical else prefix] = True
    if row_count(feature_histogram[missing_bin]) > 0.0:
        left_bins[missing_bin] = best_missing_left
    else:
        # No missing rows here: missing values met later go to the heavier child.
        left_weight = 0.0
        node_weight = 0.0
        for arm in range(n_arms):
            node_weight += node[arm, WEIGHT]
        for code in range(missing_bin):
            if left_bins[code]:
                code_weight = 0.0
                for arm in range(n_arms):
                    code_weight += feature_histogram[code, arm, WEIGHT]
                left_weight += code_weight
        left_bins[missing_bin] = left_weight >= node_weight - left_weight
    if categorical:
        # Categories absent from this node follow the missing-value direction, like unseen ones.
        for code in range(n_bins_non_missing[best_feature]):
            if row_count(feature_histogram[code]) == 0.0:
                left_bins[code] = left_bins[missing_bin]
    return best_feature, best_gain, best_raw_gain, left_bins


# -- squared error on a per-row target ------------------------------------------------------------------
# A squared-error reduction counts only above this fraction of the node's sum of w * t^2 (all target columns):
# the reduction is a difference of terms of that size, so rounding leaves reductions of about 1e-16 of it
# where the exact one is 0 (a constant target); see docs/criteria.md, "Squared error on a per-row target".
SQUARED_ERROR_TOLERANCE = 1e-10


def find_best_squared_error_split(target_histogram, arm_histogram, features, n_bins_non_missing, is_categorical,
                                  missing_bin, min_samples_leaf, min_samples_treatment):
    """Best split of a node over ``features`` by the weighted squared error of a per-row target.

    ``target_histogram[feature, bin, column, stat]`` holds, per target column ``c``, the histogram sums of the
    node's rows with ``y = t_c`` and a single arm (so its count and weight are the same in every column);
    ``arm_histogram[feature, bin, arm, stat]`` the node's histogram with arms, whose counts and weights the
    admissibility rule reads. Both are float64 C arrays as :class:`upliftree._grower.HistogramSource` builds
    them.

    Returns ``(feature, gain, raw_gain, left_bins)`` as :func:`find_best_split` does: ``gain`` (equal to
    ``raw_gain``) is the reduction of the weighted sum of squared errors, summed over the target columns,
    divided by the node's weight; ``feature == -1`` when no admissible split reduces it by more than
    ``SQUARED_ERROR_TOLERANCE`` of the node's ``Σ w t²``.
    """
    if target_histogram.shape[:2] != arm_histogram.shape[:2]:
        raise ValueError(f"target_histogram has (features, bins) {target_histogram.shape[:2]}, arm_histogram "
                         f"{arm_histogram.shape[:2]}: they must be histograms of the same node")
    n_bins_non_missing = kernel_array(n_bins_non_missing, np.int64)
    is_categorical = kernel_array(is_categorical, np.bool_)
    missing_bin = int(missing_bin)
    n_columns = target_histogram.shape[2]
    orders, order_sizes = _scan_orders(target_histogram, np.zeros((n_columns, N_STATS), dtype=np.float64), features,
                                       n_bins_non_missing, is_categorical, missing_bin, 0.0, True,
                                       np.empty((2, n_columns), dtype=np.float64))
    feature, gain, left_bins = best_squared_error_split(
        target_histogram, arm_histogram, features, orders, order_sizes, n_bins_non_missing, is_categorical,
        missing_bin, int(min_samples_leaf), int(min_samples_treatment), np.empty(missing_bin + 1, dtype=np.bool_))
    return feature, gain, gain, left_bins


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _child_cells(left, total, missing, missing_left, child_left, child_right):
    """A candidate's children's sums, cell by cell: the scanned non-missing bins ``left`` and ``total - left``,
    plus the missing bin's ``missing`` on the ``missing_left`` side."""
    for row in range(left.shape[0]):
        for stat in range(left.shape[1]):
            in_left = left[row, stat]
            in_right = total[row, stat] - in_left
            if missing_left:
                in_left += missing[row, stat]
            else:
                in_right += missing[row, stat]
            child_left[row, stat] = in_left
            child_right[row, stat] = in_right


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def best_squared_error_split(target_histogram, arm_histogram, features, orders, order_sizes, n_bins_non_missing,
                             is_categorical, missing_bin, min_samples_leaf, min_samples_treatment, left_bins):
    """The scan of :func:`find_best_squared_error_split`, over the candidates of :func:`best_split`.

    A candidate is admissible when both children keep ``min_samples_leaf`` rows, and ``max(min_samples_treatment,
    1)`` rows and some weight of every arm (as for the uplift criteria: a leaf lacking an arm would be merged by
    the node estimation). Its reduction is ``Σ_c (S_c(L)² / W(L) + S_c(R)² / W(R)) - Σ_c
    S_c² / W``. Returns ``(feature, gain, left_bins)``, gain the best reduction over the node's weight.
    """
    n_columns = target_histogram.shape[2]
    n_arms = arm_histogram.shape[2]
    for code in range(missing_bin + 1):
        left_bins[code] = False
    node = np.empty((n_columns, N_STATS), dtype=np.float64)
    node_totals_into(target_histogram, features[0], node)
    node_weight = node[0, WEIGHT]
    if not node_weight > 0.0:
        return -1, 0.0, left_bins
    node_square = 0.0
    node_target_square = 0.0
    for column in range(n_columns):
        node_square += node[column, WEIGHTED_Y] * node[column, WEIGHTED_Y]
        node_target_square += node[column, WEIGHTED_Y2]
    node_score = node_square / node_weight
    min_arm_rows = min_samples_treatment if min_samples_treatment > 1 else 1
    # Scratch sums, cleared for every feature: the non-missing bins before the threshold (``left``) and all of
    # them (``total``), added in scan order. A child's sums are ``left`` or ``total - left``, plus the missing
    # bin's on its side: a child without rows or weight then has sums exactly 0, and a partition reached by two
    # candidates (the missing rows alone on either side, with the non-missing bins of the other side empty)
    # has the same sums, so its exact tie goes to the first candidate, not to rounding.
    target_left = np.empty((n_columns, N_STATS), dtype=np.float64)
    target_total = np.empty((n_columns, N_STATS), dtype=np.float64)
    target_child_left = np.empty((n_columns, N_STATS), dtype=np.float64)
    target_child_right = np.empty((n_columns, N_STATS), dtype=np.float64)
    arm_left = np.empty((n_arms, N_STATS), dtype=np.float64)
    arm_total = np.empty((n_arms, N_STATS), dtype=np.float64)
    arm_child_left = np.empty((n_arms, N_STATS), dtype=np.float64)
    arm_child_right = np.empty((n_arms, N_STATS), dtype=np.float64)

    # Typed (not literal) starting values: a literal's type is widened one loop level per typing pass.
    best_position = np.int64(-1)
    best_prefix = np.int64(-1)
    best_missing_left = np.bool_(False)
    best_heavier_left = False
    best_reduction = SQUARED_ERROR_TOLERANCE * node_target_square
    for position in range(features.shape[0]):
        feature = features[position]
        categorical = is_categorical[feature]
        n_order = order_sizes[position] if categorical else n_bins_non_missing[feature]
        target_bins = target_histogram[feature]
        arm_bins = arm_histogram[feature]
        target_missing = target_bins[missing_bin]
        arm_missing = arm_bins[missing_bin]
        has_missing = target_missing[0, COUNT] > 0.0
        for column in range(n_columns):
            for stat in range(N_STATS):
                target_left[column, stat] = 0.0
                target_total[column, stat] = 0.0
        for arm in range(n_arms):
            for stat in range(N_STATS):
                arm_left[arm, stat] = 0.0
                arm_total[arm, stat] = 0.0
        for prefix in range(n_order):
            code = orders[position, prefix] if categorical else prefix
            add_cells(target_total, target_bins[code])
            add_cells(arm_total, arm_bins[code])
        for prefix in range(n_order):
            code = orders[position, prefix] if categorical else prefix
            add_cells(target_left, target_bins[code])
            add_cells(arm_left, arm_bins[code])
            last = prefix == n_order - 1
            for missing_left in (False, True):
                if (missing_left and not has_missing) or (last and (missing_left or not has_missing)):
                    continue
                _child_cells(arm_left, arm_total, arm_missing, missing_left, arm_child_left, arm_child_right)
                left_rows = 0.0
                right_rows = 0.0
                fewest_rows = arm_child_left[0, COUNT]
                least_weight = arm_child_left[0, WEIGHT]
                for arm in range(n_arms):
                    for child in (arm_child_left, arm_child_right):
                        fewest_rows = child[arm, COUNT] if child[arm, COUNT] < fewest_rows else fewest_rows
                        least_weight = child[arm, WEIGHT] if child[arm, WEIGHT] < least_weight else least_weight
                    left_rows += arm_child_left[arm, COUNT]
                    right_rows += arm_child_right[arm, COUNT]
                if not (fewest_rows >= min_arm_rows and least_weight > 0.0 and left_rows >= min_samples_leaf
                        and right_rows >= min_samples_leaf):
                    continue
                # Every arm has weight on both sides, so both children's (target histogram) weights are positive.
                _child_cells(target_left, target_total, target_missing, missing_left, target_child_left,
                             target_child_right)
                left_weight = target_child_left[0, WEIGHT]
                right_weight = target_child_right[0, WEIGHT]
                left_square = 0.0
                right_square = 0.0
                for column in range(n_columns):
                    left_square += target_child_left[column, WEIGHTED_Y] * target_child_left[column, WEIGHTED_Y]
                    right_square += target_child_right[column, WEIGHTED_Y] * target_child_right[column, WEIGHTED_Y]
                reduction = left_square / left_weight + right_square / right_weight - node_score
                if reduction > best_reduction:
                    best_position = position
                    best_prefix = prefix
                    best_missing_left = missing_left
                    best_heavier_left = left_weight >= right_weight
                    best_reduction = reduction

    if best_position < 0:
        return -1, 0.0, left_bins
    best_feature = features[best_position]
    categorical = is_categorical[best_feature]
    target_bins = target_histogram[best_feature]
    for prefix in range(best_prefix + 1):
        left_bins[orders[best_position, prefix] if categorical else prefix] = True
    # No missing rows here: missing values met later go to the heavier child.
    left_bins[missing_bin] = best_missing_left if target_bins[missing_bin, 0, COUNT] > 0.0 else best_heavier_left
    if categorical:
        # Categories absent from this node follow the missing-value direction, like unseen ones.
        for code in range(n_bins_non_missing[best_feature]):
            if target_bins[code, 0, COUNT] == 0.0:
                left_bins[code] = left_bins[missing_bin]
    return best_feature, best_reduction / node_weight, left_bins
