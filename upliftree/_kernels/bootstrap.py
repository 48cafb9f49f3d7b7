"""Uplift and Qini curves, and their bootstrap over resampled rows.

A curve is evaluated at the end of each group of tied scores (groups in descending score order) from the
cumulative treated/control counts and outcome sums. :mod:`upliftree.metrics` calls ``curve_values`` and
``curve_area`` for point estimates and the bootstrap kernels call them per resample, so both use one
formula.

A bootstrap resample draws ``n_treated`` rows with replacement from the treated rows and ``n_control``
from the control rows (arm sizes fixed); a row drawn ``c`` times counts ``c`` times in its tie group.
Each kernel call takes its own ``numpy.random.Generator``, so calls can run in parallel threads (nogil)
and results do not depend on how resamples are split between threads.
"""

import numpy as np
from numba import njit

QINI = 0
UPLIFT = 1


@njit(cache=True, nogil=True)
def _curve_value(kind, n_treated, outcome_treated, n_control, outcome_control):
    if kind == QINI:
        # Y_t - Y_c * N_t / N_c; the control term is 0 while no control row is targeted.
        if n_control > 0:
            return outcome_treated - outcome_control * (n_treated / n_control)
        return outcome_treated
    # (Y_t / N_t - Y_c / N_c) * (N_t + N_c); a rate is 0 while its arm is empty.
    rate_treated = outcome_treated / n_treated if n_treated > 0 else 0.0
    rate_control = outcome_control / n_control if n_control > 0 else 0.0
    return (rate_treated - rate_control) * (n_treated + n_control)


@njit(cache=True, nogil=True)
def curve_values(kind, n_treated, outcome_treated, n_control, outcome_control):
    """Curve heights from cumulative counts and outcome sums (scikit-uplift 0.5.1 definitions).

    ``kind`` is ``QINI`` or ``UPLIFT``; the four arrays hold cumulative treated count, treated outcome
    sum, control count and control outcome sum at the end of each group of tied scores.
    """
    values = np.empty(n_treated.shape[0])
    for point in range(values.shape[0]):
        values[point] = _curve_value(
            kind, n_treated[point], outcome_treated[point], n_control[point], outcome_control[point]
        )
    return values


@njit(cache=True, nogil=True)
def curve_area(x, values):
    """Trapezoid area under the polyline (0, 0), (x[0], values[0]), (x[1], values[1]), ..."""
    area = x[0] * values[0]
    for point in range(1, x.shape[0]):
        area += (x[point] - x[point - 1]) * (values[point] + values[point - 1])
    return area / 2.0


@njit(cache=True, nogil=True)
def _add_draws(generator, rows, counts):
    n_rows = rows.shape[0]
    for _ in range(n_rows):
        # random() < 1, but u * n can round up to n for large n, hence the min.
        position = min(int(generator.random() * n_rows), n_rows - 1)
        counts[rows[position]] += 1


@njit(cache=True, nogil=True)
def _draw_counts(generator, treated_rows, control_rows, counts):
    """How many times each row is drawn in one stratified resample."""
    counts[:] = 0
    _add_draws(generator, treated_rows, counts)
    _add_draws(generator, control_rows, counts)


@njit(cache=True, nogil=True)
def _add_arm_sums(rows, counts, outcome, group_of_row, sums, column):
    # Branch-free on purpose: rows drawn 0 times add 0, which is cheaper than a mispredicted branch.
    for row in rows:
        count = counts[row]
        group = group_of_row[row]
        sums[group, column] += count
        sums[group, column + 1] += count * outcome[row]


@njit(cache=True, nogil=True)
def _cumulative_group_sums(counts, treated_rows, control_rows, outcome, group_of_row, n_groups):
    """Columns 0..3: cumulative treated count, treated outcome, control count, control outcome per group."""
    sums = np.zeros((n_groups, 4))
    _add_arm_sums(treated_rows, counts, outcome, group_of_row, sums, 0)
    _add_arm_sums(control_rows, counts, outcome, group_of_row, sums, 2)
    for group in range(1, n_groups):
        for stat in range(4):
            sums[group, stat] += sums[group - 1, stat]
    return sums


@njit(cache=True, nogil=True)
def bootstrap_curve_areas(
    generator, n_boot, kind, treated_rows, control_rows, outcome, group_of_row, n_groups
):
    """Curve areas of ``n_boot`` resamples for several row orderings at once.

    Parameters
    ----------
    generator : numpy.random.Generator
    n_boot : int
    kind : int
        ``QINI`` or ``UPLIFT``.
    treated_rows, control_rows : int64 arrays
        Row indices of each arm.
    outcome : float64 array (n_rows,)
    group_of_row : int64 array (n_orderings, n_rows)
        Tie group of each row (0 = highest score) for each ordering (models, perfect curves).
    n_groups : int64 array (n_orderings,)

    Returns
    -------
    areas : (n_boot, n_orderings) float64
    outcome_treated, outcome_control : (n_boot,) float64
        Outcome sums of each arm in each resample.
    """
    n_orderings = group_of_row.shape[0]
    areas = np.empty((n_boot, n_orderings))
    outcome_treated = np.empty(n_boot)
    outcome_control = np.empty(n_boot)
    counts = np.zeros(outcome.shape[0], dtype=np.int64)
    for rep in range(n_boot):
        _draw_counts(generator, treated_rows, control_rows, counts)
        for ordering in range(n_orderings):
            sums = _cumulative_group_sums(
                counts, treated_rows, control_rows, outcome, group_of_row[ordering], n_groups[ordering]
            )
            values = curve_values(kind, sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3])
            areas[rep, ordering] = curve_area(sums[:, 0] + sums[:, 2], values)
        outcome_treated[rep] = sums[-1, 1]
        outcome_control[rep] = sums[-1, 3]
    return areas, outcome_treated, outcome_control


@njit(cache=True, nogil=True)
def bootstrap_curves_on_grid(
    generator, n_boot, kind, treated_rows, control_rows, outcome, group_of_row, n_groups, grid
):
    """Curve heights of ``n_boot`` resamples at the numbers targeted in ``grid`` (linear between points).

    ``group_of_row`` is the (n_rows,) tie group of each row for one ordering; other arguments as in
    :func:`bootstrap_curve_areas`. Returns an (n_boot, grid.size) float64 array.
    """
    curves = np.empty((n_boot, grid.shape[0]))
    counts = np.zeros(outcome.shape[0], dtype=np.int64)
    x = np.zeros(n_groups + 1)
    values = np.zeros(n_groups + 1)
    for rep in range(n_boot):
        _draw_counts(generator, treated_rows, control_rows, counts)
        sums = _cumulative_group_sums(counts, treated_rows, control_rows, outcome, group_of_row, n_groups)
        x[1:] = sums[:, 0] + sums[:, 2]
        values[1:] = curve_values(kind, sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3])
        curves[rep] = np.interp(grid, x, values)
    return curves
