"""Top-k and binned metrics: uplift@k, percentile (decile) tables, weighted average uplift, treatment balance,
and the calibration table with confidence intervals.

Where a cut (``uplift_at_k``, the treatment balance window) falls inside a group of tied scores, the group
counts with its share of rows, i.e. the average over all orderings of the tied rows. Binned tables keep
every tie group whole in one bin.

With ``propensity``, arm means are inverse-probability weighted (Hájek) means; with ``propensity`` or
``cluster``, standard errors and intervals use the design-based (sandwich) variance of those means, over
clusters when ``cluster`` is given (docs/design.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._params import ParameterTypeError, check_alpha, check_bool, check_choice, check_int
from .._validation import is_binary
from ..inference import diff_proportions_ci, welch_ci
from ._inputs import MetricInputs, check_inputs, warn_undefined
from ._ranking import tie_groups


def _interpolated_sums(score: np.ndarray, columns: Sequence[np.ndarray], n_top: float) -> list[float]:
    """Sums of ``columns`` over the ``n_top`` highest-scored rows; a cut tie group counts pro rata."""
    order, starts = tie_groups(score)
    positions = np.r_[starts, len(score)]
    sums = []
    for column in columns:
        cumulative = np.r_[0.0, np.cumsum(np.add.reduceat(column[order], starts))]
        sums.append(float(np.interp(n_top, positions, cumulative)))
    return sums


def _check_k(k: Any, n_rows: int) -> None:
    kind = np.asarray(k).dtype.kind
    if kind not in "iuf" or isinstance(k, bool):
        raise ParameterTypeError(f"k must be an int or a float, got {k!r}")
    if (kind == "f" and not 0 < k < 1) or (kind in "iu" and not 0 < k < n_rows):
        raise ValueError(
            f"k={k} should be either positive and smaller than the number of samples {n_rows} "
            "or a float in the (0, 1) range"
        )


def _row_weights(data: MetricInputs) -> np.ndarray:
    """The rows' weights: Hájek weights with a propensity, else 1 (which reproduces the unweighted numbers)."""
    return np.ones(len(data.treated)) if data.weight is None else data.weight


