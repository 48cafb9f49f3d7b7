"""Report stage 2: choose the honest tree's settings by a cross-validated search within a time budget, then fit
it, an uplift forest and the chosen meta-learners on the training rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..forest import UpliftRandomForestClassifier, UpliftRandomForestRegressor
from ..model_selection import UpliftSearchCV
from ..tree import UpliftTreeClassifier, UpliftTreeRegressor
from .baseline import LEARNERS, arm_shares, make_learner
from .experiment import Experiment
from .settings import Progress, ReportSettings
from .split import SplitRows

__all__ = ["FittedModels", "fit_models", "forest_sampling_params", "tree_search", "unfitted_models"]
SEARCH_FOLDS = 3  # folds of the report's tree search: few, so a budget of seconds tries several candidates
# Criteria in the order the search tries them (a budget may stop it early): best single-tree criteria on
# Hillstrom first (docs/model_selection.md), chi-squared last.
CRITERIA_ORDER = ("ed", "ddp", "kl", "chi")
REGRESSOR_CRITERIA_ORDER = ("tstat", "ed", "ddp")
# The forest's little bags with forest_bands: pairs of trees sharing half of the training rows (grf's default).
FOREST_GROUP_SIZE = 2
FOREST_HALF_SAMPLE = 0.5


@dataclass(frozen=True)
class FittedModels:
    """The models of a report: ``learners`` maps each fitted learner's label (:data:`~.baseline.LEARNERS`) to
    it, in the order asked for; ``learner_notes`` says why any asked-for learner is missing; ``search`` is the
    fitted :class:`~upliftree.model_selection.UpliftSearchCV` that chose the tree (None when nothing was
    searched)."""

    tree: Any
    forest: Any
    learners: dict[str, Any]
    learner_notes: list[str]
    search: Any = None


def unfitted_models(experiment: Experiment, settings: ReportSettings, n_train: int) -> tuple[Any, Any]:
    """The tree and the forest as the settings describe them (classifiers for a binary outcome); leaf sizes
    ``"auto"`` (the estimators' rule) unless ``settings.min_samples_leaf`` fixes them."""
    min_samples_leaf = settings.min_samples_leaf or "auto"
    criterion = {"criterion": settings.criterion} if settings.criterion else {}
    tree_class = UpliftTreeClassifier if experiment.binary else UpliftTreeRegressor
    forest_class = UpliftRandomForestClassifier if experiment.binary else UpliftRandomForestRegressor
    tree = tree_class(max_depth=settings.max_depth, min_samples_leaf=min_samples_leaf, honest=True,
                      honest_fraction=settings.honest_fraction, control=experiment.control,
                      random_state=settings.seed, **criterion)
    forest_leaf = "auto" if settings.min_samples_leaf is None else max(50, settings.min_samples_leaf // 4)
    forest = forest_class(n_estimators=settings.n_estimators, max_depth=settings.forest_max_depth,
                          min_samples_leaf=forest_leaf, control=experiment.control, n_jobs=-1,
                          random_state=settings.seed, verbose=0, **forest_sampling_params(settings), **criterion)
    return tree, forest


def forest_sampling_params(settings: ReportSettings) -> dict[str, Any]:
    """How the report's forest samples its rows: ``forest_max_samples`` rows per tree with replacement, or with
    ``settings.forest_bands`` grown for intervals ("little bags", ``docs/forest.md``), so that the decile table
    can show the interval of the forest's mean predicted uplift: honest trees on subsamples of at most half the
    training rows (``forest_max_samples`` when smaller), without replacement, in pairs sharing a half-sample."""
    if not settings.forest_bands:
        return {"max_samples": settings.forest_max_samples}
    max_samples = FOREST_HALF_SAMPLE if settings.forest_max_samples is None else min(FOREST_HALF_SAMPLE,
                                                                                    settings.forest_max_samples)
    return {"honest": True, "bootstrap": False, "max_samples": max_samples, "ci_group_size": FOREST_GROUP_SIZE}


def tree_search(tree: Any, settings: ReportSettings, n_train: int) -> UpliftSearchCV | None:
    """The search over the settings the user left open: the criterion (unless ``settings.criterion``), the
    depth (``settings.max_depth`` and one less) and the leaf size (``"auto"``, 0.5% and 2% of the training rows,
    unless ``settings.min_samples_leaf``). The tree as configured is the first candidate, so a budget that runs
    out after one candidate keeps it. None with ``settings.search_seconds`` None or nothing to search."""
    if settings.search_seconds is None:
        return None
    grid: dict[str, list] = {}
    if settings.criterion is None:
        criteria = CRITERIA_ORDER if isinstance(tree, UpliftTreeClassifier) else REGRESSOR_CRITERIA_ORDER
        grid["criterion"] = [tree.criterion, *(name for name in criteria if name != tree.criterion)]
    if settings.max_depth > 1:
        grid["max_depth"] = [settings.max_depth, settings.max_depth - 1]
    if settings.min_samples_leaf is None:
        grid["min_samples_leaf"] = list(dict.fromkeys(["auto", max(100, n_train // 200), max(100, n_train // 50)]))
    if not grid:
        return None
    # The first candidate takes every list's first value: the configured tree.
    return UpliftSearchCV(tree, grid, cv=SEARCH_FOLDS, time_budget=settings.search_seconds,
                          random_state=settings.seed)


def fit_models(split: SplitRows, settings: ReportSettings, progress: Progress) -> FittedModels:
    """Search the tree's settings and fit the tree, the forest and every learner of ``settings.learners`` on the
    training rows, with the experiment's design (propensity, cluster) when it has one."""
    train = split.train
    design = {"propensity": train.propensity, "cluster": train.cluster}
    tree, forest = unfitted_models(split.experiment, settings, train.n_rows)
    search = tree_search(tree, settings, train.n_rows)
    if search is None:
        with progress(f"Fitting the honest uplift tree on {train.n_rows:,} rows"):
            tree.fit(train.X, train.treatment, train.y, **design)
    else:
        with progress(f"Choosing the honest tree's settings ({SEARCH_FOLDS}-fold search, at most "
                      f"{settings.search_seconds:g} s) and fitting it on {train.n_rows:,} rows"):
            tree = search.fit(train.X, train.treatment, train.y, **design).best_estimator_
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
    return FittedModels(tree, forest, learners, notes, search)
