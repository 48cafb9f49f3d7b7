"""Grow one uplift tree from binned data: histograms -> best split -> partition, depth first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels.boundary import block_bounds, kernel_array, run_blocks
from ._kernels.histogram import class_histograms, gather_node_stats, sibling_histogram, weighted_histograms
from ._kernels.partition import partition_rows
from ._kernels.splitter import find_best_split, node_totals
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
    """What node histograms are built from: the feature-major bin matrix and per-row arrays.

    ``bin_class`` is ``bin * 2 * n_arms + 2 * arm + y`` per feature and row when every weight is 1 and the
    outcome is 0/1 (histograms are then counted with integers), else empty. ``has_zero_weight`` tells
    whether some row weighs 0 (see :func:`grow_tree`).
    """

    binned: np.ndarray
    bin_class: np.ndarray
    arm: np.ndarray
    weight: np.ndarray
    y: np.ndarray
    n_arms: int
    n_bins_total: int
    has_zero_weight: bool

    @classmethod
    def of(cls, binned: np.ndarray, arm: np.ndarray, weight: np.ndarray, y: np.ndarray, n_arms: int,
           n_bins_total: int, binary: bool) -> HistogramSource:
        """The counting mode when ``binary`` and all weights are 1 (and codes fit 16 bits).

        The per-row arrays may be the caller's own (read-only, say): they reach the kernels as read-only
        contiguous arrays, one compiled version whatever their origin.
        """
        n_classes = 2 * n_arms
        if binary and n_bins_total * n_classes <= 2**16 and bool(np.all(weight == 1.0)):
            row_class = (2 * arm + y.astype(np.int64)).astype(np.uint16)
            bin_class = binned.astype(np.uint16) * np.uint16(n_classes) + row_class
        else:
            bin_class = NO_CLASSES
        return cls(binned, bin_class, kernel_array(arm, np.int64), kernel_array(weight, np.float64),
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
                class_histograms(histogram, self.bin_class, rows, counts, features[start:stop])
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


NO_CLASSES = np.zeros((0, 0), dtype=np.uint16)


def grow_tree(source: HistogramSource, bin_mapper: BinMapper, rows: np.ndarray, counts: np.ndarray,
              params: GrowthParams, rng: np.random.Generator) -> TreeArrays:
    """Grow a tree on the sample ``rows`` (row ``rows[i]`` drawn ``counts[i]`` times); node statistics are the
    sample's.

    When a split tries fewer than half the features, each node builds histograms of just its sampled features
    for all its rows (``k * rows`` work); otherwise the smaller child is built for every feature and its
    sibling obtained by subtraction (at most ``n_features * rows / 2``). Children at ``max_depth`` take their
    statistics from the parent's histograms: their rows are never partitioned nor histogrammed.

    With zero sample weights both children are built: an arm whose rows in a child all weigh 0 has weight
    exactly 0 only when summed directly (a difference leaves rounding residue, which would pass for a
    present arm and give it a mean of residue over residue).
    """
    if 2 * params.n_features_per_split < source.n_features:
        return _grow_sampled(source, bin_mapper, rows, counts, params, rng)
    all_features = np.arange(source.n_features)
    table = _NodeTable()
    root = table.add_leaf(-1, 0)
    root_histogram = source.build(rows, counts, all_features, params.parallel)
    table.stats[root] = node_totals(root_histogram, 0)
    root_weight = table.stats[root][:, WEIGHT].sum()
    stack = [(root, rows, counts, root_histogram)]
    while stack:
        node, node_rows, node_counts, histogram = stack.pop()
        left_bins = split_node(table, node, histogram, bin_mapper, params, rng, root_weight)
        if left_bins is None or table.depth[node] + 1 >= params.max_depth:
            continue
        left_rows, left_counts, right_rows, right_counts = partition_rows(
            node_rows, node_counts, source.binned[table.feature[node]], left_bins)
        # Build the smaller child's histograms; the larger one is the parent's minus its sibling's.
        if source.has_zero_weight:
            left_histogram = source.build(left_rows, left_counts, all_features, params.parallel)
            right_histogram = source.build(right_rows, right_counts, all_features, params.parallel)
        elif len(left_rows) <= len(right_rows):
            left_histogram = source.build(left_rows, left_counts, all_features, params.parallel)
            right_histogram = sibling_histogram(histogram, left_histogram)
        else:
            right_histogram = source.build(right_rows, right_counts, all_features, params.parallel)
            left_histogram = sibling_histogram(histogram, right_histogram)
        stack.append((table.children_right[node], right_rows, right_counts, right_histogram))
        stack.append((table.children_left[node], left_rows, left_counts, left_histogram))
    return table.to_arrays(source.n_arms)


def _grow_sampled(source: HistogramSource, bin_mapper: BinMapper, rows: np.ndarray, counts: np.ndarray,
                  params: GrowthParams, rng: np.random.Generator) -> TreeArrays:
    """Depth-first growth building, at every node, histograms of only the features drawn for its split."""
    table = _NodeTable()
    root = table.add_leaf(-1, 0)
    features = _features_to_try(source.n_features, params.n_features_per_split, rng)
    histogram = source.build(rows, counts, features)
    table.stats[root] = node_totals(histogram, features[0])
    root_weight = table.stats[root][:, WEIGHT].sum()
    stack = [(root, rows, counts, features, histogram)]
    while stack:
        node, node_rows, node_counts, features, histogram = stack.pop()
        left_bins = split_node(table, node, histogram, bin_mapper, params, rng, root_weight, features)
        if left_bins is None or table.depth[node] + 1 >= params.max_depth:
            continue
        left_rows, left_counts, right_rows, right_counts = partition_rows(
            node_rows, node_counts, source.binned[table.feature[node]], left_bins)
        children = ((table.children_right[node], right_rows, right_counts),
                    (table.children_left[node], left_rows, left_counts))
        for child, child_rows, child_counts in children:
            if _may_split(table.stats[child], table.depth[child], params):
                child_features = _features_to_try(source.n_features, params.n_features_per_split, rng)
                stack.append((child, child_rows, child_counts, child_features,
                              source.build(child_rows, child_counts, child_features)))
    return table.to_arrays(source.n_arms)


def split_node(table: _NodeTable, node: int, histogram: np.ndarray, bin_mapper: BinMapper, params: GrowthParams,
               rng: np.random.Generator, root_weight: float, features: np.ndarray | None = None) -> np.ndarray | None:
    """Find and record the best split of ``node`` from its histograms (shared by every grower).

    ``features`` are the features to try when already drawn (their histograms are the ones built);
    otherwise they are drawn here. Returns the split's ``left_bins``, or None when the node stays a leaf.
    """
    totals = node_totals(histogram, 0 if features is None else features[0])
    if not _may_split(totals, table.depth[node], params):
        return None
    if features is None:
        features = _features_to_try(histogram.shape[0], params.n_features_per_split, rng)
    feature, gain, raw_gain, left_bins = find_best_split(
        histogram, features, bin_mapper.n_bins_non_missing_, bin_mapper.is_categorical_,
        bin_mapper.missing_bin_, params.criterion, params.normalize, params.n_reg, params.binary,
        params.min_samples_leaf, params.min_samples_treatment,
    )
    if feature < 0:
        return None
    _record_split(table, node, feature, gain, raw_gain, left_bins, bin_mapper,
                  totals[:, WEIGHT].sum() / root_weight)
    table.stats[table.children_left[node]] = histogram[feature][left_bins].sum(axis=0)
    table.stats[table.children_right[node]] = histogram[feature][~left_bins].sum(axis=0)
    return left_bins


def _may_split(totals: np.ndarray, depth: int, params: GrowthParams) -> bool:
    if depth >= params.max_depth:
        return False
    counts = totals[:, COUNT]
    return bool(counts.sum() >= 2 * params.min_samples_leaf
                and (counts >= max(2 * params.min_samples_treatment, 2)).all())


def _features_to_try(n_features: int, n_per_split: int, rng: np.random.Generator) -> np.ndarray:
    if n_per_split >= n_features:
        return np.arange(n_features)
    return np.sort(rng.choice(n_features, size=n_per_split, replace=False))


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
