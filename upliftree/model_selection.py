"""Model selection: cross-validated search over an uplift model's parameters, scored by held-out Qini or AUUC.

:class:`UpliftSearchCV` is scikit-learn's ``GridSearchCV`` for uplift models: every candidate of ``param_grid``
(depth, leaf sizes, criteria, forest sizes, or other estimators such as the meta-learners of
:mod:`upliftree.learners`, through the key ``"estimator"``) is fitted on ``cv - 1`` folds and scored on the
fold left out, the best mean score wins and is refitted on all rows. What differs from scikit-learn is what
an uplift experiment needs:

- folds are stratified by arm x outcome (binary outcome) or arm (continuous), and with ``cluster=`` hold whole
  clusters (``StratifiedGroupKFold``), so a model is never scored on a cluster it was fitted on;
- ``propensity=`` and ``cluster=`` (arrays or column names, as in every ``fit``) reach every fit and every
  held-out score (``upliftree.metrics`` weights and clusters);
- the score is the normalized Qini coefficient (``scoring="qini"``) or uplift AUC (``"auuc"``) of the held-out
  fold, with several treatments on the best-arm rows (:func:`upliftree.metrics.best_arm_score`);
- ``time_budget`` stops the search before a candidate once that many seconds have passed, and says how many
  candidates were tried.

See ``docs/model_selection.md``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from ._base import BaseEstimator, check_is_fitted, spawn_generators
from ._params import ParameterTypeError, check_int, check_n_jobs, check_random_state, check_real
from ._validation import (
    as_pandas,
    check_n_rows,
    design_values,
    is_binary,
    validate_cluster,
    validate_treatment,
    without_design_columns,
)
from .metrics import UndefinedMetricWarning, best_arm_score, qini_auc_score, uplift_auc_score

__all__ = ["UpliftSearchCV", "stratified_folds"]

SCORERS: dict[str, Callable[..., float]] = {
    "qini": qini_auc_score,
    "qini_auc_score": qini_auc_score,
    "auuc": uplift_auc_score,
    "uplift_auc_score": uplift_auc_score,
}
ESTIMATOR_KEY = "estimator"  # a param_grid key whose values are estimators (another model family per candidate)


def stratified_folds(arm: np.ndarray, y: np.ndarray, binary: bool, cluster: np.ndarray | None, cv: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Fold (0..cv-1) of every row: stratified by arm x outcome (``binary``) or arm, whole clusters with
    ``cluster`` (codes 0..n_clusters-1).

    Raises ``ValueError`` when a stratum has fewer rows than folds, or there are fewer clusters than folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    stratum = arm * 2 + y.astype(np.int64) if binary else arm.astype(np.int64)
    seed = int(rng.integers(0, 2**31 - 1))
    if cluster is None:
        counts = np.bincount(stratum)
        present = counts[counts > 0]
        if present.min() < cv:
            code = int(np.flatnonzero(counts == present.min())[0])
            which = f"arm code {code // 2} with outcome {code % 2}" if binary else f"arm code {code}"
            raise ValueError(f"cv={cv}: the rows of {which} number {int(present.min())}, fewer than the folds; "
                             "every fold needs rows of every arm (and outcome): use fewer folds or more data")
        splits = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed).split(np.zeros(len(arm)), stratum)
    else:
        n_clusters = int(cluster.max()) + 1
        if n_clusters < cv:
            raise ValueError(f"cv={cv}: cluster has {n_clusters} clusters, fewer than the folds; every fold holds "
                             "whole clusters: use fewer folds")
        splits = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed).split(
            np.zeros(len(arm)), stratum, groups=cluster)
    fold = np.full(len(arm), -1, dtype=np.int64)
    for index, (_, held_out) in enumerate(splits):
        fold[held_out] = index
    return fold


def _check_folds(fold: np.ndarray, arm: np.ndarray, labels: tuple, cv: int) -> None:
    """Every fold's held-out rows and training rows hold every arm (a fold without one cannot be scored)."""
    for index in range(cv):
        held_out = fold == index
        for part, rows in (("held-out", held_out), ("training", ~held_out)):
            present = np.bincount(arm[rows], minlength=len(labels)) > 0
            if not present.all():
                missing = labels[int(np.argmin(present))]
                raise ValueError(f"cv={cv}: the {part} rows of fold {index + 1} have no rows of arm {missing!r} "
                                 "(too few rows or clusters of that arm); use fewer folds")


