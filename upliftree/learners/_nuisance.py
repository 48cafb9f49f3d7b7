"""Base models: defaults, checks of what a role needs, fitting a fresh copy, and reading its predictions.

Every model a learner fits is a fresh :func:`sklearn.base.clone` of the model the user passed (or of the
default), so the user's object is never fitted and ``get_params``/``clone`` of the learner keep working.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._params import check_real

# Defaults stop adding trees once a held-out 10% of their rows stops improving (scikit-learn's early stopping,
# which "auto" turns on only above 10,000 rows): nuisance targets are noisy and effect targets (imputed effects,
# residual ratios, doubly robust scores) far noisier, and 100 unchecked boosting rounds fit that noise.
# On 4,000 rows of make_smooth_uplift_data(noise=0.5) it halved the DR-learner's error.
_DEFAULT_OPTIONS = {"categorical_features": "from_dtype", "early_stopping": True}


def default_classifier() -> Any:
    """``HistGradientBoostingClassifier`` reading pandas categoricals as categories (NaN as missing), with early
    stopping."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(**_DEFAULT_OPTIONS)


def default_regressor() -> Any:
    """``HistGradientBoostingRegressor`` reading pandas categoricals as categories (NaN as missing), with early
    stopping."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(**_DEFAULT_OPTIONS)


def classifier(model: Any, role: str) -> Any:
    """``model`` (default: :func:`default_classifier`), checked to be a classifier with ``predict_proba``."""
    if model is None:
        return default_classifier()
    _check_fit(model, role)
    if not callable(getattr(model, "predict_proba", None)):
        raise TypeError(
            f"{role} must be a classifier with predict_proba (its predicted probabilities are what the learner "
            f"uses), got {type(model).__name__}, which has none; e.g. HistGradientBoostingClassifier()"
        )
    return model


def regressor(model: Any, role: str) -> Any:
    """``model`` (default: :func:`default_regressor`), checked to be a regressor."""
    from sklearn.base import is_classifier

    if model is None:
        return default_regressor()
    _check_fit(model, role)
    if not callable(getattr(model, "predict", None)) or is_classifier(model):
        raise TypeError(f"{role} must be a regressor (fit and predict of a real-valued target), got "
                        f"{type(model).__name__}; e.g. HistGradientBoostingRegressor()")
    return model


def outcome_model(model: Any, binary: bool, role: str = "outcome_model") -> Any:
    """A model of the outcome: a classifier (probability of 1) for a binary outcome, else a regressor."""
    return classifier(model, role) if binary else regressor(model, role)


def _check_fit(model: Any, role: str) -> None:
    if not callable(getattr(model, "fit", None)) or not callable(getattr(model, "get_params", None)):
        raise TypeError(f"{role} must be a scikit-learn estimator (with fit and get_params), got {model!r}")


def check_propensity_clip(value: Any) -> float:
    return check_real(value, "propensity_clip", 0.0, 0.5, open_high=True)


def fit_copy(model: Any, features: np.ndarray | pd.DataFrame, target: np.ndarray, weight: np.ndarray | None,
             seed: int | None, role: str) -> Any:
    """A fitted clone of ``model``; ``seed`` (when not None) becomes its ``random_state``, if it has one."""
    from sklearn.base import clone
    from sklearn.utils.validation import has_fit_parameter

    fresh = clone(model)
    if seed is not None and "random_state" in fresh.get_params():
        fresh.set_params(random_state=seed)
    if weight is None:
        return fresh.fit(features, target)
    if not has_fit_parameter(fresh, "sample_weight"):
        raise TypeError(f"sample_weight was given, but {role} ({type(fresh).__name__}) does not accept "
                        "sample_weight in fit")
    return fresh.fit(features, target, sample_weight=weight)


def probability_of_one(model: Any, features: np.ndarray | pd.DataFrame) -> np.ndarray:
    """A fitted binary classifier's predicted probability of the outcome 1."""
    classes = list(model.classes_)
    probabilities = model.predict_proba(features)
    return probabilities[:, classes.index(1.0)] if 1.0 in classes else np.zeros(len(probabilities))


def mean_prediction(model: Any, features: np.ndarray | pd.DataFrame, binary: bool) -> np.ndarray:
    """Expected outcome: the probability of 1 (binary outcome) or the predicted mean."""
    if binary:
        return probability_of_one(model, features)
    return np.asarray(model.predict(features), dtype=np.float64).reshape(len(features))


def arm_probabilities(model: Any, features: np.ndarray | pd.DataFrame, n_arms: int) -> np.ndarray:
    """A fitted classifier of arm codes: probability of every arm, ``(n, n_arms)`` (0 for unseen arms)."""
    probabilities = np.zeros((len(features), n_arms))
    probabilities[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(features)
    return probabilities
