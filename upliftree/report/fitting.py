"""Report stage 2: fit an honest uplift tree, an uplift forest and the T-learner baseline on the training rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..forest import UpliftRandomForestClassifier, UpliftRandomForestRegressor
from ..tree import UpliftTreeClassifier, UpliftTreeRegressor
from .baseline import TLearner, baseline_available
from .experiment import Experiment
from .settings import Progress, ReportSettings
from .split import SplitRows

__all__ = ["FittedModels", "fit_models", "unfitted_models"]


@dataclass(frozen=True)
class FittedModels:
    """The models of a report; ``baseline`` is None when it was not fitted, and ``baseline_note`` says why."""

    tree: Any
    forest: Any
    baseline: Any
    baseline_note: str


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
    """Fit the tree, the forest and (with scikit-learn, unless turned off) the baseline on the training rows."""
    train = split.train
    tree, forest = unfitted_models(split.experiment, settings, train.n_rows)
    with progress(f"Fitting the honest uplift tree on {train.n_rows:,} rows"):
        tree.fit(train.X, train.treatment, train.y)
    with progress(f"Fitting the uplift forest ({settings.n_estimators} trees)"):
        forest.fit(train.X, train.treatment, train.y)
    baseline = None
    baseline_note = ""
    if not settings.baseline:
        baseline_note = "The T-learner baseline was turned off."
    elif not baseline_available():
        baseline_note = ("The T-learner baseline needs scikit-learn, which is not installed: "
                         "pip install 'upliftree[baseline]'.")
    else:
        with progress("Fitting the T-learner baseline (scikit-learn gradient boosting)"):
            try:
                baseline = TLearner(split.experiment.binary, tree.schema_, settings.seed).fit(
                    train.X, train.treatment, train.y, split.experiment.arms)
            except ValueError as error:  # e.g. an arm whose outcome never varies
                baseline_note = f"The T-learner baseline could not be fitted: {error}"
    return FittedModels(tree, forest, baseline, baseline_note)
