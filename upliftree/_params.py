"""Checks of the parameters callers pass (settings such as counts, flags, choices, ``alpha``, ``n_jobs``).

Data (features, arms, outcomes, weights, scores) is checked in :mod:`upliftree._validation`; every estimator,
metric and function checks its settings here, so each parameter has one meaning and one error everywhere.

Errors follow scikit-learn: a value of the wrong type (``std="yes"``, ``bins=2.5``) raises
:class:`ParameterTypeError`, which is both a ``TypeError`` (as ``sklearn.utils.check_scalar`` raises for a wrong
type) and a ``ValueError`` (as scikit-learn's estimators raise ``InvalidParameterError``, both at once); a value of
the right type that is out of range or not one of the choices raises ``ValueError``. So ``except ValueError``
catches every bad parameter. The message names the parameter, what it must be and what it got; ranges are
written as intervals (``[0, 1)``: 0 included, 1 not), or as bounds (``a finite number >= 0``).

Parameters that several entry points take mean the same in all of them, each checked by one function:

- ``n_jobs`` (:func:`check_n_jobs`): threads. ``None`` (the default) and ``1`` are one thread, ``k >= 1`` is
  ``k`` threads, ``-1`` all the cores this process may run on, ``-k`` all but ``k - 1`` of them (at least one),
  as in scikit-learn and joblib; ``0`` is an error. Results never depend on it.
- ``random_state`` (:func:`check_random_state`): ``None``, an int >= 0 or a ``numpy.random.Generator``.
- ``alpha`` (:func:`check_alpha`): the miscoverage of an interval, in ``(0, 1)``; coverage ``1 - alpha``.
- ``max_bins`` (:func:`check_max_bins`): non-missing bins per feature, an int in ``[2, 255]``.
- ``budget`` (:func:`check_budget`): the most the treatments may cost in total, a finite number ``>= 0``.
- ``explore`` (:func:`check_explore`): the share of rows in a randomized exploration bucket, in ``[0, 1)``.
- ``cost``, ``benefit`` and other amounts (:func:`check_amount`): finite numbers (costs ``>= 0``).
- ``k`` of ``top_k``, ``max_samples``, ``max_features`` (:func:`check_count_or_share`): a count (an int) or a
  share of the rows or features (a float in ``(0, 1]``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np


class ParameterTypeError(TypeError, ValueError):
    """A parameter of the wrong type: a ``TypeError`` and, as every bad parameter, a ``ValueError``."""


def check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """An integer (not a bool) ``>= minimum`` (and ``<= maximum`` when given), as a Python int."""
    expected = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise ParameterTypeError(f"{name} must be {expected}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_real(value: Any, name: str, minimum: float, maximum: float = np.inf, *, open_low: bool = False,
               open_high: bool = False) -> float:
    """A real number (not a bool, not NaN) in ``[minimum, maximum]``; ``open_low`` / ``open_high`` exclude the
    bound (``open_high`` with ``maximum=inf``: a finite number)."""
    expected = _range_text(minimum, maximum, open_low, open_high)
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise ParameterTypeError(f"{name} must be {expected}, got {value!r}")
    low_ok = value > minimum if open_low else value >= minimum
    high_ok = value < maximum if open_high else value <= maximum
    if not (low_ok and high_ok):  # NaN fails both
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def _range_text(minimum: float, maximum: float, open_low: bool, open_high: bool) -> str:
    """``"a number in [0, 1)"``; a range open at infinity reads ``"a finite number >= 0"``, ``"a number > 0"``."""
    if minimum > -np.inf and maximum < np.inf:
        return f"a number in {'(' if open_low else '['}{minimum:g}, {maximum:g}{')' if open_high else ']'}"
    lower = f" {'>' if open_low else '>='} {minimum:g}" if minimum > -np.inf else ""
    upper = f" {'<' if open_high else '<='} {maximum:g}" if maximum < np.inf else ""
    if not (lower or upper):  # both ends infinite
        if open_low != open_high:
            return f"a number {'< inf' if open_high else '> -inf'}"
        return "a finite number" if open_low else "a number"
    infinite_open = open_high if lower else open_low
    return f"a {'finite ' if infinite_open else ''}number{lower}{upper}"


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
    return check_real(alpha, "alpha", 0.0, 1.0, open_low=True, open_high=True)


def check_max_bins(max_bins: Any) -> int:
    """Non-missing bins per feature: an int in [2, 255] (bin codes are ``uint8``; code ``max_bins`` is missing)."""
    return check_int(max_bins, "max_bins", 2, 255)


def check_budget(budget: Any) -> float:
    """The most the treatments may cost in total: a finite number >= 0."""
    return check_real(budget, "budget", 0.0, np.inf, open_high=True)


def check_explore(explore: Any) -> float:
    """The share of rows put in a randomized exploration bucket: a number in [0, 1)."""
    return check_real(explore, "explore", 0.0, 1.0, open_high=True)


def check_amount(value: Any, name: str, minimum: float | None = None) -> float:
    """An amount of money or outcome value (``cost``, ``benefit``, limits): a finite number, ``>= minimum``
    when given."""
    if minimum is None:
        return check_real(value, name, -np.inf, np.inf, open_low=True, open_high=True)
    return check_real(value, name, minimum, np.inf, open_high=True)


def check_count_or_share(value: Any, name: str, min_count: int, others: Sequence[Any] = ()) -> int | float:
    """A count, an int ``>= min_count`` (returned as int), or a share, a float in (0, 1] (returned as float).

    ``others`` are further values the caller accepts and handles before calling (named in the message only).
    """
    expected = "".join(f"{other!r}, " for other in others) + f"an integer >= {min_count} or a share in (0, 1]"
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise ParameterTypeError(f"{name} must be {expected}, got {value!r}")
    if isinstance(value, Integral):
        if value < min_count:
            raise ValueError(f"{name} must be {expected}, got {value!r}")
        return int(value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


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
