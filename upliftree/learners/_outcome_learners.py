"""Learners of the outcome itself: the S-learner (one model, the arm as a feature) and the T-learner (one model
per arm). Uplift is the difference of predicted outcomes; nothing is fitted on another model's predictions,
so neither needs cross-fitting, and neither uses propensities (they adjust for features by regression only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ._base import MetaLearner
from ._crossfit import Fit, Seeds, check_training_parts, fit_models, n_workers, run_threads
from ._data import LearnerData
from ._nuisance import mean_prediction, outcome_model

_ARM_COLUMN = "__upliftree_arm_{}"


def with_arm_indicators(features: np.ndarray | pd.DataFrame, arm: np.ndarray, n_arms: int) -> Any:
    """``features`` plus one 0/1 column per treatment (control: all zeros), the S-learner's model input."""
    indicators = (arm[:, None] == np.arange(1, n_arms)[None, :]).astype(np.float64)
    if isinstance(features, pd.DataFrame):
        names = [_ARM_COLUMN.format(code) for code in range(1, n_arms)]
        clash = sorted(set(names) & set(features.columns))
        if clash:
            raise ValueError(f"X has column(s) {clash}, a name the S-learner gives its arm indicators; rename them")
        extra = pd.DataFrame(indicators, columns=names, index=features.index)
        return pd.concat([features, extra], axis=1)
    return np.column_stack([features, indicators])


class _OutcomeLearner(MetaLearner):
    def __init__(self, outcome_model: Any = None, control: Any = 0, outcome: str = "auto",
                 random_state: Any = None, n_jobs: int | None = None):
        self.outcome_model = outcome_model
        self.control = control
        self.outcome = outcome
        self.random_state = random_state
        self.n_jobs = n_jobs

    def predict_outcome(self, X: Any) -> np.ndarray:
        """Expected outcome per arm (probability of 1 for a binary outcome), ``(n, n_arms)``, control first
        (``treatments_`` order)."""
        return self._outcomes(self._features(X))

    def _uplift(self, features: Any) -> np.ndarray:
        outcomes = self._outcomes(features)
        return outcomes[:, 1:] - outcomes[:, :1]

    def _outcomes(self, features: Any) -> np.ndarray:
        raise NotImplementedError


class SLearner(_OutcomeLearner):
    """One outcome model with the arm as a feature; uplift = prediction with the treatment - with control.

    The arm enters as one 0/1 column per treatment. Simple and data-efficient, but a regularized model may
    shrink the arm's effect toward 0 (Künzel et al. 2019, section 3).

    Parameters
    ----------
    outcome_model : scikit-learn estimator, optional
        A classifier with ``predict_proba`` (binary outcome) or a regressor. Default:
        ``HistGradientBoostingClassifier`` / ``Regressor`` with ``categorical_features="from_dtype"``.
    control : label
        The control arm's label in ``treatment``.
    outcome : {"auto", "binary", "continuous"}
        ``"auto"``: binary when every outcome is 0 or 1.
    random_state : None, int or numpy Generator
        When not None, the ``random_state`` of every base model.
    n_jobs : None or int
        Threads: ``None`` (the default) is one, ``-1`` all cores, ``-2`` all but one (as everywhere in
        upliftree). Results do not depend on it.

    Attributes
    ----------
    model_ : fitted estimator
    treatments_ : ndarray
        Arm labels, control first.
    outcome_type_ : str
        ``"binary"`` or ``"continuous"``.
    schema_, feature_names_in_, n_features_in_
        The features, as the trees record them.
    """

    def _fit(self, data: LearnerData, seeds: Seeds, workers: int) -> dict[str, Any]:
        model = outcome_model(self.outcome_model, data.binary)
        everything = np.ones(data.n_rows, dtype=np.bool_)
        arm_features = with_arm_indicators(data.features, data.arm, data.n_arms)
        fitted = fit_models(arm_features, data.weight, [Fit(model, everything, data.y, "outcome_model")],
                            seeds.model, workers)
        return {"model_": fitted[0]}

    def _outcomes(self, features: Any) -> np.ndarray:
        n_arms, binary = len(self.treatments_), self.outcome_type_ == "binary"

        def task(code: int) -> Callable[[], np.ndarray]:
            arm = np.full(len(features), code)
            return lambda: mean_prediction(self.model_, with_arm_indicators(features, arm, n_arms), binary)

        return np.column_stack(run_threads([task(code) for code in range(n_arms)], n_workers(self.n_jobs)))


class TLearner(_OutcomeLearner):
    """One outcome model per arm; uplift = treatment arm's prediction - control's.

    Each model sees only its arm's rows, so the effect is never shrunk toward 0 by sharing, but each arm's
    model errs on its own and the difference adds both errors (Künzel et al. 2019).

    Parameters
    ----------
    outcome_model : scikit-learn estimator, optional
        A classifier with ``predict_proba`` (binary outcome) or a regressor, cloned once per arm. Default:
        ``HistGradientBoostingClassifier`` / ``Regressor`` with ``categorical_features="from_dtype"``.
    control, outcome, random_state, n_jobs
        As :class:`SLearner`.

    Attributes
    ----------
    models_ : list of fitted estimators
        One per arm, in ``treatments_`` order.
    treatments_, outcome_type_, schema_, feature_names_in_, n_features_in_
        As :class:`SLearner`.
    """

    def _fit(self, data: LearnerData, seeds: Seeds, workers: int) -> dict[str, Any]:
        check_training_parts(data, None, 1)
        fits = arm_outcome_fits(data, self.outcome_model)
        return {"models_": fit_models(data.features, data.weight, fits, seeds.model, workers)}

    def _outcomes(self, features: Any) -> np.ndarray:
        binary = self.outcome_type_ == "binary"
        return self._predict_columns(self.models_, features, binary)


def arm_outcome_fits(data: LearnerData, model: Any) -> list[Fit]:
    """One outcome model per arm, each on its arm's rows (the T-learner's, and the first stage of X and DR)."""
    template = outcome_model(model, data.binary)
    return [Fit(template, data.arm == code, data.y, "outcome_model") for code in range(data.n_arms)]
