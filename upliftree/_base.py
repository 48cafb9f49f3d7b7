"""Minimal scikit-learn style parameter handling, without depending on scikit-learn; fitted-state plumbing."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ._params import check_random_state

# The outcome types of fitted models (``outcome_type_``): 0/1 outcomes, and any other real-valued outcome.
BINARY, CONTINUOUS = "binary", "continuous"
OUTCOME_TYPES = (BINARY, CONTINUOUS)


class BaseEstimator:
    """Give ``get_params``/``set_params``/``repr`` from the ``__init__`` signature.

    Estimators store every constructor argument unchanged under the same name and validate them in
    ``fit``, so :func:`sklearn.base.clone` works on them.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, parameter in signature.parameters.items()
            if name != "self" and parameter.kind != parameter.VAR_KEYWORD
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters of this estimator."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> BaseEstimator:
        """Set constructor parameters; unknown names raise ``ValueError``."""
        valid = set(self._get_param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; valid parameters: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            if default is inspect.Parameter.empty or not _same_value(value, default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def _same_value(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False


class NotFittedError(ValueError, AttributeError):
    """A fitted attribute or a method that needs a fit was used before ``fit`` (as scikit-learn's, both a
    ``ValueError`` and an ``AttributeError``, so ``hasattr(model, "tree_")`` is False before the fit)."""


def not_fitted(estimator: Any) -> NotFittedError:
    return NotFittedError(
        f"This {type(estimator).__name__} instance is not fitted yet; call fit(X, treatment, y) first."
    )


def check_is_fitted(estimator: Any, attribute: str = "tree_") -> None:
    """Raise :class:`NotFittedError` if ``estimator`` has no fitted ``attribute`` yet."""
    if not hasattr(estimator, attribute):
        raise not_fitted(estimator)


class FittedAttribute:
    """A public fitted attribute (``tree_``, ``schema_``, ...) read from the estimator's one fitted-state object.

    ``read`` maps the state (``estimator.fitted_state_``) to the value; None reads as a missing attribute, so
    ``getattr(model, "n_splits_pruned_", None)`` and ``hasattr`` keep their meaning. Fitted state changes only
    by publishing a whole new state object: assigning raises, unless ``write`` (state, value -> new state)
    is given.
    """

    def __init__(self, read: Callable[[Any], Any], doc: str = "",
                 write: Callable[[Any, Any], Any] | None = None) -> None:
        self.read = read
        self.write = write
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.read(instance.fitted_state_)
        if value is None:
            raise AttributeError(f"{type(instance).__name__!r} object has no attribute {self.name!r}")
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        if self.write is None:
            raise AttributeError(f"{self.name} is a fitted attribute: it changes only by fitting (or by assigning "
                                 "a whole fitted_state_)")
        instance.fitted_state_ = self.write(instance.fitted_state_, value)


def read_only(values: np.ndarray) -> np.ndarray:
    """A read-only copy of ``values``, or ``values`` itself when it is already a read-only array owning its data.

    Copying first matters: marking the caller's array read-only would leave any view of it writable.
    """
    if values.flags.owndata and not values.flags.writeable and values.flags.c_contiguous:
        return values
    array = np.array(values, order="C")
    array.flags.writeable = False
    return array


def restore_frozen(instance: Any, state: dict) -> None:
    """``__setstate__`` of the frozen fitted-state classes: arrays come back writable from pickle and copy, so
    the state is set again and the constructor's freezing and checks (``__post_init__``) run on it."""
    for name, value in state.items():
        object.__setattr__(instance, name, value)
    instance.__post_init__()


def spawn_generators(random_state: Any, n_streams: int) -> list:
    """Independent numpy Generators derived from ``random_state`` (int, Generator or None).

    Separate streams keep, e.g., the honest split unchanged when ``max_features`` draws change.
    """
    if isinstance(check_random_state(random_state), np.random.Generator):
        return random_state.spawn(n_streams)
    return [np.random.default_rng(seed) for seed in np.random.SeedSequence(random_state).spawn(n_streams)]
