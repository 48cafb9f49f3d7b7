"""Grow one tree from binned data: one loop over the open nodes, a node source, a split rule.

Modelled on scikit-learn's ``TreeGrower``, which holds a histogram builder and a splitter. Here the
:class:`TreeGrower` asks a *node source* for the histograms of a batch of open nodes and to move the rows of
the nodes it splits, and a *split rule* for each node's best split. Sources:

- :class:`HistogramSource`, the rows in memory: one node per batch, the last opened first, so the tree
  grows depth first and each node's sample is a pair ``(rows, counts)`` (indices into the bin matrix and
  how many times each is drawn); :class:`TargetRows`, the same with per-row target columns;
- ``upliftree.dask``'s source: every open node of a level per batch, histograms summed over the
  partitions, rows kept on the workers.

Rules: :class:`UpliftSplitRule` (the uplift criteria) and :class:`SquaredErrorSplitRule` (a per-row
target's squared error, for distillation).

Sibling subtraction, building only the sampled features, zero weights, stopping rules and the node
statistics of the growing sample are the grower's, the same for every source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np

from ._kernels.boundary import block_bounds, kernel_array, run_blocks
from ._kernels.histogram import (
    MAX_WEIGHT_LEVELS,
    class_histograms,
    gather_node_stats,
    level_classes,
    sibling_histogram,
    weighted_histograms,
)
from ._kernels.partition import partition_rows
from ._kernels.splitter import find_best_split, find_best_squared_error_split, node_totals
from ._tree_arrays import (
    BITSET_WORDS,
    COUNT,
    N_STATS,
    PARALLEL_MIN_ROWS,
    WEIGHT,
    TreeArrays,
    category_bitset_of,
    empty_stats,
    node_values,
)
from .binning import BinMapper


@dataclass(frozen=True)
class GrowthParams:
    """Validated settings of one tree's growth."""

    criterion: int
    binary: bool
    normalize: bool
    n_reg: float
    max_depth: int
    min_samples_leaf: int
    min_samples_treatment: int
    n_features_per_split: int
    parallel: bool


@dataclass(frozen=True)
class RowSplit:
    """The rows of one node's ``sample`` split between its children: bins ``left_bins`` of ``feature`` go left.

    ``rows_drawn`` are the rows drawn into the left and right child, from the node's histograms.
    """

    sample: Any
    feature: int
    left_bins: np.ndarray
    rows_drawn: tuple[int, int]


class NodeSource(Protocol):
    """Where a :class:`TreeGrower` gets node histograms from and splits node rows.

    A node's sample is whatever the source names it by (rows in memory, a key on Dask). ``level_wise``
    sources are handed every open node of a level at once; after :meth:`split` only the samples it
    returned are open. Others get one node at a time, depth first. A histogram's first ``n_arms`` channels
    are the arms, whose sums are the node statistics; a source may add channels after them for its split
    rule (the target columns of :class:`TargetRows`).
    """

    level_wise: bool
    has_zero_weight: bool  # some row weighs 0: both children are built (see TreeGrower)

    @property
    def n_features(self) -> int: ...

    @property
    def n_arms(self) -> int: ...

    def histograms(self, requests: list[tuple[Any, np.ndarray]], parallel: bool) -> list[np.ndarray]:
        """Histograms ``(n_features, n_bins_total, n_channels, N_STATS)`` of each ``(sample, features)``
        request, filled for those features."""

    def split(self, splits: list[RowSplit]) -> list[tuple[Any, Any, int, int]]:
        """Each split's left and right samples and their sizes (entries a histogram build reads)."""


class SplitRule(Protocol):
    """How a node is split: the rule that lets it try, and its best split over some features."""

    def may_split(self, stats: np.ndarray) -> bool:
        """Whether a node with per-arm sums ``stats`` (``(n_arms, N_STATS)``) tries to split."""

    def best_split(self, histogram: np.ndarray, features: np.ndarray) -> tuple[int, float, float, np.ndarray]:
        """``(feature, gain, raw_gain, left_bins)``; ``feature == -1`` when no split is admissible."""


