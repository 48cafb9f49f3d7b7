"""Uplift and Qini curves, and their bootstrap over resampled rows.

A curve is swept along the rows in descending score order, with one point at the end of each group of
tied scores, from the cumulative treated/control counts and outcome sums. :mod:`upliftree.metrics`
computes point estimates with :func:`curve_points` (every row counted once) and the bootstrap kernels
call the same sweep with each resample's row counts, so both use one formula.

A bootstrap resample draws ``n_treated`` rows with replacement from the treated rows and ``n_control``
from the control rows (arm sizes fixed); a row drawn ``c`` times counts ``c`` times. Draws come from a
splitmix64 stream seeded per kernel call (``seed``): a call reproduces its resamples whatever thread runs
it, and :func:`resample_rows` returns exactly the rows that the other kernels count for the same seed.
"""

import numpy as np
from numba import njit

from .sampling import add_draws, next_position

QINI = 0
UPLIFT = 1


@njit(cache=True, nogil=True)
def curve_points(kind, counts, rows_in_order, treated_in_order, outcome_in_order, group_ends, x, values):
    """Sweep one curve (scikit-uplift 0.5.1 definitions) and its trapezoid area from (0, 0).

    Parameters
    ----------
    kind : int
        ``QINI`` or ``UPLIFT``.
    counts : int32 array (n_rows,)
        How many times each row counts (1 for the data itself, resample counts for a bootstrap).
    rows_in_order : int64 array (n_rows,)
        Rows by descending score.
    treated_in_order, outcome_in_order : float64 arrays (n_rows,)
        1.0 for treated and 0.0 for control rows (arithmetic instead of a branch per row), and the outcome,
        both already in ``rows_in_order`` order: only ``counts`` is read out of order.
    group_ends : int64 array (n_groups,)
        Position in ``rows_in_order`` just past each group of tied scores.
    x, values : float64 arrays (n_groups,)
        Filled with the number of rows targeted and the curve height at each group end.

    Returns
    -------
    area, outcome_treated, outcome_control : float
        Area under the curve and the outcome sum of each arm over all rows.
    """
    n_treated = 0.0
    outcome_treated = 0.0
    n_control = 0.0
    outcome_control = 0.0
    area = 0.0
    previous_x = 0.0
    previous_value = 0.0
    position = 0
    for group in range(group_ends.shape[0]):
        while position < group_ends[group]:
            count = counts[rows_in_order[position]]
            treated_count = count * treated_in_order[position]
            control_count = count - treated_count
            n_treated += treated_count
            outcome_treated += treated_count * outcome_in_order[position]
            n_control += control_count
            outcome_control += control_count * outcome_in_order[position]
            position += 1
        point_x = n_treated + n_control
        if kind == QINI:
            # Y_t - Y_c * N_t / N_c; the control term is 0 while no control row is targeted.
            point_value = outcome_treated
            if n_control > 0:
                point_value = outcome_treated - outcome_control * (n_treated / n_control)
        else:
            # (Y_t / N_t - Y_c / N_c) * (N_t + N_c); a rate is 0 while its arm is empty.
            rate_treated = outcome_treated / n_treated if n_treated > 0 else 0.0
            rate_control = outcome_control / n_control if n_control > 0 else 0.0
            point_value = (rate_treated - rate_control) * (n_treated + n_control)
        x[group] = point_x
        values[group] = point_value
        area += (point_x - previous_x) * (point_value + previous_value)
        previous_x = point_x
        previous_value = point_value
    return area / 2.0, outcome_treated, outcome_control


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def bootstrap_curve_areas(
    seed, n_boot, kind, treated_rows, control_rows, rows_in_order, treated_in_order, outcome_in_order,
    group_ends, group_offsets,
):
    """Curve areas of ``n_boot`` resamples for several row orderings at once.

    Parameters
    ----------
    seed : uint64
    n_boot : int
    kind : int
        ``QINI`` or ``UPLIFT``.
    treated_rows, control_rows : int64 arrays
        Row indices of each arm.
    rows_in_order, treated_in_order, outcome_in_order : (n_orderings, n_rows) arrays
        For each ordering (models, perfect curves), as in :func:`curve_points`.
    group_ends : int64 array
        The group ends of every ordering, concatenated; ordering ``k`` owns
        ``group_ends[group_offsets[k]:group_offsets[k + 1]]``.
    group_offsets : int64 array (n_orderings + 1,)

    Returns
    -------
    areas : (n_boot, n_orderings) float64
    final_values : (n_boot,) float64
        Curve height with every row targeted (the same for every ordering).
    outcome_treated, outcome_control : (n_boot,) float64
        Outcome sums of each arm in each resample.
    """
    n_orderings = rows_in_order.shape[0]
    areas = np.empty((n_boot, n_orderings), dtype=np.float64)
    final_values = np.empty(n_boot, dtype=np.float64)
    outcome_treated = np.empty(n_boot, dtype=np.float64)
    outcome_control = np.empty(n_boot, dtype=np.float64)
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    counts = np.zeros(rows_in_order.shape[1], dtype=np.int32)
    # Scratch reused across resamples: fresh large arrays per resample cost page faults.
    max_groups = 0
    for ordering in range(n_orderings):
        max_groups = max(max_groups, group_offsets[ordering + 1] - group_offsets[ordering])
    x = np.empty(max_groups, dtype=np.float64)
    values = np.empty(max_groups, dtype=np.float64)
    for rep in range(n_boot):
        # One stratified resample: how many times each row is drawn.
        for row in range(counts.shape[0]):
            counts[row] = 0
        add_draws(state, treated_rows, treated_rows.shape[0], counts)
        add_draws(state, control_rows, control_rows.shape[0], counts)
        for ordering in range(n_orderings):
            ends = group_ends[group_offsets[ordering]:group_offsets[ordering + 1]]
            area, treated_sum, control_sum = curve_points(
                kind, counts, rows_in_order[ordering], treated_in_order[ordering], outcome_in_order[ordering],
                ends, x, values,
            )
            areas[rep, ordering] = area
        final_values[rep] = values[ends.shape[0] - 1]
        outcome_treated[rep] = treated_sum
        outcome_control[rep] = control_sum
    return areas, final_values, outcome_treated, outcome_control


