"""Uplift random forests: bin once, grow trees in parallel threads over the shared binned matrix."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ._base import FittedAttribute, read_only, restore_frozen, spawn_generators
from ._grower import GrowthParams, HistogramSource, grow_tree
from ._kernels import silent_unless_verbose
from ._kernels.boundary import block_bounds, run_blocks, strided_matrix
from ._kernels.predictor import (
    CATEGORY_CODE,
    CATEGORY_WORDS,
    HIGHEST_KEY,
    LOWEST_KEY,
    NAN_HIGHEST,
    NAN_LOWEST,
    ROW_BLOCK,
    block_size,
    block_slot,
    forest_pass,
    order_keys,
)
from ._kernels.sampling import add_draws, drawn_sample
from ._params import check_bool, check_count_or_share, check_int, check_n_jobs
from ._tree_arrays import TreeArrays
from .binning import BinMapper
from .tree import (
    CLASSIFIER_CRITERIA,
    REGRESSOR_CRITERIA,
    ExperimentData,
    FittedInputs,
    FittedTree,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    _UpliftModel,
    estimate_nodes,
    merge_short_leaves,
    stratified_holdout,
)

# Fewest rows per thread of a forest pass: below it, handing rows to a thread costs more than routing them.
PASS_MIN_ROWS = 8 * ROW_BLOCK


@dataclass(frozen=True)
class StackedForest:
    """All trees' node tables in one lockstep table, for one compiled pass over the forest.

    Each tree is relabelled breadth first, so a split's children are adjacent (left first) and the next node is
    ``next_node[node] + goes_right``; tree ``t`` starts at ``tree_roots[t]`` and ``leaf_id`` maps a stacked id
    back to the tree's own. A leaf points to itself and its split key is above every value, so every row can
    take exactly ``tree_depths[t]`` steps without testing for leaves. Numeric splits compare order keys of the
    values (the node's missing direction picks where NaN sorts); categorical splits test a bitset whose bit 256
    is the missing direction. ``routing`` holds these arrays in the order ``forest_pass`` takes them; ``value``
    has one row per arm; ``block_entries`` is the size of the buffer a pass routes a block of rows with.
    """

    columns: np.ndarray
    tree_roots: np.ndarray
    tree_depths: np.ndarray
    routing: tuple
    value: np.ndarray
    block_entries: int

    @classmethod
    def from_trees(cls, trees: list[TreeArrays]) -> StackedForest:
        levels = [cls._breadth_first(tree) for tree in trees]
        orders = [np.concatenate(tree_levels) for tree_levels in levels]
        sizes = np.array([len(order) for order in orders], dtype=np.int64)
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

        def stacked(name: str) -> np.ndarray:
            return np.ascontiguousarray(np.concatenate([getattr(tree, name)[order]
                                                        for tree, order in zip(trees, orders, strict=True)]))

        is_leaf = stacked("children_left") < 0
        # Breadth first, the k-th split of a tree has its children at 2k + 1 and 2k + 2 of the tree's order.
        tree_root = np.repeat(roots, sizes)
        split_rank = np.cumsum(~is_leaf) - ~is_leaf
        split_rank -= split_rank[tree_root]
        next_node = np.where(is_leaf, np.arange(len(is_leaf)), tree_root + 1 + 2 * split_rank)
        categorical = stacked("is_categorical") & ~is_leaf
        missing_left = stacked("missing_left")
        columns, column = np.unique(np.where(is_leaf, -1, stacked("feature")), return_inverse=True)
        if len(columns) and columns[0] < 0:  # leaves read any column: a leaf's step never moves
            columns, column = columns[1:], np.maximum(column - 1, 0)
        kind = np.where(categorical, CATEGORY_CODE, np.where(missing_left, NAN_LOWEST, NAN_HIGHEST))
        slot = block_slot(column, kind, len(columns)).astype(np.uint64)
        threshold = stacked("threshold")  # never NaN on a numeric split; if it were, no value is <= it
        split_key = np.where(is_leaf | categorical, HIGHEST_KEY,
                             np.where(np.isnan(threshold), LOWEST_KEY, order_keys(threshold)))
        bitset = np.column_stack([stacked("category_bitset"), missing_left.astype(np.uint64)])
        if bitset.shape[1] != CATEGORY_WORDS:
            raise ValueError(f"category bitsets must have {CATEGORY_WORDS - 1} words, got {bitset.shape[1] - 1}")
        # The kernel's dtypes; __post_init__ makes read-only C-contiguous copies.
        routing = (next_node.astype(np.uint64), slot.astype(np.uint64), split_key.astype(np.int64),
                   categorical, bitset, bool(categorical.any()), np.concatenate(orders).astype(np.int64))
        depths = np.array([len(tree_levels) - 1 for tree_levels in levels], dtype=np.int64)
        return cls(columns.astype(np.int64), roots.astype(np.uint64), depths, routing, stacked("value").T,
                   block_size(len(columns), bool(categorical.any())))

    def __post_init__(self) -> None:
        # Read-only (and C-contiguous) like the node tables it is built from.
        for name in ("columns", "tree_roots", "tree_depths", "value"):
            object.__setattr__(self, name, read_only(getattr(self, name)))
        object.__setattr__(self, "routing", tuple(read_only(item) if isinstance(item, np.ndarray) else item
                                                  for item in self.routing))

    __setstate__ = restore_frozen

    @staticmethod
    def _breadth_first(tree: TreeArrays) -> list[np.ndarray]:
        """The tree's node ids level by level, the two children of each split side by side (left first)."""
        levels = [np.zeros(1, dtype=np.int64)]
        while True:
            splits = levels[-1][tree.children_left[levels[-1]] >= 0]
            if len(splits) == 0:
                return levels
            levels.append(np.column_stack([tree.children_left[splits], tree.children_right[splits]]).ravel())

    def apply(self, encoded: np.ndarray) -> np.ndarray:
        """Leaf of every row in every tree, ``(n_rows, n_trees)``."""
        leaves = np.empty((len(encoded), len(self.tree_roots)), dtype=np.int64)
        self._pass(encoded, True, leaves, np.empty((0, self.value.shape[0]), dtype=np.float64))
        return leaves

    def mean_values(self, encoded: np.ndarray) -> np.ndarray:
        """Per-arm values averaged over trees, ``(n_rows, n_arms)``."""
        mean = np.empty((len(encoded), self.value.shape[0]), dtype=np.float64)
        self._pass(encoded, False, np.empty((0, len(self.tree_roots)), dtype=np.int64), mean)
        return mean

    def _pass(self, encoded: np.ndarray, want_leaves: bool, leaves: np.ndarray, mean: np.ndarray) -> None:
        matrix = strided_matrix(encoded)

        def route(start: int, stop: int) -> None:
            block = np.empty(self.block_entries, dtype=np.int64)
            forest_pass(*matrix, start, stop, self.columns, self.tree_roots, self.tree_depths, *self.routing,
                        self.value, want_leaves, leaves, mean, block, block.view(np.float64))

        run_blocks(route, block_bounds(len(encoded), PASS_MIN_ROWS, ROW_BLOCK))


def _draw_counts(candidates_by_arm: list[np.ndarray], n_draw_by_arm: np.ndarray, bootstrap: bool, n_rows: int,
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
            add_draws(state, candidates, n_draw, times_drawn)
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
    feature_importances: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        estimators = tuple(self.estimators)
        if not estimators:
            raise ValueError("a forest has at least one tree")
        if any(estimator.fitted_state_.inputs is not self.inputs for estimator in estimators):
            raise ValueError("every tree of a forest must share the forest's fitted inputs (schema, treatments, "
                             "bins)")
        object.__setattr__(self, "estimators", estimators)
        object.__setattr__(self, "feature_importances", read_only(
            np.mean([estimator.fitted_state_.feature_importances for estimator in estimators], axis=0)))

    __setstate__ = restore_frozen

    @cached_property
    def stacked(self) -> StackedForest:
        """The trees stacked for one compiled prediction pass (two threads may both build it: same result)."""
        return StackedForest.from_trees([estimator.fitted_state_.tree for estimator in self.estimators])


class _BaseUpliftForest(_UpliftModel):
    _fitted_attribute = "estimators_"
    _state_class = FittedForest
    _tree_class: type

    estimators_ = FittedAttribute(lambda state: state.estimators, "The fitted trees (a tuple of tree estimators).")

    def __init__(self, n_estimators: int, criterion: str, max_depth: int, min_samples_leaf: int,
                 min_samples_treatment: int, n_reg: float, normalize: bool, max_features: Any, max_bins: int,
                 bootstrap: bool, max_samples: Any, honest: bool, honest_fraction: float, control: Any,
                 n_jobs: int | None, random_state: Any, verbose: int):
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

    def _check_forest_params(self) -> int:
        self._check_tree_params()
        check_int(self.n_estimators, "n_estimators", 1)
        check_int(self.verbose, "verbose", 0)
        check_bool(self.bootstrap, "bootstrap")
        return check_n_jobs(self.n_jobs)

    def _max_row_draws(self, n_rows: int) -> int:
        """A bootstrap sample can draw one row ``n_draw`` times; a subsample takes each row at most once."""
        return self._n_draw(n_rows) if self.bootstrap else 1

    def _n_draw(self, n_rows: int) -> int:
        if self.max_samples is None:
            return n_rows
        count_or_share = check_count_or_share(self.max_samples, "max_samples", 1, others=(None,))
        if isinstance(count_or_share, float):
            return max(1, int(round(count_or_share * n_rows)))
        if not self.bootstrap and count_or_share > n_rows:
            raise ValueError(f"max_samples={self.max_samples} exceeds the {n_rows} rows without bootstrap")
        return count_or_share

    @silent_unless_verbose
    def fit(self, X, treatment, y, sample_weight=None) -> _BaseUpliftForest:
        """Grow ``n_estimators`` trees, each on its own (stratified by arm) sample of the rows.

        Rows are binned once; every tree reads the shared binned matrix through an index array. Each tree's
        randomness comes from its own seed spawned from ``random_state``, so the forest is the same for any
        ``n_jobs``.
        """
        n_threads = self._check_forest_params()
        schema, arms, data = self._prepare(X, treatment, y, sample_weight)
        binning_rng, *tree_rngs = spawn_generators(self.random_state, 1 + self.n_estimators)
        inputs = FittedInputs(schema, arms.labels,
                              BinMapper(self.max_bins, random_state=binning_rng).fit(data.encoded, schema))
        arm_weight = np.bincount(data.arm, weights=data.weight, minlength=arms.n_arms)
        arm_mean = np.bincount(data.arm, weights=data.weight * data.y, minlength=arms.n_arms) / arm_weight
        results = self._grow_trees(tree_rngs, data, inputs.bin_mapper, arm_mean, n_threads, self.verbose)
        self.fitted_state_ = self._fitted_forest(inputs, results)
        return self

    def _fitted_forest(self, inputs: FittedInputs, results: list[tuple[TreeArrays, int, int]]) -> FittedForest:
        """The fitted state of the forest of grown trees ``results`` (from :meth:`_grow_trees`)."""
        return FittedForest(inputs, tuple(self._as_estimator(inputs, tree, n_merged, seed)
                                          for tree, n_merged, seed in results))

    def _grow_trees(self, tree_rngs: list[np.random.Generator], data: ExperimentData, bin_mapper: BinMapper,
                    arm_mean: np.ndarray, n_threads: int, verbose: int) -> list[tuple[TreeArrays, int, int]]:
        """One tree per generator, on ``data`` binned by ``bin_mapper``, grown on ``n_threads`` threads.

        Returns ``(tree, n_merged, seed)`` per tree, ``seed`` being the ``random_state`` its estimator records.
        A tree depends only on its generator and ``data``, not on the threads.
        """
        n_draw = self._n_draw(len(data.arm))
        n_arms = len(arm_mean)
        source = HistogramSource.of(bin_mapper.transform(data.encoded), data.arm, data.weight, data.y, n_arms,
                                    bin_mapper.missing_bin_ + 1, self._binary)
        params = self._growth_params(source.n_features, parallel=False)
        rows_by_arm = [np.flatnonzero(data.arm == arm) for arm in range(n_arms)]

        def grow(tree_index: int) -> tuple[TreeArrays, int, int]:
            rng = tree_rngs[tree_index]
            seed = int(rng.integers(2**31 - 1))
            tree, n_merged = self._grow_one(source, bin_mapper, data, rows_by_arm, n_draw, params, arm_mean, rng)
            return tree, n_merged, seed

        return _run_in_threads(grow, len(tree_rngs), n_threads, verbose)

    def _grow_one(self, source: HistogramSource, bin_mapper: BinMapper, data: ExperimentData,
                  rows_by_arm: list[np.ndarray], n_draw: int, params: GrowthParams, arm_mean: np.ndarray,
                  rng: np.random.Generator) -> tuple[TreeArrays, int]:
        n_rows = len(data.arm)
        if self.honest:
            held_out = stratified_holdout(data.arm, data.y, self._binary, self.honest_fraction, rng)
            parts = [[rows[keep[rows]] for rows in rows_by_arm] for keep in (~held_out, held_out)]
        else:
            parts = [rows_by_arm]
        counts = []
        for candidates_by_arm in parts:
            share = np.array([len(c) for c in candidates_by_arm]) / n_rows
            n_draw_by_arm = np.round(share * n_draw).astype(np.int64)
            counts.append(_draw_counts(candidates_by_arm, n_draw_by_arm, self.bootstrap, n_rows, rng))
        tree = grow_tree(source, bin_mapper, *drawn_sample(counts[0]), params, rng)
        if self.honest:
            estimation_rows = np.repeat(np.arange(n_rows), counts[1])
            return estimate_nodes(tree, data, self.min_samples_treatment, estimation_rows, arm_mean)
        # The growing rows estimate the leaves: the grower's statistics are theirs.
        return merge_short_leaves(tree.with_stats(tree.stats, arm_mean), self.min_samples_treatment)

    def _as_estimator(self, inputs: FittedInputs, tree: TreeArrays, n_merged: int, seed: int):
        estimator = self._tree_class(
            criterion=self.criterion, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
            min_samples_treatment=self.min_samples_treatment, n_reg=self.n_reg, normalize=self.normalize,
            max_features=self.max_features, max_bins=self.max_bins, control=self.control, honest=self.honest,
            honest_fraction=self.honest_fraction, random_state=seed,
        )
        estimator.fitted_state_ = FittedTree(inputs, tree, n_merged, honest_estimates=bool(self.honest))
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


class UpliftRandomForestClassifier(_BaseUpliftForest):
    """Random forest of uplift trees for a binary outcome.

    Each tree grows on its own sample of rows (drawn within each arm, with replacement when ``bootstrap``)
    with ``max_features`` features tried per split; predictions average the trees' per-arm leaf rates.
    Tree parameters are those of :class:`~upliftree.UpliftTreeClassifier`. The defaults (KL, depth 4,
    ``max_features="sqrt"``, bootstrap) were chosen for ranking: many shallow, decorrelated trees rank better
    than deep ones on low-signal experiments (see ``docs/forest.md`` and ``benchmarks/bench_hillstrom.py``).

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
    treatments_, feature_names_in_, n_features_in_, feature_importances_, schema_, bin_mapper_
    """

    _binary = True
    _criteria = CLASSIFIER_CRITERIA
    _tree_class = UpliftTreeClassifier

    def __init__(self, n_estimators: int = 100, criterion: str = "kl", max_depth: int = 4,
                 min_samples_leaf: int = 100, min_samples_treatment: int = 10, n_reg: float = 100,
                 normalize: bool = True, max_features: Any = "sqrt", max_bins: int = 255, bootstrap: bool = True,
                 max_samples: Any = None, honest: bool = False, honest_fraction: float = 0.5, control: Any = 0,
                 n_jobs: int | None = None, random_state: Any = None, verbose: int = 1):
        super().__init__(n_estimators, criterion, max_depth, min_samples_leaf, min_samples_treatment, n_reg,
                         normalize, max_features, max_bins, bootstrap, max_samples, honest, honest_fraction, control,
                         n_jobs, random_state, verbose)


class UpliftRandomForestRegressor(_BaseUpliftForest):
    """Random forest of uplift trees for a continuous outcome; see :class:`UpliftRandomForestClassifier`."""

    _binary = False
    _criteria = REGRESSOR_CRITERIA
    _tree_class = UpliftTreeRegressor

    def __init__(self, n_estimators: int = 100, criterion: str = "tstat", max_depth: int = 4,
                 min_samples_leaf: int = 100, min_samples_treatment: int = 10, n_reg: float = 100,
                 normalize: bool = True, max_features: Any = "sqrt", max_bins: int = 255, bootstrap: bool = True,
                 max_samples: Any = None, honest: bool = False, honest_fraction: float = 0.5, control: Any = 0,
                 n_jobs: int | None = None, random_state: Any = None, verbose: int = 1):
        super().__init__(n_estimators, criterion, max_depth, min_samples_leaf, min_samples_treatment, n_reg,
                         normalize, max_features, max_bins, bootstrap, max_samples, honest, honest_fraction, control,
                         n_jobs, random_state, verbose)
