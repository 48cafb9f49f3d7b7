"""Cross-fitting: folds, the checks that every fold can be fitted, and fitting many base models in threads.

A nuisance (an outcome or propensity model) is *cross-fitted* when the prediction for a row comes from a model
that did not see that row: the rows are cut into ``cv`` folds and, for each fold, a model fitted on the other
folds predicts it. Formulas that plug nuisances into residuals (R, DR, class transformation) need this, or
an overfitted model's residuals would be too small on its own training rows.

Folds are stratified by arm and outcome (binary outcome) or arm (continuous), and with ``cluster`` keep every
cluster in one fold (scikit-learn's ``StratifiedGroupKFold``), so that no model has seen the cluster of a row
it predicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._base import spawn_generators
from .._params import check_int, check_n_jobs
from ._data import LearnerData, take_rows
from ._nuisance import fit_copy, mean_prediction


def check_cv(cv: Any) -> int:
    return check_int(cv, "cv", 2)


def n_workers(n_jobs: Any) -> int:
    """Threads for ``n_jobs``, as everywhere in upliftree (:func:`upliftree._params.check_n_jobs`)."""
    return check_n_jobs(n_jobs)


@dataclass(frozen=True)
class Seeds:
    """Randomness of one fit: the fold assignment and the ``random_state`` every base model gets.

    ``model`` is None when the learner's ``random_state`` is None: base models then keep their own.
    """

    folds: np.random.Generator
    model: int | None

    @classmethod
    def of(cls, random_state: Any) -> Seeds:
        folds, models = spawn_generators(random_state, 2)
        return cls(folds, None if random_state is None else int(models.integers(0, 2**31 - 1)))


def strata(data: LearnerData) -> np.ndarray:
    """Arm x outcome (binary outcome) or arm (continuous) of every row."""
    return data.arm * 2 + data.y.astype(np.int64) if data.binary else data.arm.copy()


def make_folds(data: LearnerData, cv: int, rng: np.random.Generator) -> np.ndarray:
    """Fold of every row, 0..cv-1: stratified by :func:`strata`, whole clusters when ``data.cluster`` is set."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    labels = strata(data)
    seed = int(rng.integers(0, 2**31 - 1))
    fold = np.empty(data.n_rows, dtype=np.int64)
    if data.cluster is None:
        if np.bincount(labels, minlength=data.n_arms * (2 if data.binary else 1)).min() < cv:
            _too_small(data, labels, cv)
        splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(data.n_rows), labels)
    else:
        n_clusters = int(data.cluster.max()) + 1
        if n_clusters < cv:
            raise ValueError(f"cluster has {n_clusters} cluster(s), fewer than cv={cv} folds; every fold needs "
                             "whole clusters: use fewer folds")
        splitter = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(data.n_rows), labels, groups=data.cluster)
    for index, (_, held_out) in enumerate(splits):
        fold[held_out] = index
    check_training_parts(data, fold, cv)
    return fold