@njit(cache=True, nogil=True)
def bootstrap_curves_on_grid(
    seed, n_boot, kind, treated_rows, control_rows, rows_in_order, treated_in_order, outcome_in_order,
    group_ends, grid,
):
    """Curve heights of ``n_boot`` resamples at the numbers targeted in ``grid`` (linear between points).

    ``rows_in_order``, ``treated_in_order``, ``outcome_in_order`` (n_rows,) and ``group_ends`` describe one
    ordering as in :func:`curve_points`; other arguments as in :func:`bootstrap_curve_areas`. Returns an
    (n_boot, grid.size) float64 array.
    """
    curves = np.empty((n_boot, grid.shape[0]), dtype=np.float64)
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    counts = np.zeros(rows_in_order.shape[0], dtype=np.int32)
    n_groups = group_ends.shape[0]
    # Curves start at (0, 0); the sweep fills the points after it.
    x = np.empty(n_groups + 1, dtype=np.float64)
    values = np.empty(n_groups + 1, dtype=np.float64)
    x[0] = 0.0
    values[0] = 0.0
    for rep in range(n_boot):
        # One stratified resample: how many times each row is drawn.
        for row in range(counts.shape[0]):
            counts[row] = 0
        add_draws(state, treated_rows, treated_rows.shape[0], counts)
        add_draws(state, control_rows, control_rows.shape[0], counts)
        curve_points(kind, counts, rows_in_order, treated_in_order, outcome_in_order, group_ends, x[1:], values[1:])
        _interpolate(grid, x, values, curves[rep])
    return curves


@njit(cache=True, nogil=True)
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
        if np.isnan(a):
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
        if np.isnan(result):
            # NumPy retries from the right end, then takes the common value of a flat segment.
            result = slope * (a - x[j + 1]) + values[j + 1]
            if np.isnan(result) and values[j] == values[j + 1]:
                result = values[j]
        out[i] = result
