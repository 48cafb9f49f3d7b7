"""Per-row variance terms of a forest grown in little bags (groups of trees sharing a half-sample).

For one row and one treatment, tree ``t`` of group ``g`` gives the uplift ``u_gt`` (its leaf's treatment value
minus its control value). With ``G`` groups of ``l`` trees, mean ``u`` over all trees and group means ``u_g``:

    between = mean_g (u_g - u)^2,      total = mean_gt (u_gt - u)^2,      noise = (total - between) / (l - 1)

``between - noise`` estimates the variance of the forest's uplift (the "bootstrap of little bags" of Sexton &
Laake 2009, as in Athey, Tibshirani & Wager 2019, section 4.1); the caller debiases it (``upliftree.predictor``).

The mean prediction over a group of rows (a decile, a segment) is a mean over trees too: tree ``t``'s mean over
the rows. The same terms over those per-tree group means estimate its variance (:func:`group_tree_sums`).
"""

from numba import njit


@njit(cache=True, nogil=True)
def little_bag_terms(leaves, value, group_size, uplift, between, noise):
    """Fill ``uplift``, ``between`` and ``noise`` ``(n_rows, n_arms - 1)`` from the stacked leaf of every row
    in every tree, ``leaves`` ``(n_rows, n_trees)``, and the stacked values ``value`` ``(n_arms, n_nodes)``.

    ``uplift`` is the forest's uplift exactly as ``predictor.forest_pass`` computes it (each arm's values summed
    in tree order, divided once, control subtracted), so an interval needs no second pass to find its centre.
    Trees ``g * group_size ... (g + 1) * group_size - 1`` form group ``g``. The variance sums are taken of
    differences from the row's uplift in the first tree, so they do not lose digits to a large common uplift.
    """
    n_rows, n_trees = leaves.shape
    n_treatments = value.shape[0] - 1
    n_groups = n_trees // group_size
    for row in range(n_rows):
        for treatment in range(n_treatments):
            arm = treatment + 1
            first = leaves[row, 0]
            shift = value[arm, first] - value[0, first]
            arm_total = 0.0
            control_total = 0.0
            total_sum = 0.0
            total_squares = 0.0
            group_squares = 0.0
            for group in range(n_groups):
                group_sum = 0.0
                for member in range(group_size):
                    leaf = leaves[row, group * group_size + member]
                    arm_total += value[arm, leaf]
                    control_total += value[0, leaf]
                    deviation = value[arm, leaf] - value[0, leaf] - shift
                    group_sum += deviation
                    total_squares += deviation * deviation
                total_sum += group_sum
                group_mean = group_sum / group_size
                group_squares += group_mean * group_mean
            overall = total_sum / (n_groups * group_size)
            between_value = group_squares / n_groups - overall * overall
            total_value = total_squares / (n_groups * group_size) - overall * overall
            uplift[row, treatment] = arm_total / n_trees - control_total / n_trees
            between[row, treatment] = between_value
            noise[row, treatment] = (total_value - between_value) / (group_size - 1)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def group_tree_sums(leaves, value, row_group, sums):
    """Add, for every row and tree, the row's leaf values to its row group's entry of that tree: ``sums[arm,
    group * n_trees + tree] += value[arm, leaves[row, tree]]`` with ``group = row_group[row]``; ``leaves``
    ``(n_rows, n_trees)``, ``row_group`` ``(n_rows,)`` codes ``0 .. n_row_groups - 1``, ``sums`` ``(n_arms,
    n_row_groups * n_trees)``.

    Divided by the groups' sizes, ``sums`` is a value table whose "leaf" ``group * n_trees + tree`` holds tree
    ``tree``'s mean prediction over the group's rows: :func:`little_bag_terms` on it gives the little-bag terms of
    the group means (``upliftree.predictor.StackedForest.group_uplift_with_variance``).
    """
    n_rows, n_trees = leaves.shape
    n_arms = value.shape[0]
    for row in range(n_rows):
        offset = row_group[row] * n_trees
        for tree in range(n_trees):
            leaf = leaves[row, tree]
            for arm in range(n_arms):
                sums[arm, offset + tree] += value[arm, leaf]
