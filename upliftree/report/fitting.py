"""Report stage 2: fit an honest uplift tree, an uplift forest and the chosen meta-learners on the training rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..forest import UpliftRandomForestClassifier, UpliftRandomForestRegressor
from ..tree import UpliftTreeClassifier, UpliftTreeRegressor
from .baseline import LEARNERS, arm_shares, make_learner
from .experiment import Experiment
from .settings import Progress, ReportSettings
from .split import SplitRows

__all__ = ["FittedModels", "fit_models", "unfitted_models"]


@dataclass(frozen=True)
class FittedModels:
    """The models of a report: ``learners`` maps each fitted learner's label (:data:`~.baseline.LEARNERS`) to
    it, in the order asked for; ``learner_notes`` says why any asked-for learner is missing."""

    tree: Any
    forest: Any
    learners: dict[str, Any]
    learner_notes: list[str]


def unfitted_models(experiment: Experiment, settings: ReportSettings, n_train: int) -> tuple[Any, Any]:
    """The tree and the forest as the settings describe them (classifiers for a binary outcome)."""
    min_samples_leaf = settings.min_samples_leaf or max(100, n_train // 200)
    criterion = {"criterion": settings.criterion} if settings.criterion else {}
    tree_class = UpliftTreeClassifier if experiment.binary else UpliftTreeRegressor
    forest_class = UpliftRandomForestClassifier if experiment.binary else UpliftRandomForestRegressor
    tree = tree_class(max_depth=settings.max_depth, min_samples_leaf=min_samples_leaf, honest=True,
                      honest_fraction=settings.honest_fraction, control=experiment.control,
                      random_state=settings.seed, **criterion)
    forest = forest_class(n_estimators=settings.n_estimators, max_depth=settings.forest_max_depth,
                          min_samples_leaf=max(50, min_samples_leaf // 4), max_samples=settings.forest_max_samples,
                          control=experiment.control, n_jobs=-1, random_state=settings.seed, verbose=0, **criterion)
    return tree, forest


def fit_models(split: SplitRows, settings: ReportSettings, progress: Progress) -> FittedModels:
    """Fit the tree, the forest and every learner of ``settings.learners`` on the training rows, with the
    experiment's design (propensity, cluster) when it has one."""
    train = split.train
    design = {"propensity": train.propensity, "cluster": train.cluster}
    tree, forest = unfitted_models(split.experiment, settings, train.n_rows)
    with progress(f"Fitting the honest uplift tree on {train.n_rows:,} rows"):
        tree.fit(train.X, train.treatment, train.y, **design)
    with progress(f"Fitting the uplift forest ({settings.n_estimators} trees)"):
        forest.fit(train.X, train.treatment, train.y, **design)
    learners, notes = {}, []
    # The learners take the design too; without a given propensity, the randomized experiment's arm shares.
    propensity = train.propensity if train.propensity is not None else arm_shares(train.treatment,
                                                                                  split.experiment.arms)
    for name in settings.learners:
        label = LEARNERS[name]
        learner = make_learner(name, split.experiment.binary, split.experiment.control, settings.seed)
        with progress(f"Fitting the {label} (scikit-learn gradient boosting)"):
            try:
                learners[label] = learner.fit(train.X, train.treatment, train.y, propensity=propensity,
                                              cluster=train.cluster)
            except ValueError as error:  # e.g. an arm whose outcome never varies in a cross-fitting fold
                notes.append(f"The {label} could not be fitted: {error}")
    return FittedModels(tree, forest, learners, notes)