def _resolve_scoring(scoring: Any) -> Callable[..., float]:
    if callable(scoring):
        return scoring
    if not isinstance(scoring, str):
        raise ParameterTypeError(f"scoring must be one of {sorted(SCORERS)} or a callable "
                                 f"(y_true, uplift, treatment, *, propensity, cluster) -> float, got {scoring!r}")
    if scoring not in SCORERS:
        raise ValueError(f"scoring must be one of {sorted(SCORERS)} or a callable, got {scoring!r}")
    return SCORERS[scoring]


def _candidates(estimator: Any, param_grid: Any) -> list[tuple[Any, dict[str, Any]]]:
    """``(base estimator, params)`` of every candidate, in the grid's order (keys sorted within a grid, as in
    scikit-learn's ``ParameterGrid``)."""
    from sklearn.model_selection import ParameterGrid

    if isinstance(param_grid, Mapping):
        param_grid = [param_grid]
    if not isinstance(param_grid, Sequence) or isinstance(param_grid, str) or not param_grid:
        raise ParameterTypeError(f"param_grid must be a dict of parameter -> list of values, or a non-empty list of "
                                 f"such dicts, got {param_grid!r}")
    candidates = []
    for grid in param_grid:
        if not isinstance(grid, Mapping):
            raise ParameterTypeError(f"param_grid must hold dicts of parameter -> list of values, got {grid!r}")
        for params in ParameterGrid(dict(grid)):
            params = dict(params)
            base = params.pop(ESTIMATOR_KEY, estimator)
            if not (hasattr(base, "get_params") and hasattr(base, "fit") and hasattr(base, "predict")):
                raise TypeError(f"param_grid: {ESTIMATOR_KEY!r} values must be uplift estimators (get_params, fit, "
                                f"predict), got {type(base).__name__}")
            valid = base.get_params()
            unknown = sorted(set(params) - set(valid))
            if unknown:
                raise ValueError(f"param_grid: {unknown} not parameter(s) of {type(base).__name__}; valid "
                                 f"parameters: {sorted(valid)}")
            candidates.append((base, params))
    return candidates


def _rows(values: Any, rows: np.ndarray) -> Any:
    """``values`` (an array or Series, one per row) at ``rows``; numbers, dicts, column names and None as they are."""
    if isinstance(values, pd.Series | pd.DataFrame):
        return values.iloc[rows]
    if isinstance(values, np.ndarray | list | tuple) and np.ndim(values) >= 1:
        return np.asarray(values)[rows]
    return values


def _scoring_propensity(propensity: Any, X: Any, n_rows: int) -> Any:
    """The propensity as the metrics take it: a column name becomes its values (the received arm's probability)."""
    if isinstance(propensity, str):
        return design_values(propensity, X, n_rows, "propensity").astype(np.float64)
    if isinstance(propensity, pd.Series):
        return propensity.to_numpy()
    return propensity


