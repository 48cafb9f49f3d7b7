"""The learners the report ranks next to the tree (``--learners``): :mod:`upliftree.learners` with small base models.

A careful analyst fits a meta-learner first (T or S) and a learner built for stable effects (DR, R, X) next; the
report fits the ones asked for on the training rows and scores them on the same held-out rows as the tree.
Report data can be large (the demo trains on 700,000 rows), so every base model is a ``HistGradientBoosting``
model of at most :data:`BASE_MODEL_ROUNDS` rounds of :data:`BASE_MODEL_LEAVES`-leaf trees with early stopping,
and the cross-fitted learners use :data:`CROSS_FIT_FOLDS` folds: on the demo this fits the DR-learner about
3x faster than the learners' defaults (100 rounds of 31 leaves, 5 folds) with the same held-out Qini.

The learners get the experiment's design: its propensity and clusters when given (``--propensity``,
``--cluster``). Otherwise the report reads a randomized experiment in which every row had the same chance of
each arm, and the learners get that as their propensity (:func:`arm_shares`, each arm's share of the training
rows) instead of estimating one: a propensity model fitted to a randomized assignment only learns noise, and
the DR-learner divides by it (on 100,000 rows of the demo's data, held-out Qini 0.026 with an estimated
propensity, 0.037 with the design's; the T-learner 0.031).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._validation import arm_codes

__all__ = ["BASE_MODEL_LEAVES", "BASE_MODEL_ROUNDS", "CROSS_FIT_FOLDS", "DEFAULT_LEARNERS", "LEARNERS",
           "arm_shares", "base_models", "check_learners", "learner_description", "make_learner", "parse_learners"]

# Short name (as --learners takes it) -> label in the report's tables and figures.
LEARNERS = {"s": "S-learner", "t": "T-learner", "x": "X-learner", "r": "R-learner", "dr": "DR-learner",
            "ct": "class transformation"}
DEFAULT_LEARNERS = ("t", "dr")
BASE_MODEL_ROUNDS = 50
BASE_MODEL_LEAVES = 15
CROSS_FIT_FOLDS = 3

_DESCRIPTIONS = {
    "s": "one outcome model, the arm as a feature",
    "t": "one outcome model per arm",
    "x": "per-arm outcome models, effects imputed with the other arm's model, weighted by the propensity",
    "r": "residual-on-residual regression on cross-fitted outcome mean and propensity",
    "dr": "effect model on cross-fitted doubly robust scores",
    "ct": "one model of the transformed outcome (class transformation), rows weighted by the inverse propensity",
}


def check_learners(names: Any) -> tuple[str, ...]:
    """``names`` as a tuple of known, distinct short names (:data:`LEARNERS`); a clear error otherwise."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ValueError(f"learners must be a sequence of names among {list(LEARNERS)}, got {names!r}")
    names = tuple(names)
    unknown = [name for name in names if name not in LEARNERS]
    if unknown:
        raise ValueError(f"learners: unknown learner(s) {unknown}; choose among {list(LEARNERS)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"learners: {repeated} given more than once")
    return names


def parse_learners(text: str) -> tuple[str, ...]:
    """The short names of a comma-separated list such as ``"t,x,dr"`` (case and spaces ignored); ``"none"`` or
    ``""`` is no learner."""
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    return () if names == ("none",) else check_learners(names)


def learner_description(name: str, propensity_given: bool, estimated: bool = False) -> str:
    """What the learner ``name`` fits, for the report's model table; ``propensity_given``: the experiment came
    with its propensity (else the learners use the arm shares), ``estimated``: that propensity is the report's
    cross-fitted estimate (``propensity="estimate"``)."""
    # The class transformation cross-fits only an estimated propensity, and the report always gives one.
    cross_fitted = f", {CROSS_FIT_FOLDS}-fold cross-fitting" if name in ("r", "dr") else ""
    design = ""
    if name in ("x", "r", "dr", "ct"):
        design = ("; the report's cross-fitted propensity estimate" if estimated else "; the given propensity"
                  if propensity_given else "; propensity: each arm's share of the training rows")
    return (f"{_DESCRIPTIONS[name]}; scikit-learn HistGradientBoosting base models (up to {BASE_MODEL_ROUNDS} "
            f"rounds of {BASE_MODEL_LEAVES} leaves, early stopping){cross_fitted}{design}")


def arm_shares(treatment: np.ndarray, arms: Sequence[Any]) -> dict[Any, float]:
    """Each arm's share of the rows, ``{arm: share}``: the propensity of a randomized experiment that gave every
    row the same chances."""
    counts = np.bincount(arm_codes(np.asarray(treatment), tuple(arms)), minlength=len(arms))
    return {arm: float(count / counts.sum()) for arm, count in zip(arms, counts, strict=True)}


def base_models(binary: bool) -> tuple[Any, Any, Any]:
    """The report's unfitted base models: outcome (a classifier for a ``binary`` outcome), propensity (a
    classifier of the arm) and effect (a regressor), each a small ``HistGradientBoosting`` model."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    options = {"max_iter": BASE_MODEL_ROUNDS, "max_leaf_nodes": BASE_MODEL_LEAVES, "early_stopping": True,
               "categorical_features": "from_dtype"}
    outcome = HistGradientBoostingClassifier(**options) if binary else HistGradientBoostingRegressor(**options)
    return outcome, HistGradientBoostingClassifier(**options), HistGradientBoostingRegressor(**options)


def make_learner(name: str, binary: bool, control: Any, random_state: int) -> Any:
    """The unfitted learner ``name`` with the report's base models, for an outcome that is ``binary`` or not."""
    from .. import learners

    outcome, propensity, effect = base_models(binary)
    shared = {"control": control, "outcome": "binary" if binary else "continuous", "random_state": random_state}
    folds = {"cv": CROSS_FIT_FOLDS}
    if name == "s":
        return learners.SLearner(outcome, **shared)
    if name == "t":
        return learners.TLearner(outcome, **shared)
    if name == "x":
        return learners.XLearner(outcome, effect, propensity, **shared)
    if name == "r":
        return learners.RLearner(outcome, propensity, effect, **folds, **shared)
    if name == "dr":
        return learners.DRLearner(outcome, propensity, effect, **folds, **shared)
    if name == "ct":
        return learners.ClassTransformation(outcome if binary else effect, propensity, **folds, **shared)
    raise ValueError(f"learners: unknown learner {name!r}; choose among {list(LEARNERS)}")
