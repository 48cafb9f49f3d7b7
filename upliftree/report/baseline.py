"""The baseline a careful analyst fits first: a T-learner of scikit-learn gradient-boosting models.

One ``HistGradientBoostingClassifier`` (binary outcome) or ``HistGradientBoostingRegressor`` per arm predicts
the outcome; the uplift of a treatment is its prediction minus control's. scikit-learn is the optional extra
``baseline`` (``pip install upliftree[baseline]``); without it the report says the baseline was skipped.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pandas as pd

from .._validation import FeatureSchema, arm_codes, pooled_group

__all__ = ["TLearner", "baseline_available"]


def baseline_available() -> bool:
    """Whether scikit-learn is installed."""
    return importlib.util.find_spec("sklearn") is not None


def _one_thread() -> Any:
    """Run scikit-learn's OpenMP code on one thread: its spinning threads slow down by 10-30x when the cores
    are busy with other work (Numba threads, parallel tests), while one thread costs at most a factor 2."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _as_frame(X: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Features with categorical columns as pandas categories of the fitted categories, numeric as float."""
    columns = {}
    for name, categories in zip(schema.names, schema.categories, strict=True):
        column = X[name]
        if categories is None:
            columns[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = column.astype(object)
            group = pooled_group(categories)
            if group is not None:  # the rare categories pooled at fit time are one category, as in the tree
                values = values.where(~values.isin(list(group.values)), group)
            columns[name] = pd.Categorical(values, categories=list(categories))
    return pd.DataFrame(columns)


class TLearner:
    """Two (or more) gradient-boosting models, one per arm; uplift = treatment prediction - control prediction.

    Parameters
    ----------
    binary : bool
        Classifiers (predicted probability) or regressors (predicted mean).
    schema : FeatureSchema
        Feature names and categories, e.g. the uplift tree's ``schema_``, so both models see the same
        categorical codes.
    random_state : int or None
    """

    def __init__(self, binary: bool, schema: FeatureSchema, random_state: int | None = None):
        self.binary = binary
        self.schema = schema
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, treatment: np.ndarray, y: np.ndarray, arms: list[Any]) -> TLearner:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        features = _as_frame(X, self.schema)
        model_class = HistGradientBoostingClassifier if self.binary else HistGradientBoostingRegressor
        self.arms_ = list(arms)
        self.models_ = []
        codes = arm_codes(np.asarray(treatment), tuple(self.arms_))
        with _one_thread():
            for code in range(len(self.arms_)):
                rows = codes == code
                model = model_class(categorical_features="from_dtype", random_state=self.random_state)
                self.models_.append(model.fit(features[rows], y[rows]))
        return self

    def predict_outcome(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted outcome per arm, ``(n, n_arms)``, control first."""
        features = _as_frame(X, self.schema)
        with _one_thread():
            if self.binary:
                return np.column_stack([model.predict_proba(features)[:, 1] for model in self.models_])
            return np.column_stack([model.predict(features) for model in self.models_])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Uplift of each treatment over control, ``(n, n_treatments)``."""
        outcome = self.predict_outcome(X)
        return outcome[:, 1:] - outcome[:, :1]
