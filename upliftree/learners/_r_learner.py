"""R-learner (Nie & Wager 2021, Biometrika 108(2)): Robinson's residual-on-residual regression.

For treatment ``t``, on the rows of arms 0 and t, with ``W = 1[arm = t]``, the cross-fitted outcome mean
``m(x) = E[y | x]`` and propensity ``pi(x) = P(W = 1 | x)`` (``e_t / (e_0 + e_t)``):

    y - m(x) = tau(x) (W - pi(x)) + noise,

so ``tau`` minimizes ``sum_i w_i ((y_i - m_i) - tau(x_i)(W_i - pi_i))^2``: the effect model is fitted to
``(y - m) / (W - pi)`` with sample weights ``w (W - pi)^2``. Needs every arm's propensity for every row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import CrossFittedEffectLearner
from ._crossfit import CrossFit, Fit, Seeds, cross_fit, fit_models, make_folds
from ._data import LearnerData
from ._nuisance import classifier, mean_prediction, outcome_model, regressor
from ._propensity import propensity_nuisance, training_propensity


class RLearner(CrossFittedEffectLearner):
    """R-learner: effect model fitted on residualized outcomes, with cross-fitted nuisances.

    Parameters
    ----------
    outcome_model : scikit-learn estimator, optional
        Model of ``E[y | x]`` on the rows of control and each treatment: a classifier with ``predict_proba``
        (binary outcome) or a regressor. Default: ``HistGradientBoostingClassifier`` / ``Regressor``
        (``categorical_features="from_dtype"``).
    propensity_model : scikit-learn classifier, optional
        Model of the arm (multinomial with several treatments), used when ``propensity`` is not given. Default:
        ``HistGradientBoostingClassifier``.
    effect_model : scikit-learn regressor, optional
        Must accept ``sample_weight``. Default: ``HistGradientBoostingRegressor``.
    cv : int
        Cross-fitting folds (>= 2), stratified by arm (and outcome when binary), whole clusters with ``cluster``.
    propensity_clip : float in [0, 0.5)
        Estimated propensities are clipped to ``[propensity_clip, 1 - propensity_clip]`` (each arm's on its
        own, not renormalized); known ones are used as given. Outside the bounds is reported in ``overlap_``.
    control, outcome, random_state, n_jobs
        As :class:`upliftree.learners.SLearner`; ``random_state`` also draws the folds.

    Attributes
    ----------
    effect_models_ : list
        One per treatment.
    propensity_ : ndarray (n_rows, n_arms)
        The propensities used at the training rows (known, or cross-fitted and clipped).
    overlap_ : Overlap
        Rows outside ``[propensity_clip, 1 - propensity_clip]`` per arm.
    fold_ : ndarray (n_rows,)
        Cross-fitting fold of every training row.
    treatments_, outcome_type_, schema_, feature_names_in_, n_features_in_
    """

    def _fit(self, data: LearnerData, seeds: Seeds, workers: int) -> dict[str, Any]:
        effect = regressor(self.effect_model, "effect_model")
        mean_model = outcome_model(self.outcome_model, data.binary)
        fold = make_folds(data, self.cv, seeds.folds)
        pairs = [(data.arm == 0) | (data.arm == code) for code in range(1, data.n_arms)]
        nuisances = [CrossFit(Fit(mean_model, rows, data.y, "outcome_model"),
                              lambda fitted, features: mean_prediction(fitted, features, data.binary))
                     for rows in pairs]
        if data.propensity is None:
            nuisances.append(propensity_nuisance(data, classifier(self.propensity_model, "propensity_model")))
        predictions = cross_fit(data, nuisances, fold, self.cv, seeds.model, workers)
        estimated = predictions[-1] if data.propensity is None else None
        propensity = training_propensity(data, estimated, self.propensity_clip, "the R-learner", needs_by_arm=True)
        fits = []
        for index, rows in enumerate(pairs):
            code = index + 1
            treated_share = propensity.by_arm[:, code] / (propensity.by_arm[:, 0] + propensity.by_arm[:, code])
            residual_arm = (data.arm == code) - treated_share
            target = (data.y - predictions[index]) / residual_arm
            fits.append(Fit(effect, rows, target, "effect_model", data.row_weight * residual_arm**2))
        models = fit_models(data.features, data.weight, fits, seeds.model, workers)
        return {"effect_models_": models, "propensity_": propensity.by_arm, "overlap_": propensity.overlap,
                "fold_": fold}

    def _uplift(self, features: Any) -> np.ndarray:
        return self._predict_columns(self.effect_models_, features)
