"""X-learner (Künzel, Sekhon, Bickel & Yu 2019, PNAS 116(10)).

1. Outcome models ``mu_a`` per arm (as the T-learner).
2. Imputed effects: on treated rows ``D = y - mu_0(x)``, on control rows ``D = mu_t(x) - y``; an effect model
   ``tau_t1`` is fitted on the treated rows' ``D``, ``tau_t0`` on the control rows'.
3. ``tau_t(x) = g_t(x) tau_t0(x) + (1 - g_t(x)) tau_t1(x)`` with ``g_t = e_t / (e_0 + e_t)``, the probability of
   treatment ``t`` among rows of arms 0 and t: the effect model whose imputations rest on the larger arm's
   outcome model gets more weight.

``mu_0`` never saw the treated rows it imputes for (nor ``mu_t`` the control rows), so no cross-fitting is
needed. ``g`` is only a weight between two estimates of the same effect: a constant known propensity is used
as given; otherwise a propensity model fitted on all rows gives ``g`` at any ``x`` (a per-row known propensity
is not available at new rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import MetaLearner
from ._crossfit import Fit, Seeds, check_training_parts, fit_models, predict_columns, run_threads
from ._data import LearnerData
from ._nuisance import arm_probabilities, classifier, regressor
from ._outcome_learners import arm_outcome_fits


class XLearner(MetaLearner):
    """X-learner: effects imputed with the other arm's outcome model, combined by the propensity.

    Parameters
    ----------
    outcome_model : scikit-learn estimator, optional
        Per-arm outcome model: a classifier with ``predict_proba`` (binary outcome) or a regressor. Default:
        ``HistGradientBoostingClassifier`` / ``Regressor`` (``categorical_features="from_dtype"``).
    effect_model : scikit-learn regressor, optional
        Model of the imputed effects (two per treatment). Default: ``HistGradientBoostingRegressor``.
    propensity_model : scikit-learn classifier, optional
        Gives the weight ``g`` when the propensity is not a known constant. Default:
        ``HistGradientBoostingClassifier``.
    control, outcome, random_state, n_jobs
        As :class:`upliftree.learners.SLearner`.

    Attributes
    ----------
    outcome_models_ : list
        One per arm, ``treatments_`` order.
    effect_treated_models_, effect_control_models_ : list
        Per treatment: the effect model of the treated rows' (``tau_t1``) and the control rows' (``tau_t0``)
        imputed effects.
    propensity_model_ : fitted classifier or None
        None when the propensity was a known constant, given in ``propensity_constant_`` (per arm).
    treatments_, outcome_type_, schema_, feature_names_in_, n_features_in_
    """

    def __init__(self, outcome_model: Any = None, effect_model: Any = None, propensity_model: Any = None,
                 control: Any = 0, outcome: str = "auto", random_state: Any = None, n_jobs: int | None = None):
        self.outcome_model = outcome_model
        self.effect_model = effect_model
        self.propensity_model = propensity_model
        self.control = control
        self.outcome = outcome
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, data: LearnerData, seeds: Seeds, workers: int) -> dict[str, Any]:
        check_training_parts(data, None, 1)
        effect = regressor(self.effect_model, "effect_model")
        fits = arm_outcome_fits(data, self.outcome_model)
        constant = data.propensity is not None and data.propensity.constant
        if not constant:
            everything = np.ones(data.n_rows, dtype=np.bool_)
            fits.append(Fit(classifier(self.propensity_model, "propensity_model"), everything, data.arm,
                            "propensity_model"))
        models = fit_models(data.features, data.weight, fits, seeds.model, workers)
        outcome_models = models[: data.n_arms]

        outcomes = predict_columns(outcome_models, data.features, data.binary, workers)
        control = data.arm == 0
        effect_fits = []
        for code in range(1, data.n_arms):
            imputed = np.where(control, outcomes[:, code] - data.y, data.y - outcomes[:, 0])
            effect_fits += [Fit(effect, data.arm == code, imputed, "effect_model"),
                            Fit(effect, control, imputed, "effect_model")]
        effects = fit_models(data.features, data.weight, effect_fits, seeds.model, workers)
        return {
            "outcome_models_": outcome_models,
            "effect_treated_models_": effects[0::2],
            "effect_control_models_": effects[1::2],
            "propensity_model_": None if constant else models[-1],
            "propensity_constant_": data.propensity.by_arm[0].copy() if constant else None,
        }

    def _uplift(self, features: Any) -> np.ndarray:
        n_arms = len(self.treatments_)
        if self.propensity_model_ is None:
            propensity = np.broadcast_to(self.propensity_constant_, (len(features), n_arms))
        else:
            propensity = run_threads([lambda: arm_probabilities(self.propensity_model_, features, n_arms)], 1)[0]
        treated = self._predict_columns(self.effect_treated_models_, features)
        control = self._predict_columns(self.effect_control_models_, features)
        # g_t: probability of treatment t among rows of control and t.
        weight = propensity[:, 1:] / (propensity[:, :1] + propensity[:, 1:])
        return weight * control + (1.0 - weight) * treated