def _has_rows_to_split(stats: np.ndarray, min_samples_leaf: int, min_samples_treatment: int) -> bool:
    """The size rule of both split rules: room for two children of ``min_samples_leaf`` rows, each with
    ``min_samples_treatment`` rows (at least one) of every arm."""
    counts = stats[:, COUNT]
    return bool(counts.sum() >= 2 * min_samples_leaf and (counts >= max(2 * min_samples_treatment, 2)).all())


@dataclass(frozen=True)
class UpliftSplitRule:
    """The uplift criteria of :mod:`._kernels.splitter` (:func:`find_best_split`) with the settings ``params``."""

    params: GrowthParams
    bin_mapper: BinMapper

    def may_split(self, stats: np.ndarray) -> bool:
        return _has_rows_to_split(stats, self.params.min_samples_leaf, self.params.min_samples_treatment)

    def best_split(self, histogram: np.ndarray, features: np.ndarray) -> tuple[int, float, float, np.ndarray]:
        params, mapper = self.params, self.bin_mapper
        return find_best_split(histogram, features, mapper.n_bins_non_missing_, mapper.is_categorical_,
                               mapper.missing_bin_, params.criterion, params.normalize, params.n_reg, params.binary,
                               params.min_samples_leaf, params.min_samples_treatment)


@dataclass(frozen=True)
class SquaredErrorSplitRule:
    """The weighted squared error of a per-row target (:func:`find_best_squared_error_split`), on histograms
    with the ``n_arms`` arms first and the target columns after them (:class:`TargetRows`)."""

    bin_mapper: BinMapper
    n_arms: int
    min_samples_leaf: int
    min_samples_treatment: int

    def may_split(self, stats: np.ndarray) -> bool:
        # The same as the split's admissibility needs (every arm on both sides), so no candidate is lost.
        return _has_rows_to_split(stats, self.min_samples_leaf, self.min_samples_treatment)

    def best_split(self, histogram: np.ndarray, features: np.ndarray) -> tuple[int, float, float, np.ndarray]:
        mapper = self.bin_mapper
        arms = np.ascontiguousarray(histogram[:, :, :self.n_arms])
        target = np.ascontiguousarray(histogram[:, :, self.n_arms:])
        return find_best_squared_error_split(target, arms, features, mapper.n_bins_non_missing_,
                                             mapper.is_categorical_, mapper.missing_bin_, self.min_samples_leaf,
                                             self.min_samples_treatment)


