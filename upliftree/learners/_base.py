"""What every meta-learner shares: input checks, fitted input attributes, and the shape of ``predict``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._base import BaseEstimator, check_is_fitted
from .._validation import check_n_rows
from ._crossfit import Seeds, check_cv, n_workers, predict_columns
from ._data import LearnerData, model_features, prepare
from ._nuisance import check_propensity_clip


class MetaLearner(BaseEstimator):
    """Base of the learners: ``fit`` checks the input and calls ``_fit``; ``predict`` shapes ``_uplift``.

    Subclasses implement ``_fit(data, seeds, workers)``, returning the fitted attributes (set only once the
    whole fit succeeded, so a failed fit leaves nothing partial behind), and
    ``_uplift(features) -> (n, n_treatments)``.
    """

    _cross_fitted = False  # whether the learner has ``cv`` and ``propensity_clip``

    def fit(self, X: Any, treatment: Any, y: Any, sample_weight: Any = None, *, propensity: Any = None,
            cluster: Any = None) -> MetaLearner:
        """Fit the learner.

        Parameters
        ----------
        X : DataFrame or 2-D array
            Features. Numeric, bool, category and string columns; NaN means missing.
        treatment : array-like
            Arm label of every row; ``control`` is the control arm.
        y : array-like
            Outcome: 0/1 (binary) or real (continuous), see ``outcome``.
        sample_weight : array-like, optional
            Row weights, passed to every base model's ``fit`` and used in every average.
        propensity : None, number, dict, 1-D or 2-D array, or column name
            Known assignment probabilities (docs/learners.md, "Propensities"); None: estimated where needed.
        cluster : None, array-like or column name
            Ids of the unit of randomization; cross-fitting folds keep every cluster whole.

        Returns
        -------
        self
        """
        workers = n_workers(self.n_jobs)
        seeds = Seeds.of(self.random_state)
        if self._cross_fitted:
            check_cv(self.cv)
            check_propensity_clip(self.propensity_clip)
        data, schema = prepare(X, treatment, y, sample_weight, propensity, cluster, control=self.control,
                               outcome=self.outcome)
        fitted = self._fit(data, seeds, workers)
        self.schema_ = schema
        self.treatments_ = np.asarray(data.labels, dtype=object)
        self.feature_names_in_ = np.asarray(schema.names, dtype=object)
        self.n_features_in_ = schema.n_features
        self.outcome_type_ = "binary" if data.binary else "continuous"
        for name, value in fitted.items():
            setattr(self, name, value)
        return self

    def _fit(self, data: LearnerData, seeds: Seeds, workers: int) -> dict[str, Any]:
        raise NotImplementedError

    def _uplift(self, features: Any) -> np.ndarray:
        raise NotImplementedError

    def _features(self, X: Any) -> Any:
        check_is_fitted(self, "treatments_")
        check_n_rows(X)
        return model_features(X, self.schema_)

    def _predict_columns(self, models: list, features: Any, binary: bool = False) -> np.ndarray:
        """:func:`predict_columns` with this learner's threads (regressors' predictions by default)."""
        return predict_columns(models, features, binary, n_workers(self.n_jobs))

    def predict(self, X: Any) -> np.ndarray:
        """Uplift of each treatment over control: shape ``(n,)`` with one treatment, ``(n, k)`` with k
        (columns in ``treatments_[1:]`` order)."""
        uplift = self._uplift(self._features(X))
        return uplift[:, 0] if uplift.shape[1] == 1 else uplift


class CrossFittedEffectLearner(MetaLearner):
    """Base of the learners that regress an effect model on cross-fitted nuisances (R- and DR-learner):
    their shared constructor parameters."""

    _cross_fitted = True

    def __init__(self, outcome_model: Any = None, propensity_model: Any = None, effect_model: Any = None,
                 cv: int = 5, propensity_clip: float = 0.01, control: Any = 0, outcome: str = "auto",
                 random_state: Any = None, n_jobs: int | None = None):
        self.outcome_model = outcome_model
        self.propensity_model = propensity_model
        self.effect_model = effect_model
        self.cv = cv
        self.propensity_clip = propensity_clip
        self.control = control
        self.outcome = outcome
        self.random_state = random_state
        self.n_jobs = n_jobs
