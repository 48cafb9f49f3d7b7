"""Class transformation (binary outcome) and transformed outcome (continuous): one model of a modified target.

Binary outcome (Jaskowski & Jaroszewicz 2012): on the rows of control and treatment ``t``, the class
``z = 1`` for treated responders and control non-responders. When both arms are equally likely at every ``x``,
``P(z = 1 | x) = (1 + tau(x)) / 2``, so ``tau = 2 P(z = 1 | x) - 1``. Other designs are made balanced by
weighting each row by ``1 / e_arm(x)`` (the probability of its arm): at every ``x`` both arms then carry the
same weight, and the identity holds again.

Continuous outcome (Athey & Imbens 2015, the transformed outcome): ``y* = y 1[arm = t] / e_t(x) - y 1[arm = 0]
/ e_0(x)`` (0 for rows of other arms) has ``E[y* | x] = tau_t(x)``; a regressor of ``y*`` on all rows
estimates it. Both use only the probability of the arm each row received.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import MetaLearner
from ._crossfit import Fit, Seeds, cross_fit, fit_models, make_folds
from ._data import LearnerData
from ._nuisance import classifier, regressor
from ._propensity import propensity_nuisance, training_propensity


class ClassTransformation(MetaLearner):
    """One model of a transformed target: the class transformation (binary outcome), else the transformed
    outcome; rows are weighted by the inverse probability of their arm (cross-fitted when estimated).

    Parameters
    ----------
    model : scikit-learn estimator, optional
        A classifier with ``predict_proba`` (binary outcome) or a regressor (continuous), one per treatment.
        With a binary outcome it must accept ``sample_weight`` (rows are weighted by ``1 / e_arm``). Default:
        ``HistGradientBoostingClassifier`` / ``Regressor`` (``categorical_features="from_dtype"``).
    propensity_model : scikit-learn classifier, optional
        Model of the arm, cross-fitted, used when ``propensity`` is not given. Default:
        ``HistGradientBoostingClassifier``.
    cv, propensity_clip, control, outcome, random_state, n_jobs
        As :class:`upliftree.learners.RLearner` (``cv`` folds serve only the estimated propensity).

    Attributes
    ----------
    models_ : list
        One per treatment.
    propensity_ : ndarray (n_rows,)
        Probability of the arm each training row received, as used.
    overlap_ : Overlap
    fold_ : ndarray (n_rows,) or None
        Cross-fitting folds of the estimated propensity (None when it was given).
    treatments_, outcome_type_, schema_, feature_names_in_, n_features_in_
    """

    _cross_fitted = True

    def __init__(self, model: Any = None, propensity_model: Any = None, cv: int = 5, propensity_clip: float = 0.01,
                 control: Any = 0, outcome: str = "auto", random_state: Any = None, n_jobs: int | None = None):
        self.model = model
        self.propensity_model = propensity_model
        self.cv = cv
        self.propensity_clip = propensity_clip
        self.control = control
        self.outcome = outcome
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit(self, data: LearnerData, seeds: Seeds, workers: int) -> dict[str, Any]:
        model = classifier(self.model, "model") if data.binary else regressor(self.model, "model")
        fold, estimated = None, None
        if data.propensity is None:
            fold = make_folds(data, self.cv, seeds.folds)
            nuisance = propensity_nuisance(data, classifier(self.propensity_model, "propensity_model"))
            estimated = cross_fit(data, [nuisance], fold, self.cv, seeds.model, workers)[0]
        propensity = training_propensity(data, estimated, self.propensity_clip, "the class transformation",
                                         needs_by_arm=False)
        inverse = data.row_weight / propensity.received
        control = data.arm == 0
        fits = []
        for code in range(1, data.n_arms):
            treated = data.arm == code
            if data.binary:
                rows = control | treated
                responder_class = np.where(treated, data.y, 1.0 - data.y)
                weight = inverse / inverse[rows].mean()
                fits.append(Fit(model, rows, responder_class, "model", weight))
            else:
                transformed = np.where(treated, data.y, np.where(control, -data.y, 0.0)) / propensity.received
                fits.append(Fit(model, np.ones(data.n_rows, dtype=np.bool_), transformed, "model"))
        return {"models_": fit_models(data.features, data.weight, fits, seeds.model, workers),
                "propensity_": propensity.received, "overlap_": propensity.overlap, "fold_": fold}

    def _uplift(self, features: Any) -> np.ndarray:
        if self.outcome_type_ == "binary":
            return 2.0 * self._predict_columns(self.models_, features, binary=True) - 1.0
        return self._predict_columns(self.models_, features)