class _NodeTable:
    """Split fields of the nodes created so far; leaves until a split is recorded."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.depth: list[int] = []
        self.children_left: list[int] = []
        self.children_right: list[int] = []
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.is_categorical: list[bool] = []
        self.category_bitset: list[np.ndarray] = []
        self.missing_left: list[bool] = []
        self.gain: list[float] = []
        self.raw_gain: list[float] = []
        # Statistics of the growing rows, per node, for the nodes whose histograms (or parent's) were built.
        self.stats: dict[int, np.ndarray] = {}

    def add_leaf(self, parent: int, depth: int) -> int:
        self.parent.append(parent)
        self.depth.append(depth)
        self.children_left.append(-1)
        self.children_right.append(-1)
        self.feature.append(-1)
        self.threshold.append(np.nan)
        self.is_categorical.append(False)
        self.category_bitset.append(np.zeros(BITSET_WORDS, dtype=np.uint64))
        self.missing_left.append(False)
        self.gain.append(0.0)
        self.raw_gain.append(0.0)
        return len(self.parent) - 1

    def to_arrays(self, n_arms: int) -> TreeArrays:
        n_nodes = len(self.parent)
        stats = empty_stats(n_nodes, n_arms)
        for node, node_stats in self.stats.items():
            stats[node] = node_stats
        parent = np.asarray(self.parent, dtype=np.int64)
        return TreeArrays(
            children_left=np.asarray(self.children_left, dtype=np.int64),
            children_right=np.asarray(self.children_right, dtype=np.int64),
            parent=parent,
            depth=np.asarray(self.depth, dtype=np.int64),
            feature=np.asarray(self.feature, dtype=np.int64),
            threshold=np.asarray(self.threshold, dtype=np.float64),
            is_categorical=np.asarray(self.is_categorical, dtype=np.bool_),
            category_bitset=np.asarray(self.category_bitset, dtype=np.uint64).reshape(n_nodes, BITSET_WORDS),
            missing_left=np.asarray(self.missing_left, dtype=np.bool_),
            gain=np.asarray(self.gain, dtype=np.float64),
            raw_gain=np.asarray(self.raw_gain, dtype=np.float64),
            stats=stats,
            value=node_values(stats, parent),
        )


@dataclass(frozen=True)
class HistogramSource:
    """Rows in memory: the feature-major bin matrix and per-row arrays; a node's sample is ``(rows, counts)``.

    ``bin_class`` is ``bin * n_classes + (arm * n_levels + level) * 2 + y`` per feature and row when the outcome
    is 0/1 and the weights take at most ``MAX_WEIGHT_LEVELS`` distinct values ``level_weights`` (sorted; the row's
    weight is ``level_weights[level]``): histograms are then counted with integers. Else it is empty.
    ``has_zero_weight`` tells whether some row weighs 0 (see :class:`TreeGrower`). A forest's trees share one
    source (it holds no state of a tree).
    """

    level_wise: ClassVar[bool] = False

    binned: np.ndarray
    bin_class: np.ndarray
    level_weights: np.ndarray
    arm: np.ndarray
    weight: np.ndarray
    y: np.ndarray
    n_arms: int
    n_bins_total: int
    has_zero_weight: bool

    @classmethod
    def of(cls, binned: np.ndarray, arm: np.ndarray, weight: np.ndarray, y: np.ndarray, n_arms: int,
           n_bins_total: int, binary: bool) -> HistogramSource:
        """The counting mode when ``binary`` and the weights have few levels (and codes fit 16 bits).

        The levels are sorted, so the order their sums are taken in (and the histograms, bit for bit) does
        not depend on the order of the rows. The per-row arrays may be the caller's own (read-only, say): they
        reach the kernels as read-only contiguous arrays, one compiled version whatever their origin.
        """
        weight = kernel_array(weight, np.float64)
        bin_class, level_weights = NO_CLASSES, NO_LEVELS
        if binary and n_bins_total * 2 * n_arms <= 2**16:
            if bool(np.all(weight == 1.0)):  # the common case, without a pass over the weights' levels
                row_class, levels = (2 * arm + y.astype(np.int64)).astype(np.uint16), UNIT_LEVEL
            else:
                row_class, levels = level_classes(kernel_array(arm, np.int64), kernel_array(y, np.float64), weight,
                                                  MAX_WEIGHT_LEVELS)
            n_classes = 2 * n_arms * len(levels)
            if len(levels) > 0 and n_bins_total * n_classes <= 2**16:
                level_weights = kernel_array(levels, np.float64)
                bin_class = binned.astype(np.uint16) * np.uint16(n_classes) + row_class
        return cls(binned, bin_class, level_weights, kernel_array(arm, np.int64), weight,
                   kernel_array(y, np.float64), n_arms, n_bins_total, bool((weight == 0.0).any()))

    @property
    def n_features(self) -> int:
        return int(self.binned.shape[0])

    def build(self, rows: np.ndarray, counts: np.ndarray, features: np.ndarray, parallel: bool = False
              ) -> np.ndarray:
        """Histograms ``(n_features, n_bins_total, n_arms, N_STATS)`` of ``features`` over a node sample.

        With ``parallel`` (and enough rows) blocks of features are built on threads.
        """
        histogram = np.zeros((self.n_features, self.n_bins_total, self.n_arms, N_STATS), dtype=np.float64)
        if len(self.bin_class) > 0:
            def fill(start: int, stop: int) -> None:
                class_histograms(histogram, self.bin_class, rows, counts, self.level_weights, features[start:stop])
        else:
            node_stats = gather_node_stats(rows, counts, self.arm, self.weight, self.y)

            def fill(start: int, stop: int) -> None:
                weighted_histograms(histogram, self.binned, rows, *node_stats, features[start:stop])
        if parallel and len(rows) >= PARALLEL_MIN_ROWS:
            # Every feature costs the same: one block of features per thread.
            run_blocks(fill, block_bounds(len(features), 1, blocks_per_thread=1))
        else:
            fill(0, len(features))
        return histogram

    def histograms(self, requests: list[tuple[Any, np.ndarray]], parallel: bool) -> list[np.ndarray]:
        return [self.build(rows, counts, features, parallel) for (rows, counts), features in requests]

    def split(self, splits: list[RowSplit]) -> list[tuple[Any, Any, int, int]]:
        children = []
        for split in splits:
            left, right = self.partition(split.sample, split.feature, split.left_bins)
            children.append((left, right, len(left[0]), len(right[0])))
        return children

    def partition(self, sample: tuple[np.ndarray, np.ndarray], feature: int, left_bins: np.ndarray
                  ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """The left and right samples of ``sample``: its rows whose bin of ``feature`` is in ``left_bins``
        go left (order kept)."""
        left_rows, left_counts, right_rows, right_counts = partition_rows(*sample, self.binned[feature], left_bins)
        return (left_rows, left_counts), (right_rows, right_counts)


NO_CLASSES = np.zeros((0, 0), dtype=np.uint16)
NO_LEVELS = kernel_array(np.zeros(0), np.float64)
UNIT_LEVEL = kernel_array(np.ones(1), np.float64)


@dataclass(frozen=True)
class TargetRows:
    """Rows in memory with a per-row target ``(n_rows, n_columns)``, for :class:`SquaredErrorSplitRule`.

    A node's histograms hold the arms' channels (:class:`HistogramSource` of the outcome), then one channel
    per target column, summed over the arms (outcome ``t_c``, every row in one arm). Samples and splits are
    the arms' source's.
    """

    level_wise: ClassVar[bool] = False

    arms: HistogramSource
    targets: tuple[HistogramSource, ...]

    @classmethod
    def of(cls, binned: np.ndarray, arm: np.ndarray, weight: np.ndarray, y: np.ndarray, target: np.ndarray,
           n_arms: int, n_bins_total: int) -> TargetRows:
        one_arm = np.zeros(len(arm), dtype=np.int64)
        targets = tuple(HistogramSource.of(binned, one_arm, weight, np.ascontiguousarray(target[:, column]), 1,
                                           n_bins_total, binary=False)
                        for column in range(target.shape[1]))
        return cls(HistogramSource.of(binned, arm, weight, y, n_arms, n_bins_total, binary=False), targets)

    @property
    def n_features(self) -> int:
        return self.arms.n_features

    @property
    def n_arms(self) -> int:
        return self.arms.n_arms

    @property
    def has_zero_weight(self) -> bool:
        return self.arms.has_zero_weight

    def histograms(self, requests: list[tuple[Any, np.ndarray]], parallel: bool) -> list[np.ndarray]:
        sources = (self.arms, *self.targets)
        return [np.concatenate([source.build(rows, counts, features, parallel) for source in sources], axis=2)
                for (rows, counts), features in requests]

    def split(self, splits: list[RowSplit]) -> list[tuple[Any, Any, int, int]]:
        return self.arms.split(splits)


class _OpenNode(NamedTuple):
    """A node that tries to split: its sample, the features whose histograms are built, the histograms."""

    node: int
    sample: Any
    built: np.ndarray
    histogram: np.ndarray


class TreeGrower:
    """Grow one tree from a node source with a split rule.

    When a split tries fewer than half the features, each node builds histograms of just its tried features
    for all its rows (``k * rows`` work); otherwise the smaller child is built for every feature and its
    sibling obtained by subtraction (at most ``n_features * rows / 2``). With zero sample weights both
    children are built: an arm whose rows in a child all weigh 0 has weight exactly 0 only when summed
    directly (a difference leaves rounding residue, which would pass for a present arm and give it a mean of
    residue over residue). Only children that may split (below ``max_depth``, and passing the rule's
    ``may_split``) are built; a child's statistics come from its parent's histograms, so the last level of a
    tree is never partitioned nor histogrammed.

    The features a node tries are drawn from a generator seeded by the tree's seed (one draw of ``rng``)
    and the node's path from the root, so they do not depend on the order nodes are grown in: a level-wise
    source grows the depth-first source's tree. Node ids are depth first (a node's children created when it
    is split, the left subtree before the right), whatever the source.
    """

    def __init__(self, source: NodeSource, split_rule: SplitRule, bin_mapper: BinMapper, *, max_depth: int,
                 n_features_per_split: int, parallel: bool, rng: np.random.Generator | None) -> None:
        """``rng`` (drawn from once) is needed only when ``n_features_per_split`` is below the number of
        features; ``parallel`` lets the source build a node's histograms on threads."""
        self.source = source
        self.split_rule = split_rule
        self.bin_mapper = bin_mapper
        self.max_depth = max_depth
        self.n_features_per_split = n_features_per_split
        self.parallel = parallel
        n_features = source.n_features
        self._all_features = np.arange(n_features)
        self._build_tried_only = 2 * n_features_per_split < n_features
        self._feature_seed = int(rng.integers(2**63)) if n_features_per_split < n_features else None

    @classmethod
    def uplift(cls, source: NodeSource, bin_mapper: BinMapper, params: GrowthParams, rng: np.random.Generator
               ) -> TreeGrower:
        """The grower of an uplift tree with the settings ``params``."""
        return cls(source, UpliftSplitRule(params, bin_mapper), bin_mapper, max_depth=params.max_depth,
                   n_features_per_split=params.n_features_per_split, parallel=params.parallel, rng=rng)

    def grow(self, root_sample: Any) -> TreeArrays:
        """The tree grown from the sample ``root_sample``; node statistics are the sample's."""
        table, paths = _NodeTable(), [()]
        root = table.add_leaf(-1, 0)
        built = self._built_features(())
        (histogram,) = self.source.histograms([(root_sample, built)], self.parallel)
        n_arms = self.source.n_arms
        table.stats[root] = node_totals(histogram, built[0])[:n_arms]
        root_weight = table.stats[root][:, WEIGHT].sum()
        open_nodes = [_OpenNode(root, root_sample, built, histogram)] if self._may_split(table, root) else []
        while open_nodes:
            if self.source.level_wise:
                batch, open_nodes = open_nodes, []
            else:
                batch = [open_nodes.pop()]
            splits = []
            for open_node in batch:
                left_bins = self._split(table, paths, open_node, root_weight)
                left, right = table.children_left[open_node.node], table.children_right[open_node.node]
                if left_bins is not None and (self._may_split(table, left) or self._may_split(table, right)):
                    rows_drawn = (int(table.stats[left][:, COUNT].sum()), int(table.stats[right][:, COUNT].sum()))
                    splits.append((open_node, RowSplit(open_node.sample, table.feature[open_node.node], left_bins,
                                                       rows_drawn)))
            if splits:
                open_nodes += self._open_children(table, paths, splits)
        tree = table.to_arrays(n_arms)
        return tree.renumbered(tree.depth_first_order()) if self.source.level_wise else tree

    def _open_children(self, table: _NodeTable, paths: list[tuple], splits: list[tuple[_OpenNode, RowSplit]]
                       ) -> list[_OpenNode]:
        """The children of the split nodes that may split, with their histograms, right child first (so a
        depth-first source grows the left one next)."""
        requests, children = [], []
        for (parent, _), (left_sample, right_sample, n_left, n_right) in zip(
                splits, self.source.split([split for _, split in splits]), strict=True):
            pair = [(table.children_right[parent.node], right_sample), (table.children_left[parent.node], left_sample)]
            growing = [(child, sample) for child, sample in pair if self._may_split(table, child)]
            if self._build_tried_only or self.source.has_zero_weight:
                for child, sample in growing:
                    children.append((child, sample, len(requests), None))
                    requests.append((sample, self._built_features(paths[child])))
                continue
            # Build the smaller child's histograms; the larger one's are the parent's minus its sibling's.
            smaller_child, smaller_sample = pair[1] if n_left <= n_right else pair[0]
            children += [(child, sample, len(requests), None if child == smaller_child else parent.histogram)
                         for child, sample in growing]
            requests.append((smaller_sample, self._all_features))
        histograms = self.source.histograms(requests, self.parallel)
        opened = []
        for child, sample, built_at, parent_histogram in children:
            features, histogram = requests[built_at][1], histograms[built_at]
            if parent_histogram is not None:
                histogram = sibling_histogram(parent_histogram, histogram)
            opened.append(_OpenNode(child, sample, features, histogram))
        return opened

    def _may_split(self, table: _NodeTable, node: int) -> bool:
        """The stopping rules: ``max_depth``, then the split rule's on the node's statistics."""
        return table.depth[node] < self.max_depth and self.split_rule.may_split(table.stats[node])

    def _split(self, table: _NodeTable, paths: list[tuple], open_node: _OpenNode, root_weight: float
               ) -> np.ndarray | None:
        """Find and record the best split of an open node from its histograms.

        Returns the split's ``left_bins``, or None when the node stays a leaf.
        """
        node, built, histogram = open_node.node, open_node.built, open_node.histogram
        features = built if self._build_tried_only else self.tried_features(paths[node])
        feature, gain, raw_gain, left_bins = self.split_rule.best_split(histogram, features)
        if feature < 0:
            return None
        node_weight = node_totals(histogram, built[0])[:self.source.n_arms, WEIGHT].sum()
        _record_split(table, node, feature, gain, raw_gain, left_bins, self.bin_mapper, node_weight / root_weight)
        n_arms = self.source.n_arms
        table.stats[table.children_left[node]] = histogram[feature][left_bins].sum(axis=0)[:n_arms]
        table.stats[table.children_right[node]] = histogram[feature][~left_bins].sum(axis=0)[:n_arms]
        paths += [paths[node] + (0,), paths[node] + (1,)]
        return left_bins

    def _built_features(self, path: tuple) -> np.ndarray:
        """Features whose histograms a node builds: the ones it tries, or all to allow subtraction."""
        return self.tried_features(path) if self._build_tried_only else self._all_features

    def tried_features(self, path: tuple) -> np.ndarray:
        """The ``n_features_per_split`` features the node at ``path`` (0 = left, 1 = right) tries, sorted."""
        if self._feature_seed is None:
            return self._all_features
        rng = np.random.default_rng(np.random.SeedSequence(self._feature_seed, spawn_key=path))
        return np.sort(rng.choice(len(self._all_features), size=self.n_features_per_split, replace=False))


