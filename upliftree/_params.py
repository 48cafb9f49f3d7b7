"""Checks of the parameters callers pass (settings such as counts, flags, choices, ``alpha``, ``n_jobs``).

Data (features, arms, outcomes, weights, scores) is checked in :mod:`upliftree._validation`; every estimator,
metric and function checks its settings here, so each parameter has one meaning and one error everywhere.

Errors follow scikit-learn: a value of the wrong type (``std="yes"``, ``bins=2.5``) raises
:class:`ParameterTypeError`, which is both a ``TypeError`` (as ``sklearn.utils.check_scalar`` raises for a wrong
type) and a ``ValueError`` (as scikit-learn's estimators raise ``InvalidParameterError``, both at once); a value of
the right type that is out of range or not one of the choices raises ``ValueError``. So ``except ValueError``
catches every bad parameter. The message names the parameter, what it must be and what it got.

``n_jobs`` means the same everywhere: ``None`` (the default) and ``1`` are one thread, ``k >= 1`` is ``k``
threads, ``-1`` all the cores this process may run on, ``-k`` all but ``k - 1`` of them (at least one), as in
scikit-learn and joblib; ``0`` is an error. Results never depend on it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np


class ParameterTypeError(TypeError, ValueError):
    """A parameter of the wrong type: a ``TypeError`` and, as every bad parameter, a ``ValueError``."""


def check_int(value: Any, name: str, minimum: int) -> int:
    """An integer (not a bool) ``>= minimum``, as a Python int."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise ParameterTypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(value: Any, name: str, minimum: float, maximum: float = np.inf, *, open_low: bool = False) -> float:
    """A real number (not a bool, not NaN) in ``[minimum, maximum]`` (``(minimum, maximum]`` with ``open_low``)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise ParameterTypeError(f"{name} must be a number, got {value!r}")
    if np.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    low_ok = value > minimum if open_low else value >= minimum
    if not (low_ok and value <= maximum):
        bracket = "(" if open_low else "["
        raise ValueError(f"{name} must be in {bracket}{minimum}, {maximum}], got {value!r}")
    return float(value)


def check_bool(value: Any, name: str) -> bool:
    """``True`` or ``False`` (numpy bools too); 0/1 and strings are refused, not read as flags."""
    if not isinstance(value, bool | np.bool_):
        raise ParameterTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str):
        raise ParameterTypeError(f"{name} must be one of {list(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_alpha(alpha: Any) -> float:
    """The miscoverage of an interval: a number in (0, 1) (the interval has coverage ``1 - alpha``)."""
    if isinstance(alpha, bool | np.bool_) or not isinstance(alpha, Real):
        raise ParameterTypeError(f"alpha must be a number in (0, 1), got {alpha!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    return float(alpha)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one): what ``n_jobs=-1`` means."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_n_jobs(n_jobs: Any) -> int:
    """Number of threads for ``n_jobs`` (see the module docstring): None -> 1, k -> k, -1 -> all cores."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool | np.bool_) or not isinstance(n_jobs, Integral):
        raise ParameterTypeError(f"n_jobs must be None, a positive int or -1 (all cores), got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError(f"n_jobs must be None, a positive int or -1 (all cores), got {n_jobs!r}")
    return int(n_jobs) if n_jobs > 0 else max(available_cores() + 1 + int(n_jobs), 1)


def check_random_state(random_state: Any) -> Any:
    """``None``, a non-negative int or a ``numpy.random.Generator``, unchanged."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, bool | np.bool_) or not isinstance(random_state, Integral):
        raise ParameterTypeError(
            f"random_state must be None, a non-negative int or a numpy Generator, got {random_state!r}"
        )
    if random_state < 0:
        raise ValueError(f"random_state must be None, a non-negative int or a numpy Generator, got {random_state!r}")
    return random_state
