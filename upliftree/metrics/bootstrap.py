"""Bootstrap percentile intervals of any uplift metric, paired comparisons of two models, and curve bands.

Each resample draws, with replacement, as many treated rows from the treated rows and as many control rows
from the control rows as the data has; with ``cluster``, whole clusters instead (as many treated clusters from
the treated clusters and control clusters from the control clusters when every cluster is in one arm, as many
clusters from all clusters otherwise). With ``propensity``, rows keep their probabilities and each resample is
weighted as the metric weights any data (docs/design.md). Every call of the compiled resampling kernels
(``upliftree/_kernels/bootstrap.py``) is in this module: the Qini and uplift AUC scores are computed there for
whole chunks of resamples; any other metric is called on the resamples the kernel draws.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._base import spawn_generators
from .._kernels import bootstrap as _kernels
from .._params import check_alpha, check_choice, check_int, check_n_jobs
from .._validation import is_binary
from ._inputs import MetricInputs, UndefinedMetricWarning, check_inputs, warn_undefined
from ._names import resolve_metric
from ._ranking import (
    control_responders_first,
    flat_perfect_qini_area,
    normalized_area,
    order_rows,
    perfect_qini_score,
    perfect_uplift_candidates,
)
from .curves import qini_auc_score, uplift_auc_score
from .tables import weighted_average_uplift

# Resamples per kernel call: each call gets its own random stream, so results do not depend on n_jobs.
_BOOTSTRAP_CHUNK = 32


class BootstrapComparison(NamedTuple):
    """``metric(uplift_a) - metric(uplift_b)`` and its bootstrap percentile interval."""

    difference: float
    low: float
    high: float


# The metrics the compiled kernel computes for whole chunks of resamples; weighted_average_uplift only with
# bins=1, the average effect, read from each resample's arm totals.
_FAST_METRICS = {"qini_auc_score": qini_auc_score, "uplift_auc_score": uplift_auc_score,
                 "average_effect": weighted_average_uplift}


class _Clusters(NamedTuple):
    """Clusters as the cluster kernels read them (rows in score order): the clusters of each stratum
    (``stratum_clusters[stratum_offsets[s]:stratum_offsets[s + 1]]``), the rows of each cluster
    (``cluster_rows[cluster_offsets[c]:cluster_offsets[c + 1]]``), each cluster's treated rows, and each row's
    cluster."""

    stratum_clusters: np.ndarray
    stratum_offsets: np.ndarray
    cluster_rows: np.ndarray
    cluster_offsets: np.ndarray
    cluster_treated: np.ndarray
    cluster_of_row: np.ndarray


def _cluster_layout(cluster_of_row: np.ndarray, treated: np.ndarray) -> _Clusters:
    """Strata of clusters: treated clusters then control clusters when every cluster is in one arm (a
    cluster-randomized design: arm sizes in clusters stay fixed, as arm sizes in rows do in the row bootstrap),
    else one stratum of all clusters. Clusters in code order (sorted ids), so draws ignore the row order."""
    sizes = np.bincount(cluster_of_row)
    cluster_treated = np.bincount(cluster_of_row, weights=treated).astype(np.int64)
    clusters = np.arange(len(sizes), dtype=np.int64)
    single_arm = (cluster_treated == 0) | (cluster_treated == sizes)
    strata = [clusters[cluster_treated > 0], clusters[cluster_treated == 0]] if single_arm.all() else [clusters]
    return _Clusters(
        np.concatenate(strata), np.r_[0, np.cumsum([len(stratum) for stratum in strata])].astype(np.int64),
        np.argsort(cluster_of_row, kind="stable").astype(np.int64), np.r_[0, np.cumsum(sizes)].astype(np.int64),
        cluster_treated, cluster_of_row,
    )


class _Resampling(NamedTuple):
    """Arrays the bootstrap kernels share, rows permuted into the first model's score order: the design too
    (Hájek weights and received-arm probabilities, clusters; None when not given)."""

    y: np.ndarray
    treated: np.ndarray
    scores: list[np.ndarray]
    treated_rows: np.ndarray
    control_rows: np.ndarray
    weight: np.ndarray | None
    received: np.ndarray | None
    clusters: _Clusters | None


def _prepare_resampling(data: MetricInputs, scores: list[np.ndarray]) -> _Resampling:
    # In score order, the first model's curve sweep reads rows sequentially: far fewer cache misses.
    order = np.argsort(-scores[0], kind="stable")
    treated = data.treated[order]
    return _Resampling(
        data.y[order], treated, [score[order] for score in scores],
        np.flatnonzero(treated).astype(np.int64), np.flatnonzero(~treated).astype(np.int64),
        None if data.weight is None else data.weight[order], None if data.received is None else data.received[order],
        None if data.cluster is None else _cluster_layout(data.cluster[order], treated),
    )


def _resample_scales(totals: np.ndarray, qini: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per resample: the factors that give each arm's weights its resample's own Hájek scale (weights summing
    to the arm's resampled rows, as the metric scales any data; exactly 1 without a propensity), and the
    factor a curve's heights take from it (the treated one for a Qini curve, 1 for an uplift curve)."""
    treated_rows = totals[:, _kernels.TREATED_ROWS]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale_treated = treated_rows / totals[:, _kernels.WEIGHT_TREATED]
        scale_control = (totals[:, _kernels.ROWS] - treated_rows) / totals[:, _kernels.WEIGHT_CONTROL]
    return scale_treated, scale_control, scale_treated if qini else np.ones(len(totals))


