"""Bootstrap percentile intervals of any uplift metric, paired comparisons of two models, and curve bands.

Each resample draws, with replacement, as many treated rows from the treated rows and as many control rows
from the control rows as the data has. Every call of the compiled resampling kernels
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
from ._inputs import UndefinedMetricWarning, check_inputs, warn_undefined
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

# Resamples per kernel call: each call gets its own random stream, so results do not depend on n_jobs.
_BOOTSTRAP_CHUNK = 32


class BootstrapComparison(NamedTuple):
    """``metric(uplift_a) - metric(uplift_b)`` and its bootstrap percentile interval."""

    difference: float
    low: float
    high: float


# The metrics the compiled kernel computes for whole chunks of resamples.
_FAST_METRICS = {"qini_auc_score": qini_auc_score, "uplift_auc_score": uplift_auc_score}


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
    ordering = order_rows(cell_score, _CELL_OUTCOME, _CELL_TREATED)
    x = np.empty(len(ordering.group_ends))
    values = np.empty(len(ordering.group_ends))
    sums = np.empty(4)
    return np.array([_kernels.curve_points(kind, counts, *ordering, x, values, sums) for counts in cell_counts])


def _fast_bootstrap(
    name: str, data: _Resampling, n_boot: int, random_state: Any, n_jobs: int, metric_kwargs: dict
) -> np.ndarray:
    """Metric of each model on each resample, (n_boot, n_models), from the compiled curve kernel."""
    negative_effect = metric_kwargs.get("negative_effect", True)
    kind = _kernels.QINI if name == "qini_auc_score" else _kernels.UPLIFT
    binary = is_binary(data.y)
    # A continuous outcome's perfect Qini ordering is swept row by row, next to the models.
    row_perfect = name == "qini_auc_score" and negative_effect and not binary
    scores = [*data.scores, perfect_qini_score(data.y, data.treated)] if row_perfect else data.scores
    orderings = [order_rows(score, data.y, data.treated) for score in scores]
    rows_in_order, treated_in_order, control_in_order, outcome_in_order = (
        np.vstack([ordering[field] for ordering in orderings]) for field in range(4)
    )
    group_ends = np.concatenate([ordering.group_ends for ordering in orderings])
    group_offsets = np.r_[0, np.cumsum([len(ordering.group_ends) for ordering in orderings])].astype(np.int64)

    def kernel(seed: np.uint64, size: int) -> tuple[np.ndarray, ...]:
        return _kernels.bootstrap_curve_areas(
            seed, size, kind, data.treated_rows, data.control_rows, rows_in_order, treated_in_order,
            control_in_order, outcome_in_order, group_ends, group_offsets,
        )

    parts = _run_chunks(kernel, n_boot, random_state, n_jobs)
    areas, totals = (np.concatenate([part[index] for part in parts]) for index in range(2))
    final_value, outcome_treated, outcome_control = (
        totals[:, column] for column in (_kernels.FINAL_VALUE, _kernels.OUTCOME_TREATED, _kernels.OUTCOME_CONTROL)
    )
    n_treated, n_control = len(data.treated_rows), len(data.control_rows)
    n_rows = len(data.y)
    n_models = len(data.scores)
    if binary:
        cell_counts = np.column_stack([
            outcome_treated, n_treated - outcome_treated, outcome_control, n_control - outcome_control
        ]).round().astype(np.int32)
    if name == "qini_auc_score" and not negative_effect:
        perfect_area = flat_perfect_qini_area(final_value, n_rows)
    elif row_perfect:
        perfect_area = areas[:, n_models]
    elif name == "qini_auc_score":
        perfect_area = _cell_curve_areas(kind, perfect_qini_score(_CELL_OUTCOME, _CELL_TREATED), cell_counts)
    else:
        first, second = (_cell_curve_areas(kind, score, cell_counts)
                         for score in perfect_uplift_candidates(_CELL_OUTCOME, _CELL_TREATED))
        perfect_area = np.where(control_responders_first(outcome_treated, outcome_control, n_treated), first, second)
    return normalized_area(areas[:, :n_models], perfect_area[:, None], final_value[:, None], n_rows)


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
    function = resolve_metric(metric)
    fast_name = next((name for name, fast in _FAST_METRICS.items() if fast is function), None)
    check_int(n_boot, "n_boot", 1)
    n_threads = check_n_jobs(n_jobs)
    metric_kwargs = dict(metric_kwargs or {})
    checked = [check_inputs(y_true, uplift, treatment)[:3] for uplift in uplifts]
    y, _, treated = checked[0]
    data = _prepare_resampling(y, [score for _, score, _ in checked], treated)
    # One call on the full data validates the metric's arguments (and the outcome type) up front.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        function(y, checked[0][1], treated.astype(np.int64), **metric_kwargs)
    if fast_name is not None:
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
    metric_kwargs: dict | None = None, n_jobs: int | None = None,
) -> tuple[float, float]:
    """Bootstrap percentile interval of an uplift metric.

    Each resample draws, with replacement, as many treated rows from the treated rows and as many control
    rows from the control rows as the data has (arm sizes fixed); the scores stay attached to their rows.

    Parameters
    ----------
    metric : callable or str
        A function ``(y_true, uplift, treatment, **metric_kwargs) -> float`` or its name in
        :mod:`upliftree.metrics`.
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
    n_jobs : None or int
        Threads for the compiled kernel: ``None`` (the default) is one, ``-1`` all cores (the meaning of
        ``n_jobs`` everywhere in upliftree).

    Returns
    -------
    low, high : float
        Resamples where the metric is undefined (e.g. no responders) are left out, with a warning that
        says how many.
    """
    alpha = check_alpha(alpha)
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
    alpha = check_alpha(alpha)
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
    ``n_points`` evenly spaced numbers of targeted rows. ``n_jobs`` as in :func:`bootstrap_ci`.

    Returns
    -------
    n_targeted, low, high : ndarray of shape (n_points,)
    """
    kind = {"qini": _kernels.QINI, "uplift": _kernels.UPLIFT}[check_choice(curve, "curve", ("qini", "uplift"))]
    alpha = check_alpha(alpha)
    check_int(n_boot, "n_boot", 1)
    n_points = check_int(n_points, "n_points", 2)
    n_threads = check_n_jobs(n_jobs)
    y, score, treated = check_inputs(y_true, uplift, treatment)[:3]
    data = _prepare_resampling(y, [score], treated)
    ordering = order_rows(data.scores[0], data.y, data.treated)
    grid = np.linspace(0.0, len(y), n_points)

    def kernel(seed: np.uint64, size: int) -> np.ndarray:
        return _kernels.bootstrap_curves_on_grid(
            seed, size, kind, data.treated_rows, data.control_rows, *ordering, grid
        )

    curves = np.vstack([part[0] for part in _run_chunks(kernel, n_boot, random_state, n_threads)])
    low, high = np.percentile(curves, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return grid, low, high
