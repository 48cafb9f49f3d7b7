"""Uplift evaluation for any uplift scores: curves, normalized areas, uplift@k, decile tables, intervals.

Functions take ``(y_true, uplift, treatment)`` with ``treatment`` coded 1 (treated) / 0 (control). Names,
signatures and numbers follow scikit-uplift 0.5.1 (``sklift.metrics``); where this module differs (tied
scores, continuous outcomes, undefined results) the function's docstring says so, and docs/metrics.md
lists every difference. For several treatments, evaluate one arm against control with
:func:`one_vs_control`, and the model's best-arm recommendation with :func:`best_arm_score`.

Rows with tied scores are never split by row order: curves have one point per group of tied scores, and
where a cut (``uplift_at_k``, the treatment balance window) falls inside such a group, the group counts
with its share of rows, i.e. the average over all orderings of the tied rows. Decile tables keep every
tie group whole in one bin.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ._base import spawn_generators
from ._kernels import bootstrap as _kernels
from ._validation import check_int, label_mask
from .inference import _as_float, _check_alpha, diff_proportions_ci, welch_ci

__all__ = [
    "UndefinedMetricWarning",
    "BootstrapComparison",
    "uplift_curve",
    "qini_curve",
    "perfect_uplift_curve",
    "perfect_qini_curve",
    "uplift_auc_score",
    "qini_auc_score",
    "uplift_at_k",
    "response_rate_by_percentile",
    "uplift_by_percentile",
    "weighted_average_uplift",
    "treatment_balance_curve",
    "calibration_table",
    "one_vs_control",
    "best_arm_rows",
    "best_arm_score",
    "bootstrap_ci",
    "bootstrap_compare",
    "bootstrap_curve_band",
]

# Resamples per kernel call: each call gets its own random stream, so results do not depend on n_jobs.
_BOOTSTRAP_CHUNK = 32


class UndefinedMetricWarning(RuntimeWarning):
    """A metric is NaN because it is undefined on this data (the message says why)."""


class BootstrapComparison(NamedTuple):
    """``metric(uplift_a) - metric(uplift_b)`` and its bootstrap percentile interval."""

    difference: float
    low: float
    high: float


# ---------------------------------------------------------------------------------------------------------
# Input checks


def _to_numpy(values: ArrayLike) -> np.ndarray:
    # pandas nullable dtypes (Int64, boolean, Float64) would otherwise become object arrays.
    if isinstance(values, pd.Series | pd.Index) and pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values)


def _numeric_1d(name: str, values: ArrayLike) -> np.ndarray:
    array = _to_numpy(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    return _as_float(name, array)


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0.0) | (values == 1.0)))


def _check_binary_outcome(y: np.ndarray, purpose: str) -> None:
    if not _is_binary(y):
        examples = np.unique(y[(y != 0.0) & (y != 1.0)])[:5].tolist()
        raise ValueError(f"y_true must be binary (0/1) for {purpose}; found values {examples}")


def _check_treatment(treatment: ArrayLike) -> np.ndarray:
    """Boolean "is treated" array from 0/1 (or bool) labels with both arms present."""
    codes = _to_numpy(treatment)
    if codes.ndim != 1:
        raise ValueError(f"treatment must be 1-D, got shape {codes.shape}")
    if codes.dtype.kind not in "biuf" or not _is_binary(codes.astype(np.float64, copy=False)):
        found = pd.unique(codes)[:10].tolist()
        raise ValueError(
            f"treatment must hold 1 (treated) and 0 (control) only; found values {found}. "
            "With several arms, select one arm against control with one_vs_control()."
        )
    treated = codes.astype(bool)
    if treated.all() or not treated.any():
        only = "treated (1)" if treated.all() else "control (0)"
        raise ValueError(
            f"treatment has only {only} rows; uplift metrics need both treated and control rows"
        )
    return treated


def _check_inputs(
    y_true: ArrayLike, uplift: ArrayLike | None, treatment: ArrayLike, binary_purpose: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Validated float outcome, float scores (None if not given) and boolean treated flags of equal length.

    ``binary_purpose`` (what needs it) makes a non-binary outcome an error.
    """
    arrays = {"y_true": _numeric_1d("y_true", y_true)}
    if uplift is not None:
        arrays["uplift"] = _numeric_1d("uplift", uplift)
    arrays["treatment"] = _check_treatment(treatment)
    lengths = [len(array) for array in arrays.values()]
    if len(set(lengths)) > 1:
        raise ValueError(f"{', '.join(arrays)} must have the same length; got lengths {lengths}")
    if binary_purpose is not None:
        _check_binary_outcome(arrays["y_true"], binary_purpose)
    return arrays["y_true"], arrays.get("uplift"), arrays["treatment"]


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _warn_undefined(message: str) -> None:
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------------------------
# Tie groups and curves