class UpliftSearchCV(BaseEstimator):
    """Cross-validated search over an uplift model's parameters, scored by held-out Qini or uplift AUC.

    Parameters
    ----------
    estimator : uplift estimator
        An upliftree tree, forest or meta-learner (anything with ``get_params``/``set_params``,
        ``fit(X, treatment, y, sample_weight, *, propensity, cluster)``, ``predict`` and ``treatments_``). Never
        fitted itself: every candidate is a clone.
    param_grid : dict or list of dicts
        Parameter name -> list of values (the candidates are every combination, as scikit-learn's
        ``ParameterGrid``); a list of such dicts searches each grid in turn. The key ``"estimator"`` takes a list
        of estimators, so one search can compare model families (a tree, a forest, a DR-learner).
    scoring : {"qini", "auuc"} or callable
        Held-out score: the normalized Qini coefficient (:func:`upliftree.metrics.qini_auc_score`) or the uplift
        AUC (:func:`~upliftree.metrics.uplift_auc_score`, binary outcomes); a callable
        ``(y_true, uplift, treatment, *, propensity=None, cluster=None) -> float`` on 0/1 treatment. Larger is
        better. With several treatments the score is that of the best-arm rows
        (:func:`~upliftree.metrics.best_arm_score`).
    cv : int
        Number of folds (>= 2), stratified by arm x outcome (binary) or arm; whole clusters with ``cluster``.
    n_repeats : int
        Repetitions of the cross-validation, each with new folds and a new seed for the candidates (as
        scikit-learn's ``RepeatedStratifiedKFold``): a candidate's score is the mean over ``cv * n_repeats``
        held-out folds. Held-out Qini on small folds is noisy, and an honest tree's score also varies with its
        honest split; repeating averages both out, so the ranking reflects the parameters more than the luck of
        one split.
    refit : bool
        Refit the best candidate on all rows as ``best_estimator_``.
    time_budget : None or float
        Seconds: before each candidate after the first, the search stops if this much time has passed since
        ``fit`` began (the candidate running then finishes, and the refit follows). ``n_candidates_tried_``
        says how many were scored. Put the candidates that matter most first. With a budget, which candidates
        are tried depends on the machine's speed; without one the search is deterministic.
    n_jobs : None or int
        Threads fitting one candidate's folds at once (``-1``: all cores). Results do not depend on it.
    random_state : None, int or numpy Generator
        Seeds the folds, and every candidate whose own ``random_state`` is None (all such candidates get the
        same seed, so they are compared on the same randomness).

    Attributes
    ----------
    best_estimator_ : estimator
        The best candidate refitted on all rows (with ``refit=True``).
    best_params_ : dict
        Its parameters (``"estimator"`` included when the grid names estimators).
    best_index_ : int
        Its row in ``cv_results_`` and ``results_``.
    best_score_, best_score_se_ : float
        Its mean held-out score over the folds, and the standard error of that mean (standard deviation of the
        fold scores over the square root of their number, ``cv * n_repeats``). A measure of the folds' spread,
        not a confidence interval: the folds share training rows, so it understates the uncertainty of the
        expected score (Bengio & Grandvalet 2004, "No unbiased estimator of the variance of K-fold
        cross-validation").
    cv_results_ : dict of arrays
        scikit-learn's layout, one entry per tried candidate: ``params``, ``param_<name>``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``, ``se_test_score``, ``rank_test_score``,
        ``mean_fit_time``, ``mean_score_time``; ``pd.DataFrame(cv_results_)`` is a table.
    results_ : DataFrame
        The tried candidates, one row each in the grid's order: ``model``, each parameter, ``mean`` and ``se`` of
        the held-out score, ``low``/``high`` = mean -/+ se, ``rank`` (1 = best) and ``fit_seconds`` (all folds).
    n_candidates_, n_candidates_tried_ : int
        Candidates in the grid, and candidates scored before the time budget ran out.
    stopped_early_ : bool
        Whether the time budget stopped the search before the last candidate.
    folds_ : ndarray of shape (n_repeats, n_rows)
        Fold of every training row (0..cv-1) in each repetition.
    elapsed_, refit_time_ : float
        Seconds the search took (refit included), and the refit alone.
    """

    def __init__(self, estimator: Any, param_grid: Any, scoring: Any = "qini", cv: int = 5, n_repeats: int = 1,
                 refit: bool = True, time_budget: float | None = None, n_jobs: int | None = None,
                 random_state: Any = None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.cv = cv
        self.n_repeats = n_repeats
        self.refit = refit
        self.time_budget = time_budget
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self) -> tuple[Callable[..., float], list[tuple[Any, dict[str, Any]]], int, int]:
        scorer = _resolve_scoring(self.scoring)
        cv = check_int(self.cv, "cv", 2)
        check_int(self.n_repeats, "n_repeats", 1)
        if not isinstance(self.refit, bool | np.bool_):
            raise ParameterTypeError(f"refit must be True or False, got {self.refit!r}")
        if self.time_budget is not None:
            check_real(self.time_budget, "time_budget", 0.0, open_low=True)
        check_random_state(self.random_state)
        workers = check_n_jobs(self.n_jobs)
        if not hasattr(self.estimator, "get_params"):
            raise TypeError(f"estimator must be an uplift estimator (get_params, fit, predict), got "
                            f"{type(self.estimator).__name__}")
        return scorer, _candidates(self.estimator, self.param_grid), cv, workers

    def fit(self, X, treatment, y, sample_weight=None, *, propensity=None, cluster=None) -> UpliftSearchCV:
        """Score every candidate on held-out folds, then refit the best on all rows.

        ``propensity`` and ``cluster`` describe the design as in every ``fit`` (a number, dict, array, or the
        name of a column of ``X``; ``docs/design.md``): each candidate is fitted with the training folds' design
        and scored with the held-out fold's, and folds keep clusters whole.
        """
        from sklearn.base import clone

        started = time.perf_counter()
        scorer, candidates, cv, workers = self._check_params()
        X = as_pandas(X, "X")
        n_rows = check_n_rows(X)
        control = self.estimator.get_params().get("control", 0)
        arms = validate_treatment(treatment, control, n_rows)
        labels = np.asarray(treatment)
        values = np.asarray(y)
        if len(values) != n_rows:
            raise ValueError(f"y has {len(values)} values but X has {n_rows} rows")
        try:
            binary = is_binary(values.astype(np.float64))
        except (TypeError, ValueError):  # text outcomes: the estimators' fits say what is wrong
            binary = False
        cluster_codes = validate_cluster(cluster, n_rows, X)
        n_repeats = int(self.n_repeats)
        streams = spawn_generators(self.random_state, 2 * n_repeats + 1)
        # One fold assignment and one candidate seed per repetition; the refit takes the last seed.
        folds = np.empty((n_repeats, n_rows), dtype=np.int64)
        for repeat in range(n_repeats):
            folds[repeat] = stratified_folds(arms.codes, values, binary, cluster_codes, cv, streams[repeat])
            _check_folds(folds[repeat], arms.codes, arms.labels, cv)
        model_seeds = [int(rng.integers(0, 2**31 - 1)) if self.random_state is not None else None
                       for rng in streams[n_repeats:]]
        features = without_design_columns(X, propensity, cluster)

        def make(base: Any, params: dict[str, Any], seed: int | None) -> Any:
            model = clone(base).set_params(**params)
            if seed is not None and "random_state" in model.get_params() and \
                    model.get_params()["random_state"] is None:
                model.set_params(random_state=seed)
            return model

        def fit_and_score(base: Any, params: dict[str, Any], split: int) -> tuple[float, float, float]:
            repeat, index = divmod(split, cv)
            fold = folds[repeat]
            train, test = np.flatnonzero(fold != index), np.flatnonzero(fold == index)
            model = make(base, params, model_seeds[repeat])
            start = time.perf_counter()
            model.fit(X.iloc[train] if isinstance(X, pd.DataFrame) else np.asarray(X)[train], labels[train],
                      values[train], _rows(sample_weight, train), propensity=_rows(propensity, train),
                      cluster=_rows(cluster, train))
            fitted = time.perf_counter() - start
            X_test = features.iloc[test] if isinstance(features, pd.DataFrame) else np.asarray(features)[test]
            uplift = np.asarray(model.predict(X_test), dtype=np.float64)
            uplift = uplift.reshape(len(test), -1)
            design = {}
            if propensity is not None:
                design["propensity"] = _rows(_scoring_propensity(propensity, X, n_rows), test)
            if cluster_codes is not None:
                design["cluster"] = cluster_codes[test]
            treatments = list(model.treatments_)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                score = best_arm_score(values[test], uplift, labels[test], arms=treatments[1:],
                                       control=treatments[0], metric=scorer, **design)
            return float(score), fitted, time.perf_counter() - start - fitted

        scores, fit_times, score_times, tried = [], [], [], []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for number, (base, params) in enumerate(candidates):
                if number > 0 and self.time_budget is not None and time.perf_counter() - started >= self.time_budget:
                    break
                results = list(pool.map(lambda split, base=base, params=params: fit_and_score(base, params, split),
                                        range(cv * n_repeats)))
                scores.append([result[0] for result in results])
                fit_times.append([result[1] for result in results])
                score_times.append([result[2] for result in results])
                tried.append((base, params))

        split_scores = np.array(scores, dtype=np.float64)
        mean = split_scores.mean(axis=1)
        std = split_scores.std(axis=1, ddof=1)
        se = std / np.sqrt(cv * n_repeats)
        ranked = np.where(np.isnan(mean), -np.inf, mean)
        # Rank 1 = best; ties keep the grid's order (the earlier candidate wins), as scikit-learn's ranks do.
        order = np.argsort(-ranked, kind="stable")
        rank = np.empty(len(mean), dtype=np.int64)
        rank[order] = np.arange(1, len(mean) + 1)
        best = int(order[0])
        if np.isnan(mean[best]):
            raise ValueError("no candidate has a defined held-out score (every fold's score is NaN: e.g. no "
                             "responders in a fold); check the outcome or use fewer folds")

        full_params = [({ESTIMATOR_KEY: base} if base is not self.estimator else {}) | params
                       for base, params in tried]
        results: dict[str, Any] = {"params": full_params}
        names = sorted({name for params in full_params for name in params})
        for name in names:
            column = np.ma.masked_all(len(tried), dtype=object)
            for row, params in enumerate(full_params):
                if name in params:
                    column[row] = params[name]
            results[f"param_{name}"] = column
        for index in range(cv * n_repeats):
            results[f"split{index}_test_score"] = split_scores[:, index]
        results.update(mean_test_score=mean, std_test_score=std, se_test_score=se, rank_test_score=rank,
                       mean_fit_time=np.mean(fit_times, axis=1), mean_score_time=np.mean(score_times, axis=1))

        table = pd.DataFrame({"model": [type(base).__name__ for base, _ in tried]})
        for name in names:
            if name != ESTIMATOR_KEY:
                table[name] = [params.get(name) for _, params in tried]
        table["mean"], table["se"] = mean, se
        table["low"], table["high"] = mean - se, mean + se
        table["rank"] = rank
        table["fit_seconds"] = np.sum(fit_times, axis=1)

        best_estimator = None
        refit_time = 0.0
        if self.refit:
            start = time.perf_counter()
            best_estimator = make(*tried[best], model_seeds[-1]).fit(X, treatment, y, sample_weight,
                                                                     propensity=propensity, cluster=cluster)
            refit_time = time.perf_counter() - start
        # Published together once everything succeeded (a failed search leaves the previous results).
        self.cv_results_ = results
        self.results_ = table
        self.best_index_ = best
        self.best_params_ = full_params[best]
        self.best_score_ = float(mean[best])
        self.best_score_se_ = float(se[best])
        self.n_candidates_ = len(candidates)
        self.n_candidates_tried_ = len(tried)
        self.stopped_early_ = len(tried) < len(candidates)
        self.folds_ = folds
        self.n_splits_ = cv
        self.scorer_ = scorer
        self.refit_time_ = refit_time
        if best_estimator is not None:
            self.best_estimator_ = best_estimator
        self.elapsed_ = time.perf_counter() - started
        return self

    def predict(self, X) -> np.ndarray:
        """``best_estimator_.predict(X)``: uplift of each treatment over control."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    @property
    def treatments_(self) -> np.ndarray:
        """The best estimator's arm labels, control first."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.treatments_
