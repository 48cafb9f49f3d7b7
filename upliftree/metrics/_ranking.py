"""Rows ranked by descending score with tied scores kept together, scikit-uplift's perfect rankings, and the
normalized area of a ranking's curve: what the curves, the tables and the bootstrap share.

Rows with tied scores are never split by row order: they form one group, targeted together.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike


def tie_groups(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order by descending score, and the sorted position where each group of tied scores starts."""
    order = np.argsort(-score, kind="stable")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    return order, starts


class Ordering(NamedTuple):
    """Rows by descending score, each row's weight in its arm's column (treated weight, control weight: 0.0 in
    the other arm's) and its outcome in that order, and the sorted position just past each group of tied
    scores: the arrays of ``upliftree._kernels.bootstrap.curve_points``."""

    rows: np.ndarray
    treated: np.ndarray
    control: np.ndarray
    outcome: np.ndarray
    group_ends: np.ndarray


def order_rows(score: np.ndarray, y: np.ndarray, treated: np.ndarray, weight: np.ndarray | None = None) -> Ordering:
    """The :class:`Ordering` of ``score``; ``weight`` None is unit weights (1.0/0.0 arm flags)."""
    order, starts = tie_groups(score)
    flags = treated[order].astype(np.float64)
    if weight is None:
        treated_weight, control_weight = flags, 1.0 - flags
    else:
        weight = weight[order]
        treated_weight = weight * flags
        control_weight = weight - treated_weight
    return Ordering(order.astype(np.int64), treated_weight, control_weight, y[order].astype(np.float64),
                    np.r_[starts[1:], len(score)].astype(np.int64))


def perfect_uplift_candidates(y: np.ndarray, treated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-uplift's two optimal orderings for the uplift curve (binary outcome).

    Both put treated responders and control non-responders first; the first then puts control
    responders before treated non-responders, the second the reverse.
    """
    agree = 2.0 * (y == treated)
    return agree + y, agree + treated


def control_responders_first(outcome_treated: ArrayLike, outcome_control: ArrayLike,
                             n_treated: float) -> np.ndarray:
    """scikit-uplift's choice: the first candidate when control responders outnumber treated non-responders."""
    return np.asarray(outcome_control) > n_treated - np.asarray(outcome_treated)


def perfect_uplift_score(y: np.ndarray, treated: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """The candidate scikit-uplift chooses; with weights, by weighted counts (Hájek weights: on each arm's
    row scale, so that constant probabilities choose as without them)."""
    first, second = perfect_uplift_candidates(y, treated)
    if weight is None:
        use_first = control_responders_first(np.sum(y[treated]), np.sum(y[~treated]), np.sum(treated))
    else:
        use_first = control_responders_first(np.sum((weight * y)[treated]), np.sum((weight * y)[~treated]),
                                              np.sum(weight[treated]))
    return first if use_first else second


def perfect_qini_score(y: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Optimal Qini ordering with negative effects: treated rows by outcome first, control rows reversed last."""
    return np.where(treated, y, -y)


def normalized_area(model_area: ArrayLike, perfect_area: ArrayLike, final_value: ArrayLike,
                    n_rows: int) -> np.ndarray:
    """(model area - random area) / (perfect area - random area); NaN where the denominator is 0.

    The random line goes from (0, 0) to (n_rows, final_value), as in scikit-uplift.
    """
    random_area = np.asarray(final_value) * n_rows / 2.0
    denominator = np.asarray(perfect_area) - random_area
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, (np.asarray(model_area) - random_area) / denominator, np.nan)


def flat_perfect_qini_area(final_value: np.ndarray, n_rows: int) -> np.ndarray:
    """Area under the perfect Qini curve without negative effects (up to ``F`` at ``x = F``, then flat; see
    ``perfect_qini_curve(negative_effect=False)``); NaN where ``F <= 0`` (that curve is undefined there)."""
    final_value = np.asarray(final_value, dtype=np.float64)
    area = final_value**2 / 2.0 + (n_rows - final_value) * final_value
    return np.where(final_value > 0, area, np.nan)