def _too_small(data: LearnerData, labels: np.ndarray, cv: int) -> None:
    counts = np.bincount(labels, minlength=data.n_arms * (2 if data.binary else 1))
    stratum = int(np.argmin(counts))
    arm = data.labels[stratum // 2 if data.binary else stratum]
    which = f"rows with outcome {stratum % 2}" if data.binary else "rows"
    raise ValueError(
        f"treatment: arm {arm!r} has {int(counts[stratum])} {which}, fewer than cv={cv}: cross-fitting needs "
        "at least one in every fold; use fewer folds (cv) or more data"
    )


def check_training_parts(data: LearnerData, fold: np.ndarray | None, n_folds: int) -> None:
    """Raise unless the rows each fold's models learn from (all rows when ``fold`` is None) hold every arm with
    positive weight and, for a binary outcome, both outcomes in every arm (every per-arm model needs them)."""
    weight = data.row_weight
    for index in range(n_folds if fold is not None else 1):
        training = np.ones(data.n_rows, dtype=np.bool_) if fold is None else fold != index
        where = "" if fold is None else f" in the training part of cross-fitting fold {index + 1} of {n_folds}"
        if fold is not None and not (fold == index).any():
            raise ValueError(f"cross-fitting fold {index + 1} of {n_folds} is empty; use fewer folds (cv)")
        for code, label in enumerate(data.labels):
            rows = training & (data.arm == code)
            if weight[rows].sum() <= 0:
                raise ValueError(f"treatment: arm {label!r} has no rows of positive weight{where}; "
                                 "use fewer folds (cv), more data, or fewer/larger clusters per arm")
            if data.binary:
                for outcome in (0.0, 1.0):
                    if not (data.y[rows] == outcome).any():
                        raise ValueError(
                            f"y: arm {label!r} has no rows with outcome {outcome:g}{where}, so its outcome model "
                            "cannot be fitted; use fewer folds (cv) or more data"
                        )


def run_threads(tasks: Sequence[Callable[[], Any]], workers: int) -> list[Any]:
    """Results of ``tasks``, in order, computed by up to ``workers`` threads, each task on one OpenMP thread.

    Parallelism comes from running independent fits (folds x arms) at once rather than from scikit-learn's
    OpenMP threads, which spin while they wait: on cores that other work holds, a two-thread
    ``HistGradientBoosting`` fit was measured 10x slower than a one-thread fit. Results do not depend on
    ``workers``: every task computes the same thing whichever thread runs it.
    """
    from threadpoolctl import threadpool_limits

    def run(task: Callable[[], Any]) -> Any:
        with threadpool_limits(limits=1, user_api="openmp"):
            return task()

    if workers == 1 or len(tasks) <= 1:
        return [run(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        return list(pool.map(run, tasks))


def predict_columns(models: Sequence[Any], features: Any, binary: bool, workers: int) -> np.ndarray:
    """Expected outcome (:func:`mean_prediction`) of each model at ``features``, one column per model."""

    def task(model: Any) -> Callable[[], np.ndarray]:
        return lambda: mean_prediction(model, features, binary)

    return np.column_stack(run_threads([task(model) for model in models], workers))


@dataclass(frozen=True)
class Fit:
    """One base model to fit: ``model`` (a template, cloned) on the rows ``rows`` (mask) with ``target``, and
    ``weight`` when the fit has weights of its own (else the sample weights)."""

    model: Any
    rows: np.ndarray
    target: np.ndarray
    role: str
    weight: np.ndarray | None = None


@dataclass(frozen=True)
class CrossFit:
    """A cross-fitted nuisance: for each fold, ``fit`` restricted to the other folds' rows predicts the fold's
    rows with ``predict(model, features)`` (1-D, or 2-D with ``n_columns`` columns)."""

    fit: Fit
    predict: Callable[[Any, Any], np.ndarray]
    n_columns: int | None = None


def fit_models(features: Any, weight: np.ndarray | None, fits: Sequence[Fit], seed: int | None,
               workers: int) -> list[Any]:
    """Fitted clones of every ``fits`` entry on rows of ``features``, weighted by the fit's own weights, else by
    ``weight`` (None: unweighted)."""

    def task(fit: Fit) -> Callable[[], Any]:
        fit_weight = weight if fit.weight is None else fit.weight
        row_weight = None if fit_weight is None else fit_weight[fit.rows]
        return lambda: fit_copy(fit.model, take_rows(features, fit.rows), fit.target[fit.rows], row_weight, seed,
                                fit.role)

    return run_threads([task(fit) for fit in fits], workers)


def cross_fit(data: LearnerData, nuisances: Sequence[CrossFit], fold: np.ndarray, n_folds: int,
              seed: int | None, workers: int) -> list[np.ndarray]:
    """Out-of-fold predictions of every nuisance for every row (all folds of all nuisances fitted in threads)."""
    fits = [Fit(nuisance.fit.model, nuisance.fit.rows & (fold != index), nuisance.fit.target, nuisance.fit.role)
            for nuisance in nuisances for index in range(n_folds)]
    models = fit_models(data.features, data.weight, fits, seed, workers)

    def predict(nuisance: CrossFit, model: Any, index: int) -> Callable[[], np.ndarray]:
        return lambda: nuisance.predict(model, take_rows(data.features, fold == index))

    tasks = [predict(nuisance, models[number * n_folds + index], index)
             for number, nuisance in enumerate(nuisances) for index in range(n_folds)]
    predictions = run_threads(tasks, workers)
    results = []
    for number, nuisance in enumerate(nuisances):
        shape = (data.n_rows,) if nuisance.n_columns is None else (data.n_rows, nuisance.n_columns)
        values = np.empty(shape)
        for index in range(n_folds):
            values[fold == index] = predictions[number * n_folds + index]
        results.append(values)
    return results
