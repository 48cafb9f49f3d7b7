"""Uplift random forests: bin once, grow trees in parallel threads over the shared binned matrix."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ._base import BINARY, CONTINUOUS, FOREST, FittedAttribute, UpliftModel, read_only, restore_frozen, spawn_generators
from ._grower import GrowthParams, HistogramSource, grow_tree
from ._kernels import silent_unless_verbose
from ._kernels.sampling import add_draws, drawn_sample
from ._params import check_alpha, check_bool, check_count_or_share, check_int, check_n_jobs
from ._tree_arrays import TreeArrays, estimate_nodes, merge_short_leaves
from ._validation import check_1d, sorted_id_codes
from .binning import BinMapper
from .predictor import StackedForest
from .tree import (
    CLASSIFIER_CRITERIA,
    REGRESSOR_CRITERIA,
    ExperimentData,
    FittedInputs,
    FittedTree,
    UpliftEstimatorMixin,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    arm_totals,
    growth_params,
    honest_holdout,
)


def draw_counts(candidates_by_arm: list[np.ndarray], n_draw_by_arm: np.ndarray, bootstrap: bool, n_rows: int,
                 rng: np.random.Generator) -> np.ndarray:
    """How many times each row is drawn for one tree, drawing per arm so every arm keeps its share.

    With ``bootstrap`` rows are drawn with replacement (counts can exceed 1), otherwise without.
    """
    times_drawn = np.zeros(n_rows, dtype=np.int32)
    if bootstrap:
        state = np.array([rng.integers(2**63)], dtype=np.uint64)
    for candidates, n_draw in zip(candidates_by_arm, n_draw_by_arm, strict=True):
        if n_draw == 0 or len(candidates) == 0:
            continue
        if bootstrap:
            add_draws(state, candidates, n_draw, times_drawn, np.empty(len(candidates), dtype=np.int32))
        elif n_draw < len(candidates):
            times_drawn[candidates[rng.choice(len(candidates), size=n_draw, replace=False)]] = 1
        else:
            times_drawn[candidates] = 1
    return times_drawn


@dataclass(frozen=True, eq=False)
class FittedForest:
    """Everything fitting a forest learned, published to the estimator in one assignment (``fitted_state_``).

    Every tree shares the forest's ``inputs``. The stacked prediction table is built from these trees on
    first use and cached here, so it always belongs to them.
    """

    inputs: FittedInputs
    estimators: tuple
    training_profile: dict | None = None
    ci_group_size: int = 1  # trees t = g * ci_group_size ... shared group g's half-sample (1: no groups)
    min_samples_leaf: int | None = None  # the leaf size the trees grew with (None: unknown, a model file's forest)
    feature_importances: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        estimators = tuple(self.estimators)
        if not estimators:
            raise ValueError("a forest has at least one tree")
        if any(estimator.fitted_state_.inputs is not self.inputs for estimator in estimators):
            raise ValueError("every tree of a forest must share the forest's fitted inputs (schema, treatments, "
                             "bins)")
        object.__setattr__(self, "estimators", estimators)
        if self.ci_group_size < 1 or len(estimators) % self.ci_group_size:
            raise ValueError(f"a forest of {len(estimators)} trees cannot be made of groups of {self.ci_group_size}")
        object.__setattr__(self, "feature_importances", read_only(
            np.mean([estimator.fitted_state_.feature_importances for estimator in estimators], axis=0)))

    __setstate__ = restore_frozen

    @cached_property
    def stacked(self) -> StackedForest:
        """The trees stacked for one compiled prediction pass (two threads may both build it: same result)."""
        return StackedForest.from_trees([estimator.fitted_state_.tree for estimator in self.estimators])


class BaseUpliftForest(UpliftEstimatorMixin, UpliftModel):
    """A random forest of uplift trees grown on an experiment, predicting with one stacked pass."""

    model_kind = FOREST
    _state_class = FittedForest
    tree_class: type  # the class of its trees (estimators_)

    estimators_ = FittedAttribute(lambda state: state.estimators, "The fitted trees (a tuple of tree estimators).")
    min_samples_leaf_ = FittedAttribute(lambda state: state.min_samples_leaf,
                                        'The rows per leaf the trees grew with (``min_samples_leaf="auto"`` resolved).')

    def __init__(self, n_estimators: int, criterion: str, max_depth: int, min_samples_leaf: int | str,
                 min_samples_treatment: int, n_reg: float, normalize: bool, max_features: Any, max_bins: int,
                 bootstrap: bool, max_samples: Any, honest: bool, honest_fraction: float, control: Any,
                 n_jobs: int | None, random_state: Any, verbose: int, ci_group_size: int):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.n_reg = n_reg
        self.normalize = normalize
        self.max_features = max_features
        self.max_bins = max_bins
        self.bootstrap = bootstrap
        self.max_samples = max_samples
        self.honest = honest
        self.honest_fraction = honest_fraction
        self.control = control
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.ci_group_size = ci_group_size

    def check_params(self) -> None:
        """Check the constructor parameters as ``fit`` does first; raises ``ValueError``/``TypeError`` naming
        the parameter."""
        super().check_params()
        check_int(self.n_estimators, "n_estimators", 1)
        check_int(self.verbose, "verbose", 0)
        check_bool(self.bootstrap, "bootstrap")
        check_n_jobs(self.n_jobs)
        group_size = check_int(self.ci_group_size, "ci_group_size", 1)
        if group_size == 1:
            return
        # Little bags: each tree of a group subsamples the group's half-sample without replacement.
        if self.bootstrap:
            raise ValueError(f"ci_group_size={group_size} grows trees on subsamples drawn without replacement: "
                             "set bootstrap=False")
        if self.n_estimators % group_size:
            raise ValueError(f"n_estimators={self.n_estimators} must be a multiple of ci_group_size={group_size}")
        max_samples = self.max_samples
        if max_samples is None or (isinstance(check_count_or_share(max_samples, "max_samples", 1), float)
                                   and max_samples > 0.5):
            raise ValueError(f"ci_group_size={group_size} draws each tree from its group's half of the rows: set "
                             f"max_samples to at most 0.5 (a share) or half the rows (a count), got {max_samples}")
        if self.outcome_type == BINARY and self.n_reg == 0:
            # Measured (docs/forest.md): trees of about 6 leaves uncorrelated with tau, 95% intervals covering 0.10.
            # stacklevel: the caller of fit, through fit and its compile-message wrapper.
            warnings.warn(f"n_reg=0 with ci_group_size={group_size} on a binary outcome: without shrinkage the trees "
                          "split on the noise of small children and the intervals do not hold (they covered 10% of "
                          "the true uplifts at nominal 95% in docs/forest.md's simulation, 98% with the default "
                          "n_reg=100); set n_reg > 0", UserWarning, stacklevel=4)

    def _max_row_draws(self, n_rows: int) -> int:
        """A bootstrap sample can draw one row ``n_draw`` times; a subsample takes each row at most once."""
        return self._n_draw(n_rows) if self.bootstrap else 1

    def rows_per_tree(self, n_rows: int) -> int:
        """Rows each tree draws from ``n_rows`` training rows (``max_samples``; with ``bootstrap``, with
        replacement)."""
        return self._n_draw(n_rows)

    def _n_draw(self, n_rows: int) -> int:
        if self.max_samples is None:
            return n_rows
        count_or_share = check_count_or_share(self.max_samples, "max_samples", 1, others=(None,))
        if isinstance(count_or_share, float):
            return max(1, int(round(count_or_share * n_rows)))
        if not self.bootstrap and count_or_share > n_rows:
            raise ValueError(f"max_samples={self.max_samples} exceeds the {n_rows} rows without bootstrap")
        if self.ci_group_size > 1 and 2 * count_or_share > n_rows:
            raise ValueError(f"max_samples={self.max_samples} exceeds half of the {n_rows} rows (ci_group_size="
                             f"{self.ci_group_size} draws each tree from its group's half-sample)")
        return count_or_share

    @silent_unless_verbose
    def fit(self, X, treatment, y, sample_weight=None, *, propensity=None, cluster=None) -> BaseUpliftForest:
        """Grow ``n_estimators`` trees, each on its own (stratified by arm) sample of the rows.

        Rows are binned once; every tree reads the shared binned matrix through an index array. Each tree's
        randomness comes from its own seed spawned from ``random_state``, so the forest is the same for any
        ``n_jobs``. ``propensity`` and ``cluster`` describe the design as in the trees' ``fit``: rows are
        weighted by ``sample_weight / p``, and honest trees hold out whole clusters (``docs/design.md``). With
        ``ci_group_size`` >= 2, each group of trees draws its half-sample (whole clusters with ``cluster``)
        from a generator of its own, spawned after the trees' (``predict_interval``).
        """
        self.check_params()
        schema, arms, data = self._prepare(X, treatment, y, sample_weight, propensity, cluster)
        # The trees' own intervals are not the forest's: no per-tree design moments (they cost a pass each).
        data = replace(data, design=False)
        n_groups = self.n_estimators // self.ci_group_size if self.ci_group_size > 1 else 0
        binning_rng, *rngs = spawn_generators(self.random_state, 1 + self.n_estimators + n_groups)
        tree_rngs, group_rngs = rngs[:self.n_estimators], rngs[self.n_estimators:]
        inputs = FittedInputs(schema, arms.labels, self.outcome_type,
                              BinMapper(self.max_bins, random_state=binning_rng).fit(data.encoded, schema))
        arm_weight = np.bincount(data.arm, weights=data.weight, minlength=arms.n_arms)
        arm_mean = np.bincount(data.arm, weights=data.weight * data.y, minlength=arms.n_arms) / arm_weight
        n_draw = self.rows_per_tree(len(data.arm))
        min_samples_leaf = self.resolve_min_samples_leaf(
            arm_totals(data, arms.n_arms), (1.0 - self.honest_fraction) * n_draw if self.honest else n_draw,
            bool(self.honest))
        results = grow_trees(self, tree_rngs, data, inputs.bin_mapper, arm_mean, check_n_jobs(self.n_jobs),
                             self.verbose, group_rngs, min_samples_leaf)
        self.fitted_state_ = fitted_forest(self, inputs, results, min_samples_leaf)
        return self

    def _grow_one(self, source: HistogramSource, bin_mapper: BinMapper, data: ExperimentData,
                  rows_by_arm: list[np.ndarray], n_draw: int, params: GrowthParams, arm_mean: np.ndarray,
                  rng: np.random.Generator) -> tuple[TreeArrays, int]:
        n_rows = len(data.arm)
        n_candidates = sum(len(rows) for rows in rows_by_arm)
        if self.honest:
            held_out = honest_holdout(data, self.outcome_type == BINARY, self.honest_fraction, rng)
            parts = [[rows[keep[rows]] for rows in rows_by_arm] for keep in (~held_out, held_out)]
        else:
            parts = [rows_by_arm]
        counts = []
        for candidates_by_arm in parts:
            share = np.array([len(c) for c in candidates_by_arm]) / n_candidates
            n_draw_by_arm = np.round(share * n_draw).astype(np.int64)
            counts.append(draw_counts(candidates_by_arm, n_draw_by_arm, self.bootstrap, n_rows, rng))
        tree = grow_tree(source, bin_mapper, *drawn_sample(counts[0]), params, rng)
        if self.honest:
            estimation_rows = np.repeat(np.arange(n_rows), counts[1])
            return estimate_nodes(tree, data, self.min_samples_treatment, estimation_rows, arm_mean)
        # The growing rows estimate the leaves: the grower's statistics are theirs.
        return merge_short_leaves(tree.with_stats(tree.stats, arm_mean), self.min_samples_treatment)

    def _as_estimator(self, inputs: FittedInputs, tree: TreeArrays, n_merged: int, seed: int,
                      min_samples_leaf: int | None):
        estimator = self.tree_class(
            criterion=self.criterion, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
            min_samples_treatment=self.min_samples_treatment, n_reg=self.n_reg, normalize=self.normalize,
            max_features=self.max_features, max_bins=self.max_bins, control=self.control, honest=self.honest,
            honest_fraction=self.honest_fraction, random_state=seed,
        )
        estimator.fitted_state_ = FittedTree(inputs, tree, n_merged, honest_estimates=bool(self.honest),
                                             min_samples_leaf=min_samples_leaf)
        return estimator

    # Each reads the fitted state once (see ``fitted_state_``).
    def apply(self, X) -> np.ndarray:
        """Leaf id of every row in every tree, shape ``(n, n_estimators)`` (ids of each tree's ``tree_``)."""
        state = self.fitted_state_
        return state.stacked.apply(state.inputs.encode(X))

    def predict_outcome(self, X) -> np.ndarray:
        """Expected outcome per arm averaged over trees, shape ``(n, k + 1)``, control first."""
        state = self.fitted_state_
        return state.stacked.mean_values(state.inputs.encode(X))

    def predict_variance(self, X) -> np.ndarray:
        """Estimated variance of the forest's uplift ``predict(X)`` on each row, shaped like ``predict``.

        The debiased "bootstrap of little bags" (``docs/forest.md``): the spread of the group means of the
        trees' uplifts, less the spread within groups, needs a forest fitted with ``ci_group_size >= 2``,
        ``honest=True``, ``bootstrap=False`` and ``max_samples <= 0.5``. Rows are processed in chunks on the
        kernel threads; the result does not depend on them.
        """
        state = self.fitted_state_
        variance = state.stacked.uplift_variance(state.inputs.encode(X), self._inference_group_size(state))
        return variance[:, 0] if variance.shape[1] == 1 else variance

    def predict_interval(self, X, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` normal ``1 - alpha`` confidence bounds of every row's uplift, each shaped like
        ``predict``: ``predict(X) -/+ z * sqrt(predict_variance(X))``, ``z`` the ``1 - alpha / 2`` normal
        quantile. Pointwise intervals for the uplift of each row and treatment (see :meth:`predict_variance`)."""
        from scipy.special import ndtri

        z = ndtri(1.0 - check_alpha(alpha) / 2.0)
        state = self.fitted_state_
        group_size = self._inference_group_size(state)
        # One pass gives both the centre (``predict``'s uplift, bit for bit) and the variance.
        uplift, variance = state.stacked.uplift_with_variance(state.inputs.encode(X), group_size)
        half_width = z * np.sqrt(variance)
        lower, upper = uplift - half_width, uplift + half_width
        return (lower[:, 0], upper[:, 0]) if uplift.shape[1] == 1 else (lower, upper)

    def predict_group_interval(self, X, groups, alpha: float = 0.05) -> pd.DataFrame:
        """The mean of the forest's uplift over each group of rows of ``X`` (a decile, a segment...), with its
        variance and normal ``1 - alpha`` confidence interval.

        The variance is the little-bag estimate of :meth:`predict_variance` applied to the group mean itself:
        each tree's mean uplift over the group's rows takes the place of a row's uplift in that tree, so the
        interval accounts for how the forest's errors on nearby rows move together. It is not the average of
        the rows' bounds (too wide: the rows' errors are not perfectly correlated) nor the rows' intervals
        shrunk as if their errors were independent (too narrow); see ``docs/forest.md``. The interval is for the
        average over these rows of the forest's expected uplift, which is their average true uplift when the
        forest's bias is small; the rows of ``X`` are taken as given (their own sampling is not in it). Needs a
        forest grown for intervals, as :meth:`predict_interval`.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The rows.
        groups : array-like of shape (n_samples,)
            Every row's group label (numbers or text, no missing value).
        alpha : float
            Intervals have coverage ``1 - alpha``.

        Returns
        -------
        pandas.DataFrame
            One row per group and treatment, groups in sorted order: ``group``, ``treatment`` (its label in
            ``treatments_``), ``n_rows``, ``uplift`` (the group's mean of ``predict``), ``variance``, ``ci_low``,
            ``ci_high``.
        """
        from scipy.special import ndtri

        z = ndtri(1.0 - check_alpha(alpha) / 2.0)
        state = self.fitted_state_
        group_size = self._inference_group_size(state)
        encoded = state.inputs.encode(X)
        codes, labels = sorted_id_codes(check_1d(groups, "groups", len(encoded)), "groups", "group")
        uplift, variance = state.stacked.group_uplift_with_variance(encoded, codes, len(labels), group_size)
        half_width = z * np.sqrt(variance)
        n_treatments = uplift.shape[1]
        return pd.DataFrame({
            "group": np.repeat(labels, n_treatments),
            "treatment": np.tile(np.asarray(state.inputs.treatments[1:], dtype=object), len(labels)),
            "n_rows": np.repeat(np.bincount(codes, minlength=len(labels)), n_treatments),
            "uplift": uplift.ravel(), "variance": variance.ravel(),
            "ci_low": (uplift - half_width).ravel(), "ci_high": (uplift + half_width).ravel(),
        })

    @staticmethod
    def _inference_group_size(state: FittedForest) -> int:
        """The group size of a forest grown for intervals; a ``ValueError`` saying what to set otherwise."""
        honest = all(estimator.fitted_state_.honest_estimates for estimator in state.estimators)
        if state.ci_group_size < 2 or not honest:
            raise ValueError(
                "intervals need a forest grown in little bags: fit it with ci_group_size >= 2 (e.g. 2), honest=True, "
                f"bootstrap=False and max_samples <= 0.5 (this forest has ci_group_size={state.ci_group_size} and "
                f"{'honest' if honest else 'non-honest'} trees)")
        return state.ci_group_size


def grow_trees(forest: BaseUpliftForest, tree_rngs: list[np.random.Generator], data: ExperimentData,
               bin_mapper: BinMapper, arm_mean: np.ndarray, n_threads: int,
               verbose: int, group_rngs: list[np.random.Generator] | None = None,
               min_samples_leaf: int | None = None) -> list[tuple[TreeArrays, int, int]]:
    """The trees of ``forest`` (checked parameters), one per generator, on ``data`` binned by ``bin_mapper``,
    grown on ``n_threads`` threads; ``arm_mean`` is the per-arm mean outcome of all training rows.

    With ``forest.ci_group_size`` >= 2, ``group_rngs`` holds one generator per group of that many consecutive
    trees: it draws the group's half-sample (stratified by arm; whole clusters with a cluster design), which
    the group's trees subsample. ``min_samples_leaf`` is the forest's resolved leaf size (needed when its
    ``min_samples_leaf`` is ``"auto"``).

    Returns ``(tree, n_merged, seed)`` per tree, ``seed`` being the ``random_state`` its estimator records; a tree
    depends only on its generator and ``data``, not on the threads. The in-memory fit and ``upliftree.dask``
    (on each group of partitions) grow their trees here; :func:`fitted_forest` assembles the results.
    """
    n_draw = forest._n_draw(len(data.arm))
    n_arms = len(arm_mean)
    source = HistogramSource.of(bin_mapper.transform(data.encoded), data.arm, data.weight, data.y, n_arms,
                                bin_mapper.missing_bin_ + 1, forest.outcome_type == BINARY)
    params = growth_params(forest, source.n_features, False, min_samples_leaf)
    rows_by_arm = [np.flatnonzero(data.arm == arm) for arm in range(n_arms)]
    group_size = forest.ci_group_size
    if group_size > 1 and (group_rngs is None or len(group_rngs) * group_size != len(tree_rngs)):
        raise ValueError(f"ci_group_size={group_size} needs one generator per group of {group_size} trees (fit "
                         "the forest in memory: distributed fits do not grow little bags)")

    def grow(tree_index: int, candidates_by_arm: list[np.ndarray]) -> tuple[TreeArrays, int, int]:
        rng = tree_rngs[tree_index]
        seed = int(rng.integers(2**31 - 1))
        tree, n_merged = forest._grow_one(source, bin_mapper, data, candidates_by_arm, n_draw, params, arm_mean,
                                          rng)
        return tree, n_merged, seed

    if group_size == 1:
        return _run_in_threads(lambda index: grow(index, rows_by_arm), len(tree_rngs), n_threads, verbose)

    def grow_group(group: int) -> list[tuple[TreeArrays, int, int]]:
        half = honest_holdout(data, False, 0.5, group_rngs[group])
        half_by_arm = [rows[half[rows]] for rows in rows_by_arm]
        return [grow(index, half_by_arm) for index in range(group * group_size, (group + 1) * group_size)]

    groups = _run_in_threads(grow_group, len(group_rngs), n_threads, verbose)
    return [result for group_results in groups for result in group_results]


def fitted_forest(forest: BaseUpliftForest, inputs: FittedInputs, results: list[tuple[TreeArrays, int, int]],
                  min_samples_leaf: int | None = None) -> FittedForest:
    """The fitted state of ``forest`` made of the grown trees ``results`` (from :func:`grow_trees`) on ``inputs``:
    each tree becomes an estimator of ``forest.tree_class`` with the forest's parameters and its own seed;
    ``min_samples_leaf`` is the leaf size they grew with."""
    return FittedForest(inputs, tuple(forest._as_estimator(inputs, tree, n_merged, seed, min_samples_leaf)
                                      for tree, n_merged, seed in results), ci_group_size=forest.ci_group_size,
                        min_samples_leaf=min_samples_leaf)


def _run_in_threads(task, n_tasks: int, n_threads: int, verbose: int) -> list:
    """``[task(i) for i in range(n_tasks)]`` on ``n_threads`` threads (the kernels release the GIL)."""
    from tqdm.auto import tqdm

    with tqdm(total=n_tasks, desc="growing trees", unit="tree", disable=verbose == 0, delay=2.0) as progress:
        if n_threads == 1:
            results = []
            for index in range(n_tasks):
                results.append(task(index))
                progress.update()
            return results
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            futures = [pool.submit(task, index) for index in range(n_tasks)]
            for future in futures:
                future.result()
                progress.update()
            return [future.result() for future in futures]


class UpliftRandomForestClassifier(BaseUpliftForest):
    """Random forest of uplift trees for a binary outcome.

    Each tree grows on its own sample of rows (drawn within each arm, with replacement when ``bootstrap``)
    with ``max_features`` features tried per split; predictions average the trees' per-arm leaf rates.
    Tree parameters are those of :class:`~upliftree.UpliftTreeClassifier`. The defaults (KL, depth 4,
    ``max_features="sqrt"``, bootstrap) were chosen for ranking: many shallow, decorrelated trees rank better
    than deep ones on low-signal experiments (see ``docs/forest.md`` and ``benchmarks/bench_hillstrom.py``).
    ``min_samples_leaf="auto"`` (the default) is the tree's rule applied to the rows each tree grows on
    (``max_samples``; their growing part when honest), resolved at fit to ``min_samples_leaf_``.

    A tree whose sample lacks rows of an arm in some node uses the parent node's estimate for that arm; at the
    root, the arm's mean over all training rows. Predictions are therefore never NaN.

    Parameters
    ----------
    n_estimators : int
        Number of trees.
    bootstrap : bool
        Draw each tree's rows with replacement.
    max_samples : None, int or float
        Rows per tree (float: fraction of the rows); ``None`` draws as many rows as there are.
    honest : bool
        Each tree splits its rows (stratified by arm and outcome) into a part that grows it and a part
        (``honest_fraction``) that estimates its leaves.
    ci_group_size : int
        1 grows every tree on its own sample. ``l`` >= 2 grows the trees in groups of ``l`` consecutive trees
        sharing a half-sample of the rows (stratified by arm; whole clusters with ``cluster``), each tree
        subsampling it, so that :meth:`predict_interval` can estimate every row's variance ("little bags",
        ``docs/forest.md``); needs ``bootstrap=False``, ``max_samples`` <= 0.5 and ``n_estimators`` a multiple
        of ``l``, and ``honest=True`` for intervals. Grow such a forest with ``criterion="ddp"`` or
        ``normalize=False``: the normalized KL's trees are too biased for ``tau(x)`` when there are many
        features, and its intervals under-cover (``docs/forest.md``, measured coverage).
    n_jobs : None or int
        Threads growing trees: ``None`` is one, ``-1`` all cores (see :mod:`upliftree._params`). Results do
        not depend on it.
    verbose : int
        0 silences the progress bar (shown only for fits longer than 2 seconds).

    Attributes
    ----------
    fitted_state_ : FittedForest
        Everything the fit learned, in one immutable object published at the end of ``fit`` (so a concurrent
        ``predict`` sees the old or the new forest); the attributes below read it and cannot be assigned.
    estimators_ : tuple of UpliftTreeClassifier
        The fitted trees, each usable on its own (segments, exports, plots).
    min_samples_leaf_ : int
        The rows per leaf the trees grew with (``min_samples_leaf`` or what ``"auto"`` resolved to).
    treatments_, feature_names_in_, n_features_in_, feature_importances_, schema_, bin_mapper_, outcome_type_
    """

    outcome_type = BINARY
    _criteria = CLASSIFIER_CRITERIA
    tree_class = UpliftTreeClassifier

    def __init__(self, n_estimators: int = 100, criterion: str = "kl", max_depth: int = 4,
                 min_samples_leaf: int | str = "auto", min_samples_treatment: int = 10, n_reg: float = 100,
                 normalize: bool = True, max_features: Any = "sqrt", max_bins: int = 255, bootstrap: bool = True,
                 max_samples: Any = None, honest: bool = False, honest_fraction: float = 0.5, control: Any = 0,
                 n_jobs: int | None = None, random_state: Any = None, verbose: int = 1, ci_group_size: int = 1):
        super().__init__(n_estimators, criterion, max_depth, min_samples_leaf, min_samples_treatment, n_reg,
                         normalize, max_features, max_bins, bootstrap, max_samples, honest, honest_fraction, control,
                         n_jobs, random_state, verbose, ci_group_size)


class UpliftRandomForestRegressor(BaseUpliftForest):
    """Random forest of uplift trees for a continuous outcome; see :class:`UpliftRandomForestClassifier`."""

    outcome_type = CONTINUOUS
    _criteria = REGRESSOR_CRITERIA
    tree_class = UpliftTreeRegressor

    def __init__(self, n_estimators: int = 100, criterion: str = "tstat", max_depth: int = 4,
                 min_samples_leaf: int | str = "auto", min_samples_treatment: int = 10, n_reg: float = 100,
                 normalize: bool = True, max_features: Any = "sqrt", max_bins: int = 255, bootstrap: bool = True,
                 max_samples: Any = None, honest: bool = False, honest_fraction: float = 0.5, control: Any = 0,
                 n_jobs: int | None = None, random_state: Any = None, verbose: int = 1, ci_group_size: int = 1):
        super().__init__(n_estimators, criterion, max_depth, min_samples_leaf, min_samples_treatment, n_reg,
                         normalize, max_features, max_bins, bootstrap, max_samples, honest, honest_fraction, control,
                         n_jobs, random_state, verbose, ci_group_size)