def grow_tree(source: HistogramSource, bin_mapper: BinMapper, rows: np.ndarray, counts: np.ndarray,
              params: GrowthParams, rng: np.random.Generator) -> TreeArrays:
    """An uplift tree grown on the sample ``rows`` in memory (row ``rows[i]`` drawn ``counts[i]`` times)."""
    return TreeGrower.uplift(source, bin_mapper, params, rng).grow((rows, counts))


def grow_squared_error_tree(binned: np.ndarray, arm: np.ndarray, weight: np.ndarray, y: np.ndarray,
                            target: np.ndarray, n_arms: int, bin_mapper: BinMapper, *, max_depth: int,
                            min_samples_leaf: int, min_samples_treatment: int) -> TreeArrays:
    """A tree grown on every row of ``binned`` (once each) by the squared error of the per-row ``target`` columns
    summed (:class:`SquaredErrorSplitRule` over :class:`TargetRows`), every feature tried at every split: the
    growth of distilled trees and DR trees. ``arm``, ``weight``, ``y`` give the node statistics and the size
    rule's arm counts."""
    source = TargetRows.of(binned, arm, weight, y, target, n_arms, bin_mapper.missing_bin_ + 1)
    rule = SquaredErrorSplitRule(bin_mapper, n_arms, min_samples_leaf, min_samples_treatment)
    grower = TreeGrower(source, rule, bin_mapper, max_depth=max_depth, n_features_per_split=source.n_features,
                        parallel=True, rng=None)
    return grower.grow((np.arange(len(arm)), np.ones(len(arm), dtype=np.int32)))


def _record_split(table: _NodeTable, node: int, feature: int, gain: float, raw_gain: float,
                  left_bins: np.ndarray, bin_mapper: BinMapper, weight_share: float) -> None:
    depth = table.depth[node] + 1
    table.children_left[node] = table.add_leaf(node, depth)
    table.children_right[node] = table.add_leaf(node, depth)
    table.feature[node] = feature
    table.gain[node] = gain
    table.raw_gain[node] = raw_gain * weight_share
    table.missing_left[node] = bool(left_bins[bin_mapper.missing_bin_])
    n_bins = bin_mapper.n_bins_non_missing_[feature]
    if bin_mapper.is_categorical_[feature]:
        table.is_categorical[node] = True
        table.category_bitset[node] = category_bitset_of(np.flatnonzero(left_bins[:n_bins]))
    else:
        last_left_bin = int(left_bins[:n_bins].sum()) - 1
        thresholds = bin_mapper.bin_thresholds_[feature]
        # All non-missing bins on the left: the split is "missing or not".
        table.threshold[node] = thresholds[last_left_bin] if last_left_bin < len(thresholds) else np.inf

