"""Uplift and Qini curves, and their bootstrap over resampled rows or clusters.

A curve is swept along the rows in descending score order, with one point at the end of each group of
tied scores, from the cumulative treated/control weights and weighted outcome sums (the weights are 1 without
a design, inverse-probability weights with known propensities). :mod:`upliftree.metrics` computes point
estimates with :func:`curve_points` (every row counted once) and the bootstrap kernels call the same sweep
with each resample's row counts, so both use one formula.

A row bootstrap resample draws ``n_treated`` rows with replacement from the treated rows and ``n_control``
from the control rows (arm sizes fixed); a row drawn ``c`` times counts ``c`` times. A cluster bootstrap
resample draws, in each stratum of clusters, as many clusters as the stratum has; every row of a cluster drawn
``c`` times counts ``c`` times. Draws come from a splitmix64 stream seeded per kernel call (``seed``): a call
reproduces its resamples whatever thread runs it, and :func:`resample_rows` / :func:`resample_cluster_counts`
return exactly the rows / clusters that the other kernels count for the same seed.

The bootstrap kernels return, per resample, a row of totals whose columns are the constants below.
"""

import math

import numpy as np
from numba import njit

from .sampling import add_draws, next_position

QINI = 0
UPLIFT = 1

# Columns of the per-resample totals: curve height with every row targeted, weights and weighted outcome sums of
# each arm, resampled rows and resampled treated rows.
FINAL_VALUE = 0
WEIGHT_TREATED = 1
WEIGHT_CONTROL = 2
OUTCOME_TREATED = 3
OUTCOME_CONTROL = 4
ROWS = 5
TREATED_ROWS = 6
N_TOTALS = 7


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def curve_points(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order, group_ends,
                 x, values, sums):
    """Sweep one curve (scikit-uplift 0.5.1 definitions, weighted) and its trapezoid area from (0, 0).

    Parameters
    ----------
    kind : int
        ``QINI`` or ``UPLIFT``.
    counts : int32 array (n_rows,)
        How many times each row counts (1 for the data itself, resample counts for a bootstrap).
    rows_in_order : int64 array (n_rows,)
        Rows by descending score.
    treated_in_order, control_in_order, outcome_in_order : float64 arrays (n_rows,)
        The row's weight if it is treated (else 0.0), its weight if it is a control row (else 0.0), and its
        outcome, all already in ``rows_in_order`` order: only ``counts`` is read out of order. Unit weights
        (1.0/0.0 flags) give the unweighted curves, bit for bit.
    group_ends : int64 array (n_groups,)
        Position in ``rows_in_order`` just past each group of tied scores.
    x, values : float64 arrays (n_groups,)
        Filled with the number of rows targeted and the curve height at each group end.
    sums : float64 array (4,)
        Filled with the total weight of each arm and the weighted outcome sum of each arm over all rows
        (treated weight, control weight, treated outcome, control outcome).

    Returns
    -------
    area : float
        Area under the curve.
    """
    n_treated = 0.0
    outcome_treated = 0.0
    n_control = 0.0
    outcome_control = 0.0
    n_targeted = 0.0
    area = 0.0
    previous_x = 0.0
    previous_value = 0.0
    position = np.int64(0)  # not a literal 0, which is typed again per loop level (docs/architecture.md)
    for group in range(group_ends.shape[0]):
        while position < group_ends[group]:
            count = counts[rows_in_order[position]]
            treated_count = count * treated_in_order[position]
            control_count = count * control_in_order[position]
            n_treated += treated_count
            outcome_treated += treated_count * outcome_in_order[position]
            n_control += control_count
            outcome_control += control_count * outcome_in_order[position]
            n_targeted += count
            position += 1
        if kind == QINI:
            # Y_t - Y_c * N_t / N_c; the control term is 0 while no control row is targeted.
            point_value = outcome_treated
            if n_control > 0:
                point_value = outcome_treated - outcome_control * (n_treated / n_control)
        else:
            # (Y_t / N_t - Y_c / N_c) * n; a rate is 0 while its arm is empty.
            rate_treated = outcome_treated / n_treated if n_treated > 0 else 0.0
            rate_control = outcome_control / n_control if n_control > 0 else 0.0
            point_value = (rate_treated - rate_control) * n_targeted
        x[group] = n_targeted
        values[group] = point_value
        area += (n_targeted - previous_x) * (point_value + previous_value)
        previous_x = n_targeted
        previous_value = point_value
    sums[0] = n_treated
    sums[1] = n_control
    sums[2] = outcome_treated
    sums[3] = outcome_control
    return area / 2.0


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def resample_rows(seed, n_boot, treated_rows, control_rows):
    """Rows of ``n_boot`` stratified resamples, (n_boot, n_treated + n_control): treated draws first."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    n_treated = treated_rows.shape[0]
    rows = np.empty((n_boot, n_treated + control_rows.shape[0]), dtype=np.int64)
    for rep in range(n_boot):
        column = 0
        for arm_rows in (treated_rows, control_rows):
            n_rows = arm_rows.shape[0]
            for _ in range(n_rows):
                rows[rep, column] = arm_rows[next_position(state, n_rows)]
                column += 1
    return rows


def _resample_buffers(seed, n_boot, n_rows):
    """What every curve bootstrap kernel resamples with, allocated here (a kernel's own ``np.empty`` of each
    dtype and shape is a Numba routine to compile, and a kernel that allocates needs reference counting): the
    per-resample totals ``(n_boot, N_TOTALS)``, the draw stream seeded with ``seed``, the rows' draw counts
    (refilled for every resample) and the scratch of :func:`.sampling.add_draws` (as long: an arm, or a
    stratum of clusters, has at most as many rows or clusters as the data has rows)."""
    return (np.empty((n_boot, N_TOTALS), dtype=np.float64), np.array([seed], dtype=np.uint64),
            np.empty(n_rows, dtype=np.int32), np.empty(n_rows, dtype=np.int32))


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, inline="always")
def _draw_rows(state, treated_rows, control_rows, counts, positions, totals, rep):
    """One stratified row resample: how many times each row is drawn into ``counts`` (cleared here), each arm
    drawing as many rows as it has; its row counts into ``totals[rep]`` (``positions``: scratch of
    :func:`.sampling.add_draws`)."""
    for row in range(counts.shape[0]):
        counts[row] = 0
    add_draws(state, treated_rows, treated_rows.shape[0], counts, positions)
    add_draws(state, control_rows, control_rows.shape[0], counts, positions)
    totals[rep, ROWS] = treated_rows.shape[0] + control_rows.shape[0]
    totals[rep, TREATED_ROWS] = treated_rows.shape[0]


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, inline="always")
def _draw_clusters(state, stratum_clusters, stratum_offsets, cluster_counts, positions):
    """One cluster resample: how many times each cluster is drawn, each stratum drawing as many as it has.

    Stratum ``s`` owns the clusters ``stratum_clusters[stratum_offsets[s]:stratum_offsets[s + 1]]``;
    ``positions`` is scratch of :func:`.sampling.add_draws`, as long as the largest stratum at least.
    """
    for cluster in range(cluster_counts.shape[0]):
        cluster_counts[cluster] = 0
    for stratum in range(stratum_offsets.shape[0] - 1):
        start = stratum_offsets[stratum]
        stop = stratum_offsets[stratum + 1]
        add_draws(state, stratum_clusters[start:stop], stop - start, cluster_counts, positions)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def resample_cluster_counts(seed, n_boot, stratum_clusters, stratum_offsets, n_clusters):
    """Draw counts of the clusters in ``n_boot`` cluster resamples, (n_boot, n_clusters) int32."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    draws = np.empty((n_boot, n_clusters), dtype=np.int32)
    cluster_counts = np.empty(n_clusters, dtype=np.int32)
    positions = np.empty(n_clusters, dtype=np.int32)
    for rep in range(n_boot):
        _draw_clusters(state, stratum_clusters, stratum_offsets, cluster_counts, positions)
        for cluster in range(n_clusters):
            draws[rep, cluster] = cluster_counts[cluster]
    return draws


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, inline="always")
def _spread_cluster_counts(cluster_counts, cluster_rows, cluster_offsets, cluster_treated, counts):
    """Each row counts as often as its cluster was drawn; returns the resample's rows and treated rows.

    Cluster ``c`` owns the rows ``cluster_rows[cluster_offsets[c]:cluster_offsets[c + 1]]`` and has
    ``cluster_treated[c]`` treated rows; every row belongs to one cluster, so every count is overwritten.
    """
    n_rows = 0
    n_treated = 0
    for cluster in range(cluster_counts.shape[0]):
        draws = cluster_counts[cluster]
        for position in range(cluster_offsets[cluster], cluster_offsets[cluster + 1]):
            counts[cluster_rows[position]] = draws
        n_rows += draws * (cluster_offsets[cluster + 1] - cluster_offsets[cluster])
        n_treated += draws * cluster_treated[cluster]
    return n_rows, n_treated


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, inline="always")
def _sweep_orderings(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order,
                     group_ends, group_offsets, x, values, sums, areas, totals, rep):
    """Curve areas of one resample for every ordering into ``areas[rep]``, its sums into ``totals[rep]``."""
    n_orderings = rows_in_order.shape[0]
    for ordering in range(n_orderings):
        ends = group_ends[group_offsets[ordering]:group_offsets[ordering + 1]]
        areas[rep, ordering] = curve_points(
            kind, counts, rows_in_order[ordering], treated_in_order[ordering], control_in_order[ordering],
            outcome_in_order[ordering], ends, x, values, sums,
        )
    # The last ordering's final point (its group count from the offsets: a loop variable read after its loop
    # costs Numba two more typing passes).
    totals[rep, FINAL_VALUE] = values[group_offsets[n_orderings] - group_offsets[n_orderings - 1] - 1]
    for column in range(4):
        totals[rep, WEIGHT_TREATED + column] = sums[column]


