"""Uplift and Qini curves, scikit-uplift's perfect curves, and the normalized areas under them.

A curve has one point per group of tied scores (rows with the same score are targeted together), so no
result depends on the order of rows. With ``propensity``, arm totals are inverse-probability weighted
(docs/design.md); ``cluster`` does not change a point estimate and is accepted so that every metric takes the
same design arguments.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._kernels import bootstrap as _kernels
from .._params import check_bool
from ._inputs import MetricInputs, check_inputs, warn_undefined
from ._ranking import flat_perfect_qini_area, normalized_area, order_rows, perfect_qini_score, perfect_uplift_score


def _sweep(kind: int, data: MetricInputs, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Curve points (rows targeted, height) at the end of each tie group, and the area under the curve."""
    ordering = order_rows(score, data.y, data.treated, data.weight)
    x = np.empty(len(ordering.group_ends))
    values = np.empty(len(ordering.group_ends))
    area = _kernels.curve_points(kind, np.ones(len(score), dtype=np.int32), *ordering, x, values, np.empty(4))
    return x, values, area


def _curve(kind: int, data: MetricInputs, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, values, _ = _sweep(kind, data, score)
    return np.r_[0, x.astype(np.int64)], np.r_[0.0, values]


def _area(kind: int, data: MetricInputs, score: np.ndarray) -> float:
    return _sweep(kind, data, score)[2]


def _final_value(kind: int, data: MetricInputs) -> float:
    """Curve height with every row targeted (one score for all rows: a single point)."""
    return float(_sweep(kind, data, np.zeros(len(data.treated)))[1][0])


def uplift_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, propensity: Any = None, cluster: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: ``(rate_treated - rate_control) * n`` among the ``n`` rows with the highest scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome, binary or continuous.
    uplift : array-like of shape (n_samples,)
        Predicted uplift (any score where larger means "target first").
    treatment : array-like of shape (n_samples,)
        1 for treated rows, 0 for control rows.
    propensity : None, float, dict, or array-like of shape (n_samples,) or (n_samples, 2)
        Known probabilities of assignment (docs/design.md): the probability of treatment (a number), each arm's
        ``{0: p_control, 1: p_treated}``, the probability of the arm each row received (1-D), or both arms' per
        row (2-D, control first). Rows are then weighted by ``1 / probability`` of their arm, scaled per arm
        to sum to the arm's rows, and rates are weighted means.
    cluster : None or array-like of shape (n_samples,)
        Ids of the unit of randomization; does not change a curve (intervals use it).

    Returns
    -------
    n_targeted : ndarray of int
        Number of rows targeted, starting at 0, one point per group of tied scores.
    values : ndarray of float
        Curve height at each point; a rate is taken as 0 while its arm has no targeted rows.
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    return _curve(_kernels.UPLIFT, data, data.score)


def qini_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, propensity: Any = None, cluster: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: ``Y_t - Y_c * N_t / N_c`` among the rows with the highest scores.

    ``Y`` are outcome sums and ``N`` row counts of each arm among the targeted rows (weighted sums with
    ``propensity``); the control term is 0 while no control row is targeted. Parameters and return values as
    in :func:`uplift_curve`.
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    return _curve(_kernels.QINI, data, data.score)


def perfect_uplift_curve(
    y_true: ArrayLike, treatment: ArrayLike, *, propensity: Any = None, cluster: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve of scikit-uplift's optimal ordering (binary outcome only).

    Treated responders and control non-responders first; then, if control responders outnumber treated
    non-responders, control responders before treated non-responders, else the reverse (weighted counts
    with ``propensity``, see :func:`uplift_curve`).
    """
    data = check_inputs(y_true, None, treatment, "perfect_uplift_curve", propensity, cluster)
    return _curve(_kernels.UPLIFT, data, perfect_uplift_score(data.y, data.treated, data.weight))


def _flat_perfect_qini(final_value: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Perfect Qini curve without negative effects: up to ``F`` at ``x = F``, then flat (binary outcome)."""
    return np.array([0.0, final_value, n_rows]), np.array([0.0, final_value, final_value])


def perfect_qini_curve(
    y_true: ArrayLike, treatment: ArrayLike, negative_effect: bool = True, *, propensity: Any = None,
    cluster: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve of the optimal ordering.

    Parameters
    ----------
    y_true, treatment, propensity, cluster : array-like
        As in :func:`qini_curve`.
    negative_effect : bool
        True: order treated rows by outcome (responders first) and control rows by reversed outcome
        (responders last); also defined for a continuous outcome. False: the curve rises with slope 1 to
        the total incremental responders ``F`` at ``x = F`` and stays flat (binary outcome only).
    """
    check_bool(negative_effect, "negative_effect")
    purpose = None if negative_effect else "perfect_qini_curve(negative_effect=False)"
    data = check_inputs(y_true, None, treatment, purpose, propensity, cluster)
    if negative_effect:
        return _curve(_kernels.QINI, data, perfect_qini_score(data.y, data.treated))
    final_value = _final_value(_kernels.QINI, data)
    return _flat_perfect_qini(final_value, len(data.y))


def uplift_auc_score(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, propensity: Any = None, cluster: Any = None
) -> float:
    """Area between the uplift curve and the random line, over the same area for the perfect curve.

    Binary outcome only (the perfect uplift curve needs one). 1 for a perfect ordering, about 0 for a
    random one, negative for an ordering worse than random. NaN, with a warning, when the perfect curve
    is not above the random line (e.g. no responders at all). ``propensity`` and ``cluster`` as in
    :func:`uplift_curve`.
    """
    data = check_inputs(y_true, uplift, treatment, "uplift_auc_score", propensity, cluster)
    model_area = _area(_kernels.UPLIFT, data, data.score)
    perfect_area = _area(_kernels.UPLIFT, data, perfect_uplift_score(data.y, data.treated, data.weight))
    result = float(normalized_area(model_area, perfect_area, _final_value(_kernels.UPLIFT, data), len(data.y)))
    if math.isnan(result):
        warn_undefined(
            "uplift_auc_score is NaN: the perfect uplift curve has the same area as the random line "
            "(no responders, or outcomes that no ordering can improve)"
        )
    return result


def qini_auc_score(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, negative_effect: bool = True, *,
    propensity: Any = None, cluster: Any = None,
) -> float:
    """Qini coefficient: area between the Qini curve and the random line, over that of the perfect curve.

    Parameters
    ----------
    y_true, uplift, treatment, propensity, cluster : array-like
        As in :func:`qini_curve`. A continuous outcome is allowed with ``negative_effect=True``.
    negative_effect : bool
        Which perfect curve normalizes the score; see :func:`perfect_qini_curve`.

    Returns
    -------
    float
        NaN, with a warning, when the perfect curve is not above the random line (e.g. no responders), or
        with ``negative_effect=False`` when the total incremental outcome is not positive (scikit-uplift
        raises an error from ``sklearn.metrics.auc`` there).
    """
    check_bool(negative_effect, "negative_effect")
    purpose = None if negative_effect else "qini_auc_score(negative_effect=False)"
    data = check_inputs(y_true, uplift, treatment, purpose, propensity, cluster)
    model_area = _area(_kernels.QINI, data, data.score)
    final_value = _final_value(_kernels.QINI, data)
    if negative_effect:
        perfect_area = _area(_kernels.QINI, data, perfect_qini_score(data.y, data.treated))
    else:
        perfect_area = flat_perfect_qini_area(final_value, len(data.y))
    result = float(normalized_area(model_area, perfect_area, final_value, len(data.y)))
    if math.isnan(result):
        warn_undefined(
            "qini_auc_score is NaN: the perfect Qini curve is not above the random line "
            f"(total incremental outcome {final_value:.6g}; no responders, or with negative_effect=False "
            "a total incremental outcome <= 0)"
        )
    return result
