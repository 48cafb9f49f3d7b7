"""Uplift tree estimators: thin sklearn-style classes over validation, binning, growth and the node table."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._base import (
    BINARY,
    CONTINUOUS,
    OUTCOME_TYPES,
    TREE,
    FittedAttribute,
    UpliftModel,
    read_only,
    restore_frozen,
    spawn_generators,
)
from ._grower import GrowthParams, HistogramSource, grow_tree
from ._kernels.criteria import CHI, DDP, ED, KL, TSTAT
from ._params import check_bool, check_choice, check_count_or_share, check_int, check_max_bins, check_real
from ._tree_arrays import (
    COUNT,
    WEIGHT,
    WEIGHTED_Y,
    WEIGHTED_Y2,
    InvalidTreeError,
    TreeArrays,
    categories_per_feature,
    estimate_nodes,
    estimated,
    merge_short_leaves,
)
from ._validation import (
    Arms,
    FeatureSchema,
    arm_codes,
    as_pandas,
    check_arm_sizes,
    check_n_rows,
    design_weights,
    encode_features,
    infer_schema,
    validate_cluster,
    validate_outcome_and_weight,
    validate_treatment,
    without_design_columns,
)
from .binning import BinMapper
from .design import cluster_holdout

CLASSIFIER_CRITERIA = {"kl": KL, "ed": ED, "chi": CHI, "ddp": DDP}
REGRESSOR_CRITERIA = {"ed": ED, "ddp": DDP, "tstat": TSTAT}


@dataclass(frozen=True)
class ExperimentData:
    """One experiment's rows as the core needs them."""

    encoded: np.ndarray
    arm: np.ndarray
    y: np.ndarray
    weight: np.ndarray  # sample_weight / propensity of the received arm (sample_weight without propensity)
    cluster: np.ndarray | None = None  # codes of the units of randomization (None: rows)
    design: bool = False  # propensity or cluster given: node intervals from the design moments


@dataclass(frozen=True, eq=False)
class FittedInputs:
    """What a fit learned about its inputs: feature schema, arm labels (control first), outcome type and bins.

    A forest's trees share their forest's. ``outcome_type`` is ``"binary"`` or ``"continuous"``. ``bin_mapper``
    is None for a model read from a JSON file (bins are not saved: prediction routes raw values).
    """

    schema: FeatureSchema
    treatments: np.ndarray
    outcome_type: str
    bin_mapper: BinMapper | None = None
    feature_names: np.ndarray = field(init=False)
    n_categories: np.ndarray = field(init=False)  # per feature: -1 numeric, else its number of categories

    def __post_init__(self) -> None:
        treatments = read_only(np.array(list(self.treatments), dtype=object))
        if treatments.ndim != 1 or len(treatments) < 2:
            raise ValueError(f"treatments must list the control label and at least one treatment, got "
                             f"{list(self.treatments)}")
        object.__setattr__(self, "treatments", treatments)
        if self.outcome_type not in OUTCOME_TYPES:
            raise ValueError(f"outcome_type must be one of {list(OUTCOME_TYPES)}, got {self.outcome_type!r}")
        object.__setattr__(self, "feature_names", read_only(np.array(self.schema.names, dtype=object)))
        object.__setattr__(self, "n_categories", categories_per_feature(self.schema.categories))

    __setstate__ = restore_frozen

    @property
    def n_features(self) -> int:
        return self.schema.n_features

    def encode(self, X) -> np.ndarray:
        """Rows of ``X`` as the float matrix the node tables route (categories as codes, NaN = missing)."""
        X = as_pandas(X, "X")
        check_n_rows(X)
        return encode_features(X, self.schema)


