"""Minimal scikit-learn style parameter handling, without depending on scikit-learn."""

from __future__ import annotations

import inspect
from typing import Any

from ._params import check_random_state


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


def check_is_fitted(estimator: Any, attribute: str = "tree_") -> None:
    """Raise ``ValueError`` if ``estimator`` has not been fitted yet."""
    if not hasattr(estimator, attribute):
        raise ValueError(
            f"This {type(estimator).__name__} instance is not fitted yet; call fit(X, treatment, y) first."
        )


def spawn_generators(random_state: Any, n_streams: int) -> list:
    """Independent numpy Generators derived from ``random_state`` (int, Generator or None).

    Separate streams keep, e.g., the honest split unchanged when ``max_features`` draws change.
    """
    import numpy as np

    if isinstance(check_random_state(random_state), np.random.Generator):
        return random_state.spawn(n_streams)
    return [np.random.default_rng(seed) for seed in np.random.SeedSequence(random_state).spawn(n_streams)]