def _curve_buffers(n_points):
    """A curve's points (reused across resamples: fresh large arrays per resample cost page faults) and the
    scratch of its arm sums."""
    return np.empty(n_points, dtype=np.float64), np.empty(n_points, dtype=np.float64), np.empty(4, dtype=np.float64)


def bootstrap_curve_areas(
    seed, n_boot, kind, treated_rows, control_rows, rows_in_order, treated_in_order, control_in_order,
    outcome_in_order, group_ends, group_offsets,
):
    """Curve areas of ``n_boot`` row resamples for several row orderings at once.

    Parameters
    ----------
    seed : uint64
    n_boot : int
    kind : int
        ``QINI`` or ``UPLIFT``.
    treated_rows, control_rows : int64 arrays
        Row indices of each arm.
    rows_in_order, treated_in_order, control_in_order, outcome_in_order : (n_orderings, n_rows) arrays
        For each ordering (models, perfect curves), as in :func:`curve_points`.
    group_ends : int64 array
        The group ends of every ordering, concatenated; ordering ``k`` owns
        ``group_ends[group_offsets[k]:group_offsets[k + 1]]``.
    group_offsets : int64 array (n_orderings + 1,)

    Returns
    -------
    areas : (n_boot, n_orderings) float64
    totals : (n_boot, N_TOTALS) float64
        Per resample, the columns ``FINAL_VALUE`` (curve height with every row targeted, the same for every
        ordering) to ``TREATED_ROWS``.
    """
    areas = np.empty((n_boot, rows_in_order.shape[0]), dtype=np.float64)
    totals, state, counts, positions = _resample_buffers(seed, n_boot, rows_in_order.shape[1])
    # Point arrays long enough for the longest ordering.
    x, values, sums = _curve_buffers(int(np.diff(group_offsets).max(initial=0)))
    bootstrap_curve_areas_into(kind, treated_rows, control_rows, rows_in_order, treated_in_order, control_in_order,
                               outcome_in_order, group_ends, group_offsets, state, counts, positions, x, values, sums,
                               areas, totals)
    return areas, totals


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def bootstrap_curve_areas_into(kind, treated_rows, control_rows, rows_in_order, treated_in_order, control_in_order,
                               outcome_in_order, group_ends, group_offsets, state, counts, positions, x, values, sums,
                               areas, totals):
    """:func:`bootstrap_curve_areas` into ``areas`` and ``totals``, one resample per row, with the buffers of
    :func:`_resample_buffers` and :func:`_curve_buffers` (nothing allocated here, so no reference counting)."""
    for rep in range(areas.shape[0]):
        _draw_rows(state, treated_rows, control_rows, counts, positions, totals, rep)
        _sweep_orderings(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order,
                         group_ends, group_offsets, x, values, sums, areas, totals, rep)


