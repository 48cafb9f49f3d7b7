"""Minimal scikit-learn style parameter handling, without depending on scikit-learn; fitted-state plumbing."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ._params import check_random_state
from ._validation import arm_codes

# The outcome types of fitted models (``outcome_type_``): 0/1 outcomes, and any other real-valued outcome.
BINARY, CONTINUOUS = "binary", "continuous"
OUTCOME_TYPES = (BINARY, CONTINUOUS)
# The kinds of fitted models (``model_kind``): one node table (``tree_``), or several (``estimators_``).
TREE, FOREST = "tree", "forest"


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


def check_is_fitted(estimator: Any, attribute: str) -> None:
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


class UpliftModel(BaseEstimator):
    """Base class of upliftree's models (trees, forests, distilled trees), and how other modules know them.

    Subclasses set ``model_kind`` (:data:`TREE`: one node table ``tree_``, ``apply`` gives a leaf per row;
    :data:`FOREST`: trees ``estimators_``), ``outcome_type`` (the outcome the class fits, None when it comes
    from the data) and ``_state_class``, and implement ``check_params`` and ``predict_outcome``. Everything a
    fit learns is one immutable object, ``fitted_state_``; the fitted attributes below read it. Modules that
    take a model (exports, segments, policy, monitor, CLI, Dask) recognize it with :func:`model_kind` and use
    only its public attributes and methods.
    """

    model_kind: ClassVar[str]
    outcome_type: ClassVar[str | None]
    _state_class: ClassVar[type]

    @property
    def fitted_state_(self) -> Any:
        """Everything the fit learned, as one immutable object (``tree.FittedTree``, ``forest.FittedForest``, ...).

        Assigning it is the one way fitted state changes, for a fit, ``prune``, a distributed fit
        (``upliftree.dask``) or a model file alike: the state is built whole first, so a ``predict`` running in
        another thread meanwhile sees the old model or the new one, never a mix, and a fit that fails leaves the
        previous model. The assignment checks the state's class and outcome type against the estimator's.
        """
        state = self.__dict__.get("_fitted_state")
        if state is None:
            raise not_fitted(self)
        return state

    @fitted_state_.setter
    def fitted_state_(self, state: Any) -> None:
        if type(state) is not self._state_class:
            raise TypeError(f"fitted_state_ of a {type(self).__name__} must be a {self._state_class.__name__}, "
                            f"got {type(state).__name__}")
        if self.outcome_type is not None and state.inputs.outcome_type != self.outcome_type:
            raise ValueError(f"a {type(self).__name__} fits a {self.outcome_type} outcome; the fitted state is of a "
                             f"{state.inputs.outcome_type} one")
        self._fitted_state = state

    def __sklearn_is_fitted__(self) -> bool:
        return "_fitted_state" in self.__dict__

    schema_ = FittedAttribute(lambda state: state.inputs.schema, "Names and kinds of the features (FeatureSchema).")
    treatments_ = FittedAttribute(lambda state: state.inputs.treatments,
                                  "Arm labels, control first; columns of ``predict_outcome`` follow this order.")
    outcome_type_ = FittedAttribute(lambda state: state.inputs.outcome_type,
                                    'Outcome of the training data: "binary" (0/1) or "continuous".')
    feature_names_in_ = FittedAttribute(lambda state: state.inputs.feature_names, "Feature names seen by fit.")
    n_features_in_ = FittedAttribute(lambda state: state.inputs.n_features, "Number of features seen by fit.")
    bin_mapper_ = FittedAttribute(lambda state: state.inputs.bin_mapper,
                                  "Bins of the fit (absent on a model read from JSON).")
    feature_importances_ = FittedAttribute(lambda state: state.feature_importances,
                                           "Raw gain per feature, weighted by node size, summing to 1.")
    training_profile_ = FittedAttribute(
        lambda state: state.training_profile, "Training-data profile for drift monitoring (upliftree.monitor).",
        write=lambda state, profile: replace(state, training_profile=profile))

    def check_params(self) -> None:
        """Check the constructor parameters as ``fit`` does first; raises ``ValueError``/``TypeError`` naming
        the parameter."""
        raise NotImplementedError

    def predict_outcome(self, X) -> np.ndarray:
        """Expected outcome per arm, shape ``(n, k + 1)``, control first (order of ``treatments_``)."""
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        """Uplift of each treatment over control: shape ``(n,)`` with one treatment, ``(n, k)`` with k."""
        values = self.predict_outcome(X)
        uplift = values[:, 1:] - values[:, :1]
        return uplift[:, 0] if uplift.shape[1] == 1 else uplift

    def arm_index(self, treatment) -> np.ndarray:
        """Position in ``treatments_`` (0 = control; the column of ``predict_outcome``) of every arm label of
        ``treatment``. A label the model was not fitted on raises ``ValueError`` naming it; text never equals a
        number (``"1"`` is not ``1``)."""
        return arm_codes(np.asarray(treatment), tuple(self.treatments_))

    # -- export: JSON model file and SQL scoring (issue 6, upliftree.export); delegations, see architecture.md --
    def save(self, path) -> None:
        """Write the fitted model to ``path`` as JSON (``docs/model_json.md``); read it with ``upliftree.load``."""
        from .export.model_json.writer import save

        save(self, path)

    def to_json(self) -> str:
        """The fitted model as a JSON document; ``upliftree.from_json`` rebuilds it exactly."""
        from .export.model_json.writer import to_json

        return to_json(self)

    def to_sql(self, table, dialect: str = "ansi", key_columns=(), leaf_actions=None,
               tree_leaf_ids: bool = False) -> str:
        """A ``SELECT`` over ``table`` scoring every row like ``apply``/``predict``; see
        :func:`upliftree.export.sql.to_sql` and ``docs/export.md``."""
        from .export.sql import to_sql

        return to_sql(self, table, dialect, key_columns, leaf_actions, tree_leaf_ids)


def model_kind(model: Any, argument: str = "model") -> str:
    """:data:`TREE` or :data:`FOREST`: the kind of a fitted upliftree model.

    Raises ``TypeError`` (naming ``argument``) for anything but an upliftree tree, distilled tree or forest,
    and :class:`NotFittedError` for one that is not fitted.
    """
    if not isinstance(model, UpliftModel):
        raise TypeError(f"{argument} must be an upliftree tree, distilled tree or forest, got {type(model).__name__}")
    if not model.__sklearn_is_fitted__():
        raise not_fitted(model)
    return model.model_kind


def check_tree_model(model: Any, argument: str = "model") -> None:
    """Raise unless ``model`` is a fitted single tree (an uplift tree or a distilled tree): segments, rules and
    drawings need one node table."""
    if model_kind(model, argument) != TREE:
        raise TypeError(f"{argument} must be a single tree, got a forest ({type(model).__name__}); distill it into "
                        "a tree with upliftree.distill, or use one of its estimators_")
