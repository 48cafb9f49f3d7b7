"""Bottom-up pruning of a fitted tree on held-out (validation) rows.

A split is kept only if the difference between its two children's uplifts replicates on the validation rows:
same direction as in the fitted tree and significantly different from zero. The rule, its multiplicity
correction and its rationale are in ``docs/honesty.md``.
"""

from __future__ import annotations

import numpy as np

from ._params import check_alpha, check_choice
from ._tree_arrays import TreeArrays
from .design import arm_mean_moments
from .segments import arm_moments

__all__ = ["CORRECTIONS", "prune_splits"]

CORRECTIONS = ("bonferroni", "none")


def _uplift_and_variance(validation_stats: np.ndarray, validation_moments: np.ndarray | None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validation uplift per node and treatment, its variance, and whether both are defined.

    With design moments the variance is the robust one of the difference of Hajek means (``docs/design.md``).
    """
    if validation_moments is not None:
        mean, arm_variance, units, covariance = arm_mean_moments(validation_stats, validation_moments)
        defined = (units[:, 1:] >= 2) & (units[:, :1] >= 2)
        variance = arm_variance[:, 1:] + arm_variance[:, :1] - 2.0 * covariance
        return mean[:, 1:] - mean[:, :1], np.where(defined, np.maximum(variance, 0.0), np.nan), defined
    moments = arm_moments(validation_stats)
    uplift = moments.mean[:, 1:] - moments.mean[:, :1]
    n_effective = moments.n_effective
    with np.errstate(divide="ignore", invalid="ignore"):
        share = moments.variance / n_effective
    variance = share[:, 1:] + share[:, :1]
    defined = (n_effective[:, 1:] >= 2) & (n_effective[:, :1] >= 2)
    return uplift, np.where(defined, variance, np.nan), defined


def prune_splits(tree: TreeArrays, validation_stats: np.ndarray, alpha: float = 0.05,
                 correction: str = "bonferroni", validation_moments: np.ndarray | None = None
                 ) -> tuple[TreeArrays, int]:
    """Collapse, bottom-up, every split whose children's uplift difference does not replicate.

    Parameters
    ----------
    tree : TreeArrays
        The fitted tree; its node statistics (the fit's estimation rows) are kept for the nodes that remain.
    validation_stats : ndarray ``(n_nodes, n_arms, 5)``
        Statistics of the validation rows routed through ``tree`` (``tree.route_statistics``).
    alpha : float
        Level of each split's test before the multiplicity correction.
    validation_moments : ndarray ``(n_nodes, n_arms, N_MOMENTS)``, optional
        Design moments of the same validation rows (:func:`upliftree.design.design_moments`) when they come from
        an experiment with known propensities or clusters: the tests then use robust variances.
    correction : {"bonferroni", "none"}
        ``"bonferroni"`` tests each split and treatment at ``alpha / (n_splits * n_treatments)``, with
        ``n_splits`` the splits of ``tree``, so that on data without any effect heterogeneity the chance of
        keeping any split is at most about ``alpha``; ``"none"`` tests each at ``alpha``.

    Returns
    -------
    pruned : TreeArrays
    n_pruned : int
        Number of splits removed.
    """
    from scipy import special

    check_alpha(alpha)
    check_choice(correction, "correction", CORRECTIONS)
    expected_shape = tree.stats.shape
    if validation_stats.shape != expected_shape:
        raise ValueError(f"validation_stats must have shape {expected_shape}, got {validation_stats.shape}")
    n_splits = tree.n_splits
    if n_splits == 0:
        return tree, 0
    n_tests = n_splits * (tree.n_arms - 1) if correction == "bonferroni" else 1
    critical_z = special.ndtri(1.0 - alpha / n_tests / 2.0)

    uplift, variance, defined = _uplift_and_variance(validation_stats, validation_moments)
    fitted_uplift = tree.uplift
    is_leaf = tree.is_leaf.copy()
    collapsed = []
    for node in range(tree.n_nodes - 1, -1, -1):  # children have larger ids than their parent
        left, right = tree.children_left[node], tree.children_right[node]
        if left < 0 or not (is_leaf[left] and is_leaf[right]):
            continue  # a leaf, or a split with a kept split below it
        fitted_direction = np.sign(fitted_uplift[left] - fitted_uplift[right])
        difference = uplift[left] - uplift[right]
        standard_error = np.sqrt(variance[left] + variance[right])
        testable = defined[left] & defined[right]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(standard_error > 0, difference / standard_error, np.sign(difference) * np.inf)
        replicated = testable & (fitted_direction != 0) & (z * fitted_direction >= critical_z)
        if not replicated.any():
            is_leaf[node] = True
            collapsed.append(node)
    if not collapsed:
        return tree, 0
    pruned = tree.collapse(collapsed)
    return pruned, n_splits - pruned.n_splits
