"""Map features to small integer bin codes, once, before any tree is grown.

A numeric feature with at most ``max_bins`` distinct values gets one bin per value (splits are exact); otherwise
its bin edges are quantiles taken from the data's own values, so that ``x <= edge`` at prediction time puts
every training row in the same child as its bin did. A categorical feature's code is its category code.
Missing values (and unseen categories) always get the last bin, ``missing_bin == max_bins``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ._base import read_only
from ._kernels.binning import PADDED_WIDTH, map_to_bins
from ._kernels.binning import ROW_BLOCK as BIN_ROW_BLOCK
from ._kernels.boundary import block_bounds, kernel_array, run_blocks, strided_matrix
from ._validation import FeatureSchema

QUANTILE_SUBSAMPLE = 200_000


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
        if not 2 <= self.max_bins <= 255:
            raise ValueError(f"max_bins must be an integer in [2, 255], got {self.max_bins!r}")
        n_rows = encoded.shape[0]
        rows = np.arange(n_rows)
        if self.subsample is not None and n_rows > self.subsample:
            # Each row independently, so the sample comes out sorted (about ``subsample`` rows).
            rng = np.random.default_rng(self.random_state)
            rows = np.flatnonzero(rng.random(n_rows) < self.subsample / n_rows)
        self.is_categorical_ = schema.is_categorical

        def feature_bins(feature: int) -> tuple[np.ndarray, int]:
            categories = schema.categories[feature]
            if categories is not None:
                return np.empty(0, dtype=np.float64), len(categories)
            sample = encoded[rows, feature]
            sample = np.sort(sample[~np.isnan(sample)])
            distinct = _unique_of_sorted(sample)
            if len(distinct) > self.max_bins:
                distinct = _edges_of_sorted(sample, self.max_bins)
            elif len(rows) < n_rows:
                # The subsample may miss rare values of a low-cardinality feature: look at every row.
                distinct = _distinct_values(encoded[:, feature])
                if len(distinct) > self.max_bins:
                    distinct = _quantile_edges(encoded[rows, feature], self.max_bins)
            thresholds = distinct[:-1].copy()
            return thresholds, max(len(thresholds) + 1, 1)

        # Features are independent and numpy's sorts release the GIL: threads share the work.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            per_feature = list(pool.map(feature_bins, range(schema.n_features)))
        self.bin_thresholds_ = [thresholds for thresholds, _ in per_feature]
        self.n_bins_non_missing_ = np.array([count for _, count in per_feature], dtype=np.int64)
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


def _distinct_values(values: np.ndarray) -> np.ndarray:
    """Sorted distinct non-missing values (hashing first: cheaper than sorting every row)."""
    values = values[~np.isnan(values)]
    return np.sort(pd.unique(values))


def _unique_of_sorted(sorted_values: np.ndarray) -> np.ndarray:
    keep = np.ones(len(sorted_values), dtype=np.bool_)
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=keep[1:])
    return sorted_values[keep]


def _quantile_edges(values: np.ndarray, max_bins: int) -> np.ndarray:
    """Up to ``max_bins`` upper bin edges taken from the data's own (non-missing) values."""
    return _edges_of_sorted(np.sort(values[~np.isnan(values)]), max_bins)


def _edges_of_sorted(sorted_values: np.ndarray, max_bins: int) -> np.ndarray:
    """Quantile edges of sorted values as numpy's ``inverted_cdf`` defines them, plus the maximum.

    ``inverted_cdf`` returns observed values (the smallest ``x`` with ``CDF(x) >= level``), which keeps bins
    unchanged when a feature is rescaled. The largest value is appended so the last bin is closed like the
    others.
    """
    n_values = len(sorted_values)
    levels = np.arange(1, max_bins) / max_bins
    positions = np.clip(np.ceil(levels * n_values).astype(np.int64) - 1, 0, n_values - 1)
    edges = _unique_of_sorted(sorted_values[positions])
    if edges[-1] < sorted_values[-1]:
        edges = np.append(edges, sorted_values[-1])
    return edges
