"""Uplift metrics by group: the Qini coefficient, uplift@k and the average effect of each time period, channel or
subgroup, with intervals that respect the design.

One row per group value. Within a group, rows are ranked by the group's own scores: ``uplift_at_k`` is the
treated minus control (Hájek) mean among the group's top ``k`` rows (a cut tie group counts pro rata, as in
:func:`~upliftree.metrics.uplift_at_k`), the average effect is the same over all of the group's rows. Their
intervals are design-based: the linearized (sandwich) variance of the two arm means over the group's units of
randomization (clusters, or rows), their covariance when a cluster holds both arms, Student's t with
Satterthwaite degrees of freedom (:func:`upliftree.design.robust_mean_covariance`,
:func:`upliftree.inference.robust_difference_ci`; docs/design.md). The Qini coefficient's interval is the
bootstrap percentile interval of :func:`~upliftree.metrics.bootstrap_ci` on the group's rows (whole clusters
with ``cluster``). See docs/metrics.md, "Metrics by group".
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._base import spawn_generators
from .._params import check_alpha, check_int, check_real
from ..design import N_UNITS, design_moments, robust_mean_covariance
from ..inference import robust_difference_ci
from ._inputs import MetricInputs, UndefinedMetricWarning, check_inputs, warn_undefined
from ._ranking import tie_groups
from .bootstrap import bootstrap_ci
from .curves import qini_auc_score

__all__ = ["GROUP_COLUMNS", "group_codes", "qini_by_group", "top_share_weights"]

GROUP_COLUMNS = ("group", "n_rows", "n_treatment", "n_control", "units_treatment", "units_control",
                 "average_effect", "average_effect_low", "average_effect_high", "uplift_at_k", "uplift_at_k_low",
                 "uplift_at_k_high", "qini", "qini_low", "qini_high")


def group_codes(group: ArrayLike, n_rows: int, argument: str = "group") -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of ``group`` and each row's code; an error naming ``argument`` for missing
    values or a wrong length."""
    values = group.to_numpy() if isinstance(group, pd.Series | pd.Index) else np.asarray(group)
    if values.ndim != 1 or len(values) != n_rows:
        raise ValueError(f"{argument} must be 1-D with one value per row ({n_rows}), got shape {values.shape}")
    missing = pd.isna(values)
    if missing.any():
        raise ValueError(f"{argument} has {int(missing.sum())} missing value(s); every row needs a group")
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(uniques), codes.astype(np.int64)


def top_share_weights(score: np.ndarray, k: float) -> np.ndarray:
    """Each row's share in the top ``int(k * n)`` rows by descending score: 1 above the cut, 0 below, and the
    cut tie group's share of rows for its members (the average over all orderings of the tied rows)."""
    n_top = int(k * len(score))
    order, starts = tie_groups(score)
    ends = np.r_[starts[1:], len(score)]
    share = np.clip((n_top - starts) / (ends - starts), 0.0, 1.0)
    weights = np.empty(len(score))
    weights[order] = np.repeat(share, ends - starts)
    return weights


