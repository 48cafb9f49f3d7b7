"""A tree of doubly robust segments: grown on cross-fitted DR pseudo-outcomes, each leaf estimated honestly.

:class:`DRUpliftTree` fits the DR-learner's nuisances (:func:`upliftree.learners.doubly_robust_scores`: per-arm
outcome models and, unless the propensity is known, a propensity model, all cross-fitted), splits the rows into
a part that grows the tree and a part that estimates its leaves (whole clusters with ``cluster``), grows the tree
on the first part's pseudo-outcomes ``phi_t`` with the one grower (``TreeGrower`` over ``TargetRows`` with the
``SquaredErrorSplitRule``, as distillation), and estimates every node on the second part as the mean score.

The estimates live in the ordinary node table, so everything that reads a tree reads this one. Per node and
arm, ``stats`` holds the held-out rows' sums of the arm's potential-outcome score
``psi_a = mu_a(x) + 1[arm = a] (y - mu_a(x)) / e_a(x)`` (every row counts in every arm: weight, ``w psi_a``,
``w psi_a^2``, ``w^2``), except the count, which is the rows that received the arm; ``design_moments`` holds
their sums by unit (row, or cluster) with each row's arms paired in its unit. So ``value`` is the DR mean of
each arm's outcome, ``uplift`` the mean pseudo-outcome, and the design-based interval of :mod:`upliftree.segments`
is the sandwich interval of the mean score, cluster-robust with clusters (docs/learners.md, "DR segments").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import design
from ._base import BINARY, FittedAttribute, spawn_generators
from ._grower import grow_squared_error_tree
from ._params import check_bool, check_real
from ._tree_arrays import COUNT, TreeArrays, merge_short_leaves
from ._validation import (
    Arms,
    as_pandas,
    check_arm_sizes,
    check_n_rows,
    encode_features,
    infer_schema,
    without_design_columns,
)
from .binning import BinMapper
from .learners import DRScores, doubly_robust_scores
from .learners._crossfit import check_cv
from .learners._nuisance import check_propensity_clip
from .tree import ExperimentData, FittedInputs, FittedTree, TreeModel, check_size_params, honest_holdout

__all__ = ["DRUpliftTree", "FittedDRTree"]


@dataclass(frozen=True, eq=False)
class FittedDRTree(FittedTree):
    """A DR tree's fitted state: a tree's, plus the overlap report of the propensities it used (None for a tree
    read from a model file)."""

    overlap: Any = None


class DRUpliftTree(TreeModel):
    """Uplift tree grown and estimated on cross-fitted doubly robust scores (honest by default).

    For observational data, or any design whose assignment probabilities vary with the features: the plain
    uplift trees compare the arms' raw means inside a leaf, which confounding biases; this tree's leaves are
    means of doubly robust scores, consistent when either the outcome models or the propensity are right
    (exactly so with a known propensity), with intervals of the mean score. It predicts, applies, exports
    (rules, SQL, JSON, drawings), reports segments and feeds ``Policy`` like any upliftree tree.

    Parameters
    ----------
    outcome_model : scikit-learn estimator, optional
        Per-arm outcome model, cross-fitted: a classifier with ``predict_proba`` (binary outcome) or a regressor.
        Default: ``HistGradientBoostingClassifier`` / ``Regressor`` with early stopping. Not saved in model files.
    propensity_model : scikit-learn classifier, optional
        Model of the arm, cross-fitted, used when ``fit`` gets no ``propensity``. Default:
        ``HistGradientBoostingClassifier``. Not saved in model files.
    cv : int
        Cross-fitting folds (>= 2; stratified by arm and outcome, whole clusters with ``cluster``).
    propensity_clip : float
        Estimated propensities are clipped to ``[propensity_clip, 1 - propensity_clip]``; known ones are used as
        given (docs/learners.md, "Propensities and overlap").
    max_depth, min_samples_leaf, min_samples_treatment, max_bins
        As for the uplift trees; a leaf needs ``min_samples_treatment`` rows of every arm among its estimation
        rows (and 5 units), else its parent's split is undone.
    control : label
        The control arm's label in ``treatment``.
    outcome : {"auto", "binary", "continuous"}
        The outcome's type (``"auto"``: binary when every value is 0 or 1).
    honest : bool
        Estimate the nodes on held-out rows (default). ``False`` estimates them on the rows that chose the
        splits: the leaf means are then optimistic and their intervals too narrow.
    honest_fraction : float
        Share of rows (of clusters, with ``cluster``) held out for estimation, per arm (and outcome when binary).
    random_state : None, int or numpy Generator
        Seeds the folds, the base models, the honest split and the binning's subsample.
    n_jobs : None or int
        Threads for the base-model fits (None or -1: every core). Results do not depend on it.

    Attributes
    ----------
    tree_ : TreeArrays
        The node table: ``value`` the DR mean outcome per arm, ``stats`` and ``design_moments`` the estimation
        rows' score sums (count: rows that received the arm), see the module docstring.
    overlap_ : upliftree.learners.Overlap
        Propensities outside ``[propensity_clip, 1 - propensity_clip]`` per arm (absent on a loaded model).
    honest_estimates_ : bool
        Whether node estimates come from rows that did not choose the splits.
    n_splits_merged_ : int
        Splits undone because a leaf lacked estimation rows of some arm.
    treatments_, outcome_type_, schema_, feature_names_in_, n_features_in_, feature_importances_, n_leaves_,
    depth_, bin_mapper_
        As for the uplift trees.
    """

    _state_class = FittedDRTree
    outcome_type = None  # from the data: ``outcome_type_`` once fitted
    overlap_ = FittedAttribute(lambda state: state.overlap, "Propensities outside the clip bounds, per arm.")

    def __init__(self, outcome_model: Any = None, propensity_model: Any = None, cv: int = 5,
                 propensity_clip: float = 0.01, max_depth: int = 3, min_samples_leaf: int = 100,
                 min_samples_treatment: int = 10, max_bins: int = 255, control: Any = 0, outcome: str = "auto",
                 honest: bool = True, honest_fraction: float = 0.5, random_state: Any = None,
                 n_jobs: int | None = None):
        self.outcome_model = outcome_model
        self.propensity_model = propensity_model
        self.cv = cv
        self.propensity_clip = propensity_clip
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.max_bins = max_bins
        self.control = control
        self.outcome = outcome
        self.honest = honest
        self.honest_fraction = honest_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    def check_params(self) -> None:
        """Check the constructor parameters as ``fit`` does first (the base models when they are used); raises
        ``ValueError``/``TypeError`` naming the parameter."""
        check_size_params(self)
        check_cv(self.cv)
        check_propensity_clip(self.propensity_clip)
        check_bool(self.honest, "honest")
        check_real(self.honest_fraction, "honest_fraction", 0.0, 1.0, open_low=True, open_high=True)

    def fit(self, X, treatment, y, sample_weight=None, *, propensity=None, cluster=None) -> DRUpliftTree:
        """Fit the nuisances, then grow and estimate the tree (:meth:`fit_scores`).

        ``propensity`` is the known assignment probability (any form the learners take: number, dict, 1-D or
        2-D array, column of ``X``), used as given; without it the propensity is estimated by the cross-fitted
        ``propensity_model``. ``cluster`` (array or column of ``X``) is the unit of randomization: folds and the
        honest split keep clusters whole and intervals are cluster-robust.
        """
        self.check_params()
        nuisance_rng, tree_rng = spawn_generators(self.random_state, 2)
        scores = doubly_robust_scores(
            X, treatment, y, sample_weight, propensity=propensity, cluster=cluster, control=self.control,
            outcome=self.outcome, outcome_model=self.outcome_model, propensity_model=self.propensity_model,
            cv=self.cv, propensity_clip=self.propensity_clip,
            random_state=None if self.random_state is None else nuisance_rng, n_jobs=self.n_jobs)
        return self._grow(without_design_columns(as_pandas(X, "X"), propensity, cluster), scores, tree_rng)

    def fit_scores(self, X, scores: DRScores) -> DRUpliftTree:
        """Grow and estimate the tree on doubly robust scores already computed for the rows of ``X``.

        ``scores`` comes from :func:`upliftree.learners.doubly_robust_scores` on the same rows (its arms, design
        and weights are the tree's; ``X`` holds the features only). Fitting several trees (depths, leaf sizes)
        on one set of scores costs one nuisance fit.
        """
        self.check_params()
        if not isinstance(scores, DRScores):
            raise TypeError(f"scores must be the DRScores of upliftree.learners.doubly_robust_scores, got "
                            f"{type(scores).__name__}")
        _, tree_rng = spawn_generators(self.random_state, 2)
        return self._grow(as_pandas(X, "X"), scores, tree_rng)

    def estimate_nodes(self, X, scores: DRScores) -> TreeArrays:
        """The fitted tree's node table with every node estimated on other rows: the rows of ``X``, from their
        doubly robust ``scores`` (:func:`upliftree.learners.doubly_robust_scores` on the same rows, with this
        tree's arms), as the fit estimates its leaves. For a held-out check of the segments: pass the table to
        :func:`upliftree.segments.node_effects` for effects with the intervals of the mean score.
        """
        state = self.fitted_state_
        if not isinstance(scores, DRScores):
            raise TypeError(f"scores must be the DRScores of upliftree.learners.doubly_robust_scores, got "
                            f"{type(scores).__name__}")
        if tuple(scores.treatments) != tuple(state.inputs.treatments):
            raise ValueError(f"scores has arms {list(scores.treatments)}, the tree {list(state.inputs.treatments)}; "
                             "compute the scores with the tree's control and arms")
        encoded = state.inputs.encode(X)
        if len(encoded) != len(scores.arm):
            raise ValueError(f"X has {len(encoded)} rows but scores has {len(scores.arm)}; compute the scores on "
                             "X's rows")
        return score_estimates(state.tree, encoded, scores.arm, scores.weight, scores.potential_outcome_scores(),
                               scores.cluster)

    def _grow(self, features: Any, scores: DRScores, rng: np.random.Generator) -> DRUpliftTree:
        n_rows = check_n_rows(features)
        if n_rows != len(scores.arm):
            raise ValueError(f"X has {n_rows} rows but scores has {len(scores.arm)}; compute the scores on X's rows")
        split_rng, binning_rng = spawn_generators(rng, 2)
        schema = infer_schema(features, max_categories=self.max_bins)
        binary = scores.outcome_type == BINARY
        labels = tuple(scores.treatments)
        n_arms = len(labels)
        # design=True: node intervals are the robust (design-based) ones, from the score moments below.
        data = ExperimentData(encode_features(features, schema), scores.arm, scores.y, scores.weight,
                              scores.cluster, True)
        if self.honest:
            held_out = honest_holdout(data, binary, self.honest_fraction, split_rng)
            growing, estimation = ~held_out, held_out
            for part, rows in (("structure", growing), ("estimation", estimation)):
                check_arm_sizes(Arms(scores.arm[rows], labels), scores.weight[rows], self.min_samples_treatment,
                                f"treatment ({part} rows of the honest split)")
        else:
            growing = estimation = np.ones(n_rows, dtype=np.bool_)
            check_arm_sizes(Arms(scores.arm, labels), scores.weight, self.min_samples_treatment)

        encoded = data.encoded[growing]
        bin_mapper = BinMapper(self.max_bins, random_state=binning_rng).fit(encoded, schema)
        # One target column per treatment; a split minimizes the squared error summed over them, so all
        # treatments share one segmentation (docs/learners.md, "DR segments").
        tree = grow_squared_error_tree(bin_mapper.transform(encoded), scores.arm[growing], scores.weight[growing],
                                       scores.y[growing], scores.pseudo_outcomes[growing], n_arms, bin_mapper,
                                       max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                                       min_samples_treatment=self.min_samples_treatment)

        tree = score_estimates(tree, data.encoded[estimation], scores.arm[estimation], scores.weight[estimation],
                               scores.potential_outcome_scores()[estimation],
                               None if scores.cluster is None else scores.cluster[estimation])
        tree, n_merged = merge_short_leaves(tree, self.min_samples_treatment)
        self.fitted_state_ = FittedDRTree(FittedInputs(schema, labels, scores.outcome_type, bin_mapper), tree,
                                          n_merged, bool(self.honest), overlap=scores.overlap)
        return self


def score_estimates(tree: TreeArrays, encoded: np.ndarray, arm: np.ndarray, weight: np.ndarray,
                    arm_scores: np.ndarray, cluster: np.ndarray | None) -> TreeArrays:
    """``tree`` with every node estimated by the mean potential-outcome scores of the rows ``encoded``.

    ``arm_scores`` is ``(n, n_arms)`` (:meth:`DRScores.potential_outcome_scores`) and ``cluster`` the rows'
    cluster codes (None: every row is its own unit). Every row counts in every arm with its score as the outcome
    (``stats``' count column keeps the rows that received the arm) and the units pair a row's arms, so the
    design-based interval of a node's uplift is the sandwich interval of its mean pseudo-outcome.
    """
    n_rows, n_arms = arm_scores.shape
    leaves = tree.apply(encoded)
    received = tree.leaf_statistics(leaves, np.arange(n_rows), arm, weight, arm_scores[np.arange(n_rows), arm])
    # Arm-major copies: block a holds every row with arm a and its score psi_a.
    every_arm = np.repeat(np.arange(n_arms, dtype=np.int64), n_rows)
    every_leaf, every_weight = np.tile(leaves, n_arms), np.tile(weight, n_arms)
    every_score = np.ascontiguousarray(arm_scores.T).reshape(-1)
    stats = tree.leaf_statistics(every_leaf, np.arange(n_rows * n_arms), every_arm, every_weight, every_score)
    stats[:, :, COUNT] = received[:, :, COUNT]
    if cluster is None:
        moments = row_unit_moments(tree.parent, leaves, weight, arm_scores)
    else:
        moments = design.design_moments(tree.parent, every_leaf, every_arm, every_weight, every_score,
                                 np.tile(cluster, n_arms), n_arms)
    return tree.with_stats(stats, None, moments)


def row_unit_moments(parent: np.ndarray, leaves: np.ndarray, weight: np.ndarray, arm_scores: np.ndarray
                     ) -> np.ndarray:
    """:func:`upliftree.design.design_moments` of rows that count in every arm with outcome ``arm_scores[:, a]``,
    each row its own unit: a unit's totals are ``W = w`` and ``S_a = w psi_a``, so every moment is a per-row sum,
    taken at the leaves and added up the tree (no grouping of rows by node and unit, which costs a sort)."""
    n_nodes, n_arms = len(parent), arm_scores.shape[1]
    squared = weight * weight
    control = arm_scores[:, 0]

    def node_sums(values: np.ndarray) -> np.ndarray:
        return np.bincount(leaves, weights=values, minlength=n_nodes)

    moments = np.zeros((n_nodes, n_arms, design.N_MOMENTS), dtype=np.float64)
    units, own_ww = node_sums(np.ones(len(leaves))), node_sums(squared)
    for code in range(n_arms):
        scores = arm_scores[:, code]
        moments[:, code, design.N_UNITS], moments[:, code, design.OWN_WW] = units, own_ww
        moments[:, code, design.OWN_SW] = node_sums(squared * scores)
        moments[:, code, design.OWN_SS] = node_sums(squared * scores * scores)
        if code > 0:
            moments[:, code, design.CROSS_WW] = own_ww
            moments[:, code, design.CROSS_WS] = node_sums(squared * control)
            moments[:, code, design.CROSS_SW] = moments[:, code, design.OWN_SW]
            moments[:, code, design.CROSS_SS] = node_sums(squared * scores * control)
    for node in range(n_nodes - 1, 0, -1):  # children have larger ids than their parent
        moments[parent[node]] += moments[node]
    return moments
