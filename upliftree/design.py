"""The experiment's design in the node estimates: inverse-probability weights and cluster-robust moments.

An experiment whose arm probabilities vary between rows (stratified allocation, a ramp-up) is estimated with
inverse-probability weights ``w = sample_weight / p(received arm)``; arm means are then Hajek (normalized)
means ``S / W`` with ``S = sum w y`` and ``W = sum w``. Their variance, and that of a difference of arms, is
estimated by linearization over the units of randomization (Horvitz-Thompson / sandwich estimator): with
cluster sums ``S_c, W_c`` of an arm in a node and residual totals ``r_c = S_c - m W_c``,

    Var(m) = G / (G - 1) * sum_c r_c^2 / W^2,
    Cov(m_a, m_0) = G / (G - 1) * sum_c r_c^a r_c^0 / (W_a W_0)

(Liang & Zeger 1986; Cameron & Miller 2015, section II.C for the G/(G-1) factor). Without ``cluster`` every
row is its own unit. ``design_moments`` holds the sums these need, per node and arm, so that intervals can be
formed for any node once its means are known. Formulas and sources: ``docs/design.md``.
"""

from __future__ import annotations

import numpy as np

from ._kernels.stats_layout import COUNT, N_STATS, WEIGHT, WEIGHT_SQUARED, WEIGHTED_Y, WEIGHTED_Y2

__all__ = [
    "arm_mean_moments",
    "CROSS_SS",
    "CROSS_SW",
    "CROSS_WS",
    "CROSS_WW",
    "N_MOMENTS",
    "N_UNITS",
    "OWN_SS",
    "OWN_SW",
    "OWN_WW",
    "cluster_holdout",
    "design_moments",
    "held_out_clusters",
    "moments_of_unit_totals",
    "unit_totals",
    "one_node_moments",
    "robust_mean_covariance",
]

# Columns of the design moments ``(n_nodes, n_arms, N_MOMENTS)``; S and W are an arm's unit (cluster) totals of
# w*y and w within the node, S0 and W0 the control arm's totals of the same unit.
N_UNITS = 0  # units (clusters, or rows) of the arm with rows in the node
OWN_WW = 1  # sum over units of W^2
OWN_SW = 2  # sum over units of S*W
OWN_SS = 3  # sum over units of S^2
CROSS_WW = 4  # sum over units of W*W0 (0 for the control arm itself)
CROSS_WS = 5  # sum over units of W*S0
CROSS_SW = 6  # sum over units of S*W0
CROSS_SS = 7  # sum over units of S*S0
N_MOMENTS = 8


def design_moments(parent: np.ndarray, leaves: np.ndarray, arm: np.ndarray, weight: np.ndarray, y: np.ndarray,
                   cluster: np.ndarray | None, n_arms: int) -> np.ndarray:
    """Sums of unit totals per node and arm (columns ``N_UNITS`` ... ``CROSS_SS``).

    Parameters
    ----------
    parent : ndarray of int ``(n_nodes,)``
        The node table's parents (-1 for the root).
    leaves : ndarray of int ``(n_rows,)``
        The node each row reaches (``tree.apply``); every ancestor of it counts the row too.
    arm, weight, y : ndarray ``(n_rows,)``
        Arm codes (control 0), design weights and outcomes.
    cluster : ndarray of int ``(n_rows,)`` or None
        Integer codes of the unit of randomization (any values; sorted codes fix the order of the sums, so the
        result does not depend on the order of the rows beyond rounding); None makes every row its own unit.
    n_arms : int

    One compiled pass over the rows (``upliftree._kernels.design``): with clusters each row walks up its
    ancestors (``unit_moments``, after a counting sort of the rows by unit); rows as units need only per-leaf
    sums (``row_moments``).
    """
    # Imported on first use: the column constants above are read by modules that need no compiled code.
    from ._kernels.boundary import kernel_array
    from ._kernels.design import row_moments, unit_moments

    rows = (kernel_array(parent, np.int64), kernel_array(leaves, np.int64), kernel_array(arm, np.int64),
            kernel_array(weight, np.float64), kernel_array(y, np.float64))
    if cluster is None:
        return row_moments(*rows, int(n_arms))
    # Units summed in the order of their codes (sorted ids), rows of a unit in their order: the kernel sorts
    # codes 0 .. n_units - 1; codes that are not (negative, or sparse) are first made so, in the same order.
    units = np.asarray(cluster)
    n_units = int(units.max()) + 1 if len(units) else 0
    if len(units) and (units.min() < 0 or n_units > 2 * len(units) + 1024):
        uniques, units = np.unique(units, return_inverse=True)
        n_units = len(uniques)
    return unit_moments(*rows, kernel_array(units, np.int64), n_units, int(n_arms))