def uplift_at_k(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, strategy: str = "overall", k: float = 0.3, *,
    propensity: Any = None, cluster: Any = None,
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
    propensity, cluster : optional
        The design, as in :func:`uplift_curve`: with ``propensity`` the rates are weighted means (the top
        ``k`` is still a number of rows); ``cluster`` does not change the value.

    Returns
    -------
    float
        NaN, with a warning, when an arm has no row among the top ``k``. Where the cut falls inside a group
        of tied scores, that group counts with its share of rows (scikit-uplift takes tied rows in reverse
        row order instead).
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    y, score, treated = data.y, data.score, data.treated
    weight = _row_weights(data)
    check_choice(strategy, "strategy", ("overall", "by_group"))
    _check_k(k, len(y))
    is_share = np.asarray(k).dtype.kind == "f"
    if strategy == "overall":
        n_top = int(len(y) * k) if is_share else int(k)
        if n_top == 0:
            raise ValueError(f"k={k} selects no row out of {len(y)}")
        # Each arm's count is interpolated on its own, so an arm absent from the top rows counts exactly 0.
        n_treated, n_control, outcome_treated, outcome_control = _interpolated_sums(
            score, [np.where(treated, weight, 0.0), np.where(treated, 0.0, weight), np.where(treated, weight * y, 0.0),
                    np.where(treated, 0.0, weight * y)], n_top,
        )
    else:
        arm_sizes = {"treated": int(treated.sum()), "control": int((~treated).sum())}
        tops = {arm: int(size * k) if is_share else int(k) for arm, size in arm_sizes.items()}
        for arm, n_top in tops.items():
            if n_top > arm_sizes[arm]:
                raise ValueError(f"k={k} exceeds the {arm_sizes[arm]} rows of the {arm} group")
            if n_top == 0:
                raise ValueError(f"k={k} selects no row of the {arm_sizes[arm]} rows of the {arm} group")
        outcome_treated, n_treated = _interpolated_sums(
            score[treated], [(weight * y)[treated], weight[treated]], tops["treated"]
        )
        outcome_control, n_control = _interpolated_sums(
            score[~treated], [(weight * y)[~treated], weight[~treated]], tops["control"]
        )
    empty = [arm for arm, size in (("treated", n_treated), ("control", n_control)) if size <= 0]
    if empty:
        warn_undefined(f"uplift_at_k is NaN: no {' and no '.join(empty)} row among the top k={k}")
        return math.nan
    return outcome_treated / n_treated - outcome_control / n_control


def score_bins(uplift: ArrayLike, bins: int = 10) -> np.ndarray:
    """The bin of every row in the decile tables (:func:`calibration_table`, :func:`uplift_by_percentile`):
    0 for the highest predicted uplift, ``bins - 1`` for the lowest, tie groups kept whole.

    Parameters
    ----------
    uplift : array-like of shape (n_samples,)
        Predicted uplift (finite numbers).
    bins : int
        Number of bins, fewer than the rows.

    Returns
    -------
    numpy.ndarray of int64
        ``calibration_table``'s ``bin`` of each row, less one.
    """
    score = np.asarray(uplift, dtype=np.float64)
    if score.ndim != 1 or not np.all(np.isfinite(score)):
        raise ValueError("uplift must be a 1-D array of finite numbers")
    bins = check_int(bins, "bins", 1)
    if bins >= len(score):
        raise ValueError(f"bins={bins} must be fewer than the {len(score)} rows of uplift")
    return _bin_of_rows(score, bins)


def _bin_of_rows(score: np.ndarray, bins: int) -> np.ndarray:
    """Bin of each row: ``numpy.array_split`` of the rows by descending score, tie groups kept whole.

    A group of tied scores goes to the bin that holds its middle row, so without ties at bin edges the
    bins are exactly scikit-uplift's.
    """
    n_rows = len(score)
    order, starts = tie_groups(score)
    size, extra = divmod(n_rows, bins)
    bin_starts = np.arange(bins) * size + np.minimum(np.arange(bins), extra)
    ends = np.r_[starts[1:], n_rows]
    group_bins = np.searchsorted(bin_starts, (starts + ends - 1) // 2, side="right") - 1
    rows_bin = np.empty(n_rows, dtype=np.int64)
    rows_bin[order] = np.repeat(group_bins, ends - starts)
    return rows_bin


class _ArmStats(NamedTuple):
    """Per-bin statistics of one arm (NaN for empty bins): rows, total weight, weighted outcome sum, mean and
    population variance (weighted), the variance of the mean, the effective size and the number of
    independent units (rows, or clusters).

    Without a design the weights are 1, the variance of the mean is ``variance / n`` and the effective size is
    ``n``. With one (docs/design.md), the variance of the mean is the sandwich over units, with the factor
    ``G / (G - 1)`` over ``G`` clusters (NaN with fewer than 2), and the effective size is
    ``variance / variance of the mean`` (Kish's ``W^2 / sum of squared unit weights`` where that is 0 / 0).
    """

    n: np.ndarray
    weight: np.ndarray
    total: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    mean_variance: np.ndarray
    n_effective: np.ndarray
    units: np.ndarray


def _arm_stats(y: np.ndarray, rows_bin: np.ndarray, bins: int, weight: np.ndarray | None = None,
               cluster: np.ndarray | None = None) -> _ArmStats:
    """Statistics of one arm's rows per bin; ``weight`` and ``cluster`` None is the unweighted, row-level case."""
    n = np.bincount(rows_bin, minlength=bins).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if weight is None and cluster is None:
            total = np.bincount(rows_bin, weights=y, minlength=bins)
            mean = total / n
            deviation = y - mean[rows_bin]
            variance = np.bincount(rows_bin, weights=deviation * deviation, minlength=bins) / n
            return _ArmStats(n, n, total, mean, variance, variance / n, n, n)
        weight = np.ones(len(y)) if weight is None else weight
        weight_sum = np.bincount(rows_bin, weights=weight, minlength=bins)
        total = np.bincount(rows_bin, weights=weight * y, minlength=bins)
        mean = total / weight_sum
        influence = weight * (y - mean[rows_bin])  # each row's part of the linearized mean, times the bin's weight
        variance = np.bincount(rows_bin, weights=influence * (y - mean[rows_bin]), minlength=bins) / weight_sum
        if cluster is None:
            units = n
            unit_influence, unit_weights, unit_bin, factor = influence, weight, rows_bin, 1.0
        else:
            # A unit is a (bin, cluster) pair: the rows of a cluster that fell into the bin.
            n_clusters = int(cluster.max()) + 1
            pairs, pair_of_row = np.unique(rows_bin * n_clusters + cluster, return_inverse=True)
            unit_bin = pairs // n_clusters
            unit_influence = np.bincount(pair_of_row, weights=influence)
            unit_weights = np.bincount(pair_of_row, weights=weight)
            units = np.bincount(unit_bin, minlength=bins).astype(np.float64)
            factor = np.where(units >= 2, units / (units - 1), np.nan)
        squared_influence = np.bincount(unit_bin, weights=unit_influence * unit_influence, minlength=bins)
        mean_variance = factor * squared_influence / weight_sum / weight_sum
        kish = weight_sum * weight_sum / np.bincount(unit_bin, weights=unit_weights * unit_weights, minlength=bins)
        n_effective = np.where(mean_variance > 0, variance / mean_variance, kish)
        if cluster is not None:
            # One cluster carries no information on the variance: no interval (effective size 0).
            n_effective = np.where(units >= 2, n_effective, 0.0)
    return _ArmStats(n, weight_sum, total, mean, variance, mean_variance, n_effective, units)


def _bin_mean_cost(cost: Any, rows_bin: np.ndarray, bins: int) -> np.ndarray:
    """Mean cost of treating a row of each bin: ``cost`` is a number or one value per row (e.g. a modelled
    expected cost such as face value x P(redeem))."""
    if np.ndim(cost) == 0:
        return np.full(bins, float(cost))
    cost = np.asarray(cost, dtype=np.float64)
    if cost.shape != rows_bin.shape or not np.isfinite(cost).all():
        raise ValueError(f"cost must be a number or one finite value per row ({len(rows_bin)}), got shape {cost.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(rows_bin, weights=cost, minlength=bins) / np.bincount(rows_bin, minlength=bins)


def _check_bins(bins: Any, n_rows: int) -> int:
    bins = check_int(bins, "bins", 1)
    if bins >= n_rows:
        raise ValueError(f"Number of bins = {bins} should be smaller than the length of y_true {n_rows}")
    return bins


def _binned_arm_stats(data: MetricInputs, strategy: str, bins: int,
                      rows_bin: np.ndarray | None = None) -> tuple[_ArmStats, _ArmStats]:
    """Treated and control statistics per bin of descending score (all rows binned together, or each arm's);
    ``rows_bin`` is the overall binning when the caller has it already."""
    if strategy == "overall" and rows_bin is None:
        rows_bin = _bin_of_rows(data.score, bins)
    arms = []
    for rows in (data.treated, ~data.treated):
        arm_bins = _bin_of_rows(data.score[rows], bins) if rows_bin is None else rows_bin[rows]
        arms.append(_arm_stats(data.y[rows], arm_bins, bins, None if data.weight is None else data.weight[rows],
                               None if data.cluster is None else data.cluster[rows]))
    return arms[0], arms[1]


def _warn_few_clusters(function: str, data: MetricInputs, arms: dict[str, _ArmStats], bins_used: np.ndarray) -> None:
    """With ``cluster``, a bin whose arm has rows of a single cluster has no variance estimate: say which."""
    if data.cluster is None:
        return
    reasons = []
    for arm, stats in arms.items():
        few = np.flatnonzero((stats.units == 1) & bins_used) + 1
        if few.size:
            reasons.append(f"bin(s) {few.tolist()} have {arm} rows of a single cluster")
    if reasons:
        warn_undefined(f"{function}: {'; '.join(reasons)}, so their standard errors and intervals are NaN "
                       "(a cluster-robust variance needs 2 clusters of each arm)")


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
        warn_undefined(f"{function}: {'; '.join(reasons)}; rates and uplift are NaN there")


def response_rate_by_percentile(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, group: str, strategy: str = "overall",
    bins: int = 10, *, propensity: Any = None, cluster: Any = None,
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
    propensity, cluster : optional
        The design, as in :func:`uplift_by_percentile`.

    Returns
    -------
    response_rate, variance, group_size : ndarray
        Per bin: the arm's mean outcome, the variance of that mean (population variance / n, which is
        ``p (1 - p) / n`` for a binary outcome, as scikit-uplift; the design-based variance with a design) and
        the arm's row count. NaN, with a warning, in bins without rows of the arm.
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    check_choice(group, "group", ("treatment", "control"))
    check_choice(strategy, "strategy", ("overall", "by_group"))
    bins = _check_bins(bins, len(data.y))
    stats_treated, stats_control = _binned_arm_stats(data, strategy, bins)
    stats = stats_treated if group == "treatment" else stats_control
    empty = np.flatnonzero(stats.n == 0) + 1
    if empty.size:
        warn_undefined(f"response_rate_by_percentile: bin(s) {empty.tolist()} have no {group} rows; NaN there")
    _warn_few_clusters("response_rate_by_percentile", data, {group: stats}, stats.n > 0)
    return stats.mean, stats.mean_variance, stats.n.astype(np.int64)


def _percentile_labels(bins: int, string_percentiles: bool) -> list:
    edges = [round(p * 100 / bins) for p in range(1, bins + 1)]
    if not string_percentiles:
        return edges
    return [f"{low}-{high}" for low, high in zip([0, *edges[:-1]], edges, strict=True)]


def uplift_by_percentile(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, strategy: str = "overall", bins: int = 10,
    std: bool = False, total: bool = False, string_percentiles: bool = True, *, propensity: Any = None,
    cluster: Any = None, benefit: float | None = None, cost: Any = 0.0,
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
    propensity : None, float, dict or array-like, optional
        Known probabilities of assignment, as in :func:`uplift_curve`: rates become inverse-probability
        weighted (Hájek) means and the standard errors their design-based (sandwich) standard errors
        (docs/design.md). ``n_treatment`` and ``n_control`` stay row counts.
    cluster : None or array-like of shape (n_samples,), optional
        Ids of the unit of randomization: the standard errors are cluster-robust (sandwich over the clusters
        of the bin, with the factor ``G / (G - 1)``); NaN, with a warning, where an arm of a bin has rows of
        a single cluster.
    benefit, cost : number, and number or one value per row, optional
        With ``benefit`` (value of one unit of outcome), a ``net_value`` column: ``benefit * uplift`` minus
        the bin's mean cost of treating a row (``strategy="overall"`` for per-row costs).

    Returns
    -------
    pandas.DataFrame
        Index ``percentile``; columns ``n_treatment``, ``n_control``, ``response_rate_treatment``,
        ``response_rate_control``, ``uplift`` (and the ``std_*`` columns, and ``net_value``). Rates are NaN,
        with a warning, in bins without rows of an arm.
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    check_choice(strategy, "strategy", ("overall", "by_group"))
    check_bool(std, "std")
    check_bool(total, "total")
    check_bool(string_percentiles, "string_percentiles")
    bins = _check_bins(bins, len(data.y))
    stats_treated, stats_control = _binned_arm_stats(data, strategy, bins)
    _warn_empty_bins("uplift_by_percentile", stats_treated, stats_control, np.ones(bins, dtype=bool))
    rows = [stats_treated, stats_control]
    labels = _percentile_labels(bins, string_percentiles)
    if total:
        totals = _binned_arm_stats(data._replace(score=np.zeros(len(data.y))), "overall", 1)
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
        _warn_few_clusters("uplift_by_percentile", data, {"treated": stats_treated, "control": stats_control},
                           (stats_treated.n > 0) & (stats_control.n > 0))
        table["std_treatment"] = np.sqrt(stats_treated.mean_variance)
        table["std_control"] = np.sqrt(stats_control.mean_variance)
        table["std_uplift"] = np.sqrt(stats_treated.mean_variance + stats_control.mean_variance)
    if benefit is not None:
        if np.ndim(cost) != 0 and strategy != "overall":
            raise ValueError("a per-row cost needs strategy='overall' (the bins of the rows themselves)")
        rows_bin = _bin_of_rows(data.score, bins)
        bin_cost = _bin_mean_cost(cost, rows_bin, bins)
        if total:
            bin_cost = np.r_[bin_cost, _bin_mean_cost(cost, np.zeros(len(rows_bin), dtype=np.int64), 1)]
        table["net_value"] = float(benefit) * table["uplift"].to_numpy() - bin_cost
    return table


def weighted_average_uplift(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, strategy: str = "overall", bins: int = 10, *,
    propensity: Any = None, cluster: Any = None,
) -> float:
    """Average of the per-bin uplifts of :func:`uplift_by_percentile`, weighted by treated rows per bin.

    Bins without treated rows have weight 0 and are skipped (scikit-uplift returns NaN). NaN, with a
    warning, when a bin with treated rows has no control rows. With ``propensity`` the bins' uplifts are
    weighted differences and their weights the treated rows' Hájek weights (``bins=1`` is then the
    inverse-probability weighted average effect); ``cluster`` does not change the value.
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    check_choice(strategy, "strategy", ("overall", "by_group"))
    bins = _check_bins(bins, len(data.y))
    stats_treated, stats_control = _binned_arm_stats(data, strategy, bins)
    weighted = stats_treated.n > 0
    if np.any(stats_control.n[weighted] == 0):
        _warn_empty_bins("weighted_average_uplift", stats_treated, stats_control, weighted)
        return math.nan
    uplifts = stats_treated.mean[weighted] - stats_control.mean[weighted]
    return float(np.dot(stats_treated.weight[weighted], uplifts) / np.sum(stats_treated.weight[weighted]))


def treatment_balance_curve(
    uplift: ArrayLike, treatment: ArrayLike, winsize: int, *, propensity: Any = None, cluster: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Share of treated rows in a sliding window over rows ordered by descending score.

    Parameters
    ----------
    uplift, treatment : array-like
        As in :func:`uplift_curve`.
    winsize : int
        Window size in rows, 1 to ``n_samples``.
    propensity, cluster : optional
        The design, as in :func:`uplift_curve`. With ``propensity`` the share is the treated rows' share of
        the window's Hájek weight: flat at the overall treated share when the propensities explain how the
        treated share varies with the score (a stratified design), so a trend left over flags a design
        that differs from the one given. ``cluster`` does not change the curve.

    Returns
    -------
    percentile, balance : ndarray
        ``n_samples - winsize + 1`` points, at percentiles evenly spaced from 1 to 100 (as
        scikit-uplift). Within a group of tied scores every row counts with the group's treated share.
    """
    data = check_inputs(None, uplift, treatment, propensity=propensity, cluster=cluster)
    score, weight = data.score, _row_weights(data)
    winsize = check_int(winsize, "winsize", 1)
    if winsize > len(score):
        raise ValueError(f"winsize={winsize} is larger than the {len(score)} rows")
    order, starts = tie_groups(score)
    sizes = np.diff(np.r_[starts, len(score)])
    # Every row of a tie group carries the group's mean treated weight and mean weight.
    treated_weight, row_weight = (
        np.r_[0.0, np.cumsum(np.repeat(np.add.reduceat(column[order], starts) / sizes, sizes))]
        for column in (np.where(data.treated, weight, 0.0), weight)
    )
    balance = (treated_weight[winsize:] - treated_weight[:-winsize]) / (row_weight[winsize:] - row_weight[:-winsize])
    return np.linspace(1, 100, len(balance)), balance


def calibration_table(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, bins: int = 10, alpha: float = 0.05, *,
    propensity: Any = None, cluster: Any = None, benefit: float | None = None, cost: Any = 0.0,
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
    propensity : None, float, dict or array-like, optional
        Known probabilities of assignment, as in :func:`uplift_curve`: rates are inverse-probability weighted
        (Hájek) means, and each arm enters the interval with its design-based effective size (its weighted
        variance over the sandwich variance of its mean; docs/design.md).
    cluster : None or array-like of shape (n_samples,), optional
        Ids of the unit of randomization: the variance of each arm's mean is cluster-robust (sandwich over
        the bin's clusters), so intervals are as wide as the clusters' correlation makes them; NaN, with a
        warning, where an arm of a bin has rows of a single cluster.
    benefit, cost : number, and number or one value per row, optional
        With ``benefit`` (value of one unit of outcome), the columns ``net_value``, ``net_value_low`` and
        ``net_value_high``: ``benefit`` times the observed uplift and its interval, minus the bin's mean
        cost of treating a row (a known or modelled cost, so the interval is the uplift's, rescaled).

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, highest predictions first: ``bin`` (1-based), ``score_min``,
        ``score_max``, ``n_treatment``, ``n_control``, ``predicted_uplift`` (mean score of the bin's
        rows), ``response_rate_treatment``, ``response_rate_control``, ``observed_uplift``, ``ci_low``,
        ``ci_high``, ``p_value``. Observed values are NaN, with a warning, in bins without treated or
        control rows (fewer than 2 for a continuous outcome).
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    score = data.score
    bins = _check_bins(bins, len(score))
    alpha = check_alpha(alpha)
    rows_bin = _bin_of_rows(score, bins)
    n_rows = np.bincount(rows_bin, minlength=bins)
    used = np.flatnonzero(n_rows > 0)
    stats_treated, stats_control = _binned_arm_stats(data, "overall", bins, rows_bin)
    with np.errstate(divide="ignore", invalid="ignore"):
        predicted = np.bincount(rows_bin, weights=score, minlength=bins) / n_rows
    # Effective sizes enter the intervals as row counts would (they are the row counts without a design).
    n_treated, n_control = (np.nan_to_num(stats.n_effective) for stats in (stats_treated, stats_control))
    binary = is_binary(data.y)
    if binary and not data.has_design:
        estimate, low, high, p_value = diff_proportions_ci(
            n_treated, stats_treated.total, n_control, stats_control.total, alpha
        )
    elif binary:
        # Weighted means of 0/1 outcomes can leave [0, 1] by rounding.
        rate_treated, rate_control = (np.clip(np.nan_to_num(stats.mean), 0.0, 1.0)
                                      for stats in (stats_treated, stats_control))
        estimate, low, high, p_value = diff_proportions_ci(
            n_treated, rate_treated * n_treated, n_control, rate_control * n_control, alpha
        )
    else:
        sample_variances = [np.nan_to_num(stats.variance * size / np.maximum(size - 1, 1))
                            for stats, size in ((stats_treated, n_treated), (stats_control, n_control))]
        estimate, low, high, p_value = welch_ci(
            n_treated, np.nan_to_num(stats_treated.mean), sample_variances[0],
            n_control, np.nan_to_num(stats_control.mean), sample_variances[1], alpha,
        )
    minimum = 1 if binary else 2
    too_small = used[(np.minimum(stats_treated.n, n_treated)[used] < minimum)
                     | (np.minimum(stats_control.n, n_control)[used] < minimum)]
    if too_small.size:
        size = "rows" if not data.has_design else "rows (or effective rows)"
        if data.cluster is not None:
            size += " or rows of a single cluster"
        warn_undefined(
            f"calibration_table: bin(s) {(too_small + 1).tolist()} have fewer than {minimum} treated or "
            f"control {size}, so their observed uplift and interval are NaN"
        )
    score_min = np.full(bins, np.inf)
    score_max = np.full(bins, -np.inf)
    np.minimum.at(score_min, rows_bin, score)
    np.maximum.at(score_max, rows_bin, score)
    table = pd.DataFrame(
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
    if benefit is not None:
        bin_cost = _bin_mean_cost(cost, rows_bin, bins)[used]
        bounds = np.sort(float(benefit) * table[["ci_low", "ci_high"]].to_numpy(), axis=1)
        table["net_value"] = float(benefit) * table["observed_uplift"].to_numpy() - bin_cost
        table["net_value_low"], table["net_value_high"] = bounds[:, 0] - bin_cost, bounds[:, 1] - bin_cost
    return table