def _effects(data: MetricInputs, codes: np.ndarray, row_weight: np.ndarray, n_groups: int,
             alpha: float) -> tuple[np.ndarray, ...]:
    """Per group: treated minus control Hájek mean with row weights ``row_weight`` (times the design's), its
    design-based interval, and each arm's units; rows of weight 0 are left out."""
    weight = row_weight if data.weight is None else row_weight * data.weight
    keep = weight > 0
    arm = data.treated[keep].astype(np.int64)
    moments = design_moments(np.full(n_groups, -1, dtype=np.int64), codes[keep], arm, weight[keep], data.y[keep],
                             None if data.cluster is None else data.cluster[keep], 2)
    cell = codes[keep] * 2 + arm
    arm_weight = np.bincount(cell, weights=weight[keep], minlength=2 * n_groups).reshape(n_groups, 2)
    arm_total = np.bincount(cell, weights=(weight * data.y)[keep], minlength=2 * n_groups).reshape(n_groups, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(arm_weight > 0, arm_total / arm_weight, 0.0)
    variance, covariance = robust_mean_covariance(mean, arm_weight, moments)
    units = moments[..., N_UNITS]
    estimate, low, high, _ = robust_difference_ci(mean[:, 1], variance[:, 1], units[:, 1], mean[:, 0],
                                                  variance[:, 0], units[:, 0], covariance[:, 0], alpha)
    return (np.atleast_1d(estimate), np.atleast_1d(low), np.atleast_1d(high), units[:, 1], units[:, 0])


def _subset(values: Any, rows: np.ndarray) -> Any:
    return None if values is None else values[rows]


def qini_by_group(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, group: ArrayLike, *, k: float = 0.3,
    n_boot: int = 200, alpha: float = 0.05, random_state: Any = None, negative_effect: bool = True,
    n_jobs: int | None = None, propensity: Any = None, cluster: Any = None,
) -> pd.DataFrame:
    """Qini coefficient, uplift@k and average effect of every group, with intervals.

    Parameters
    ----------
    y_true, uplift, treatment : array-like
        As in :func:`uplift_curve` (treatment 1 / 0); with several arms select one with :func:`one_vs_control`.
    group : array-like of shape (n_samples,)
        The group of each row: a time period, a channel, a subgroup (any sortable labels, no missing values).
    k : float in (0, 1)
        Share of each group's rows, by descending score, that ``uplift_at_k`` reads.
    n_boot : int
        Bootstrap resamples of each group's Qini interval (0: no Qini interval).
    alpha : float
        Intervals have coverage ``1 - alpha`` each (not adjusted for the number of groups).
    random_state : None, int or numpy.random.Generator
        Seeds the bootstrap; each group gets its own stream.
    negative_effect : bool
        As in :func:`qini_auc_score`.
    n_jobs : None or int
        Threads of the bootstrap kernel, as in :func:`bootstrap_ci`.
    propensity, cluster : optional
        The design, as in :func:`uplift_curve`: arm means are Hájek means; intervals are over the clusters.

    Returns
    -------
    DataFrame
        One row per group, sorted by group: :data:`GROUP_COLUMNS` (``units_*``: clusters, or rows, of each arm;
        ``qini_low``/``qini_high`` NaN when ``n_boot=0``). A group without both arms is NaN, with a warning.
    """
    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    alpha = check_alpha(alpha)
    k = check_real(k, "k", 0.0, 1.0, open_low=True, open_high=True)
    n_boot = check_int(n_boot, "n_boot", 0)
    labels, codes = group_codes(group, len(data.y))
    n_groups = len(labels)
    top_weight = np.zeros(len(data.y))
    for code in range(n_groups):
        rows = np.flatnonzero(codes == code)
        top_weight[rows] = top_share_weights(data.score[rows], k)
    average = _effects(data, codes, np.ones(len(data.y)), n_groups, alpha)
    top = _effects(data, codes, top_weight, n_groups, alpha)
    qini = np.full((n_groups, 3), np.nan)
    generators = spawn_generators(random_state, n_groups)
    for code in range(n_groups):
        rows = codes == code
        treated = data.treated[rows]
        if treated.all() or not treated.any():
            continue
        design = {"propensity": _subset(data.received, rows), "cluster": _subset(data.cluster, rows)}
        arguments = (data.y[rows], data.score[rows], treated.astype(np.int64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            qini[code, 0] = qini_auc_score(*arguments, negative_effect=negative_effect, **design)
            if n_boot and np.isfinite(qini[code, 0]):
                qini[code, 1:] = bootstrap_ci("qini_auc_score", *arguments, n_boot=n_boot, alpha=alpha,
                                              random_state=generators[code], n_jobs=n_jobs,
                                              metric_kwargs={"negative_effect": negative_effect}, **design)
    n_treatment = np.bincount(codes, weights=data.treated, minlength=n_groups).astype(np.int64)
    n_rows = np.bincount(codes, minlength=n_groups)
    one_arm = [str(label) for label, treated, total in zip(labels, n_treatment, n_rows, strict=True)
               if treated == 0 or treated == total]
    if one_arm:
        warn_undefined(f"qini_by_group: group(s) {one_arm} have rows of one arm only; their metrics are NaN")
    return pd.DataFrame({
        "group": labels, "n_rows": n_rows, "n_treatment": n_treatment, "n_control": n_rows - n_treatment,
        "units_treatment": average[3].astype(np.int64), "units_control": average[4].astype(np.int64),
        "average_effect": average[0], "average_effect_low": average[1], "average_effect_high": average[2],
        "uplift_at_k": top[0], "uplift_at_k_low": top[1], "uplift_at_k_high": top[2],
        "qini": qini[:, 0], "qini_low": qini[:, 1], "qini_high": qini[:, 2],
    }, columns=list(GROUP_COLUMNS))