def cluster_bootstrap_curve_areas(
    seed, n_boot, kind, stratum_clusters, stratum_offsets, cluster_rows, cluster_offsets, cluster_treated,
    rows_in_order, treated_in_order, control_in_order, outcome_in_order, group_ends, group_offsets,
):
    """:func:`bootstrap_curve_areas` on cluster resamples (see :func:`_draw_clusters` and
    :func:`_spread_cluster_counts` for the cluster arrays); the same outputs."""
    areas = np.empty((n_boot, rows_in_order.shape[0]), dtype=np.float64)
    totals, state, counts, positions = _resample_buffers(seed, n_boot, rows_in_order.shape[1])
    x, values, sums = _curve_buffers(int(np.diff(group_offsets).max(initial=0)))
    cluster_bootstrap_curve_areas_into(
        kind, stratum_clusters, stratum_offsets, cluster_rows, cluster_offsets, cluster_treated, rows_in_order,
        treated_in_order, control_in_order, outcome_in_order, group_ends, group_offsets, state, counts, positions,
        np.empty(cluster_treated.shape[0], dtype=np.int32), x, values, sums, areas, totals)
    return areas, totals


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def cluster_bootstrap_curve_areas_into(
    kind, stratum_clusters, stratum_offsets, cluster_rows, cluster_offsets, cluster_treated, rows_in_order,
    treated_in_order, control_in_order, outcome_in_order, group_ends, group_offsets, state, counts, positions,
    cluster_counts, x, values, sums, areas, totals,
):
    """:func:`cluster_bootstrap_curve_areas` into ``areas`` and ``totals`` (``cluster_counts``: int32 scratch,
    one per cluster)."""
    for rep in range(areas.shape[0]):
        _draw_clusters(state, stratum_clusters, stratum_offsets, cluster_counts, positions)
        n_rows, n_treated = _spread_cluster_counts(cluster_counts, cluster_rows, cluster_offsets, cluster_treated,
                                                   counts)
        _sweep_orderings(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order,
                         group_ends, group_offsets, x, values, sums, areas, totals, rep)
        totals[rep, ROWS] = n_rows
        totals[rep, TREATED_ROWS] = n_treated