@dataclass(frozen=True, eq=False)
class FittedTree:
    """Everything fitting a tree learned, published to the estimator in one assignment (``fitted_state_``).

    Built whole before it is published, and never changed afterwards (``prune`` publishes a new one), so a
    ``predict`` that reads it once sees one model even while another thread refits. Construction checks the
    node table against the inputs (features, category codes, number of arms).
    """

    inputs: FittedInputs
    tree: TreeArrays
    n_splits_merged: int | None = None
    honest_estimates: bool | None = None
    n_splits_pruned: int | None = None
    training_profile: dict | None = None
    min_samples_leaf: int | None = None  # the leaf size the tree grew with (None: unknown, a model file's tree)
    n_leaves: int = field(init=False)
    depth: int = field(init=False)
    feature_importances: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.tree.n_arms != len(self.inputs.treatments):
            raise InvalidTreeError(f"value has {self.tree.n_arms} arms, the model {len(self.inputs.treatments)} "
                                   "treatments (control included)")
        self.tree.validate_features(self.inputs.n_categories)
        object.__setattr__(self, "n_leaves", int(self.tree.is_leaf.sum()))
        object.__setattr__(self, "depth", self.tree.max_depth())
        object.__setattr__(self, "feature_importances",
                           read_only(tree_feature_importances(self.tree, self.inputs.n_features)))

    __setstate__ = restore_frozen


def resolve_max_features(max_features: Any, n_features: int) -> int:
    """Number of features tried per split, like scikit-learn's ``max_features``."""
    if max_features is None:
        return n_features
    if max_features == "sqrt":
        return max(1, int(np.sqrt(n_features)))
    if max_features == "log2":
        return max(1, int(np.log2(n_features)))
    count_or_share = check_count_or_share(max_features, "max_features", 1, others=(None, "sqrt", "log2"))
    if isinstance(count_or_share, int):
        return min(count_or_share, n_features)
    return max(1, int(count_or_share * n_features))


