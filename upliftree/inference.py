"""Confidence intervals and p-values for a difference between two arms.

Plain numpy functions, vectorized over arrays of groups (bins, tree nodes, ...):
arrays in, arrays out (a numpy scalar when every input is a scalar).
Weighted data: pass effective sample sizes and weighted sums; the formulas do
not require whole numbers.

References
----------
Newcombe, R. G. (1998). Interval estimation for the difference between
independent proportions: comparison of eleven methods. Statistics in
Medicine 17, 873-890 (method 10, hybrid score interval without continuity
correction).

Welch, B. L. (1947). The generalization of "Student's" problem when several
different population variances are involved. Biometrika 34, 28-35.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._params import check_alpha
from ._validation import finite_float_array

__all__ = ["diff_proportions_ci", "robust_difference_ci", "welch_ci"]


def _wilson_bounds(n: np.ndarray, successes: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion; callers mask n == 0."""
    z2 = z * z
    center = (successes + z2 / 2.0) / (n + z2)
    half_width = z * np.sqrt(successes * (n - successes) / n + z2 / 4.0) / (n + z2)
    return center - half_width, center + half_width


def diff_proportions_ci(
    n_t: ArrayLike, x_t: ArrayLike, n_c: ArrayLike, x_c: ArrayLike, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Difference of two proportions ``x_t/n_t - x_c/n_c`` with Newcombe's hybrid score interval.

    Parameters
    ----------
    n_t, x_t : array-like
        Treated rows and treated responders (or effective sizes and weighted
        responder sums), ``0 <= x_t <= n_t``.
    n_c, x_c : array-like
        The same for control rows. All four broadcast together.
    alpha : float
        The interval has coverage ``1 - alpha``.

    Returns
    -------
    estimate, low, high, p_value : ndarray
        ``low``/``high`` follow Newcombe (1998) method 10 (Wilson score
        bounds of each proportion combined by square-and-add). ``p_value`` is
        the two-sided pooled two-proportion z test of no difference; it is 1
        when the pooled rate is 0 or 1 (no variation at all). Entries where an
        arm is empty (``n == 0``) are NaN, without a warning: callers know
        which group it is and say so.
    """
    from scipy import special

    alpha = check_alpha(alpha)
    n_t, x_t, n_c, x_c = np.broadcast_arrays(
        finite_float_array(n_t, "n_t"), finite_float_array(x_t, "x_t"), finite_float_array(n_c, "n_c"),
        finite_float_array(x_c, "x_c"),
    )
    for name, n, x in (("t", n_t, x_t), ("c", n_c, x_c)):
        if np.any(n < 0):
            raise ValueError(f"n_{name} must be >= 0")
        if np.any((x < 0) | (x > n)):
            raise ValueError(f"x_{name} must lie in [0, n_{name}]")

    defined = (n_t > 0) & (n_c > 0)
    # Where an arm is empty, use 0 of 1 in both arms so the formulas stay finite; set to NaN below.
    n_t, n_c = np.where(defined, n_t, 1.0), np.where(defined, n_c, 1.0)
    x_t, x_c = np.where(defined, x_t, 0.0), np.where(defined, x_c, 0.0)
    rate_t = x_t / n_t
    rate_c = x_c / n_c
    estimate = rate_t - rate_c

    z = special.ndtri(1.0 - alpha / 2.0)
    low_t, high_t = _wilson_bounds(n_t, x_t, z)
    low_c, high_c = _wilson_bounds(n_c, x_c, z)
    low = estimate - np.sqrt((rate_t - low_t) ** 2 + (high_c - rate_c) ** 2)
    high = estimate + np.sqrt((high_t - rate_t) ** 2 + (rate_c - low_c) ** 2)

    pooled = (x_t + x_c) / (n_t + n_c)
    standard_error = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_t + 1.0 / n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_stat = np.abs(estimate) / standard_error
    p_value = np.where(standard_error > 0, 2.0 * special.ndtr(-z_stat), 1.0)

    results = [np.where(defined, value, np.nan) for value in (estimate, low, high, p_value)]
    return tuple(value[()] for value in results)


def welch_ci(
    n_t: ArrayLike,
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_c: ArrayLike,
    mean_c: ArrayLike,
    var_c: ArrayLike,
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Difference of two means ``mean_t - mean_c`` with Welch's t interval.

    Parameters
    ----------
    n_t, mean_t, var_t : array-like
        Size (or effective size), mean and sample variance (``ddof=1``) of the
        treated rows.
    n_c, mean_c, var_c : array-like
        The same for control rows. All six broadcast together.
    alpha : float
        The interval has coverage ``1 - alpha``.

    Returns
    -------
    estimate, low, high, p_value : ndarray
        Student t interval with Welch-Satterthwaite degrees of freedom and the
        two-sided p-value of no difference. When both variances are 0 the
        interval is the point estimate and the p-value is 1 if the means are
        equal, else 0. Entries with fewer than 2 rows in an arm are NaN,
        without a warning: callers know which group it is and say so.
    """
    alpha = check_alpha(alpha)
    n_t, mean_t, var_t, n_c, mean_c, var_c = np.broadcast_arrays(
        finite_float_array(n_t, "n_t"),
        finite_float_array(mean_t, "mean_t"),
        finite_float_array(var_t, "var_t"),
        finite_float_array(n_c, "n_c"),
        finite_float_array(mean_c, "mean_c"),
        finite_float_array(var_c, "var_c"),
    )
    for name, values in (("n_t", n_t), ("n_c", n_c), ("var_t", var_t), ("var_c", var_c)):
        if np.any(values < 0):
            raise ValueError(f"{name} must be >= 0")

    defined = (n_t >= 2) & (n_c >= 2)
    # Arms with fewer than 2 rows get n = 2 so the formulas stay finite; set to NaN below.
    n_t, n_c = np.where(defined, n_t, 2.0), np.where(defined, n_c, 2.0)
    share_t = var_t / n_t
    share_c = var_c / n_c
    variance = share_t + share_c
    spread = variance > 0
    denominator = share_t**2 / (n_t - 1.0) + share_c**2 / (n_c - 1.0)
    dof = np.where(spread, variance**2 / np.where(spread, denominator, 1.0), 1.0)
    return _t_interval(mean_t - mean_c, variance, dof, defined, alpha)


def robust_difference_ci(
    mean_t: ArrayLike,
    var_mean_t: ArrayLike,
    units_t: ArrayLike,
    mean_c: ArrayLike,
    var_mean_c: ArrayLike,
    units_c: ArrayLike,
    covariance: ArrayLike,
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Difference of two design-weighted means from their (cluster-)robust variances.

    Parameters
    ----------
    mean_t, var_mean_t, units_t : array-like
        The treated arm's mean, the variance of that mean (:func:`upliftree.design.robust_mean_covariance`)
        and its number of units of randomization (clusters, or rows).
    mean_c, var_mean_c, units_c : array-like
        The same for control.
    covariance : array-like
        Covariance of the two means (0 when every unit received one arm).
    alpha : float

    Returns
    -------
    estimate, low, high, p_value : ndarray
        Student t interval on ``var_t + var_c - 2 cov`` with Satterthwaite degrees of freedom from the arms'
        ``units - 1``, as Welch's; NaN where an arm has fewer than 2 units or an undefined variance.
    """
    alpha = check_alpha(alpha)
    mean_t, var_t, units_t, mean_c, var_c, units_c, covariance = np.broadcast_arrays(
        *(np.asarray(value, dtype=np.float64) for value in
          (mean_t, var_mean_t, units_t, mean_c, var_mean_c, units_c, covariance)))
    defined = ((units_t >= 2) & (units_c >= 2) & np.isfinite(var_t) & np.isfinite(var_c)
               & np.isfinite(covariance))
    var_t, var_c = np.where(defined, var_t, 0.0), np.where(defined, var_c, 0.0)
    units_t, units_c = np.where(defined, units_t, 2.0), np.where(defined, units_c, 2.0)
    variance = np.maximum(var_t + var_c - 2.0 * np.where(defined, covariance, 0.0), 0.0)
    spread = variance > 0
    denominator = var_t**2 / (units_t - 1.0) + var_c**2 / (units_c - 1.0)
    dof = np.where(spread & (denominator > 0), (var_t + var_c) ** 2 / np.where(denominator > 0, denominator, 1.0),
                   np.minimum(units_t, units_c) - 1.0)
    return _t_interval(mean_t - mean_c, variance, dof, defined, alpha)


def _t_interval(estimate: np.ndarray, variance: np.ndarray, dof: np.ndarray, defined: np.ndarray, alpha: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Student t interval and two-sided p-value of ``estimate`` with ``variance`` and ``dof``; NaN where not
    ``defined``. A zero variance gives the point estimate and a p-value of 1 (estimate 0) or 0."""
    from scipy import special

    standard_error = np.sqrt(variance)
    spread = variance > 0
    half_width = np.where(spread, special.stdtrit(dof, 1.0 - alpha / 2.0) * standard_error, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_stat = np.abs(estimate) / standard_error
    p_value = np.where(spread, 2.0 * special.stdtr(dof, -np.where(spread, t_stat, 0.0)),
                       np.where(estimate == 0, 1.0, 0.0))
    results = [estimate, estimate - half_width, estimate + half_width, p_value]
    return tuple(np.where(defined, value, np.nan)[()] for value in results)