def _grid_buffers(group_ends):
    """:func:`_curve_buffers` for a curve read on a grid: its points start at (0, 0), the sweep fills the points
    after it."""
    x, values, sums = _curve_buffers(group_ends.shape[0] + 1)
    x[0] = 0.0
    values[0] = 0.0
    return x, values, sums


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, inline="always")
def _curve_on_grid(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order,
                   group_ends, grid, x, values, sums, curves, totals, rep):
    """One resample's curve (starting at (0, 0): ``x[0] = values[0] = 0``) read at ``grid`` into
    ``curves[rep]``, its sums into ``totals[rep]``."""
    curve_points(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order, group_ends,
                 x[1:], values[1:], sums)
    _interpolate(grid, x, values, curves[rep])
    totals[rep, FINAL_VALUE] = values[group_ends.shape[0]]
    for column in range(4):
        totals[rep, WEIGHT_TREATED + column] = sums[column]


def bootstrap_curves_on_grid(
    seed, n_boot, kind, treated_rows, control_rows, rows_in_order, treated_in_order, control_in_order,
    outcome_in_order, group_ends, grid,
):
    """Curve heights of ``n_boot`` row resamples at the numbers targeted in ``grid`` (linear between points).

    ``rows_in_order``, ``treated_in_order``, ``control_in_order``, ``outcome_in_order`` (n_rows,) and
    ``group_ends`` describe one ordering as in :func:`curve_points`; other arguments as in
    :func:`bootstrap_curve_areas`. Returns an (n_boot, grid.size) float64 array and the totals of
    :func:`bootstrap_curve_areas`.
    """
    curves = np.empty((n_boot, grid.shape[0]), dtype=np.float64)
    totals, state, counts, positions = _resample_buffers(seed, n_boot, rows_in_order.shape[0])
    bootstrap_curves_on_grid_into(kind, treated_rows, control_rows, rows_in_order, treated_in_order,
                                  control_in_order, outcome_in_order, group_ends, grid, state, counts, positions,
                                  *_grid_buffers(group_ends), curves, totals)
    return curves, totals


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def bootstrap_curves_on_grid_into(kind, treated_rows, control_rows, rows_in_order, treated_in_order,
                                  control_in_order, outcome_in_order, group_ends, grid, state, counts, positions, x,
                                  values, sums, curves, totals):
    """:func:`bootstrap_curves_on_grid` into ``curves`` and ``totals`` with the buffers of
    :func:`_resample_buffers` and :func:`_grid_buffers`."""
    for rep in range(curves.shape[0]):
        _draw_rows(state, treated_rows, control_rows, counts, positions, totals, rep)
        _curve_on_grid(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order,
                       group_ends, grid, x, values, sums, curves, totals, rep)


