"""The one place that turns the arrays given to a metric into validated arrays; the warning for undefined results.

Every function of :mod:`upliftree.metrics` that takes ``(y_true, uplift, treatment)`` checks them with
:func:`check_inputs`, so an argument describing the experiment reaches every metric through one function:
known assignment probabilities (``propensity``) become inverse-probability weights there, and cluster ids
(``cluster``) codes, both through the design validators of :mod:`upliftree._validation` (docs/design.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._validation import (
    as_pandas,
    check_statistic_totals,
    finite_float_array,
    is_binary,
    statistic_totals,
    validate_cluster,
    validate_propensity,
)

# Arm labels of the 0/1 treatment of a metric, control first: the order of a 2-D propensity's columns.
ARM_LABELS = (0, 1)


class UndefinedMetricWarning(RuntimeWarning):
    """A metric is NaN because it is undefined on this data (the message says why)."""


def warn_undefined(message: str) -> None:
    """Warn that a result is NaN and why (``stacklevel`` names the caller of the public function)."""
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)


class MetricInputs(NamedTuple):
    """Validated arrays of equal length: float outcome and scores (None when not given), boolean treated flags,
    and the design: inverse-probability weights, the received arm's probabilities and cluster codes (each None
    when not given).

    ``weight`` is ``1 / received`` scaled per arm so that each arm's weights sum to its number of rows: arm
    means are then Hájek (ratio) estimates, and a design with the same probabilities for every row gives weights
    of 1 (up to rounding), i.e. the unweighted results.
    """

    y: np.ndarray | None
    score: np.ndarray | None
    treated: np.ndarray
    weight: np.ndarray | None = None
    received: np.ndarray | None = None
    cluster: np.ndarray | None = None

    @property
    def has_design(self) -> bool:
        return self.weight is not None or self.cluster is not None


def _to_numpy(values: ArrayLike) -> np.ndarray:
    values = as_pandas(values, "an array argument")  # Polars and PyArrow columns
    # pandas nullable dtypes (Int64, boolean, Float64) would otherwise become object arrays.
    if isinstance(values, pd.Series | pd.Index) and pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values)


def _numeric_1d(name: str, values: ArrayLike) -> np.ndarray:
    array = _to_numpy(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    return finite_float_array(array, name)


def _check_binary_outcome(y: np.ndarray, purpose: str) -> None:
    if not is_binary(y):
        examples = np.unique(y[(y != 0.0) & (y != 1.0)])[:5].tolist()
        raise ValueError(f"y_true must be binary (0/1) for {purpose}; found values {examples}")


def _check_treatment(treatment: ArrayLike) -> np.ndarray:
    """Boolean "is treated" array from 0/1 (or bool) labels with both arms present."""
    codes = _to_numpy(treatment)
    if codes.ndim != 1:
        raise ValueError(f"treatment must be 1-D, got shape {codes.shape}")
    if codes.dtype.kind not in "biuf" or not is_binary(codes.astype(np.float64, copy=False)):
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


def _check_design_rows(values: Any, argument: str, n_rows: int) -> None:
    """Errors in the metrics' terms (no ``X`` here) before the shared design validators read ``values``."""
    if isinstance(values, str):
        raise TypeError(
            f"{argument}={values!r} looks like a column name, but the metrics take arrays: pass the column's values "
            f"(e.g. frame[{values!r}])"
        )
    if not isinstance(values, dict) and np.ndim(values) >= 1 and len(values) != n_rows:
        raise ValueError(f"{argument} has {len(values)} rows but treatment has {n_rows}")


def read_design(propensity: Any, cluster: Any, arms: Callable[[], tuple[tuple, np.ndarray]],
                n_rows: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each row's probability of the arm it received and its cluster code (None where not given).

    ``arms()`` gives the arm labels (control first: the order of a 2-D propensity's columns) and each row's arm
    code; it is called only when a propensity is given.
    """
    received = codes = None
    if propensity is not None:
        _check_design_rows(propensity, "propensity", n_rows)
        labels, arm_codes = arms()
        received = validate_propensity(propensity, labels, arm_codes, n_rows).received
    if cluster is not None:
        _check_design_rows(cluster, "cluster", n_rows)
        codes = validate_cluster(cluster, n_rows)
    return received, codes


def arm_weights(received: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """``1 / received`` scaled per arm to sum to the arm's number of rows (Hájek weights)."""
    arm = treated.astype(np.int64)
    with np.errstate(divide="ignore", over="ignore"):
        inverse = 1.0 / received
        totals = np.bincount(arm, weights=inverse, minlength=2)
    if not np.all(np.isfinite(totals)):
        raise ValueError(
            f"propensity holds probabilities as small as {float(received.min()):.3g}: their inverses overflow "
            "float64, so they cannot weight the rows"
        )
    return inverse * (np.bincount(arm, minlength=2) / totals)[arm]


def check_inputs(
    y_true: ArrayLike | None, uplift: ArrayLike | None, treatment: ArrayLike, binary_purpose: str | None = None,
    propensity: Any = None, cluster: Any = None,
) -> MetricInputs:
    """Validated outcome, scores, treated flags and design; ``y_true`` or ``uplift`` may be None (not used).

    ``binary_purpose`` (what needs it) makes a non-binary outcome an error. ``propensity`` takes the forms of
    :func:`upliftree._validation.validate_propensity` with the arms ``(0, 1)`` (a number is the probability of
    treatment, a dict ``{0: p0, 1: p1}``, a 1-D array the probability of the arm each row received, a 2-D array
    ``(n, 2)`` control first); ``cluster`` is one id per row.
    """
    arrays = {}
    if y_true is not None:
        arrays["y_true"] = _numeric_1d("y_true", y_true)
        # Curves and intervals sum y and y**2: the bound of the models' node statistics keeps them finite.
        check_statistic_totals(statistic_totals(arrays["y_true"], np.ones(len(arrays["y_true"]))), 1, "y_true",
                               None)
    if uplift is not None:
        arrays["uplift"] = _numeric_1d("uplift", uplift)
    arrays["treatment"] = _check_treatment(treatment)
    lengths = [len(array) for array in arrays.values()]
    if len(set(lengths)) > 1:
        raise ValueError(f"{', '.join(arrays)} must have the same length; got lengths {lengths}")
    if binary_purpose is not None:
        _check_binary_outcome(arrays["y_true"], binary_purpose)
    treated = arrays["treatment"]
    received, codes = read_design(propensity, cluster, lambda: (ARM_LABELS, treated.astype(np.int64)), len(treated))
    weight = None if received is None else arm_weights(received, treated)
    return MetricInputs(arrays.get("y_true"), arrays.get("uplift"), treated, weight, received, codes)
