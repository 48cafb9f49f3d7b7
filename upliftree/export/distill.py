"""Forest (or any uplift model) distillation: a shallow tree that imitates a model's predicted uplift.

The tree is grown on the model's predictions for the rows of ``X``: each split minimizes the weighted sum
of squared errors of the predicted uplift (all treatments together), over the same bins and with the same
missing-value and category handling as the uplift trees. A leaf predicts the mean of the model's predicted
outcome per arm over its rows, so its uplift is the mean predicted uplift. Node statistics (counts, rates,
intervals in rule sheets and drawings) are those of the experiment rows ``(X, treatment, y)``, and the
Qini coefficient of both models on those rows tells how much of the model's ranking the tree keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._base import BINARY, FittedAttribute, model_kind, spawn_generators
from .._grower import grow_squared_error_tree
from .._tree_arrays import WEIGHT, WEIGHTED_Y, estimate_nodes
from .._validation import (
    Arms,
    as_pandas,
    check_arm_sizes,
    check_n_rows,
    missing_per_feature,
    validate_outcome_and_weight,
)
from ..binning import BinMapper
from ..tree import ExperimentData, FittedInputs, FittedTree, TreeModel, check_size_params

__all__ = ["DistilledUpliftTree", "distill"]

@dataclass(frozen=True, eq=False)
class FittedDistilledTree(FittedTree):
    """A distilled tree's fitted state: a tree's (with the imitated model's outcome type), plus the fit's scores."""

    fidelity_r2: float | None = None
    qini_model: float | None = None
    qini_distilled: float | None = None
    qini_kept: float | None = None


class DistilledUpliftTree(TreeModel):
    """A shallow tree fitted to another model's predicted uplift: ``DistilledUpliftTree(forest).fit(X, treatment, y)``
    or :func:`distill`.

    It predicts, applies, exports (rules, SQL, JSON, drawings) and reports segments like an
    :class:`~upliftree.UpliftTreeClassifier`; it is not pruned or calibrated (its leaves hold the model's
    predictions, not estimates of their own).

    Parameters
    ----------
    model : fitted upliftree tree or forest
        The model to imitate. Like the estimator of a scikit-learn meta-estimator it stays a parameter of the
        fitted tree (``set_params(model=None)`` drops it; the fitted tree does not need it), and a JSON model
        file does not hold it: a loaded distilled tree has ``model=None``.
    max_depth : int
        Maximum depth (the root has depth 0).
    min_samples_leaf : int
        Minimum rows in each child of a split.
    min_samples_treatment : int
        Minimum rows of every arm in each child of a split.
    max_bins : int
        At most this many bins per numeric feature (<= 255).
    random_state : None, int or numpy Generator
        Seeds the quantile subsample of the binning (more than 200,000 rows).

    Attributes
    ----------
    tree_, schema_, treatments_, feature_names_in_, n_features_in_, feature_importances_, n_leaves_, depth_
        As for the uplift trees; ``tree_.value`` holds the mean predicted outcome per arm, ``tree_.stats`` the
        experiment rows.
    fidelity_r2_ : float
        Share of the variance of the model's predicted uplift (over rows and treatments) the tree explains.
    qini_model_, qini_distilled_ : float
        Qini coefficient of the model and of the tree on the experiment rows (with several treatments, of
        the best-arm recommendation, :func:`upliftree.metrics.best_arm_score`).
    qini_kept_ : float
        ``qini_distilled_ / qini_model_``; NaN when the model's Qini is not positive.
    n_splits_merged_ : int
        Splits undone because a leaf had fewer than ``min_samples_treatment`` rows of some arm.
    outcome_type_ : str
        The imitated model's (``"binary"`` or ``"continuous"``): rule sheets print rates or means by it.
    """

    _state_class = FittedDistilledTree
    outcome_type = None  # the imitated model's: ``outcome_type_`` once fitted
    fidelity_r2_ = FittedAttribute(lambda state: state.fidelity_r2, "Share of the predicted uplift's variance kept.")
    qini_model_ = FittedAttribute(lambda state: state.qini_model, "Qini coefficient of the imitated model.")
    qini_distilled_ = FittedAttribute(lambda state: state.qini_distilled, "Qini coefficient of the tree.")
    qini_kept_ = FittedAttribute(lambda state: state.qini_kept, "qini_distilled_ / qini_model_.")

    def __init__(self, model: Any = None, max_depth: int = 3, min_samples_leaf: int = 100,
                 min_samples_treatment: int = 10, max_bins: int = 255, random_state: Any = None):
        self.model = model
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.max_bins = max_bins
        self.random_state = random_state

    def check_params(self) -> None:
        """Check the constructor parameters as ``fit`` does first; raises ``ValueError``/``TypeError`` naming
        the parameter."""
        check_size_params(self)

    def fit(self, X, treatment, y, sample_weight=None) -> DistilledUpliftTree:
        """Grow the tree on ``model``'s predictions for ``X``; node statistics and Qini coefficients from the
        experiment rows ``treatment, y`` (weighted by ``sample_weight``)."""
        self.check_params()
        model = self.model
        model_kind(model)
        X = as_pandas(X, "X")
        model_inputs = model.fitted_state_.inputs
        treatments = tuple(model_inputs.treatments)
        n_rows = check_n_rows(X)
        labels = np.asarray(treatment)
        if labels.ndim != 1 or len(labels) != n_rows:
            raise ValueError(f"treatment must be 1-D with one label per row of X ({n_rows})")
        data = ExperimentData(model_inputs.encode(X), model.arm_index(labels),
                              *validate_outcome_and_weight(y, sample_weight, n_rows, model.outcome_type_ == BINARY))
        check_arm_sizes(Arms(data.arm, treatments), data.weight, self.min_samples_treatment)
        # Missing values met while distilling steer the splits too: the flags cover the model's training data
        # and X (where unseen categories also count, as the tree routes them like missing values).
        fitted = [model_inputs.schema.missing_at_fit(feature) for feature in range(model_inputs.n_features)]
        schema = model_inputs.schema.with_missing(np.logical_or(fitted, missing_per_feature(data.encoded)))
        predicted = model.predict_outcome(X)
        target = predicted[:, 1:] - predicted[:, :1]

        (binning_rng,) = spawn_generators(self.random_state, 1)
        bin_mapper = BinMapper(self.max_bins, random_state=binning_rng).fit(data.encoded, schema)
        tree = grow_squared_error_tree(bin_mapper.transform(data.encoded), data.arm, data.weight, data.y, target,
                                       len(treatments), bin_mapper, max_depth=self.max_depth,
                                       min_samples_leaf=self.min_samples_leaf,
                                       min_samples_treatment=self.min_samples_treatment)
        tree, n_merged = estimate_nodes(tree, data, self.min_samples_treatment)
        value = np.column_stack([
            _node_means(tree, data, predicted[:, arm]) for arm in range(predicted.shape[1])
        ])
        tree = replace(tree, value=value)

        distilled = tree.value[tree.apply(data.encoded)]
        distilled_uplift = distilled[:, 1:] - distilled[:, :1]
        residual = np.sum(data.weight[:, None] * (target - distilled_uplift) ** 2)
        spread = np.sum(data.weight[:, None] * (target - np.average(target, axis=0, weights=data.weight)) ** 2)
        qini_model = _qini(target, labels, y, treatments)
        qini_distilled = _qini(distilled_uplift, labels, y, treatments)
        self.fitted_state_ = FittedDistilledTree(
            FittedInputs(schema, treatments, model.outcome_type_, bin_mapper), tree, n_merged, honest_estimates=False,
            fidelity_r2=float(1.0 - residual / spread) if spread > 0 else float("nan"), qini_model=qini_model,
            qini_distilled=qini_distilled, qini_kept=qini_distilled / qini_model if qini_model > 0 else float("nan"),
        )
        return self


def _qini(uplift: np.ndarray, labels: np.ndarray, y: Any, treatments: tuple) -> float:
    from ..metrics import best_arm_score, one_vs_control, qini_auc_score

    if uplift.shape[1] == 1:
        return qini_auc_score(*one_vs_control(np.asarray(y), uplift[:, 0], labels, arm=treatments[1],
                                              control=treatments[0]))
    return best_arm_score(np.asarray(y), uplift, labels, arms=list(treatments[1:]), control=treatments[0])


def _node_means(tree: Any, data: ExperimentData, values: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values`` over the rows reaching each node."""
    stats = tree.route_statistics(data.encoded, np.zeros(len(values), dtype=np.int64), data.weight, values)
    weight = stats[:, 0, WEIGHT]
    return np.where(weight > 0, stats[:, 0, WEIGHTED_Y] / np.where(weight > 0, weight, 1.0), 0.0)


def distill(model: Any, X, treatment, y, *, max_depth: int = 3, min_samples_leaf: int = 100,
            min_samples_treatment: int = 10, max_bins: int = 255, sample_weight=None,
            random_state: Any = None) -> DistilledUpliftTree:
    """Fit a shallow, exportable tree to ``model``'s predicted uplift on ``X``.

    Parameters
    ----------
    model : fitted uplift forest or tree
    X, treatment, y : experiment rows
        The tree imitates ``model.predict_outcome(X)``; ``treatment, y`` give each node's counts, rates and
        intervals and the Qini coefficients (use rows the model was not trained on for honest numbers).
    max_depth, min_samples_leaf, min_samples_treatment, max_bins, random_state
        See :class:`DistilledUpliftTree`.
    sample_weight : array-like, optional
        Row weights for the fit and the node statistics (the Qini coefficients are unweighted).

    Returns
    -------
    DistilledUpliftTree
        With ``fidelity_r2_``, ``qini_model_``, ``qini_distilled_`` and ``qini_kept_``.
    """
    return DistilledUpliftTree(model, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                               min_samples_treatment=min_samples_treatment, max_bins=max_bins,
                               random_state=random_state).fit(X, treatment, y, sample_weight)
