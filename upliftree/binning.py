"""Map features to small integer bin codes, once, before any tree is grown.

A numeric feature with at most ``max_bins`` distinct values gets one bin per value (splits are exact); otherwise
its bin edges are quantiles taken from the data's own values, so that ``x <= edge`` at prediction time puts
every training row in the same child as its bin did. A categorical feature's code is its category code.
Missing values (and unseen categories) always get the last bin, ``missing_bin == max_bins``.

The thresholds of the numeric features come from a :class:`QuantileSketch`, a summary of rows that merges:
the in-memory fit summarizes all its rows as one chunk, a Dask fit summarizes each partition and merges the
summaries, and both read the thresholds off the result the same way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._base import read_only
from ._kernels.binning import PADDED_WIDTH, map_to_bins
from ._kernels.binning import ROW_BLOCK as BIN_ROW_BLOCK
from ._kernels.boundary import block_bounds, kernel_array, run_blocks, strided_matrix
from ._params import check_int, check_max_bins, check_random_state
from ._validation import FeatureSchema

QUANTILE_SUBSAMPLE = 200_000


@dataclass(frozen=True)
class QuantileSketch:
    """A mergeable summary of some numeric columns' rows, from which each column's bin thresholds follow.

    Every row carries a key drawn uniformly from ``[0, 1)``. A summary of ``n_rows`` rows holds, per column,
    its sorted distinct non-missing values while there are at most ``max_bins`` of them, and the *sample*:
    the rows whose key is below ``subsample / n_rows`` (every row when ``n_rows <= subsample`` or
    ``subsample`` is None), about ``subsample`` rows each kept independently. Merging summaries keeps the
    rows whose key is below ``subsample / (total rows)``, a subset of what each summary kept, and unites the
    distinct values: so merging, in order, the summaries of the chunks of any partition of the rows gives
    the summary of all the rows, and the same thresholds (see :meth:`thresholds`).

    Build one with :meth:`of_rows`, combine with :meth:`merge`.
    """

    max_bins: int
    subsample: int | None
    n_rows: int
    keys: np.ndarray  # the sampled rows' keys
    sample: tuple  # per column, the sampled rows' values (NaN where missing), aligned with keys
    distinct: tuple  # per column, sorted distinct non-missing values, or None once there are more than max_bins
    # The thresholds of these rows alone, found while summarizing one chunk (its values were sorted then);
    # a merge computes its own. Not part of the summary's meaning, only a saved sort.
    known_thresholds: tuple | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of_rows(cls, values: np.ndarray, columns: Sequence[int], keys: np.ndarray, max_bins: int,
                subsample: int | None, n_threads: int = 1) -> QuantileSketch:
        """Summary of the rows of ``values[:, columns]`` (encoded features) whose keys are ``keys``.

        ``n_threads`` threads share the columns (numpy's sorts release the GIL); the result does not
        depend on it.
        """
        n_rows = values.shape[0]
        sampled_all = _keep_all(n_rows, subsample)
        rows = None if sampled_all else np.flatnonzero(keys < subsample / n_rows)

        def summarize(column: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
            column_values = values[:, column]
            sample = column_values if rows is None else column_values[rows]
            sorted_sample = np.sort(sample[~np.isnan(sample)])
            distinct = _unique_of_sorted(sorted_sample)
            # When the sample alone shows more than max_bins values there is no need to look at every row;
            # otherwise the sample may miss rare values of a low-cardinality feature.
            if len(distinct) <= max_bins and not sampled_all:
                distinct = _distinct_values(column_values)
            distinct = distinct if len(distinct) <= max_bins else None
            return sample, distinct, _thresholds_of(distinct, sorted_sample, max_bins)

        with ThreadPoolExecutor(max_workers=max(n_threads, 1)) as pool:
            per_column = list(pool.map(summarize, columns))
        return cls(max_bins, subsample, n_rows, keys if rows is None else keys[rows],
                   tuple(sample for sample, _, _ in per_column), tuple(distinct for _, distinct, _ in per_column),
                   tuple(thresholds for _, _, thresholds in per_column))

    @classmethod
    def merge(cls, sketches: Sequence[QuantileSketch]) -> QuantileSketch:
        """The summary of all the rows of ``sketches`` (summaries of the same columns and settings), in order."""
        first = sketches[0]
        n_rows = sum(sketch.n_rows for sketch in sketches)
        keys = np.concatenate([sketch.keys for sketch in sketches])
        keep = slice(None) if _keep_all(n_rows, first.subsample) else keys < first.subsample / n_rows
        samples = [np.concatenate(column)[keep] for column in zip(*(sketch.sample for sketch in sketches),
                                                                   strict=True)]
        distinct = []
        for column in zip(*(sketch.distinct for sketch in sketches), strict=True):
            union = None if any(values is None for values in column) else np.unique(np.concatenate(column))
            distinct.append(None if union is None or len(union) > first.max_bins else union)
        return cls(first.max_bins, first.subsample, n_rows, keys[keep], tuple(samples), tuple(distinct))

    def thresholds(self) -> list[np.ndarray]:
        """Per column, the upper edge of each bin but the last (at most ``max_bins - 1`` values).

        A column with at most ``max_bins`` distinct values gets one bin per value; otherwise the edges are the
        sample's quantiles (:func:`_edges_of_sorted`).
        """
        if self.known_thresholds is not None:
            return list(self.known_thresholds)
        return [_thresholds_of(distinct, None if distinct is not None else np.sort(sample[~np.isnan(sample)]),
                               self.max_bins) for sample, distinct in zip(self.sample, self.distinct, strict=True)]


def _keep_all(n_rows: int, subsample: int | None) -> bool:
    return subsample is None or n_rows <= subsample


def _thresholds_of(distinct: np.ndarray | None, sorted_sample: np.ndarray | None, max_bins: int) -> np.ndarray:
    """A column's thresholds: every distinct value but the largest, or the sample's quantile edges but the
    last (the maximum)."""
    edges = distinct if distinct is not None else _edges_of_sorted(sorted_sample, max_bins)
    return edges[:-1].copy()


class BinMapper:
    """Learn bin edges per feature and map raw values (as encoded by ``encode_features``) to ``uint8`` codes.

    Parameters
    ----------
    max_bins : int
        Maximum number of non-missing bins per feature, at most 255; bin ``max_bins`` holds missing values.
    subsample : int or None
        About this many rows (each row drawn independently) are used to find quantile edges; ``None`` uses all
        rows.
    random_state : int, numpy Generator or None
        Seed for the quantile subsample.

    Attributes
    ----------
    bin_thresholds_ : tuple of ndarray
        For numeric feature ``f``, the upper edge of each bin but the last: a value ``x`` has bin
        ``searchsorted(bin_thresholds_[f], x, side="left")``; empty for categorical features.
    n_bins_non_missing_ : ndarray of int
        Number of non-missing bins of each feature.
    is_categorical_ : ndarray of bool
    missing_bin_ : int
    """

    def __init__(self, max_bins: int = 255, subsample: int | None = QUANTILE_SUBSAMPLE, random_state=None):
        self.max_bins = max_bins
        self.subsample = subsample
        self.random_state = random_state

    def fit(self, encoded: np.ndarray, schema: FeatureSchema) -> BinMapper:
        """Thresholds of the numeric features from a :class:`QuantileSketch` of all rows (one chunk).

        Row ``i``'s sample key is the ``i``-th draw of ``numpy.random.default_rng(random_state).random``.
        """
        check_max_bins(self.max_bins)
        if self.subsample is not None:
            check_int(self.subsample, "subsample", 1)
        numeric = [feature for feature, cats in enumerate(schema.categories) if cats is None]
        keys = np.random.default_rng(check_random_state(self.random_state)).random(encoded.shape[0])
        # Features are independent and numpy's sorts release the GIL: threads share the work.
        sketch = QuantileSketch.of_rows(encoded, numeric, keys, self.max_bins, self.subsample,
                                        n_threads=os.cpu_count() or 1)
        thresholds: list = [None] * schema.n_features
        for feature, edges in zip(numeric, sketch.thresholds(), strict=True):
            thresholds[feature] = edges
        return self._set_bins(schema, thresholds)

    @classmethod
    def from_thresholds(cls, schema: FeatureSchema, thresholds: Sequence[Any], max_bins: int) -> BinMapper:
        """A fitted mapper with the given thresholds of the numeric features (entries of categorical ones are
        ignored), as :meth:`fit` would have set it had it found them."""
        check_max_bins(max_bins)
        if len(thresholds) != schema.n_features:
            raise ValueError(f"thresholds must have one entry per feature ({schema.n_features}), got {len(thresholds)}")
        for name, edges, cats in zip(schema.names, thresholds, schema.categories, strict=True):
            if cats is None:
                _check_thresholds(edges, max_bins, f"the thresholds of {name!r}", finite=False)
        return cls(max_bins)._set_bins(schema, thresholds)

    def _set_bins(self, schema: FeatureSchema, thresholds: Sequence[Any]) -> BinMapper:
        pairs = list(zip(thresholds, schema.categories, strict=True))
        self.is_categorical_ = schema.is_categorical
        self.bin_thresholds_ = [np.empty(0, dtype=np.float64) if cats is not None else np.asarray(edges, np.float64)
                                for edges, cats in pairs]
        self.n_bins_non_missing_ = np.array([len(cats) if cats is not None else len(edges) + 1
                                             for edges, cats in pairs], dtype=np.int64)
        self.missing_bin_ = self.max_bins
        self._freeze()
        return self

    def _freeze(self) -> None:
        """Make the fitted bins read-only: they are part of a fitted model's state."""
        self.is_categorical_ = read_only(self.is_categorical_)
        self.n_bins_non_missing_ = read_only(self.n_bins_non_missing_)
        self.bin_thresholds_ = tuple(read_only(thresholds) for thresholds in self.bin_thresholds_)

    def __setstate__(self, state: dict) -> None:
        # Arrays come back writable from pickle and copy (Dask ships bins to its workers).
        self.__dict__.update(state)
        if "bin_thresholds_" in state:
            self._freeze()

    def transform(self, encoded: np.ndarray) -> np.ndarray:
        """Bin codes, feature-major: shape ``(n_features, n_rows)``, ``uint8``."""
        padded = np.full((len(self.bin_thresholds_), PADDED_WIDTH), np.inf, dtype=np.float64)
        for feature, thresholds in enumerate(self.bin_thresholds_):
            padded[feature, : len(thresholds)] = thresholds
        matrix = strided_matrix(np.asarray(encoded))
        binned = np.empty((len(self.bin_thresholds_), len(encoded)), dtype=np.uint8)
        is_categorical = kernel_array(self.is_categorical_, np.bool_)

        def bin_rows(start: int, stop: int) -> None:
            map_to_bins(*matrix, start, stop, padded, is_categorical, self.missing_bin_, binned)

        run_blocks(bin_rows, block_bounds(len(encoded), BIN_ROW_BLOCK, BIN_ROW_BLOCK))
        return binned

    def fit_transform(self, encoded: np.ndarray, schema: FeatureSchema) -> np.ndarray:
        return self.fit(encoded, schema).transform(encoded)


def _check_thresholds(edges: Any, max_bins: int, what: str, finite: bool) -> np.ndarray:
    """``edges`` as the thresholds of one numeric feature: at most ``max_bins - 1`` increasing floats (finite
    ones if ``finite``; data may hold infinite values, so fitted thresholds may too)."""
    edges = np.asarray(edges, dtype=np.float64)
    if (edges.ndim != 1 or len(edges) > max_bins - 1 or not (np.isfinite(edges) if finite else ~np.isnan(edges)).all()
            or not (np.diff(edges) > 0).all()):
        raise ValueError(f"{what} must be at most max_bins - 1 = {max_bins - 1}{' finite,' if finite else ''} strictly "
                         "increasing thresholds (a value x has bin searchsorted(thresholds, x, side='left'))")
    return edges


def thresholds_from_bin_edges(bin_edges: Any, schema: FeatureSchema, max_bins: int) -> list:
    """Thresholds per feature that a fit must use, from its ``bin_edges`` argument (None where it finds them).

    ``bin_edges`` is None, a fitted :class:`BinMapper` of the same features, categories and ``max_bins``
    (e.g. another model's ``bin_mapper_``), or a dict ``{numeric feature name: thresholds}``.
    """
    if bin_edges is None:
        return [None] * schema.n_features
    if isinstance(bin_edges, BinMapper):
        if not hasattr(bin_edges, "bin_thresholds_"):
            raise ValueError("bin_edges is a BinMapper that is not fitted")
        n_categories = [0 if cats is None else len(cats) for cats in schema.categories]
        same_kinds = (len(bin_edges.bin_thresholds_) == schema.n_features
                      and np.array_equal(bin_edges.is_categorical_, schema.is_categorical)
                      and all(n_bins == n for n_bins, n, cats in zip(bin_edges.n_bins_non_missing_, n_categories,
                                                                      schema.categories, strict=True)
                              if cats is not None))
        if not same_kinds or bin_edges.missing_bin_ != max_bins:
            raise ValueError("bin_edges is a BinMapper fitted on other features, categories or max_bins than "
                             "this fit's (pass the bin_mapper_ of a model fitted on the same columns)")
        return [None if cats is not None else np.asarray(thresholds, dtype=np.float64)
                for thresholds, cats in zip(bin_edges.bin_thresholds_, schema.categories, strict=True)]
    if not isinstance(bin_edges, dict):
        raise TypeError(f"bin_edges must be None, a fitted BinMapper or a dict {{numeric feature: thresholds}}, "
                        f"got {type(bin_edges).__name__}")
    numeric = {name: index for index, (name, cats) in enumerate(zip(schema.names, schema.categories, strict=True))
               if cats is None}
    thresholds: list = [None] * schema.n_features
    for name, edges in bin_edges.items():
        if str(name) not in numeric:
            raise ValueError(f"bin_edges names {name!r}, which is not a numeric feature; numeric: {list(numeric)}")
        thresholds[numeric[str(name)]] = _check_thresholds(edges, max_bins, f"bin_edges[{name!r}]", finite=True)
    return thresholds


def _distinct_values(values: np.ndarray) -> np.ndarray:
    """Sorted distinct non-missing values (hashing first: cheaper than sorting every row)."""
    values = values[~np.isnan(values)]
    return np.sort(pd.unique(values))


def _unique_of_sorted(sorted_values: np.ndarray) -> np.ndarray:
    keep = np.ones(len(sorted_values), dtype=np.bool_)
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=keep[1:])
    return sorted_values[keep]


def _edges_of_sorted(sorted_values: np.ndarray, max_bins: int) -> np.ndarray:
    """Quantile edges of sorted values as numpy's ``inverted_cdf`` defines them, plus the maximum.

    ``inverted_cdf`` returns observed values (the smallest ``x`` with ``CDF(x) >= level``), which keeps bins
    unchanged when a feature is rescaled. The largest value is appended so the last bin is closed like the
    others. No values (a sample that holds none of a column's values) give no edges: one bin.
    """
    n_values = len(sorted_values)
    if n_values == 0:
        return sorted_values
    levels = np.arange(1, max_bins) / max_bins
    positions = np.clip(np.ceil(levels * n_values).astype(np.int64) - 1, 0, n_values - 1)
    edges = _unique_of_sorted(sorted_values[positions])
    if edges[-1] < sorted_values[-1]:
        edges = np.append(edges, sorted_values[-1])
    return edges
