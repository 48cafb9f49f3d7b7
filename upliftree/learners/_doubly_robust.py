"""DR-learner (Kennedy 2023, Electronic Journal of Statistics 17(2); EconML's ``DRLearner``).

Cross-fitted outcome models ``mu_a`` (one per arm, each on its arm's rows) and propensities ``e_a`` give every
row, for each treatment ``t``, the doubly robust (AIPW) score

    phi_t = mu_t(x) - mu_0(x) + 1[arm = t] (y - mu_t(x)) / e_t(x) - 1[arm = 0] (y - mu_0(x)) / e_0(x),

whose conditional mean is ``tau_t(x)`` when either the outcome models or the propensities are right. An effect
model regressed on ``phi_t`` over all rows estimates ``tau_t``; the mean of ``phi_t`` over any set of rows
estimates their average effect, with a normal interval from the scores' spread (by cluster with ``cluster``).
Each row needs only the probability of the arm it received, so a 1-D known propensity works with any number
of arms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._base import check_is_fitted
from .._params import check_alpha
from .._validation import check_n_rows
from ._base import CrossFittedEffectLearner
from ._crossfit import CrossFit, Fit, Seeds, check_cv, cross_fit, fit_models, make_folds, n_workers
from ._data import LearnerData, prepare
from ._nuisance import check_propensity_clip, classifier, mean_prediction, regressor
from ._outcome_learners import arm_outcome_fits
from ._propensity import EstimatedPropensity, Overlap, estimated_propensity, propensity_nuisance, training_propensity


@dataclass(frozen=True)
class DRScores:
    """Cross-fitted nuisances and doubly robust scores of the training rows (see :func:`doubly_robust_scores`).

    Attributes
    ----------
    treatments : tuple
        Arm labels, control first.
    outcome_type : str
        ``"binary"`` or ``"continuous"``.
    arm : ndarray (n,)
        Arm code of every row (position in ``treatments``).
    y, weight : ndarray (n,)
        Outcome and sample weight (ones when none were given).
    outcome : ndarray (n, n_arms)
        Cross-fitted expected outcome of every arm at every row, ``mu_a(x_i)``.
    propensity : ndarray (n,)
        Probability of the arm each row received, as used (known, or cross-fitted and clipped).
    propensity_by_arm : ndarray (n, n_arms) or None
        Every arm's probability, when known or estimated (None for a 1-D known propensity with > 2 arms).
    pseudo_outcomes : ndarray (n, n_arms - 1)
        ``phi_t`` of every row for every treatment, ``treatments[1:]`` order.
    fold : ndarray (n,)
        Cross-fitting fold of every row.
    cluster : ndarray (n,) or None
        Cluster codes, when given.
    overlap : Overlap
        Propensities outside ``[propensity_clip, 1 - propensity_clip]``.
    """

    treatments: tuple
    outcome_type: str
    arm: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    outcome: np.ndarray
    propensity: np.ndarray
    propensity_by_arm: np.ndarray | None
    pseudo_outcomes: np.ndarray
    fold: np.ndarray
    cluster: np.ndarray | None
    overlap: Overlap

    def potential_outcome_scores(self) -> np.ndarray:
        """Every row's doubly robust (AIPW) score of each arm's mean outcome, ``(n, n_arms)``, control first:

            psi_a = mu_a(x) + 1[arm = a] (y - mu_a(x)) / e_a(x),

        so ``psi_t - psi_0`` is ``pseudo_outcomes[:, t - 1]``; their mean over a set of rows estimates the mean
        outcome the rows would have had under arm ``a`` (:class:`upliftree.DRUpliftTree`'s leaf values)."""
        scores = self.outcome.copy()
        rows = np.arange(len(self.arm))
        scores[rows, self.arm] += (self.y - self.outcome[rows, self.arm]) / self.propensity
        return scores

    def _rows(self, rows: Any) -> np.ndarray:
        if rows is None:
            return np.arange(len(self.arm))
        rows = np.asarray(rows)
        if rows.dtype == np.bool_:
            if rows.shape != self.arm.shape:
                raise ValueError(f"rows is a mask of {rows.shape} values; the scores have {len(self.arm)} rows")
            return np.flatnonzero(rows)
        return rows.astype(np.int64)

    def mean(self, rows: Any = None) -> np.ndarray:
        """Weighted mean score per treatment over ``rows`` (mask or indices; None: all): the average effect."""
        index = self._rows(rows)
        weight = self.weight[index]
        return weight @ self.pseudo_outcomes[index] / weight.sum()

    def standard_error(self, rows: Any = None) -> np.ndarray:
        """Standard error of :meth:`mean`: the sandwich ``sqrt(sum (w (phi - mean))^2) / sum w`` with the
        small-sample factor ``m / (m - 1)`` for ``m`` rows, or over clusters (sums within each cluster first)
        when the scores have clusters. NaN with fewer than 2 rows (clusters)."""
        index = self._rows(rows)
        weight = self.weight[index]
        deviations = weight[:, None] * (self.pseudo_outcomes[index] - self.mean(index))
        if self.cluster is not None:
            _, groups = np.unique(self.cluster[index], return_inverse=True)
            sums = np.zeros((groups.max(initial=-1) + 1, deviations.shape[1]))
            np.add.at(sums, groups, deviations)
            deviations = sums
        n_units = len(deviations)
        if n_units < 2:
            return np.full(self.pseudo_outcomes.shape[1], np.nan)
        return np.sqrt((deviations**2).sum(axis=0) * n_units / (n_units - 1)) / weight.sum()

    def interval(self, alpha: float = 0.05, rows: Any = None) -> np.ndarray:
        """Normal ``1 - alpha`` interval of :meth:`mean`, ``(n_treatments, 2)`` (low, high)."""
        from scipy.stats import norm

        check_alpha(alpha)
        z = norm.ppf(1.0 - alpha / 2.0)
        center, error = self.mean(rows), self.standard_error(rows)
        return np.column_stack([center - z * error, center + z * error])


def _scores(data: LearnerData, outcome_model: Any, propensity_model: Any, cv: int, clip: float, seeds: Seeds,
            workers: int) -> DRScores:
    fold = make_folds(data, cv, seeds.folds)
    nuisances = [CrossFit(fit, lambda fitted, features: mean_prediction(fitted, features, data.binary))
                 for fit in arm_outcome_fits(data, outcome_model)]
    if data.propensity is None:
        nuisances.append(propensity_nuisance(data, classifier(propensity_model, "propensity_model")))
    predictions = cross_fit(data, nuisances, fold, cv, seeds.model, workers)
    outcome = np.column_stack(predictions[: data.n_arms])
    estimated = predictions[-1] if data.propensity is None else None
    propensity = training_propensity(data, estimated, clip, "the DR-learner", needs_by_arm=False)
    rows = np.arange(data.n_rows)
    # The correction (y - mu_arm) / e_arm of each row's own arm counts +1 for its treatment's score, -1 for
    # every score when the row is a control row, and 0 for other treatments' scores.
    correction = (data.y - outcome[rows, data.arm]) / propensity.received
    sign = (data.arm[:, None] == np.arange(1, data.n_arms)[None, :]).astype(np.float64)
    sign[data.arm == 0] = -1.0
    pseudo = outcome[:, 1:] - outcome[:, :1] + sign * correction[:, None]
    return DRScores(data.labels, "binary" if data.binary else "continuous", data.arm, data.y, data.row_weight,
                    outcome, propensity.received, propensity.by_arm, pseudo, fold, data.cluster, propensity.overlap)


def doubly_robust_scores(X: Any, treatment: Any, y: Any, sample_weight: Any = None, *, propensity: Any = None,
                         cluster: Any = None, control: Any = 0, outcome: str = "auto", outcome_model: Any = None,
                         propensity_model: Any = None, cv: int = 5, propensity_clip: float = 0.01,
                         random_state: Any = None, n_jobs: int | None = None) -> DRScores:
    """Cross-fit the DR-learner's nuisances and return every row's doubly robust scores.

    The first stage of :class:`DRLearner` on its own, for estimators built on the scores (a tree grown on
    them, segment averages with intervals). Parameters are :class:`DRLearner`'s and its ``fit``'s.
    """
    check_cv(cv)
    clip = check_propensity_clip(propensity_clip)
    workers = n_workers(n_jobs)
    data, _ = prepare(X, treatment, y, sample_weight, propensity, cluster, control=control, outcome=outcome)
    return _scores(data, outcome_model, propensity_model, cv, clip, Seeds.of(random_state), workers)


class DRLearner(CrossFittedEffectLearner):
    """DR-learner: an effect model regressed on cross-fitted doubly robust scores.

    Parameters
    ----------
    outcome_model : scikit-learn estimator, optional
        Per-arm outcome model: a classifier with ``predict_proba`` (binary outcome) or a regressor. Default:
        ``HistGradientBoostingClassifier`` / ``Regressor`` (``categorical_features="from_dtype"``).
    propensity_model : scikit-learn classifier, optional
        Model of the arm, used when ``propensity`` is not given. Default: ``HistGradientBoostingClassifier``.
    effect_model : scikit-learn regressor, optional
        Model of the scores, one per treatment. Default: ``HistGradientBoostingRegressor``.
    cv, propensity_clip, control, outcome, random_state, n_jobs
        As :class:`upliftree.learners.RLearner`.

    Attributes
    ----------
    effect_models_ : list
        One per treatment.
    dr_scores_ : DRScores
        The cross-fitted nuisances and scores of the training rows.
    pseudo_outcomes_ : ndarray (n_rows, n_treatments)
        ``dr_scores_.pseudo_outcomes``.
    ate_ : ndarray (n_treatments,)
        Average effect of each treatment on the training rows (mean score).
    overlap_ : Overlap
    treatments_, outcome_type_, schema_, feature_names_in_, n_features_in_
    """

    def _fit(self, data: LearnerData, seeds: Seeds, workers: int) -> dict[str, Any]:
        effect = regressor(self.effect_model, "effect_model")
        scores = _scores(data, self.outcome_model, self.propensity_model, self.cv, float(self.propensity_clip),
                         seeds, workers)
        everything = np.ones(data.n_rows, dtype=np.bool_)
        fits = [Fit(effect, everything, scores.pseudo_outcomes[:, index], "effect_model")
                for index in range(data.n_arms - 1)]
        return {"effect_models_": fit_models(data.features, data.weight, fits, seeds.model, workers),
                "dr_scores_": scores, "pseudo_outcomes_": scores.pseudo_outcomes, "ate_": scores.mean(),
                "overlap_": scores.overlap}

    def ate_interval(self, alpha: float = 0.05) -> np.ndarray:
        """Normal ``1 - alpha`` interval of ``ate_`` per treatment, ``(n_treatments, 2)``; cluster-robust when
        fitted with ``cluster`` (:meth:`DRScores.interval`)."""
        check_is_fitted(self, "dr_scores_")
        return self.dr_scores_.interval(alpha)

    def _uplift(self, features: Any) -> np.ndarray:
        return self._predict_columns(self.effect_models_, features)


def cross_fitted_propensity(X: Any, treatment: Any, sample_weight: Any = None, *, cluster: Any = None,
                            control: Any = 0, propensity_model: Any = None, cv: int = 5,
                            propensity_clip: float = 0.01, random_state: Any = None,
                            n_jobs: int | None = None) -> EstimatedPropensity:
    """Estimate every row's propensity as the learners do, for observational data: out-of-fold predictions of a
    classifier of the arm (``cv`` folds stratified by arm, whole clusters with ``cluster``), clipped to
    ``[propensity_clip, 1 - propensity_clip]`` (docs/learners.md, "Propensities and overlap"), with the
    overlap report (one warning when some probability is outside the bounds).

    ``propensity_model`` defaults to ``HistGradientBoostingClassifier`` with early stopping. The result's
    ``received`` (or ``by_arm``) is what ``propensity=`` of every estimator and metric takes.
    """
    check_cv(cv)
    clip = check_propensity_clip(propensity_clip)
    workers = n_workers(n_jobs)
    # The outcome plays no part: folds are stratified by arm alone (a "continuous" placeholder outcome).
    data, _ = prepare(X, treatment, np.zeros(check_n_rows(X)), sample_weight, None, cluster, control=control,
                      outcome="continuous")
    seeds = Seeds.of(random_state)
    fold = make_folds(data, cv, seeds.folds)
    return estimated_propensity(data, classifier(propensity_model, "propensity_model"), fold, cv, clip,
                                seeds.model, workers)
