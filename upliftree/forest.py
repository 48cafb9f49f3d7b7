"""Uplift random forests: bin once, grow trees in parallel threads over the shared binned matrix."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._base import spawn_generators
from ._grower import GrowthParams, grow_tree
from ._kernels.predictor import forest_pass
from ._tree_arrays import TreeArrays
from ._validation import check_int
from .binning import BinMapper
from .tree import (
    CLASSIFIER_CRITERIA,
    REGRESSOR_CRITERIA,
    ExperimentData,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    _UpliftModel,
    estimate_nodes,
    merge_short_leaves,
    stratified_holdout,
)


@dataclass(frozen=True)
class StackedForest:
    """All trees' node tables in one lockstep table, for one compiled pass over the forest.

    Node ids are global (tree ``t`` starts at ``tree_roots[t]``). ``child[2 * node]`` and ``child[2 * node + 1]``
    are a node's left and right children; a leaf points to itself twice, so every row can take exactly
    ``tree_depths[t]`` steps without testing for leaves.
    """

    tree_roots: np.ndarray
    tree_depths: np.ndarray
    routing: tuple
    value: np.ndarray

    @classmethod
    def from_trees(cls, trees: list[TreeArrays]) -> StackedForest:
        sizes = np.array([tree.n_nodes for tree in trees], dtype=np.int64)
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        depths = np.array([tree.max_depth() for tree in trees], dtype=np.int64)

        def stacked(name: str) -> np.ndarray:
            return np.ascontiguousarray(np.concatenate([getattr(tree, name) for tree in trees]))

        is_leaf = stacked("children_left") < 0
        node_ids = np.arange(len(is_leaf))
        child = np.empty(2 * len(is_leaf), dtype=np.int64)
        offsets = np.repeat(roots, sizes)
        child[0::2] = np.where(is_leaf, node_ids, stacked("children_left") + offsets)
        child[1::2] = np.where(is_leaf, node_ids, stacked("children_right") + offsets)
        routing = (child, np.where(is_leaf, 0, stacked("feature")), stacked("threshold"),
                   stacked("is_categorical") & ~is_leaf, stacked("category_bitset"), ~stacked("missing_left"))
        return cls(roots, depths, routing, stacked("value"))

    def apply(self, encoded: np.ndarray) -> np.ndarray:
        return forest_pass(encoded, self.tree_roots, self.tree_depths, *self.routing, self.value, True)[0]

    def mean_values(self, encoded: np.ndarray) -> np.ndarray:
        return forest_pass(encoded, self.tree_roots, self.tree_depths, *self.routing, self.value, False)[1]


def _draw_rows(candidates_by_arm: list[np.ndarray], n_draw_by_arm: np.ndarray, bootstrap: bool, n_rows: int,
               rng: np.random.Generator) -> np.ndarray:
    """Rows for one tree, drawn per arm so every arm keeps its share, in increasing order (for memory locality).

    Rows drawn several times (bootstrap) appear as often as drawn. Counting draws per row orders them in
    linear time, without sorting.
    """
    times_drawn = np.zeros(n_rows, dtype=np.int64)
    for candidates, n_draw in zip(candidates_by_arm, n_draw_by_arm, strict=True):
        if n_draw == 0 or len(candidates) == 0:
            continue
        if bootstrap:
            times_drawn += np.bincount(candidates[rng.integers(0, len(candidates), n_draw)], minlength=n_rows)
        elif n_draw < len(candidates):
            times_drawn[candidates[rng.choice(len(candidates), size=n_draw, replace=False)]] = 1
        else:
            times_drawn[candidates] = 1
    return np.repeat(np.arange(n_rows), times_drawn)


class _BaseUpliftForest(_UpliftModel):
    _fitted_attribute = "estimators_"
    _tree_class: type

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
        if not isinstance(self.bootstrap, bool | np.bool_):
            raise ValueError(f"bootstrap must be True or False, got {self.bootstrap!r}")
        if self.n_jobs is None:
            return 1
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, Integral) or self.n_jobs == 0:
            raise ValueError(f"n_jobs must be None, a positive int or -1 (all cores), got {self.n_jobs!r}")
        return (os.cpu_count() or 1) if self.n_jobs < 0 else int(self.n_jobs)

    def _n_draw(self, n_rows: int) -> int:
        if self.max_samples is None:
            return n_rows
        if isinstance(self.max_samples, Integral) and not isinstance(self.max_samples, bool):
            if not 1 <= self.max_samples:
                raise ValueError(f"max_samples must be >= 1 when an int, got {self.max_samples}")
            if not self.bootstrap and self.max_samples > n_rows:
                raise ValueError(f"max_samples={self.max_samples} exceeds the {n_rows} rows without bootstrap")
            return int(self.max_samples)
        if isinstance(self.max_samples, Real) and 0.0 < self.max_samples <= 1.0:
            return max(1, int(round(self.max_samples * n_rows)))
        raise ValueError(f"max_samples must be None, an int >= 1 or a float in (0, 1], got {self.max_samples!r}")

    def fit(self, X, treatment, y, sample_weight=None) -> _BaseUpliftForest:
        """Grow ``n_estimators`` trees, each on its own (stratified by arm) sample of the rows.

        Rows are binned once; every tree reads the shared binned matrix through an index array. Each tree's
        randomness comes from its own seed spawned from ``random_state``, so the forest is the same for any
        ``n_jobs``.
        """
        n_threads = self._check_forest_params()
        schema, arms, data = self._prepare(X, treatment, y, sample_weight)
        binning_rng, *tree_rngs = spawn_generators(self.random_state, 1 + self.n_estimators)
        self.bin_mapper_ = BinMapper(self.max_bins, random_state=binning_rng).fit(data.encoded, schema)
        arm_weight = np.bincount(data.arm, weights=data.weight, minlength=arms.n_arms)
        arm_mean = np.bincount(data.arm, weights=data.weight * data.y, minlength=arms.n_arms) / arm_weight
        results = self._grow_trees(tree_rngs, data, arms.n_arms, arm_mean, n_threads, self.verbose)
        self.estimators_ = [self._as_estimator(tree, n_merged, seed) for tree, n_merged, seed in results]
        self.feature_importances_ = np.mean([tree.feature_importances_ for tree in self.estimators_], axis=0)
        return self

    def _grow_trees(self, tree_rngs: list[np.random.Generator], data: ExperimentData, n_arms: int,
                    arm_mean: np.ndarray, n_threads: int, verbose: int) -> list[tuple[TreeArrays, int, int]]:
        """One tree per generator, on ``data`` binned by ``bin_mapper_``, grown on ``n_threads`` threads.

        Returns ``(tree, n_merged, seed)`` per tree, ``seed`` being the ``random_state`` its estimator records.
        A tree depends only on its generator and ``data``, not on the threads.
        """
        n_draw = self._n_draw(len(data.arm))
        binned = self.bin_mapper_.transform(data.encoded)
        params = self._growth_params(binned.shape[0], parallel=False)

        def grow(tree_index: int) -> tuple[TreeArrays, int, int]:
            rng = tree_rngs[tree_index]
            seed = int(rng.integers(2**31 - 1))
            tree, n_merged = self._grow_one(binned, data, n_arms, n_draw, params, arm_mean, rng)
            return tree, n_merged, seed

        return _run_in_threads(grow, len(tree_rngs), n_threads, verbose)

    def _grow_one(self, binned: np.ndarray, data: ExperimentData, n_arms: int, n_draw: int, params: GrowthParams,
                  arm_mean: np.ndarray, rng: np.random.Generator) -> tuple[TreeArrays, int]:
        n_rows = len(data.arm)
        rows_by_arm = [np.flatnonzero(data.arm == arm) for arm in range(n_arms)]
        if self.honest:
            held_out = stratified_holdout(data.arm, data.y, self._binary, self.honest_fraction, rng)
            parts = [[rows[keep[rows]] for rows in rows_by_arm] for keep in (~held_out, held_out)]
        else:
            parts = [rows_by_arm]
        drawn = []
        for candidates_by_arm in parts:
            share = np.array([len(c) for c in candidates_by_arm]) / n_rows
            n_draw_by_arm = np.round(share * n_draw).astype(np.int64)
            drawn.append(_draw_rows(candidates_by_arm, n_draw_by_arm, self.bootstrap, n_rows, rng))
        structure_rows = drawn[0]
        leaf_rows: list = []
        tree = grow_tree(binned, self.bin_mapper_, structure_rows, data.arm, data.weight, data.y, n_arms, params,
                         rng, leaf_rows)
        if self.honest:
            return estimate_nodes(tree, data, self.min_samples_treatment, drawn[1], arm_mean)
        # The growing rows estimate the leaves: the grower's final partitions already say where each row went.
        leaves = np.concatenate([np.full(len(rows), leaf, dtype=np.int64) for leaf, rows in leaf_rows])
        rows = np.concatenate([rows for _, rows in leaf_rows])
        stats = tree.leaf_statistics(leaves, rows, data.arm, data.weight, data.y)
        return merge_short_leaves(tree.with_stats(stats, arm_mean), self.min_samples_treatment)

    def _as_estimator(self, tree: TreeArrays, n_merged: int, seed: int):
        estimator = self._tree_class(
            criterion=self.criterion, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
            min_samples_treatment=self.min_samples_treatment, n_reg=self.n_reg, normalize=self.normalize,
            max_features=self.max_features, max_bins=self.max_bins, control=self.control, honest=self.honest,
            honest_fraction=self.honest_fraction, random_state=seed,
        )
        estimator.schema_ = self.schema_
        estimator.treatments_ = self.treatments_
        estimator.feature_names_in_ = self.feature_names_in_
        estimator.n_features_in_ = self.n_features_in_
        estimator.bin_mapper_ = self.bin_mapper_
        estimator.n_splits_merged_ = n_merged
        estimator.honest_estimates_ = bool(self.honest)
        estimator._set_tree(tree)
        return estimator

    def _stacked_forest(self) -> StackedForest:
        """The trees of ``estimators_`` stacked for prediction, built once per list of trees."""
        cached = self.__dict__.get("_stacked")
        if cached is None or cached[0] is not self.estimators_:
            cached = (self.estimators_, StackedForest.from_trees([tree.tree_ for tree in self.estimators_]))
            self._stacked = cached
        return cached[1]

    def apply(self, X) -> np.ndarray:
        """Leaf id of every row in every tree, shape ``(n, n_estimators)`` (ids of each tree's ``tree_``)."""
        encoded = self._encode(X)
        return self._stacked_forest().apply(encoded)

    def predict_outcome(self, X) -> np.ndarray:
        """Expected outcome per arm averaged over trees, shape ``(n, k + 1)``, control first."""
        encoded = self._encode(X)
        return self._stacked_forest().mean_values(encoded)


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
        Threads growing trees; ``-1`` uses all cores. Results do not depend on it.
    verbose : int
        0 silences the progress bar (shown only for fits longer than 2 seconds).

    Attributes
    ----------
    estimators_ : list of UpliftTreeClassifier
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