def _tie_groups(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order by descending score, and the sorted position where each group of tied scores starts."""
    order = np.argsort(-score, kind="stable")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    return order, starts


class _Ordering(NamedTuple):
    """Rows by descending score, their treated flags (1.0/0.0) and outcomes in that order, and the sorted
    position just past each group of tied scores: the arrays of :func:`_kernels.curve_points`."""

    rows: np.ndarray
    treated: np.ndarray
    outcome: np.ndarray
    group_ends: np.ndarray


def _ordering(score: np.ndarray, y: np.ndarray, treated: np.ndarray) -> _Ordering:
    order, starts = _tie_groups(score)
    return _Ordering(order.astype(np.int64), treated[order].astype(np.float64), y[order].astype(np.float64),
                     np.r_[starts[1:], len(score)].astype(np.int64))


def _sweep(kind: int, y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Curve points (rows targeted, height) at the end of each tie group, and the area under the curve."""
    ordering = _ordering(score, y, treated)
    x = np.empty(len(ordering.group_ends))
    values = np.empty(len(ordering.group_ends))
    area, _, _ = _kernels.curve_points(kind, np.ones(len(y), dtype=np.int32), *ordering, x, values)
    return x, values, area


def _curve(kind: int, y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, values, _ = _sweep(kind, y, score, treated)
    return np.r_[0, x.astype(np.int64)], np.r_[0.0, values]


def _area(kind: int, y: np.ndarray, score: np.ndarray, treated: np.ndarray) -> float:
    return _sweep(kind, y, score, treated)[2]


def _final_value(kind: int, y: np.ndarray, treated: np.ndarray) -> float:
    """Curve height with every row targeted (one score for all rows: a single point)."""
    return float(_sweep(kind, y, np.zeros(len(y)), treated)[1][0])


def _perfect_uplift_candidates(y: np.ndarray, treated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-uplift's two optimal orderings for the uplift curve (binary outcome).

    Both put treated responders and control non-responders first; the first then puts control
    responders before treated non-responders, the second the reverse.
    """
    agree = 2.0 * (y == treated)
    return agree + y, agree + treated


def _control_responders_first(outcome_treated: ArrayLike, outcome_control: ArrayLike,
                              n_treated: float) -> np.ndarray:
    """scikit-uplift's choice: the first candidate when control responders outnumber treated non-responders."""
    return np.asarray(outcome_control) > n_treated - np.asarray(outcome_treated)


def _perfect_uplift_score(y: np.ndarray, treated: np.ndarray) -> np.ndarray:
    first, second = _perfect_uplift_candidates(y, treated)
    use_first = _control_responders_first(np.sum(y[treated]), np.sum(y[~treated]), np.sum(treated))
    return first if use_first else second


def _perfect_qini_score(y: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Optimal Qini ordering with negative effects: treated rows by outcome first, control rows reversed last."""
    return np.where(treated, y, -y)


def uplift_curve(y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: ``(rate_treated - rate_control) * n`` among the ``n`` rows with the highest scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Outcome, binary or continuous.
    uplift : array-like of shape (n_samples,)
        Predicted uplift (any score where larger means "target first").
    treatment : array-like of shape (n_samples,)
        1 for treated rows, 0 for control rows.

    Returns
    -------
    n_targeted : ndarray of int
        Number of rows targeted, starting at 0, one point per group of tied scores.
    values : ndarray of float
        Curve height at each point; a rate is taken as 0 while its arm has no targeted rows.
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    return _curve(_kernels.UPLIFT, y, score, treated)


def qini_curve(y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: ``Y_t - Y_c * N_t / N_c`` among the rows with the highest scores.

    ``Y`` are outcome sums and ``N`` row counts of each arm among the targeted rows; the control term is
    0 while no control row is targeted. Parameters and return values as in :func:`uplift_curve`.
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    return _curve(_kernels.QINI, y, score, treated)


def perfect_uplift_curve(y_true: ArrayLike, treatment: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve of scikit-uplift's optimal ordering (binary outcome only).

    Treated responders and control non-responders first; then, if control responders outnumber treated
    non-responders, control responders before treated non-responders, else the reverse.
    """
    y, _, treated = _check_inputs(y_true, None, treatment, "perfect_uplift_curve")
    return _curve(_kernels.UPLIFT, y, _perfect_uplift_score(y, treated), treated)


def _flat_perfect_qini(final_value: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Perfect Qini curve without negative effects: up to ``F`` at ``x = F``, then flat (binary outcome)."""
    return np.array([0.0, final_value, n_rows]), np.array([0.0, final_value, final_value])


def perfect_qini_curve(
    y_true: ArrayLike, treatment: ArrayLike, negative_effect: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve of the optimal ordering.

    Parameters
    ----------
    y_true, treatment : array-like
        As in :func:`qini_curve`.
    negative_effect : bool
        True: order treated rows by outcome (responders first) and control rows by reversed outcome
        (responders last); also defined for a continuous outcome. False: the curve rises with slope 1 to
        the total incremental responders ``F`` at ``x = F`` and stays flat (binary outcome only).
    """
    _check_flag("negative_effect", negative_effect)
    y, _, treated = _check_inputs(
        y_true, None, treatment, None if negative_effect else "perfect_qini_curve(negative_effect=False)"
    )
    if negative_effect:
        return _curve(_kernels.QINI, y, _perfect_qini_score(y, treated), treated)
    final_value = _final_value(_kernels.QINI, y, treated)
    return _flat_perfect_qini(final_value, len(y))


def _normalized_area(model_area: ArrayLike, perfect_area: ArrayLike, final_value: ArrayLike,
                     n_rows: int) -> np.ndarray:
    """(model area - random area) / (perfect area - random area); NaN where the denominator is 0.

    The random line goes from (0, 0) to (n_rows, final_value), as in scikit-uplift.
    """
    random_area = np.asarray(final_value) * n_rows / 2.0
    denominator = np.asarray(perfect_area) - random_area
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, (np.asarray(model_area) - random_area) / denominator, np.nan)


def _flat_perfect_qini_area(final_value: np.ndarray, n_rows: int) -> np.ndarray:
    """Area under :func:`_flat_perfect_qini`; NaN where ``F <= 0`` (that curve is undefined there)."""
    final_value = np.asarray(final_value, dtype=np.float64)
    area = final_value**2 / 2.0 + (n_rows - final_value) * final_value
    return np.where(final_value > 0, area, np.nan)


def uplift_auc_score(y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> float:
    """Area between the uplift curve and the random line, over the same area for the perfect curve.

    Binary outcome only (the perfect uplift curve needs one). 1 for a perfect ordering, about 0 for a
    random one, negative for an ordering worse than random. NaN, with a warning, when the perfect curve
    is not above the random line (e.g. no responders at all).
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment, "uplift_auc_score")
    model_area = _area(_kernels.UPLIFT, y, score, treated)
    perfect_area = _area(_kernels.UPLIFT, y, _perfect_uplift_score(y, treated), treated)
    result = float(_normalized_area(model_area, perfect_area, _final_value(_kernels.UPLIFT, y, treated), len(y)))
    if math.isnan(result):
        _warn_undefined(
            "uplift_auc_score is NaN: the perfect uplift curve has the same area as the random line "
            "(no responders, or outcomes that no ordering can improve)"
        )
    return result


def qini_auc_score(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, negative_effect: bool = True
) -> float:
    """Qini coefficient: area between the Qini curve and the random line, over that of the perfect curve.

    Parameters
    ----------
    y_true, uplift, treatment : array-like
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
    _check_flag("negative_effect", negative_effect)
    y, score, treated = _check_inputs(
        y_true, uplift, treatment, None if negative_effect else "qini_auc_score(negative_effect=False)"
    )
    model_area = _area(_kernels.QINI, y, score, treated)
    final_value = _final_value(_kernels.QINI, y, treated)
    if negative_effect:
        perfect_area = _area(_kernels.QINI, y, _perfect_qini_score(y, treated), treated)
    else:
        perfect_area = _flat_perfect_qini_area(final_value, len(y))
    result = float(_normalized_area(model_area, perfect_area, final_value, len(y)))
    if math.isnan(result):
        _warn_undefined(
            "qini_auc_score is NaN: the perfect Qini curve is not above the random line "
            f"(total incremental outcome {final_value:.6g}; no responders, or with negative_effect=False "
            "a total incremental outcome <= 0)"
        )
    return result


# ---------------------------------------------------------------------------------------------------------
# Top-k and decile metrics


def _interpolated_sums(score: np.ndarray, columns: Sequence[np.ndarray], n_top: float) -> list[float]:
    """Sums of ``columns`` over the ``n_top`` highest-scored rows; a cut tie group counts pro rata."""
    order, starts = _tie_groups(score)
    positions = np.r_[starts, len(score)]
    sums = []
    for column in columns:
        cumulative = np.r_[0.0, np.cumsum(np.add.reduceat(column[order], starts))]
        sums.append(float(np.interp(n_top, positions, cumulative)))
    return sums


def _check_k(k: Any, n_rows: int) -> None:
    kind = np.asarray(k).dtype.kind
    if kind not in "iuf" or isinstance(k, bool):
        raise ValueError(f"k must be an int or a float, got {k!r}")
    if (kind == "f" and not 0 < k < 1) or (kind in "iu" and not 0 < k < n_rows):
        raise ValueError(
            f"k={k} should be either positive and smaller than the number of samples {n_rows} "
            "or a float in the (0, 1) range"
        )


def uplift_at_k(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, strategy: str = "overall", k: float = 0.3
) -> float:
    """Treated minus control outcome rate among the rows with the highest scores.

    Parameters
    ----------
    y_true, uplift, treatment : array-like
        As in :func:`uplift_curve`; the outcome may be continuous.
    strategy : {"overall", "by_group"}
        ``"overall"``: take the top ``k`` of all rows, then compare the arms among them. ``"by_group"``:
        take the top ``k`` of treated rows and the top ``k`` of control rows separately.
    k : float or int
        A float in (0, 1) is a share of rows (``int(share * n)`` rows, as scikit-uplift), an int a number
        of rows.

    Returns
    -------
    float
        NaN, with a warning, when an arm has no row among the top ``k``. Where the cut falls inside a group
        of tied scores, that group counts with its share of rows (scikit-uplift takes tied rows in reverse
        row order instead).
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    _check_choice("strategy", strategy, ("overall", "by_group"))
    _check_k(k, len(y))
    is_share = np.asarray(k).dtype.kind == "f"
    if strategy == "overall":
        n_top = int(len(y) * k) if is_share else int(k)
        if n_top == 0:
            raise ValueError(f"k={k} selects no row out of {len(y)}")
        # Each arm's count is interpolated on its own, so an arm absent from the top rows counts exactly 0.
        n_treated, n_control, outcome_treated, outcome_control = _interpolated_sums(
            score, [treated.astype(np.float64), (~treated).astype(np.float64), np.where(treated, y, 0.0),
                    np.where(treated, 0.0, y)], n_top,
        )
    else:
        arm_sizes = {"treated": int(treated.sum()), "control": int((~treated).sum())}
        tops = {arm: int(size * k) if is_share else int(k) for arm, size in arm_sizes.items()}
        for arm, n_top in tops.items():
            if n_top > arm_sizes[arm]:
                raise ValueError(f"k={k} exceeds the {arm_sizes[arm]} rows of the {arm} group")
            if n_top == 0:
                raise ValueError(f"k={k} selects no row of the {arm_sizes[arm]} rows of the {arm} group")
        n_treated, n_control = tops["treated"], tops["control"]
        (outcome_treated,) = _interpolated_sums(score[treated], [y[treated]], n_treated)
        (outcome_control,) = _interpolated_sums(score[~treated], [y[~treated]], n_control)
    empty = [arm for arm, size in (("treated", n_treated), ("control", n_control)) if size <= 0]
    if empty:
        _warn_undefined(f"uplift_at_k is NaN: no {' and no '.join(empty)} row among the top k={k}")
        return math.nan
    return outcome_treated / n_treated - outcome_control / n_control


def _bin_of_rows(score: np.ndarray, bins: int) -> np.ndarray:
    """Bin of each row: ``numpy.array_split`` of the rows by descending score, tie groups kept whole.

    A group of tied scores goes to the bin that holds its middle row, so without ties at bin edges the
    bins are exactly scikit-uplift's.
    """
    n_rows = len(score)
    order, starts = _tie_groups(score)
    size, extra = divmod(n_rows, bins)
    bin_starts = np.arange(bins) * size + np.minimum(np.arange(bins), extra)
    ends = np.r_[starts[1:], n_rows]
    group_bins = np.searchsorted(bin_starts, (starts + ends - 1) // 2, side="right") - 1
    rows_bin = np.empty(n_rows, dtype=np.int64)
    rows_bin[order] = np.repeat(group_bins, ends - starts)
    return rows_bin


class _ArmStats(NamedTuple):
    """Per-bin row count, outcome sum, mean and population variance of one arm (NaN for empty bins)."""

    n: np.ndarray
    total: np.ndarray
    mean: np.ndarray
    variance: np.ndarray


def _arm_stats(y: np.ndarray, rows_bin: np.ndarray, bins: int) -> _ArmStats:
    n = np.bincount(rows_bin, minlength=bins).astype(np.float64)
    total = np.bincount(rows_bin, weights=y, minlength=bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        deviation = y - mean[rows_bin]
        variance = np.bincount(rows_bin, weights=deviation * deviation, minlength=bins) / n
    return _ArmStats(n, total, mean, variance)


def _check_bins(bins: Any, n_rows: int) -> int:
    bins = check_int(bins, "bins", 1)
    if bins >= n_rows:
        raise ValueError(f"Number of bins = {bins} should be smaller than the length of y_true {n_rows}")
    return bins


def _binned_arm_stats(
    y: np.ndarray, score: np.ndarray, treated: np.ndarray, strategy: str, bins: int
) -> tuple[_ArmStats, _ArmStats]:
    if strategy == "overall":
        rows_bin = _bin_of_rows(score, bins)
        return (_arm_stats(y[treated], rows_bin[treated], bins),
                _arm_stats(y[~treated], rows_bin[~treated], bins))
    return (_arm_stats(y[treated], _bin_of_rows(score[treated], bins), bins),
            _arm_stats(y[~treated], _bin_of_rows(score[~treated], bins), bins))


def _warn_empty_bins(function: str, treated: _ArmStats, control: _ArmStats, bins_used: np.ndarray) -> None:
    reasons = []
    empty = np.flatnonzero((treated.n == 0) & (control.n == 0) & bins_used) + 1
    if empty.size:
        reasons.append(f"bin(s) {empty.tolist()} are empty (groups of tied scores are kept whole in one bin)")
    for arm, stats, other in (("treated", treated, control), ("control", control, treated)):
        missing = np.flatnonzero((stats.n == 0) & (other.n > 0) & bins_used) + 1
        if missing.size:
            reasons.append(f"bin(s) {missing.tolist()} have no {arm} rows")
    if reasons:
        _warn_undefined(f"{function}: {'; '.join(reasons)}; rates and uplift are NaN there")


def response_rate_by_percentile(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, group: str, strategy: str = "overall",
    bins: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome rate (mean) of one arm in each bin of rows ordered by descending score.

    Parameters
    ----------
    y_true, uplift, treatment : array-like
        As in :func:`uplift_curve`; the outcome may be continuous.
    group : {"treatment", "control"}
        The arm.
    strategy : {"overall", "by_group"}
        Bin all rows together, or each arm's rows separately.
    bins : int
        Number of bins (deciles by default); tie groups are kept whole, see :func:`uplift_by_percentile`.

    Returns
    -------
    response_rate, variance, group_size : ndarray
        Per bin: the arm's mean outcome, the variance of that mean (population variance / n, which is
        ``p (1 - p) / n`` for a binary outcome, as scikit-uplift) and the arm's row count. NaN, with a
        warning, in bins without rows of the arm.
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    _check_choice("group", group, ("treatment", "control"))
    _check_choice("strategy", strategy, ("overall", "by_group"))
    bins = _check_bins(bins, len(y))
    stats_treated, stats_control = _binned_arm_stats(y, score, treated, strategy, bins)
    stats = stats_treated if group == "treatment" else stats_control
    empty = np.flatnonzero(stats.n == 0) + 1
    if empty.size:
        _warn_undefined(f"response_rate_by_percentile: bin(s) {empty.tolist()} have no {group} rows; NaN there")
    with np.errstate(divide="ignore", invalid="ignore"):
        return stats.mean, stats.variance / stats.n, stats.n.astype(np.int64)


def _percentile_labels(bins: int, string_percentiles: bool) -> list:
    edges = [round(p * 100 / bins) for p in range(1, bins + 1)]
    if not string_percentiles:
        return edges
    return [f"{low}-{high}" for low, high in zip([0, *edges[:-1]], edges, strict=True)]


def uplift_by_percentile(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, strategy: str = "overall", bins: int = 10,
    std: bool = False, total: bool = False, string_percentiles: bool = True,
) -> pd.DataFrame:
    """Per-bin group sizes, outcome rates and uplift, rows ordered by descending score (as scikit-uplift).

    Parameters
    ----------
    y_true, uplift, treatment : array-like
        As in :func:`uplift_curve`; the outcome may be continuous (rates are then means).
    strategy : {"overall", "by_group"}
        Bin all rows together, or each arm's rows separately.
    bins : int
        Number of bins; rows are split as ``numpy.array_split`` of the sorted rows, except that each group
        of tied scores stays whole, in the bin holding its middle row (so bins can be empty when many
        rows tie, e.g. a tree's leaves).
    std : bool
        Add ``std_treatment``, ``std_control`` and ``std_uplift``: standard errors of the rates and of
        their difference (``sqrt(p (1 - p) / n)`` for a binary outcome).
    total : bool
        Add a ``total`` row over all rows. Its standard errors are those of the overall rates
        (scikit-uplift 0.5.1 puts the sum of the bins' standard errors there).
    string_percentiles : bool
        Index labels ``"0-10", "10-20", ...`` (True) or the upper percentiles ``10, 20, ...`` (False).

    Returns
    -------
    pandas.DataFrame
        Index ``percentile``; columns ``n_treatment``, ``n_control``, ``response_rate_treatment``,
        ``response_rate_control``, ``uplift`` (and the ``std_*`` columns). Rates are NaN, with a warning,
        in bins without rows of an arm.
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    _check_choice("strategy", strategy, ("overall", "by_group"))
    _check_flag("std", std)
    _check_flag("total", total)
    _check_flag("string_percentiles", string_percentiles)
    bins = _check_bins(bins, len(y))
    stats_treated, stats_control = _binned_arm_stats(y, score, treated, strategy, bins)
    _warn_empty_bins("uplift_by_percentile", stats_treated, stats_control, np.ones(bins, dtype=bool))
    rows = [stats_treated, stats_control]
    labels = _percentile_labels(bins, string_percentiles)
    if total:
        everything = np.zeros(len(y), dtype=np.int64)
        totals = (_arm_stats(y[treated], everything[treated], 1), _arm_stats(y[~treated], everything[~treated], 1))
        rows = [_ArmStats(*(np.r_[part, whole] for part, whole in zip(arm, arm_total, strict=True)))
                for arm, arm_total in zip(rows, totals, strict=True)]
        labels = [*labels, "total"]
    stats_treated, stats_control = rows
    table = pd.DataFrame(
        {
            "n_treatment": stats_treated.n.astype(np.int32),
            "n_control": stats_control.n.astype(np.int32),
            "response_rate_treatment": stats_treated.mean,
            "response_rate_control": stats_control.mean,
            "uplift": stats_treated.mean - stats_control.mean,
        },
        index=pd.Index(labels, name="percentile"),
    )
    if std:
        with np.errstate(divide="ignore", invalid="ignore"):
            variance_treated = stats_treated.variance / stats_treated.n
            variance_control = stats_control.variance / stats_control.n
        table["std_treatment"] = np.sqrt(variance_treated)
        table["std_control"] = np.sqrt(variance_control)
        table["std_uplift"] = np.sqrt(variance_treated + variance_control)
    return table


def weighted_average_uplift(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, strategy: str = "overall", bins: int = 10
) -> float:
    """Average of the per-bin uplifts of :func:`uplift_by_percentile`, weighted by treated rows per bin.

    Bins without treated rows have weight 0 and are skipped (scikit-uplift returns NaN). NaN, with a
    warning, when a bin with treated rows has no control rows.
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    _check_choice("strategy", strategy, ("overall", "by_group"))
    bins = _check_bins(bins, len(y))
    stats_treated, stats_control = _binned_arm_stats(y, score, treated, strategy, bins)
    weighted = stats_treated.n > 0
    if np.any(stats_control.n[weighted] == 0):
        _warn_empty_bins("weighted_average_uplift", stats_treated, stats_control, weighted)
        return math.nan
    uplifts = stats_treated.mean[weighted] - stats_control.mean[weighted]
    return float(np.dot(stats_treated.n[weighted], uplifts) / np.sum(stats_treated.n[weighted]))


def treatment_balance_curve(
    uplift: ArrayLike, treatment: ArrayLike, winsize: int
) -> tuple[np.ndarray, np.ndarray]:
    """Share of treated rows in a sliding window over rows ordered by descending score.

    Parameters
    ----------
    uplift, treatment : array-like
        As in :func:`uplift_curve`.
    winsize : int
        Window size in rows, 1 to ``n_samples``.

    Returns
    -------
    percentile, balance : ndarray
        ``n_samples - winsize + 1`` points, at percentiles evenly spaced from 1 to 100 (as
        scikit-uplift). Within a group of tied scores every row counts with the group's treated share.
    """
    score = _numeric_1d("uplift", uplift)
    treated = _check_treatment(treatment)
    if len(score) != len(treated):
        raise ValueError(f"uplift and treatment must have the same length; got {len(score)} and {len(treated)}")
    winsize = check_int(winsize, "winsize", 1)
    if winsize > len(score):
        raise ValueError(f"winsize={winsize} is larger than the {len(score)} rows")
    order, starts = _tie_groups(score)
    sizes = np.diff(np.r_[starts, len(score)])
    group_share = np.add.reduceat(treated[order].astype(np.float64), starts) / sizes
    cumulative = np.r_[0.0, np.cumsum(np.repeat(group_share, sizes))]
    balance = (cumulative[winsize:] - cumulative[:-winsize]) / winsize
    return np.linspace(1, 100, len(balance)), balance


def calibration_table(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, bins: int = 10, alpha: float = 0.05
) -> pd.DataFrame:
    """Predicted vs observed uplift per bin of predicted uplift, with confidence intervals.

    Rows are binned by descending predicted uplift as in :func:`uplift_by_percentile` (deciles by default;
    tied scores stay in one bin, and empty bins are dropped). The observed uplift is the treated minus
    the control outcome rate of the bin's rows.

    Parameters
    ----------
    y_true, uplift, treatment : array-like
        As in :func:`uplift_curve`. A binary (0/1) outcome gets Newcombe's hybrid score interval, any
        other outcome Welch's t interval (see :mod:`upliftree.inference`).
    bins : int
        Number of bins.
    alpha : float
        Intervals have coverage ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, highest predictions first: ``bin`` (1-based), ``score_min``,
        ``score_max``, ``n_treatment``, ``n_control``, ``predicted_uplift`` (mean score of the bin's
        rows), ``response_rate_treatment``, ``response_rate_control``, ``observed_uplift``, ``ci_low``,
        ``ci_high``, ``p_value``. Observed values are NaN, with a warning, in bins without treated or
        control rows (fewer than 2 for a continuous outcome).
    """
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    bins = _check_bins(bins, len(y))
    alpha = _check_alpha(alpha)
    rows_bin = _bin_of_rows(score, bins)
    n_rows = np.bincount(rows_bin, minlength=bins)
    used = np.flatnonzero(n_rows > 0)
    stats_treated, stats_control = _binned_arm_stats(y, score, treated, "overall", bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        predicted = np.bincount(rows_bin, weights=score, minlength=bins) / n_rows
    binary = _is_binary(y)
    if binary:
        estimate, low, high, p_value = diff_proportions_ci(
            stats_treated.n, stats_treated.total, stats_control.n, stats_control.total, alpha
        )
        minimum = 1
    else:
        sample_variances = [np.nan_to_num(stats.variance * stats.n / np.maximum(stats.n - 1, 1))
                            for stats in (stats_treated, stats_control)]
        estimate, low, high, p_value = welch_ci(
            stats_treated.n, np.nan_to_num(stats_treated.mean), sample_variances[0],
            stats_control.n, np.nan_to_num(stats_control.mean), sample_variances[1], alpha,
        )
        minimum = 2
    too_small = used[(stats_treated.n[used] < minimum) | (stats_control.n[used] < minimum)]
    if too_small.size:
        _warn_undefined(
            f"calibration_table: bin(s) {(too_small + 1).tolist()} have fewer than {minimum} treated or "
            "control rows, so their observed uplift and interval are NaN"
        )
    score_min = np.full(bins, np.inf)
    score_max = np.full(bins, -np.inf)
    np.minimum.at(score_min, rows_bin, score)
    np.maximum.at(score_max, rows_bin, score)
    return pd.DataFrame(
        {
            "bin": used + 1,
            "score_min": score_min[used],
            "score_max": score_max[used],
            "n_treatment": stats_treated.n[used].astype(np.int64),
            "n_control": stats_control.n[used].astype(np.int64),
            "predicted_uplift": predicted[used],
            "response_rate_treatment": stats_treated.mean[used],
            "response_rate_control": stats_control.mean[used],
            "observed_uplift": np.asarray(estimate)[used],
            "ci_low": np.asarray(low)[used],
            "ci_high": np.asarray(high)[used],
            "p_value": np.asarray(p_value)[used],
        }
    )


# ---------------------------------------------------------------------------------------------------------
# Several treatments


def _arm_mask(labels: np.ndarray, label: Any, argument: str) -> np.ndarray:
    mask = label_mask(labels, label)
    if not mask.any():
        found = pd.unique(labels)[:10].tolist()
        raise ValueError(f"{argument}={label!r} has no rows in treatment; labels found: {found}")
    return mask


def _uplift_columns(uplift: ArrayLike, arms: Sequence[Any] | None, n_rows: int) -> np.ndarray:
    matrix = np.asarray(uplift)
    if matrix.ndim != 2:
        raise ValueError(f"uplift must be 2-D (one column per treatment arm), got shape {matrix.shape}")
    if arms is None or len(arms) != matrix.shape[1]:
        raise ValueError(
            f"arms must name the {matrix.shape[1]} columns of uplift (treatment labels, in column order), "
            f"got {arms!r}"
        )
    if matrix.shape[0] != n_rows:
        raise ValueError(f"uplift has {matrix.shape[0]} rows but treatment has {n_rows}")
    return _as_float("uplift", matrix)


def one_vs_control(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, arm: Any, control: Any = 0,
    arms: Sequence[Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of one treatment arm and of control, ready for any metric here.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    uplift : array-like of shape (n_samples,) or (n_samples, n_arms)
        The arm's predicted uplift vs control, or a matrix with one column per treatment arm.
    treatment : array-like of shape (n_samples,)
        Arm labels (numbers or strings).
    arm, control : labels
        The treatment arm to evaluate and the control label.
    arms : sequence of labels, optional
        Column labels of a 2-D ``uplift``.

    Returns
    -------
    y_true, uplift, treatment : ndarray
        The rows whose arm is ``arm`` or ``control``, with ``treatment`` coded 1/0. Example:
        ``qini_auc_score(*one_vs_control(y, scores, t, arm="email", control="control", arms=names))``.
    """
    labels = np.asarray(treatment)
    if labels.ndim != 1:
        raise ValueError(f"treatment must be 1-D, got shape {labels.shape}")
    if np.ndim(uplift) == 2:
        matrix = _uplift_columns(uplift, arms, len(labels))
        if arm not in list(arms):
            raise ValueError(f"arm={arm!r} is not one of the columns named by arms={list(arms)!r}")
        scores = matrix[:, list(arms).index(arm)]
    else:
        scores = np.asarray(uplift)
    is_arm = _arm_mask(labels, arm, "arm")
    keep = is_arm | _arm_mask(labels, control, "control")
    y = np.asarray(y_true)
    for name, values in (("y_true", y), ("uplift", scores)):
        if len(values) != len(labels):
            raise ValueError(f"{name} has {len(values)} rows but treatment has {len(labels)}")
    return y[keep], scores[keep], is_arm[keep].astype(np.int64)


def best_arm_rows(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, arms: Sequence[Any], control: Any = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows that evaluate a multi-treatment model's best-arm recommendation.

    Each row's recommended arm is the column with the largest predicted uplift (the first on ties) and
    its score is that uplift. Kept are the rows whose actual arm is their recommended arm (coded 1) and
    all control rows (coded 0), as in the multiple-treatment evaluation of Rzepakowski & Jaroszewicz
    (2012), "Decision trees for uplift modeling with single and multiple treatments", Knowledge and
    Information Systems 32, 303-327. A curve on these rows shows the incremental outcome of treating
    the top-scored rows with their recommended arms.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    uplift : array-like of shape (n_samples, n_arms)
        Predicted uplift of each treatment arm vs control.
    treatment : array-like of shape (n_samples,)
        Actual arm labels.
    arms : sequence of labels
        Treatment label of each column of ``uplift``.
    control : label
        The control label.

    Returns
    -------
    y_true, uplift, treatment : ndarray
        The kept rows, their best predicted uplift, and 1/0 for recommended arm/control.
    """
    labels = np.asarray(treatment)
    if labels.ndim != 1:
        raise ValueError(f"treatment must be 1-D, got shape {labels.shape}")
    matrix = _uplift_columns(uplift, arms, len(labels))
    y = np.asarray(y_true)
    if len(y) != len(labels):
        raise ValueError(f"y_true has {len(y)} rows but treatment has {len(labels)}")
    best = np.argmax(matrix, axis=1)
    is_control = _arm_mask(labels, control, "control")
    got_recommended = np.zeros(len(labels), dtype=bool)
    for column, arm in enumerate(arms):
        got_recommended |= (best == column) & label_mask(labels, arm)
    keep = got_recommended | is_control
    return y[keep], matrix[keep, :][np.arange(keep.sum()), best[keep]], got_recommended[keep].astype(np.int64)


def best_arm_score(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, arms: Sequence[Any], control: Any = 0,
    metric: Callable[..., float] | str = "qini_auc_score", **metric_kwargs: Any,
) -> float:
    """``metric`` on the rows of :func:`best_arm_rows` (default: the Qini coefficient).

    ``metric`` is a function ``(y_true, uplift, treatment, **metric_kwargs) -> float`` or the name of one
    in this module.
    """
    function, _ = _resolve_metric(metric)
    return function(*best_arm_rows(y_true, uplift, treatment, arms, control), **metric_kwargs)


# ---------------------------------------------------------------------------------------------------------
# Bootstrap


_FAST_METRICS = {"qini_auc_score": qini_auc_score, "uplift_auc_score": uplift_auc_score}
_METRICS_BY_NAME = {
    **_FAST_METRICS,
    "uplift_at_k": uplift_at_k,
    "weighted_average_uplift": weighted_average_uplift,
}


def _resolve_metric(metric: Callable[..., float] | str) -> tuple[Callable[..., float], str | None]:
    """The metric function and, when the vectorized bootstrap supports it, its name."""
    if isinstance(metric, str):
        if metric not in _METRICS_BY_NAME:
            raise ValueError(f"metric must be a callable or one of {sorted(_METRICS_BY_NAME)}, got {metric!r}")
        metric = _METRICS_BY_NAME[metric]
    if not callable(metric):
        raise TypeError(f"metric must be a callable or a metric name, got {metric!r}")
    fast_name = next((name for name, function in _FAST_METRICS.items() if function is metric), None)
    return metric, fast_name


def _check_n_jobs(n_jobs: Any) -> int:
    if n_jobs is None:
        return os.cpu_count() or 1
    return check_int(n_jobs, "n_jobs", 1)


class _Resampling(NamedTuple):
    """Arrays the bootstrap kernels share, rows permuted into the first model's score order."""

    y: np.ndarray
    treated: np.ndarray
    scores: list[np.ndarray]
    treated_rows: np.ndarray
    control_rows: np.ndarray


def _prepare_resampling(y: np.ndarray, scores: list[np.ndarray], treated: np.ndarray) -> _Resampling:
    # In score order, the first model's curve sweep reads rows sequentially: far fewer cache misses.
    order = np.argsort(-scores[0], kind="stable")
    treated = treated[order]
    return _Resampling(
        y[order], treated, [score[order] for score in scores],
        np.flatnonzero(treated).astype(np.int64), np.flatnonzero(~treated).astype(np.int64),
    )


def _run_chunks(kernel: Callable[..., Any], n_boot: int, random_state: Any, n_jobs: int) -> list[Any]:
    """Call ``kernel(seed, n_resamples)`` on chunks of resamples, in threads (the kernels are nogil).

    Each chunk's seed comes from its own stream of ``random_state``, so results do not depend on
    ``n_jobs``.
    """
    sizes = [min(_BOOTSTRAP_CHUNK, n_boot - start) for start in range(0, n_boot, _BOOTSTRAP_CHUNK)]
    seeds = [np.uint64(generator.integers(0, 2**63)) for generator in spawn_generators(random_state, len(sizes))]
    if n_jobs == 1 or len(sizes) == 1:
        return [kernel(seed, size) for seed, size in zip(seeds, sizes, strict=True)]
    with ThreadPoolExecutor(max_workers=min(n_jobs, len(sizes))) as pool:
        return list(pool.map(kernel, seeds, sizes))


# The four (arm, outcome) cells of a binary outcome, as rows: treated responders, treated non-responders,
# control responders, control non-responders.
_CELL_TREATED = np.array([True, True, False, False])
_CELL_OUTCOME = np.array([1.0, 0.0, 1.0, 0.0])


def _cell_curve_areas(kind: int, cell_score: np.ndarray, cell_counts: np.ndarray) -> np.ndarray:
    """Area of the curve of a score that depends only on (arm, outcome), for each row of cell counts.

    Tied scores make one group, so such a curve only depends on how many rows each cell has: a perfect
    curve of a binary outcome is computed from 4 counts instead of a pass over all rows.
    """
    ordering = _ordering(cell_score, _CELL_OUTCOME, _CELL_TREATED)
    x = np.empty(len(ordering.group_ends))
    values = np.empty(len(ordering.group_ends))
    return np.array([_kernels.curve_points(kind, counts, *ordering, x, values)[0] for counts in cell_counts])


def _fast_bootstrap(
    name: str, data: _Resampling, n_boot: int, random_state: Any, n_jobs: int, metric_kwargs: dict
) -> np.ndarray:
    """Metric of each model on each resample, (n_boot, n_models), from the compiled curve kernel."""
    negative_effect = metric_kwargs.get("negative_effect", True)
    kind = _kernels.QINI if name == "qini_auc_score" else _kernels.UPLIFT
    binary = _is_binary(data.y)
    # A continuous outcome's perfect Qini ordering is swept row by row, next to the models.
    row_perfect = name == "qini_auc_score" and negative_effect and not binary
    scores = [*data.scores, _perfect_qini_score(data.y, data.treated)] if row_perfect else data.scores
    orderings = [_ordering(score, data.y, data.treated) for score in scores]
    rows_in_order, treated_in_order, outcome_in_order = (
        np.vstack([ordering[field] for ordering in orderings]) for field in range(3)
    )
    group_ends = np.concatenate([ordering.group_ends for ordering in orderings])
    group_offsets = np.r_[0, np.cumsum([len(ordering.group_ends) for ordering in orderings])].astype(np.int64)

    def kernel(seed: np.uint64, size: int) -> tuple[np.ndarray, ...]:
        return _kernels.bootstrap_curve_areas(
            seed, size, kind, data.treated_rows, data.control_rows, rows_in_order, treated_in_order,
            outcome_in_order, group_ends, group_offsets,
        )

    parts = _run_chunks(kernel, n_boot, random_state, n_jobs)
    areas, final_value, outcome_treated, outcome_control = (
        np.concatenate([part[index] for part in parts]) for index in range(4)
    )
    n_treated, n_control = len(data.treated_rows), len(data.control_rows)
    n_rows = len(data.y)
    n_models = len(data.scores)
    if binary:
        cell_counts = np.column_stack([
            outcome_treated, n_treated - outcome_treated, outcome_control, n_control - outcome_control
        ]).round().astype(np.int32)
    if name == "qini_auc_score" and not negative_effect:
        perfect_area = _flat_perfect_qini_area(final_value, n_rows)
    elif row_perfect:
        perfect_area = areas[:, n_models]
    elif name == "qini_auc_score":
        perfect_area = _cell_curve_areas(kind, _perfect_qini_score(_CELL_OUTCOME, _CELL_TREATED), cell_counts)
    else:
        first, second = (_cell_curve_areas(kind, score, cell_counts)
                         for score in _perfect_uplift_candidates(_CELL_OUTCOME, _CELL_TREATED))
        perfect_area = np.where(_control_responders_first(outcome_treated, outcome_control, n_treated), first, second)
    return _normalized_area(areas[:, :n_models], perfect_area[:, None], final_value[:, None], n_rows)


def _generic_bootstrap(
    metric: Callable[..., float], data: _Resampling, n_boot: int, random_state: Any, metric_kwargs: dict
) -> np.ndarray:
    """Metric of each model on each resample by calling ``metric`` (any function of y, uplift, treatment).

    The resamples are the ones the compiled kernel would draw for the same ``random_state``.
    """
    treatment = data.treated.astype(np.int64)

    def evaluate(seed: np.uint64, size: int) -> np.ndarray:
        values = np.empty((size, len(data.scores)))
        for rep, rows in enumerate(_kernels.resample_rows(seed, size, data.treated_rows, data.control_rows)):
            for model, score in enumerate(data.scores):
                values[rep, model] = metric(data.y[rows], score[rows], treatment[rows], **metric_kwargs)
        return values

    with warnings.catch_warnings():
        # Undefined resamples are counted and reported once, by the caller.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return np.vstack(_run_chunks(evaluate, n_boot, random_state, n_jobs=1))


def _bootstrap_values(
    metric: Callable[..., float] | str, y_true: ArrayLike, uplifts: Sequence[ArrayLike], treatment: ArrayLike,
    n_boot: int, random_state: Any, metric_kwargs: dict | None, n_jobs: Any,
) -> tuple[Callable[..., float], np.ndarray]:
    function, fast_name = _resolve_metric(metric)
    check_int(n_boot, "n_boot", 1)
    metric_kwargs = dict(metric_kwargs or {})
    checked = [_check_inputs(y_true, uplift, treatment) for uplift in uplifts]
    y, _, treated = checked[0]
    data = _prepare_resampling(y, [score for _, score, _ in checked], treated)
    # One call on the full data validates the metric's arguments (and the outcome type) up front.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        function(y, checked[0][1], treated.astype(np.int64), **metric_kwargs)
    if fast_name is not None:
        values = _fast_bootstrap(fast_name, data, n_boot, random_state, _check_n_jobs(n_jobs), metric_kwargs)
    else:
        values = _generic_bootstrap(function, data, n_boot, random_state, metric_kwargs)
    return function, values


def _percentile_interval(values: np.ndarray, alpha: float, what: str) -> tuple[float, float]:
    defined = values[~np.isnan(values)]
    n_undefined = len(values) - len(defined)
    if n_undefined == len(values):
        _warn_undefined(f"{what}: the metric is undefined (NaN) on every resample; the interval is NaN")
        return math.nan, math.nan
    if n_undefined:
        _warn_undefined(
            f"{what}: the metric is undefined (NaN) on {n_undefined} of {len(values)} resamples (e.g. a "
            "resample without responders; the metric's docstring says when it is undefined); the interval "
            "uses the other resamples"
        )
    low, high = np.percentile(defined, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_ci(
    metric: Callable[..., float] | str, y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike,
    n_boot: int = 1000, alpha: float = 0.05, random_state: Any = None, *,
    metric_kwargs: dict | None = None, n_jobs: int | None = None,
) -> tuple[float, float]:
    """Bootstrap percentile interval of an uplift metric.

    Each resample draws, with replacement, as many treated rows from the treated rows and as many control
    rows from the control rows as the data has (arm sizes fixed); the scores stay attached to their rows.

    Parameters
    ----------
    metric : callable or str
        A function ``(y_true, uplift, treatment, **metric_kwargs) -> float`` or its name in this module.
        :func:`qini_auc_score` and :func:`uplift_auc_score` use a compiled kernel (1,000 resamples of
        100,000 rows take about a second or two); other functions are called once per resample.
    y_true, uplift, treatment : array-like
        As in :func:`uplift_curve`.
    n_boot : int
        Number of resamples.
    alpha : float
        The interval has coverage ``1 - alpha``.
    random_state : None, int or numpy.random.Generator
        Seed of the resampling; results do not depend on ``n_jobs``.
    metric_kwargs : dict, optional
        Extra arguments of ``metric``, e.g. ``{"negative_effect": False}`` or ``{"k": 0.1}``.
    n_jobs : int, optional
        Threads for the compiled kernel (default: all cores).

    Returns
    -------
    low, high : float
        Resamples where the metric is undefined (e.g. no responders) are left out, with a warning that
        says how many.
    """
    alpha = _check_alpha(alpha)
    _, values = _bootstrap_values(metric, y_true, [uplift], treatment, n_boot, random_state, metric_kwargs, n_jobs)
    return _percentile_interval(values[:, 0], alpha, "bootstrap_ci")


def bootstrap_compare(
    metric: Callable[..., float] | str, y_true: ArrayLike, uplift_a: ArrayLike, uplift_b: ArrayLike,
    treatment: ArrayLike, n_boot: int = 1000, alpha: float = 0.05, random_state: Any = None, *,
    metric_kwargs: dict | None = None, n_jobs: int | None = None,
) -> BootstrapComparison:
    """Paired bootstrap comparison of two models' scores on the same rows.

    Both models are scored on the same resamples (see :func:`bootstrap_ci`), so the interval of the
    difference accounts for their correlation; an interval that excludes 0 means model A's metric
    differs from model B's at level ``alpha``.

    Returns
    -------
    BootstrapComparison
        ``difference = metric(uplift_a) - metric(uplift_b)`` on the full data, and the percentile
        interval ``(low, high)`` of the per-resample differences.
    """
    alpha = _check_alpha(alpha)
    function, values = _bootstrap_values(
        metric, y_true, [uplift_a, uplift_b], treatment, n_boot, random_state, metric_kwargs, n_jobs
    )
    kwargs = dict(metric_kwargs or {})
    difference = function(y_true, uplift_a, treatment, **kwargs) - function(y_true, uplift_b, treatment, **kwargs)
    low, high = _percentile_interval(values[:, 0] - values[:, 1], alpha, "bootstrap_compare")
    return BootstrapComparison(float(difference), low, high)


def bootstrap_curve_band(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, curve: str = "qini", n_points: int = 101,
    n_boot: int = 200, alpha: float = 0.05, random_state: Any = None, n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise bootstrap percentile band of the Qini or uplift curve.

    Resampling as in :func:`bootstrap_ci`; each resampled curve is read (linearly between its points) at
    ``n_points`` evenly spaced numbers of targeted rows.

    Returns
    -------
    n_targeted, low, high : ndarray of shape (n_points,)
    """
    kind = {"qini": _kernels.QINI, "uplift": _kernels.UPLIFT}[_check_choice("curve", curve, ("qini", "uplift"))]
    alpha = _check_alpha(alpha)
    check_int(n_boot, "n_boot", 1)
    n_points = check_int(n_points, "n_points", 2)
    y, score, treated = _check_inputs(y_true, uplift, treatment)
    data = _prepare_resampling(y, [score], treated)
    ordering = _ordering(data.scores[0], data.y, data.treated)
    grid = np.linspace(0.0, len(y), n_points)

    def kernel(seed: np.uint64, size: int) -> np.ndarray:
        return _kernels.bootstrap_curves_on_grid(
            seed, size, kind, data.treated_rows, data.control_rows, *ordering, grid
        )

    curves = np.vstack(_run_chunks(kernel, n_boot, random_state, _check_n_jobs(n_jobs)))
    low, high = np.percentile(curves, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return grid, low, high