def robust_mean_covariance(mean: np.ndarray, weight: np.ndarray, moments: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Variance of every arm's mean and covariance of each treatment's mean with control's.

    Parameters
    ----------
    mean, weight : ndarray ``(n_nodes, n_arms)``
        Hajek means ``S / W`` and total weights ``W`` per node and arm.
    moments : ndarray ``(n_nodes, n_arms, N_MOMENTS)``
        From :func:`design_moments`.

    Returns
    -------
    variance : ndarray ``(n_nodes, n_arms)``
        ``G/(G-1) sum_c (S_c - m W_c)^2 / W^2``, G the arm's units; NaN with fewer than 2 units or no weight.
    covariance : ndarray ``(n_nodes, n_arms - 1)``
        With control, over the units holding both arms (0 when each unit received one arm, as in a cluster
        randomized experiment); the factor uses the larger of the two arms' unit counts.
    """
    units = moments[..., N_UNITS]
    usable = (units >= 2) & (weight > 0)
    safe_weight = np.where(usable, weight, 1.0)
    residual_squares = moments[..., OWN_SS] - 2.0 * mean * moments[..., OWN_SW] + mean * mean * moments[..., OWN_WW]
    # Rounding can leave a tiny negative sum of squares where every unit has the same mean.
    residual_squares = np.maximum(residual_squares, 0.0)
    factor = np.where(usable, units / np.where(usable, units - 1.0, 1.0), np.nan)
    variance = np.where(usable, factor * residual_squares / (safe_weight * safe_weight), np.nan)
    mean_t, mean_c = mean[:, 1:], mean[:, :1]
    treated = moments[:, 1:]
    cross = (treated[..., CROSS_SS] - mean_c * treated[..., CROSS_SW] - mean_t * treated[..., CROSS_WS]
             + mean_t * mean_c * treated[..., CROSS_WW])
    both_usable = usable[:, 1:] & usable[:, :1]
    pair_units = np.maximum(units[:, 1:], units[:, :1])
    pair_factor = np.where(both_usable, pair_units / np.where(both_usable, pair_units - 1.0, 1.0), np.nan)
    covariance = np.where(both_usable, pair_factor * cross / (safe_weight[:, 1:] * safe_weight[:, :1]), np.nan)
    return variance, covariance


def arm_mean_moments(stats: np.ndarray, moments: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hajek mean, its robust variance and unit count per node and arm, and each treatment's covariance with
    control, from node statistics ``(n_nodes, n_arms, N_STATS)`` and their design moments.

    Means are 0 and variances NaN where an arm has no weight (callers see it in the unit counts).
    """
    weight = stats[..., WEIGHT]
    has_weight = weight > 0
    mean = np.where(has_weight, stats[..., WEIGHTED_Y] / np.where(has_weight, weight, 1.0), 0.0)
    variance, covariance = robust_mean_covariance(mean, weight, moments)
    return mean, variance, moments[..., N_UNITS], covariance


def one_node_moments(arm: np.ndarray, weight: np.ndarray, y: np.ndarray, cluster: np.ndarray | None,
                     n_arms: int) -> tuple[np.ndarray, np.ndarray]:
    """Node statistics ``(1, n_arms, N_STATS)`` and design moments ``(1, n_arms, N_MOMENTS)`` of all the rows
    as one node: what :func:`arm_mean_moments` takes for an average effect over a sample.

    ``cluster`` holds integer unit codes (any non-negative values) or None (rows are the units).
    """
    cell = arm.astype(np.int64)
    stats = np.zeros((1, n_arms, N_STATS), dtype=np.float64)
    for column, values in ((COUNT, None), (WEIGHT, weight), (WEIGHTED_Y, weight * y),
                           (WEIGHTED_Y2, weight * y * y), (WEIGHT_SQUARED, weight * weight)):
        stats[0, :, column] = np.bincount(cell, weights=values, minlength=n_arms)
    moments = design_moments(np.array([-1]), np.zeros(len(arm), dtype=np.int64), cell, weight, y, cluster, n_arms)
    return stats, moments


def unit_totals(parent: np.ndarray, leaves: np.ndarray, arm: np.ndarray, weight: np.ndarray, y: np.ndarray,
                cluster: np.ndarray, n_arms: int) -> tuple[np.ndarray, ...]:
    """Every (node, unit) pair's per-arm totals: the parts of :func:`design_moments` that add up over rows.

    Rows of one unit met in several places (Dask partitions) give totals that sum to the unit's; the moments,
    which square them, do not (:func:`moments_of_unit_totals` forms them once the totals are complete).

    Returns
    -------
    node, unit : ndarray of int ``(n_pairs,)``
        The pairs, ordered by node then unit code.
    rows, weight, weighted_y : ndarray ``(n_pairs, n_arms)``
        Per arm: the unit's rows, ``sum w`` and ``sum w y`` in the node.
    """
    n_rows = len(leaves)
    cluster = np.asarray(cluster, dtype=np.int64)
    pair_nodes, pair_rows = [], []
    node, rows = np.asarray(leaves, dtype=np.int64), np.arange(n_rows, dtype=np.int64)
    while len(rows):  # every row with each of its ancestors
        pair_nodes.append(node)
        pair_rows.append(rows)
        has_parent = parent[node] >= 0
        node, rows = parent[node[has_parent]], rows[has_parent]
    pair_node = np.concatenate(pair_nodes) if pair_nodes else np.zeros(0, dtype=np.int64)
    pair_row = np.concatenate(pair_rows) if pair_rows else np.zeros(0, dtype=np.int64)
    n_units = int(cluster.max()) + 1 if n_rows else 1
    key, group = np.unique(pair_node * n_units + cluster[pair_row], return_inverse=True)
    cell = group * n_arms + np.asarray(arm, dtype=np.int64)[pair_row]
    n_cells = len(key) * n_arms
    totals = [np.bincount(cell, weights=values, minlength=n_cells).reshape(len(key), n_arms)
              for values in (None, weight[pair_row], (weight * y)[pair_row])]
    return (key // n_units, key % n_units, *totals)


def moments_of_unit_totals(node: np.ndarray, rows: np.ndarray, weight: np.ndarray, weighted_y: np.ndarray,
                           n_nodes: int) -> np.ndarray:
    """:func:`design_moments` from complete per-(node, unit) totals (:func:`unit_totals`, one entry per pair)."""
    n_arms = weight.shape[1]
    moments = np.zeros((n_nodes, n_arms, N_MOMENTS), dtype=np.float64)
    node = np.asarray(node, dtype=np.int64)
    for arm_code in range(n_arms):
        arm_weight, arm_sum = weight[:, arm_code], weighted_y[:, arm_code]
        columns = {N_UNITS: (rows[:, arm_code] > 0).astype(np.float64), OWN_WW: arm_weight * arm_weight,
                   OWN_SW: arm_sum * arm_weight, OWN_SS: arm_sum * arm_sum}
        if arm_code > 0:
            columns.update({CROSS_WW: arm_weight * weight[:, 0], CROSS_WS: arm_weight * weighted_y[:, 0],
                            CROSS_SW: arm_sum * weight[:, 0], CROSS_SS: arm_sum * weighted_y[:, 0]})
        for column, values in columns.items():
            moments[:, arm_code, column] = np.bincount(node, weights=values, minlength=n_nodes)
    return moments


def held_out_clusters(rows_by_arm: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean per cluster (rows of ``rows_by_arm``, ``(n_clusters, n_arms)`` row counts, clusters in code order):
    ``fraction`` of the clusters of every arm, a cluster's arm being the one most of its rows received (the
    smallest code on ties). Clusters without rows are never held out."""
    stratum = np.argmax(rows_by_arm, axis=1)
    present = rows_by_arm.sum(axis=1) > 0
    held_out = np.zeros(len(rows_by_arm), dtype=np.bool_)
    for arm_code in range(rows_by_arm.shape[1]):
        members = np.flatnonzero(present & (stratum == arm_code))
        n_held_out = int(round(fraction * len(members)))
        held_out[rng.permutation(members)[:n_held_out]] = True
    return held_out


def cluster_holdout(cluster: np.ndarray, arm: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of rows held out: ``fraction`` of the clusters of every arm, whole clusters only.

    A cluster's stratum is the arm most of its rows received (the smallest code on ties), so a cluster
    randomized experiment holds out the same share of treated and control clusters. Clusters are taken in the
    order of their codes (sorted ids), so the mask does not depend on the order of the rows
    (:func:`held_out_clusters`).
    """
    n_clusters = int(cluster.max()) + 1
    n_arms = int(arm.max()) + 1
    rows_by_arm = np.bincount(cluster * n_arms + arm, minlength=n_clusters * n_arms).reshape(n_clusters, n_arms)
    return held_out_clusters(rows_by_arm, fraction, rng)[cluster]