def honest_holdout(data: ExperimentData, binary: bool, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Rows held out for estimation: whole clusters when the design has them, else a stratified share."""
    if data.cluster is not None:
        return cluster_holdout(data.cluster, data.arm, fraction, rng)
    return stratified_holdout(data.arm, data.y, binary, fraction, rng)


def stratified_holdout(arm: np.ndarray, y: np.ndarray, binary: bool, fraction: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of rows held out, ``fraction`` of every arm (and outcome class when binary)."""
    strata = arm * 2 + y.astype(np.int64) if binary else arm
    held_out = np.zeros(len(arm), dtype=np.bool_)
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        n_held_out = int(round(fraction * len(members)))
        held_out[rng.permutation(members)[:n_held_out]] = True
    return held_out


# min_samples_leaf="auto" (docs/model_selection.md, "Leaf sizes that fit the data"): a leaf holds enough rows that
# an uplift of AUTO_LEAF_RELATIVE_UPLIFT times the control arm's mean outcome (the base rate) lies AUTO_LEAF_Z
# standard errors from zero, at least AUTO_LEAF_FLOOR rows, and at most AUTO_LEAF_MAX_SHARE of the growing rows.
AUTO = "auto"
AUTO_LEAF_Z = 2.0
AUTO_LEAF_RELATIVE_UPLIFT = 0.3
AUTO_LEAF_FLOOR = 100
AUTO_LEAF_MAX_SHARE = 0.25


def auto_min_samples_leaf(arm_totals: np.ndarray, n_growing: float, growing_per_estimation_row: float) -> int:
    """The rows per leaf of ``min_samples_leaf="auto"``.

    ``arm_totals`` holds, per arm (control first), the rows, the sum of (design) weights, of weight * y and of
    weight * y**2 of the training rows (the node statistics' layout); ``n_growing`` is the number of rows that
    grow the tree, ``growing_per_estimation_row`` the growing rows per estimating row (honest: ``(1 - f) / f``
    for ``honest_fraction`` f; else 1). With the control arm's mean m and variance s**2, the arms' shares of the
    rows p_c and p_t (the smallest treatment arm), a leaf of n estimating rows estimates the uplift with variance
    s**2 (1/p_c + 1/p_t) / n; asking for an uplift of r * m to lie z standard errors from zero gives

        n = z**2 * (s / m)**2 * (1/p_c + 1/p_t) / r**2,        z = 2, r = 0.3,

    i.e. for a binary outcome with base rate m, (s / m)**2 = (1 - m) / m: rare outcomes need large leaves. The
    result is ``n * growing_per_estimation_row`` rounded up, at least 100 rows, and at most a quarter of the
    growing rows (so that small data still gets a split or two); a control mean of 0 gives that quarter.
    """
    totals = np.asarray(arm_totals, dtype=np.float64)
    shares = totals[:, COUNT] / totals[:, COUNT].sum()
    control_weight = totals[0, WEIGHT]
    control_mean = totals[0, WEIGHTED_Y] / control_weight
    control_variance = max(totals[0, WEIGHTED_Y2] / control_weight - control_mean * control_mean, 0.0)
    ceiling = max(1, int(AUTO_LEAF_MAX_SHARE * n_growing))
    if control_mean == 0.0 or not np.isfinite(control_mean):
        return ceiling
    squared_cv = control_variance / (control_mean * control_mean)
    n_estimating = (AUTO_LEAF_Z * AUTO_LEAF_Z * squared_cv * (1.0 / shares[0] + 1.0 / shares[1:].min())
                    / (AUTO_LEAF_RELATIVE_UPLIFT * AUTO_LEAF_RELATIVE_UPLIFT))
    return min(max(int(np.ceil(n_estimating * growing_per_estimation_row)), AUTO_LEAF_FLOOR), ceiling)


def arm_totals(data: ExperimentData, n_arms: int) -> np.ndarray:
    """Per arm: rows and the sums of weight, weight * y and weight * y**2 (input of :func:`auto_min_samples_leaf`)."""
    weighted_y = data.weight * data.y
    return np.column_stack([np.bincount(data.arm, weights=values, minlength=n_arms)
                            for values in (None, data.weight, weighted_y, weighted_y * data.y)])


def check_size_params(estimator: Any, auto_leaf: bool = False) -> None:
    """Check the size parameters every tree grower reads: max_depth, min_samples_leaf/_treatment, max_bins;
    ``auto_leaf`` accepts ``min_samples_leaf="auto"`` (:func:`auto_min_samples_leaf`)."""
    check_int(estimator.max_depth, "max_depth", 0)
    if not (auto_leaf and isinstance(estimator.min_samples_leaf, str) and estimator.min_samples_leaf == AUTO):
        if auto_leaf and isinstance(estimator.min_samples_leaf, str):
            raise ValueError(f"min_samples_leaf must be 'auto' or an integer >= 1, got {estimator.min_samples_leaf!r}")
        check_int(estimator.min_samples_leaf, "min_samples_leaf", 1)
    check_int(estimator.min_samples_treatment, "min_samples_treatment", 0)
    check_max_bins(estimator.max_bins)


class UpliftEstimatorMixin:
    """What the estimators growing uplift trees on an experiment (trees and forests) share: parameter checks and
    input preparation."""

    _criteria: dict[str, int]

    def check_params(self) -> None:
        """Check the constructor parameters as ``fit`` does first; raises ``ValueError``/``TypeError`` naming
        the parameter."""
        check_choice(self.criterion, "criterion", sorted(self._criteria))
        check_size_params(self, auto_leaf=True)
        check_real(self.n_reg, "n_reg", 0.0)
        check_bool(self.normalize, "normalize")
        check_bool(self.honest, "honest")
        check_real(self.honest_fraction, "honest_fraction", 0.0, 1.0, open_low=True, open_high=True)

    def _prepare(self, X, treatment, y, sample_weight, propensity=None, cluster=None
                 ) -> tuple[FeatureSchema, Arms, ExperimentData]:
        """Validate the training data: feature schema, arm labels and the rows as the core needs them.

        Columns of ``X`` named by ``propensity`` or ``cluster`` describe the design and are not features.
        """
        X = as_pandas(X, "X")
        n_rows = check_n_rows(X)
        features = without_design_columns(X, propensity, cluster)
        schema = infer_schema(features, max_categories=self.max_bins)
        arms = validate_treatment(treatment, self.control, n_rows)
        max_draws = self._max_row_draws(n_rows)
        values, weight = validate_outcome_and_weight(y, sample_weight, n_rows, self.outcome_type == BINARY,
                                                     max_draws)
        data = ExperimentData(encode_features(features, schema), arms.codes, values,
                              design_weights(values, weight, propensity, arms, X, max_draws),
                              validate_cluster(cluster, n_rows, X), propensity is not None or cluster is not None)
        check_arm_sizes(arms, data.weight, self.min_samples_treatment)
        return schema, arms, data

    def _max_row_draws(self, n_rows: int) -> int:
        """The most times one of ``n_rows`` training rows can be in one tree's sample (once, in a tree)."""
        return 1

    def resolve_min_samples_leaf(self, arm_totals: np.ndarray, n_growing: float, honest_split: bool) -> int:
        """``min_samples_leaf`` as an int: itself, or with ``"auto"`` the rule of :func:`auto_min_samples_leaf` on
        the training rows' ``arm_totals`` (see :func:`arm_totals`) for ``n_growing`` rows growing each tree;
        ``honest_split`` when an honest split of the rows estimates the leaves."""
        if not (isinstance(self.min_samples_leaf, str) and self.min_samples_leaf == AUTO):
            return int(self.min_samples_leaf)
        ratio = (1.0 - self.honest_fraction) / self.honest_fraction if honest_split else 1.0
        return auto_min_samples_leaf(arm_totals, n_growing, ratio)


def max_row_draws(estimator: UpliftEstimatorMixin, n_rows: int) -> int:
    """The most times one of ``n_rows`` training rows can be in one tree's sample of ``estimator`` (a tree: once;
    a bootstrapped forest: up to its draws per tree), which bounds the outcome and weight checks."""
    return estimator._max_row_draws(n_rows)


def growth_params(estimator: UpliftEstimatorMixin, n_features: int, parallel: bool,
                  min_samples_leaf: int | None = None) -> GrowthParams:
    """The grower's settings for a tree of ``estimator`` (a tree or a forest) on ``n_features`` features;
    ``parallel`` builds histograms on threads (one tree), else the caller runs trees on threads (a forest).
    ``min_samples_leaf`` is the resolved leaf size (:meth:`UpliftEstimatorMixin.resolve_min_samples_leaf`),
    needed when the estimator's is ``"auto"``.

    In-memory and distributed fits (``upliftree.dask``) both take them from here.
    """
    if min_samples_leaf is None:
        if isinstance(estimator.min_samples_leaf, str):
            raise ValueError('min_samples_leaf="auto" must be resolved on the training rows first '
                             "(resolve_min_samples_leaf)")
        min_samples_leaf = estimator.min_samples_leaf
    return GrowthParams(
        criterion=estimator._criteria[estimator.criterion], binary=estimator.outcome_type == BINARY,
        normalize=bool(estimator.normalize), n_reg=float(estimator.n_reg), max_depth=int(estimator.max_depth),
        min_samples_leaf=int(min_samples_leaf), min_samples_treatment=int(estimator.min_samples_treatment),
        n_features_per_split=resolve_max_features(estimator.max_features, n_features), parallel=parallel,
    )


class TreeModel(UpliftModel):
    """A model that is one node table, ``tree_`` (uplift trees and distilled trees): leaves, predictions, segments,
    rule sheets and drawings."""

    model_kind = TREE
    _state_class = FittedTree

    tree_ = FittedAttribute(lambda state: state.tree, "The fitted node table (TreeArrays, read-only).")
    n_leaves_ = FittedAttribute(lambda state: state.n_leaves, "Number of leaves.")
    depth_ = FittedAttribute(lambda state: state.depth, "Depth of the deepest leaf.")
    n_splits_merged_ = FittedAttribute(lambda state: state.n_splits_merged,
                                       "Splits undone because a leaf lacked rows of some arm.")
    honest_estimates_ = FittedAttribute(lambda state: state.honest_estimates,
                                        "Whether node statistics come from rows that did not grow the tree.")

    # Each reads the fitted state once: a refit in another thread cannot give it one model's tree and another's
    # schema.
    def apply(self, X) -> np.ndarray:
        """Leaf id (row of the node table ``tree_``) of every row of ``X``."""
        state = self.fitted_state_
        return state.tree.apply(state.inputs.encode(X))

    def predict_outcome(self, X) -> np.ndarray:
        """Expected outcome per arm, shape ``(n, k + 1)``, control first (order of ``treatments_``)."""
        state = self.fitted_state_
        return state.tree.value[state.tree.apply(state.inputs.encode(X))]

    # -- segments, rule sheets and drawings (issues 3 and 6); delegations, see docs/architecture.md -------------
    def segments(self, alpha: float = 0.05):
        """Segment table: one row per leaf (and treatment), with rule, counts, uplift, CI and p-value.

        See :func:`upliftree.segments.segment_table` and ``docs/honesty.md``.
        """
        from .segments import segment_table

        return segment_table(self, alpha)

    def rules(self, format: str = "text", alpha: float = 0.05, leaf_actions=None, leaf_values=None,
              precision: int | None = 6):
        """Segments as an indented text tree, a Markdown/CSV sheet, a DataFrame or pandas query strings.

        See :func:`upliftree.export.sheets.rules` and ``docs/export.md``.
        """
        from .export.sheets import rules

        return rules(self, format, alpha, leaf_actions, leaf_values, precision)

    def to_dot(self, alpha: float = 0.05, precision: int | None = 4) -> str:
        """Graphviz DOT source of the tree; see :func:`upliftree.export.dot.to_dot`."""
        from .export.dot import to_dot

        return to_dot(self, alpha, precision)

    def plot(self, path, format: str = "svg", alpha: float = 0.05, precision: int | None = 4,
             renderer: str = "auto"):
        """Draw the tree to ``path`` (svg, png or pdf) with Graphviz's ``dot``, or matplotlib without it (see
        :func:`upliftree.export.dot.plot`); returns the path."""
        from .export.dot import plot

        return plot(self, path, format, alpha, precision, renderer=renderer)


class BaseUpliftTree(UpliftEstimatorMixin, TreeModel):
    """An uplift tree grown on an experiment: fit (honest or not), prune and calibration on held-out rows."""

    n_splits_pruned_ = FittedAttribute(lambda state: state.n_splits_pruned, "Splits removed by the last prune.")
    min_samples_leaf_ = FittedAttribute(lambda state: state.min_samples_leaf,
                                        'The rows per leaf the tree grew with (``min_samples_leaf="auto"`` resolved).')

    def __init__(self, criterion: str, max_depth: int = 5, min_samples_leaf: int | str = "auto",
                 min_samples_treatment: int = 10, n_reg: float = 100, normalize: bool = True,
                 max_features: Any = None, max_bins: int = 255, control: Any = 0, honest: bool = False,
                 honest_fraction: float = 0.5, random_state: Any = None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.n_reg = n_reg
        self.normalize = normalize
        self.max_features = max_features
        self.max_bins = max_bins
        self.control = control
        self.honest = honest
        self.honest_fraction = honest_fraction
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(self, X, treatment, y, sample_weight=None, *, propensity=None, cluster=None, X_est=None,
            treatment_est=None, y_est=None, sample_weight_est=None, propensity_est=None,
            cluster_est=None) -> BaseUpliftTree:
        """Grow the tree on ``X, treatment, y``.

        With ``honest=True`` the rows are split, stratified by arm (and outcome when binary), into a part
        that grows the tree and a part (``honest_fraction``) that estimates every node's statistics. Pass
        ``X_est, treatment_est, y_est`` (and optionally ``sample_weight_est``, ``propensity_est``,
        ``cluster_est``) to estimate on another sample instead (all rows then grow the tree). See
        ``docs/honesty.md``.

        ``propensity`` gives the known probability of assignment (a number: treatment's, two arms; a dict
        ``{arm: p}``; a 1-D array: the received arm's per row; a 2-D array ``(n, n_arms)`` in ``treatments_``
        order; or a column of ``X``): rows are weighted by ``sample_weight / p`` (normalized arm means). ``cluster``
        gives the unit of randomization (array or column of ``X``): the honest split keeps clusters whole and
        intervals are cluster-robust. With either, node intervals are design-based (``docs/design.md``).
        """
        self.check_params()
        schema, arms, data = self._prepare(X, treatment, y, sample_weight, propensity, cluster)
        split_rng, binning_rng, growth_rng = spawn_generators(self.random_state, 3)

        explicit_estimation = any(value is not None for value in (X_est, treatment_est, y_est, sample_weight_est))
        if explicit_estimation:
            structure = data
            estimation = self._estimation_data(X_est, treatment_est, y_est, sample_weight_est, schema,
                                               arms.labels, "_est", propensity_est, cluster_est)
        elif self.honest:
            held_out = honest_holdout(data, self.outcome_type == BINARY, self.honest_fraction, split_rng)
            structure, estimation = _subset(data, ~held_out), _subset(data, held_out)
            for part, rows in (("structure", structure), ("estimation", estimation)):
                check_arm_sizes(Arms(rows.arm, arms.labels), rows.weight, self.min_samples_treatment,
                                f"treatment ({part} rows of the honest split)")
        else:
            structure = estimation = data
        honest_estimates = bool(explicit_estimation or self.honest)
        honest_split = self.honest and not explicit_estimation
        n_growing = (1.0 - self.honest_fraction) * len(data.arm) if honest_split else len(data.arm)
        min_samples_leaf = self.resolve_min_samples_leaf(arm_totals(data, arms.n_arms), n_growing, honest_split)

        bin_mapper = BinMapper(self.max_bins, random_state=binning_rng).fit(structure.encoded, schema)
        source = HistogramSource.of(bin_mapper.transform(structure.encoded), structure.arm, structure.weight,
                                    structure.y, arms.n_arms, bin_mapper.missing_bin_ + 1,
                                    self.outcome_type == BINARY)
        n_rows = len(structure.arm)
        tree = grow_tree(source, bin_mapper, np.arange(n_rows), np.ones(n_rows, dtype=np.int32),
                         growth_params(self, schema.n_features, True, min_samples_leaf), growth_rng)
        if honest_estimates or data.design:
            # With a design the training rows' design moments are needed too: route them (the same statistics).
            tree, n_merged = estimate_nodes(tree, estimation, self.min_samples_treatment)
        else:
            tree, n_merged = merge_short_leaves(tree, self.min_samples_treatment)
        self.fitted_state_ = FittedTree(FittedInputs(schema, arms.labels, self.outcome_type, bin_mapper), tree,
                                        n_merged, honest_estimates, min_samples_leaf=min_samples_leaf)
        return self

    def _estimation_data(self, X_est, treatment_est, y_est, sample_weight_est, schema: FeatureSchema,
                         arm_labels: tuple, suffix: str = "_est", propensity=None, cluster=None) -> ExperimentData:
        """Validate a second sample (estimation rows, or with ``suffix="_val"`` validation rows) and its design."""
        if X_est is None or treatment_est is None or y_est is None:
            raise ValueError(f"X{suffix}, treatment{suffix} and y{suffix} must be given together")
        X_est = as_pandas(X_est, f"X{suffix}")
        n_rows = check_n_rows(X_est)
        labels = np.asarray(treatment_est)
        if labels.ndim != 1 or len(labels) != n_rows:
            raise ValueError(f"treatment{suffix} must be 1-D with one label per row of X{suffix} ({n_rows})")
        arms = Arms(arm_codes(labels, arm_labels, f"treatment{suffix}"), arm_labels)
        values, weight = validate_outcome_and_weight(y_est, sample_weight_est, n_rows, self.outcome_type == BINARY,
                                                     suffix=suffix)
        estimation = ExperimentData(
            encode_features(without_design_columns(X_est, propensity, cluster), schema), arms.codes, values,
            design_weights(values, weight, propensity, arms, X_est, 1, f"y{suffix}"),
            validate_cluster(cluster, n_rows, X_est), propensity is not None or cluster is not None,
        )
        check_arm_sizes(Arms(estimation.arm, arm_labels), estimation.weight, self.min_samples_treatment,
                        f"treatment{suffix}")
        return estimation

    # -- honest inference: pruning on held-out rows, calibration (issue 3) ----------------------------
    def prune(self, X_val, treatment_val, y_val, sample_weight_val=None, *, propensity=None, cluster=None,
              alpha: float = 0.05, correction: str = "bonferroni") -> BaseUpliftTree:
        """Remove, bottom-up, the splits whose children's uplift difference does not replicate on held-out rows.

        Node statistics stay those of the fit. Sets ``n_splits_pruned_`` and drops ``training_profile_``
        (its segments are the leaves before pruning). See :func:`upliftree.pruning.prune_splits` and
        ``docs/honesty.md``. ``propensity`` and ``cluster`` describe the validation rows' design (as in ``fit``):
        the tests then use design weights and robust variances.
        """
        from .pruning import prune_splits

        state = self.fitted_state_
        validation = self._estimation_data(X_val, treatment_val, y_val, sample_weight_val, state.inputs.schema,
                                           tuple(state.inputs.treatments), "_val", propensity, cluster)
        validation_tree = estimated(state.tree, validation)
        tree, n_pruned = prune_splits(state.tree, validation_tree.stats, alpha, correction,
                                      validation_tree.design_moments if validation_tree.has_design else None)
        # The training profile's segments are the old leaves: it does not describe the pruned tree.
        self.fitted_state_ = replace(state, tree=tree, n_splits_pruned=n_pruned, training_profile=None)
        return self

    def calibration(self, X, treatment, y, bins: int = 10, alpha: float = 0.05, arm: Any = None, *,
                    propensity=None, cluster=None):
        """Predicted vs observed uplift per bin of predicted uplift on held-out rows.

        A thin call of :func:`upliftree.metrics.calibration_table` on the rows of control and ``arm`` (the
        only treatment by default). A tree predicts one value per leaf, so tied leaves share a bin.
        ``propensity`` and ``cluster`` (arrays, one per row of ``X``) give the held-out rows' design: weighted
        bins and design-based intervals (``docs/design.md``).
        """
        from .metrics import calibration_table, one_vs_control

        if arm is None:
            if len(self.treatments_) > 2:
                raise ValueError(f"arm must name one of the treatments {list(self.treatments_[1:])}")
            arm = self.treatments_[1]
        rows = one_vs_control(y, self.predict(X), treatment, arm=arm, control=self.treatments_[0],
                              arms=list(self.treatments_[1:]), propensity=propensity, cluster=cluster)
        return calibration_table(*rows, bins=bins, alpha=alpha, **rows.design)


def tree_feature_importances(tree: TreeArrays, n_features: int) -> np.ndarray:
    """Raw gain per feature, weighted by node size, scaled to sum to 1 (zeros for a stump)."""
    internal = ~tree.is_leaf
    importances = np.maximum(np.bincount(tree.feature[internal], weights=tree.raw_gain[internal],
                                         minlength=n_features), 0.0)
    total = importances.sum()
    return importances / total if total > 0 else np.zeros(n_features)


def _subset(data: ExperimentData, mask: np.ndarray) -> ExperimentData:
    return ExperimentData(data.encoded[mask], data.arm[mask], data.y[mask], data.weight[mask],
                          None if data.cluster is None else data.cluster[mask], data.design)


class UpliftTreeClassifier(BaseUpliftTree):
    """Uplift tree for a binary outcome (0/1 or bool).

    Parameters
    ----------
    criterion : {"ed", "kl", "chi", "ddp"}
        Split criterion: squared Euclidean (the default), Kullback-Leibler or chi-squared divergence between
        treatment and control outcome distributions (Rzepakowski & Jaroszewicz 2012), or the difference of
        uplifts between children, DeltaDeltaP (Hansotia & Rukstales 2002). See ``docs/criteria.md``; Euclidean
        ranked best for a single tree on Hillstrom (``benchmarks/bench_hillstrom.py``).
    max_depth : int
        Maximum depth; the root has depth 0, so depth d allows 2**d leaves.
    min_samples_leaf : int or "auto"
        Minimum rows in each child of a split. ``"auto"`` (the default) resolves at fit, to
        ``min_samples_leaf_``, the rows a leaf needs so that an uplift of 30% of the control arm's mean outcome
        lies two standard errors from zero on the rows that estimate it (at least 100, at most a quarter of the
        growing rows; :func:`auto_min_samples_leaf`, ``docs/model_selection.md``): rare outcomes and unbalanced
        arms get larger leaves.
    min_samples_treatment : int
        Minimum rows of every arm in each child of a split (and in each honest leaf).
    n_reg : float
        Shrinks a candidate child's arm rates toward the parent's, (sum y + n_reg p_parent) / (n + n_reg),
        for split scoring only.
    normalize : bool
        Divide KL/ED/Chi gains by the Rzepakowski-Jaroszewicz normalization factor.
    max_features : None, int, float, "sqrt" or "log2"
        Features drawn at random for each split.
    max_bins : int
        At most this many bins per numeric feature (<= 255); features with fewer distinct values are exact.
    control : label
        The control arm's label in ``treatment``.
    honest : bool
        Estimate node statistics on held-out rows (see ``docs/honesty.md``).
    honest_fraction : float
        Share of rows (per arm and outcome) held out for estimation when ``honest=True``.
    random_state : None, int or numpy Generator
        Seeds feature sampling, the honest split and quantile subsampling.

    Attributes
    ----------
    fitted_state_ : FittedTree
        Everything the fit learned, in one immutable object published at the end of ``fit`` (so a concurrent
        ``predict`` sees the old or the new model); the attributes below read it and cannot be assigned.
    tree_ : TreeArrays
        The fitted node table (read-only arrays).
    treatments_ : ndarray
        Arm labels, control first; columns of ``predict_outcome`` follow this order.
    feature_names_in_, n_features_in_, feature_importances_, n_leaves_, depth_
    n_splits_merged_ : int
        Splits undone because a leaf had fewer than ``min_samples_treatment`` estimation rows in some arm.
    honest_estimates_ : bool
        Whether node statistics come from rows that did not grow the tree (``honest=True`` or ``X_est``).
    outcome_type_ : str
        ``"binary"``, the class's ``outcome_type`` (every fitted model has ``outcome_type_``).
    n_splits_pruned_ : int
        Splits removed by the last :meth:`prune` (set by ``prune``).
    min_samples_leaf_ : int
        The rows per leaf the tree grew with: ``min_samples_leaf``, or what ``"auto"`` resolved to (absent on a
        model read from a JSON file).
    schema_ : FeatureSchema
    bin_mapper_ : BinMapper
    """

    outcome_type = BINARY
    _criteria = CLASSIFIER_CRITERIA

    def __init__(self, criterion: str = "ed", max_depth: int = 5, min_samples_leaf: int | str = "auto",
                 min_samples_treatment: int = 10, n_reg: float = 100, normalize: bool = True,
                 max_features: Any = None, max_bins: int = 255, control: Any = 0, honest: bool = False,
                 honest_fraction: float = 0.5, random_state: Any = None):
        super().__init__(criterion, max_depth, min_samples_leaf, min_samples_treatment, n_reg, normalize,
                         max_features, max_bins, control, honest, honest_fraction, random_state)


class UpliftTreeRegressor(BaseUpliftTree):
    """Uplift tree for a continuous outcome (e.g. revenue).

    Parameters are those of :class:`UpliftTreeClassifier`, except ``criterion``:

    min_samples_leaf : int or "auto"
        As in the classifier; ``"auto"`` uses the control arm's coefficient of variation (standard deviation over
        mean) where the classifier's base rate gives ``(1 - rate) / rate``.
    criterion : {"ed", "ddp", "tstat"}
        ``"ed"``: squared difference of treatment and control means (with the Gini-based normalization);
        ``"ddp"``: absolute difference of the children's uplifts; ``"tstat"``: squared t-statistic of the
        difference in uplift between the children, with the pooled within-cell variance (the interaction
        test of Su et al. 2009), which prefers splits whose effect difference is large relative to noise.
    """

    outcome_type = CONTINUOUS
    _criteria = REGRESSOR_CRITERIA

    def __init__(self, criterion: str = "tstat", max_depth: int = 5, min_samples_leaf: int | str = "auto",
                 min_samples_treatment: int = 10, n_reg: float = 100, normalize: bool = True,
                 max_features: Any = None, max_bins: int = 255, control: Any = 0, honest: bool = False,
                 honest_fraction: float = 0.5, random_state: Any = None):
        super().__init__(criterion, max_depth, min_samples_leaf, min_samples_treatment, n_reg, normalize,
                         max_features, max_bins, control, honest, honest_fraction, random_state)