def _both_arms(totals: np.ndarray) -> np.ndarray:
    """Resamples with treated and control rows (a cluster resample of mixed clusters may lack an arm)."""
    treated_rows = totals[:, _kernels.TREATED_ROWS]
    return (treated_rows > 0) & (treated_rows < totals[:, _kernels.ROWS])


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
    ordering = order_rows(cell_score, _CELL_OUTCOME, _CELL_TREATED)
    x = np.empty(len(ordering.group_ends))
    values = np.empty(len(ordering.group_ends))
    sums = np.empty(4)
    return np.array([_kernels.curve_points(kind, counts, *ordering, x, values, sums) for counts in cell_counts])


def _sweep_resamples(
    data: _Resampling, kind: int, scores: list[np.ndarray], n_boot: int, random_state: Any, n_jobs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Curve areas of each ordering of ``scores`` on each resample, and each resample's totals (the kernels'
    ``FINAL_VALUE`` to ``TREATED_ROWS`` columns): row or cluster resamples, as the data says."""
    orderings = [order_rows(score, data.y, data.treated, data.weight) for score in scores]
    rows_in_order, treated_in_order, control_in_order, outcome_in_order = (
        np.vstack([ordering[field] for ordering in orderings]) for field in range(4)
    )
    group_ends = np.concatenate([ordering.group_ends for ordering in orderings])
    group_offsets = np.r_[0, np.cumsum([len(ordering.group_ends) for ordering in orderings])].astype(np.int64)
    curve_arrays = (rows_in_order, treated_in_order, control_in_order, outcome_in_order, group_ends, group_offsets)

    def kernel(seed: np.uint64, size: int) -> tuple[np.ndarray, ...]:
        if data.clusters is None:
            return _kernels.bootstrap_curve_areas(seed, size, kind, data.treated_rows, data.control_rows,
                                                  *curve_arrays)
        return _kernels.cluster_bootstrap_curve_areas(seed, size, kind, *data.clusters[:5], *curve_arrays)

    parts = _run_chunks(kernel, n_boot, random_state, n_jobs)
    areas, totals = (np.concatenate([part[index] for part in parts]) for index in range(2))
    return areas, totals


def _fast_average_effect(data: _Resampling, n_boot: int, random_state: Any, n_jobs: int) -> np.ndarray:
    """The average effect (weighted: Hájek) on each resample, the same for every model, (n_boot, n_models)."""
    # One tie group: a single sweep gives each resample's arm totals.
    _, totals = _sweep_resamples(data, _kernels.UPLIFT, [np.zeros(len(data.y))], n_boot, random_state, n_jobs)
    with np.errstate(divide="ignore", invalid="ignore"):
        effect = (totals[:, _kernels.OUTCOME_TREATED] / totals[:, _kernels.WEIGHT_TREATED]
                  - totals[:, _kernels.OUTCOME_CONTROL] / totals[:, _kernels.WEIGHT_CONTROL])
    return np.repeat(np.where(_both_arms(totals), effect, np.nan)[:, None], len(data.scores), axis=1)


def _fast_bootstrap(
    name: str, data: _Resampling, n_boot: int, random_state: Any, n_jobs: int, metric_kwargs: dict
) -> np.ndarray:
    """Qini or uplift AUC score of each model on each resample, (n_boot, n_models), from the curve kernels."""
    negative_effect = metric_kwargs.get("negative_effect", True)
    qini = name == "qini_auc_score"
    kind = _kernels.QINI if qini else _kernels.UPLIFT
    binary = is_binary(data.y)
    weighted = data.weight is not None
    # Perfect curves swept row by row, next to the models: a continuous outcome's perfect Qini ordering, and with
    # weights every perfect ordering (a binary outcome's are otherwise computed from 4 counts per resample).
    perfect_scores = []
    if qini and negative_effect and (weighted or not binary):
        perfect_scores = [perfect_qini_score(data.y, data.treated)]
    elif not qini and weighted:
        perfect_scores = list(perfect_uplift_candidates(data.y, data.treated))
    areas, totals = _sweep_resamples(data, kind, [*data.scores, *perfect_scores], n_boot, random_state, n_jobs)
    scale_treated, scale_control, scale_height = _resample_scales(totals, qini)
    areas = areas * scale_height[:, None]
    final_value = totals[:, _kernels.FINAL_VALUE] * scale_height
    outcome_treated = totals[:, _kernels.OUTCOME_TREATED] * scale_treated
    outcome_control = totals[:, _kernels.OUTCOME_CONTROL] * scale_control
    n_treated = totals[:, _kernels.TREATED_ROWS]
    n_rows = totals[:, _kernels.ROWS]
    n_models = len(data.scores)
    if binary and not weighted:
        cell_counts = np.column_stack([
            outcome_treated, n_treated - outcome_treated, outcome_control, n_rows - n_treated - outcome_control
        ]).round().astype(np.int32)
    if qini and not negative_effect:
        perfect_area = flat_perfect_qini_area(final_value, n_rows)
    elif perfect_scores and qini:
        perfect_area = areas[:, n_models]
    elif qini:
        perfect_area = _cell_curve_areas(kind, perfect_qini_score(_CELL_OUTCOME, _CELL_TREATED), cell_counts)
    else:
        if perfect_scores:
            first, second = areas[:, n_models], areas[:, n_models + 1]
        else:
            first, second = (_cell_curve_areas(kind, score, cell_counts)
                             for score in perfect_uplift_candidates(_CELL_OUTCOME, _CELL_TREATED))
        perfect_area = np.where(control_responders_first(outcome_treated, outcome_control, n_treated), first, second)
    values = normalized_area(areas[:, :n_models], perfect_area[:, None], final_value[:, None], n_rows[:, None])
    return np.where(_both_arms(totals)[:, None], values, np.nan)


def _generic_bootstrap(
    metric: Callable[..., float], data: _Resampling, n_boot: int, random_state: Any, metric_kwargs: dict
) -> np.ndarray:
    """Metric of each model on each resample by calling ``metric`` (any function of y, uplift, treatment; given
    ``propensity=``, the resample's received-arm probabilities, when the data has them).

    The resamples are the ones the compiled kernels would draw for the same ``random_state``.
    """
    treatment = data.treated.astype(np.int64)

    def resamples(seed: np.uint64, size: int) -> Any:
        if data.clusters is None:
            yield from _kernels.resample_rows(seed, size, data.treated_rows, data.control_rows)
            return
        rows = data.clusters.cluster_of_row
        draws = _kernels.resample_cluster_counts(seed, size, data.clusters.stratum_clusters,
                                                 data.clusters.stratum_offsets, len(data.clusters.cluster_treated))
        for cluster_counts in draws:
            yield np.repeat(np.arange(len(rows)), cluster_counts[rows])

    def evaluate(seed: np.uint64, size: int) -> np.ndarray:
        values = np.full((size, len(data.scores)), np.nan)
        for rep, rows in enumerate(resamples(seed, size)):
            arms = treatment[rows]
            if arms.all() or not arms.any():
                continue  # a cluster resample without one of the arms: the metric is undefined there
            design = {} if data.received is None else {"propensity": data.received[rows]}
            for model, score in enumerate(data.scores):
                values[rep, model] = metric(data.y[rows], score[rows], arms, **design, **metric_kwargs)
        return values

    with warnings.catch_warnings():
        # Undefined resamples are counted and reported once, by the caller.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return np.vstack(_run_chunks(evaluate, n_boot, random_state, n_jobs=1))


def _bootstrap_values(
    metric: Callable[..., float] | str, y_true: ArrayLike, uplifts: Sequence[ArrayLike], treatment: ArrayLike,
    n_boot: int, random_state: Any, metric_kwargs: dict | None, n_jobs: Any, propensity: Any, cluster: Any,
) -> tuple[Callable[..., float], np.ndarray]:
    function = resolve_metric(metric)
    check_int(n_boot, "n_boot", 1)
    n_threads = check_n_jobs(n_jobs)
    metric_kwargs = dict(metric_kwargs or {})
    fast_name = next((name for name, fast in _FAST_METRICS.items() if fast is function), None)
    if fast_name == "average_effect" and metric_kwargs.get("bins") != 1:
        fast_name = None
    checked = [check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster) for uplift in uplifts]
    data = _prepare_resampling(checked[0], [inputs.score for inputs in checked])
    # One call on the full data validates the metric's arguments (and the outcome type) up front.
    design = {} if checked[0].received is None else {"propensity": checked[0].received}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        function(checked[0].y, checked[0].score, checked[0].treated.astype(np.int64), **design, **metric_kwargs)
    if fast_name == "average_effect":
        values = _fast_average_effect(data, n_boot, random_state, n_threads)
    elif fast_name is not None:
        values = _fast_bootstrap(fast_name, data, n_boot, random_state, n_threads, metric_kwargs)
    else:
        values = _generic_bootstrap(function, data, n_boot, random_state, metric_kwargs)
    return function, values


def _percentile_interval(values: np.ndarray, alpha: float, what: str) -> tuple[float, float]:
    defined = values[~np.isnan(values)]
    n_undefined = len(values) - len(defined)
    if n_undefined == len(values):
        warn_undefined(f"{what}: the metric is undefined (NaN) on every resample; the interval is NaN")
        return math.nan, math.nan
    if n_undefined:
        warn_undefined(
            f"{what}: the metric is undefined (NaN) on {n_undefined} of {len(values)} resamples (e.g. a "
            "resample without responders; the metric's docstring says when it is undefined); the interval "
            "uses the other resamples"
        )
    low, high = np.percentile(defined, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_ci(
    metric: Callable[..., float] | str, y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike,
    n_boot: int = 1000, alpha: float = 0.05, random_state: Any = None, *,
    metric_kwargs: dict | None = None, n_jobs: int | None = None, propensity: Any = None, cluster: Any = None,
) -> tuple[float, float]:
    """Bootstrap percentile interval of an uplift metric.

    Each resample draws, with replacement, as many treated rows from the treated rows and as many control
    rows from the control rows as the data has (arm sizes fixed); the scores stay attached to their rows.
    With ``cluster``, whole clusters are drawn instead (see ``propensity`` and ``cluster`` below).

    Parameters
    ----------
    metric : callable or str
        A function ``(y_true, uplift, treatment, **metric_kwargs) -> float`` or its name in
        :mod:`upliftree.metrics`.
        :func:`qini_auc_score`, :func:`uplift_auc_score` and :func:`weighted_average_uplift` with
        ``metric_kwargs={"bins": 1}`` (the average effect) use a compiled kernel (1,000 resamples of 100,000
        rows take about a second or two); other functions are called once per resample.
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
    n_jobs : None or int
        Threads for the compiled kernel: ``None`` (the default) is one, ``-1`` all cores (the meaning of
        ``n_jobs`` everywhere in upliftree).
    propensity : None, float, dict or array-like, optional
        Known probabilities of assignment, as in :func:`uplift_curve`. Rows keep their probabilities in the
        resamples and the metric weights each resample as it weights any data: ``metric`` is called with
        ``propensity=`` (the resample's received-arm probabilities), so a function of your own must take it.
    cluster : None or array-like of shape (n_samples,), optional
        Ids of the unit of randomization: each resample draws whole clusters with replacement, as many as
        the data has (treated clusters from the treated ones and control clusters from the control ones when
        every cluster is in one arm, from all clusters otherwise), so the interval reflects the correlation
        within clusters. Resamples without one of the arms count as undefined.

    Returns
    -------
    low, high : float
        Resamples where the metric is undefined (e.g. no responders) are left out, with a warning that
        says how many.
    """
    alpha = check_alpha(alpha)
    _, values = _bootstrap_values(metric, y_true, [uplift], treatment, n_boot, random_state, metric_kwargs, n_jobs,
                                  propensity, cluster)
    return _percentile_interval(values[:, 0], alpha, "bootstrap_ci")


def bootstrap_compare(
    metric: Callable[..., float] | str, y_true: ArrayLike, uplift_a: ArrayLike, uplift_b: ArrayLike,
    treatment: ArrayLike, n_boot: int = 1000, alpha: float = 0.05, random_state: Any = None, *,
    metric_kwargs: dict | None = None, n_jobs: int | None = None, propensity: Any = None, cluster: Any = None,
) -> BootstrapComparison:
    """Paired bootstrap comparison of two models' scores on the same rows.

    Both models are scored on the same resamples (see :func:`bootstrap_ci`, also for ``propensity`` and
    ``cluster``), so the interval of the difference accounts for their correlation; an interval that excludes 0
    means model A's metric differs from model B's at level ``alpha``.

    Returns
    -------
    BootstrapComparison
        ``difference = metric(uplift_a) - metric(uplift_b)`` on the full data, and the percentile
        interval ``(low, high)`` of the per-resample differences.
    """
    alpha = check_alpha(alpha)
    function, values = _bootstrap_values(
        metric, y_true, [uplift_a, uplift_b], treatment, n_boot, random_state, metric_kwargs, n_jobs, propensity,
        cluster,
    )
    kwargs = dict(metric_kwargs or {})
    if propensity is not None:
        kwargs["propensity"] = propensity
    difference = function(y_true, uplift_a, treatment, **kwargs) - function(y_true, uplift_b, treatment, **kwargs)
    low, high = _percentile_interval(values[:, 0] - values[:, 1], alpha, "bootstrap_compare")
    return BootstrapComparison(float(difference), low, high)


def bootstrap_curve_band(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, curve: str = "qini", n_points: int = 101,
    n_boot: int = 200, alpha: float = 0.05, random_state: Any = None, n_jobs: int | None = None, *,
    propensity: Any = None, cluster: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise bootstrap percentile band of the Qini or uplift curve.

    Resampling as in :func:`bootstrap_ci` (also for ``propensity`` and ``cluster``); each resampled curve is
    read (linearly between its points) at ``n_points`` evenly spaced numbers of targeted rows. A cluster
    resample has its own number of rows ``m``: its curve is read at the same shares of rows and scaled by
    ``n / m`` to the data's ``n`` rows. ``n_jobs`` as in :func:`bootstrap_ci`.

    Returns
    -------
    n_targeted, low, high : ndarray of shape (n_points,)
    """
    kind = {"qini": _kernels.QINI, "uplift": _kernels.UPLIFT}[check_choice(curve, "curve", ("qini", "uplift"))]
    alpha = check_alpha(alpha)
    check_int(n_boot, "n_boot", 1)
    n_points = check_int(n_points, "n_points", 2)
    n_threads = check_n_jobs(n_jobs)
    inputs = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    data = _prepare_resampling(inputs, [inputs.score])
    ordering = order_rows(data.scores[0], data.y, data.treated, data.weight)
    n_rows = len(data.y)
    grid = np.linspace(0.0, n_rows, n_points)

    def kernel(seed: np.uint64, size: int) -> tuple[np.ndarray, np.ndarray]:
        if data.clusters is None:
            return _kernels.bootstrap_curves_on_grid(seed, size, kind, data.treated_rows, data.control_rows,
                                                     *ordering, grid)
        return _kernels.cluster_bootstrap_curves_on_grid(seed, size, kind, *data.clusters[:5], *ordering, grid)

    parts = _run_chunks(kernel, n_boot, random_state, n_threads)
    curves, totals = (np.vstack([part[index] for part in parts]) for index in range(2))
    if inputs.has_design:
        _, _, scale_height = _resample_scales(totals, kind == _kernels.QINI)
        curves = curves * (scale_height * n_rows / totals[:, _kernels.ROWS])[:, None]
        curves = curves[_both_arms(totals)]
        if not len(curves):
            warn_undefined("bootstrap_curve_band: no resample has both arms; the band is NaN")
            return grid, np.full(n_points, np.nan), np.full(n_points, np.nan)
    low, high = np.percentile(curves, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return grid, low, high