def cluster_bootstrap_curves_on_grid(
    seed, n_boot, kind, stratum_clusters, stratum_offsets, cluster_rows, cluster_offsets, cluster_treated,
    rows_in_order, treated_in_order, control_in_order, outcome_in_order, group_ends, grid,
):
    """:func:`bootstrap_curves_on_grid` on cluster resamples, each curve read at the same *shares* of rows.

    A cluster resample has ``m`` rows, not the data's ``n``: its curve is read at ``grid * m / n`` (the same
    shares of rows targeted as ``grid``); the heights are returned as swept, for the caller to rescale with
    the returned totals.
    """
    curves = np.empty((n_boot, grid.shape[0]), dtype=np.float64)
    totals, state, counts, positions = _resample_buffers(seed, n_boot, rows_in_order.shape[0])
    cluster_bootstrap_curves_on_grid_into(
        kind, stratum_clusters, stratum_offsets, cluster_rows, cluster_offsets, cluster_treated, rows_in_order,
        treated_in_order, control_in_order, outcome_in_order, group_ends, grid, state, counts, positions,
        np.empty(cluster_treated.shape[0], dtype=np.int32), *_grid_buffers(group_ends),
        np.empty(grid.shape[0], dtype=np.float64), curves, totals)
    return curves, totals


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def cluster_bootstrap_curves_on_grid_into(
    kind, stratum_clusters, stratum_offsets, cluster_rows, cluster_offsets, cluster_treated, rows_in_order,
    treated_in_order, control_in_order, outcome_in_order, group_ends, grid, state, counts, positions, cluster_counts, x,
    values, sums, shares, curves, totals,
):
    """:func:`cluster_bootstrap_curves_on_grid` into ``curves`` and ``totals`` (``cluster_counts``: int32, one
    per cluster, and ``shares``: float64, like ``grid``, are scratch)."""
    n_data_rows = rows_in_order.shape[0]
    for rep in range(curves.shape[0]):
        _draw_clusters(state, stratum_clusters, stratum_offsets, cluster_counts, positions)
        n_rows, n_treated = _spread_cluster_counts(cluster_counts, cluster_rows, cluster_offsets, cluster_treated,
                                                   counts)
        for point in range(grid.shape[0]):
            shares[point] = grid[point] * n_rows / n_data_rows
        _curve_on_grid(kind, counts, rows_in_order, treated_in_order, control_in_order, outcome_in_order,
                       group_ends, shares, x, values, sums, curves, totals, rep)
        totals[rep, ROWS] = n_rows
        totals[rep, TREATED_ROWS] = n_treated


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, inline="always")
def _interpolate(at, x, values, out):
    """``out[:] = np.interp(at, x, values)`` (``x`` nondecreasing), with NumPy's arithmetic and edge cases.

    Written out because numba's ``np.interp`` cost almost a second of compile time. Between ``x[j] <= a <
    x[j + 1]`` (the last such ``j`` when ``x`` repeats) the value is ``slope * (a - x[j]) + values[j]``; at or
    beyond the ends it is the end value. The search walks forward from the previous point, so increasing
    ``at`` (a grid) costs one pass over ``x``.
    """
    n_points = x.shape[0]
    last = n_points - 1
    if n_points == 1:
        for i in range(at.shape[0]):
            out[i] = values[0]
        return
    j = 0
    for i in range(at.shape[0]):
        a = at[i]
        if math.isnan(a):
            out[i] = a
            continue
        if a > x[last]:
            out[i] = values[last]
            continue
        if a < x[0]:
            out[i] = values[0]
            continue
        if x[j] > a:
            j = 0
        while j < last and x[j + 1] <= a:
            j += 1
        if j == last or x[j] == a:
            out[i] = values[j]
            continue
        slope = (values[j + 1] - values[j]) / (x[j + 1] - x[j])
        result = slope * (a - x[j]) + values[j]
        if math.isnan(result):
            # NumPy retries from the right end, then takes the common value of a flat segment.
            result = slope * (a - x[j + 1]) + values[j + 1]
            if math.isnan(result) and values[j] == values[j + 1]:
                result = values[j]
        out[i] = result
