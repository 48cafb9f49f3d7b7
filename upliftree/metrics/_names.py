"""Metric functions by name, for the arguments that take a metric (``best_arm_score``, the bootstrap)."""

from __future__ import annotations

from collections.abc import Callable

from .._params import ParameterTypeError
from .curves import qini_auc_score, uplift_auc_score
from .tables import uplift_at_k, weighted_average_uplift

METRICS_BY_NAME: dict[str, Callable[..., float]] = {
    "qini_auc_score": qini_auc_score,
    "uplift_auc_score": uplift_auc_score,
    "uplift_at_k": uplift_at_k,
    "weighted_average_uplift": weighted_average_uplift,
}


def resolve_metric(metric: Callable[..., float] | str) -> Callable[..., float]:
    """The metric function ``metric`` names, or ``metric`` itself when it is a function."""
    if isinstance(metric, str):
        if metric not in METRICS_BY_NAME:
            raise ValueError(f"metric must be a callable or one of {sorted(METRICS_BY_NAME)}, got {metric!r}")
        metric = METRICS_BY_NAME[metric]
    if not callable(metric):
        raise ParameterTypeError(f"metric must be a callable or a metric name, got {metric!r}")
    return metric
