"""Class counting with weight levels (``_kernels.histogram``) against slow obvious sums.

A binary outcome whose weights take few distinct values (unit weights, a stratified design's ``1 / p`` times
unit sample weights) is histogrammed by counting (bin, arm, weight level, outcome) cells in integers: the
levels and classes found by :func:`level_classes`, the counts and their expansion to the stats layout by
:func:`class_histograms`, chosen by :meth:`HistogramSource.of`. Each is checked on many random inputs (one
level, many levels, zero weights, rows drawn several times) against a loop over the rows.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree._grower import HistogramSource
from upliftree._kernels.histogram import MAX_WEIGHT_LEVELS, class_histograms, level_classes
from upliftree._tree_arrays import COUNT, N_STATS, WEIGHT, WEIGHT_SQUARED, WEIGHTED_Y, WEIGHTED_Y2

SEEDS = st.integers(0, 2**32 - 1)
# Arbitrary positive weights, exact binary fractions, 0 and 1: the level values a test draws from.
LEVEL_KINDS = ("uniform", "dyadic", "with zero", "unit")


def draw_levels(rng: np.random.Generator, kind: str, n_levels: int) -> np.ndarray:
    if kind == "unit":
        return np.ones(1)
    if kind == "dyadic":
        return rng.choice(np.arange(1, 64) / 8.0, n_levels, replace=False)
    levels = rng.uniform(0.01, 20.0, n_levels)
    if kind == "with zero":
        levels[0] = 0.0
    return levels


def reference_histograms(binned, arm, weight, y, rows, counts, features, n_bins, n_arms) -> np.ndarray:
    """Every drawn row added ``count`` times, one row at a time, in float."""
    histogram = np.zeros((binned.shape[0], n_bins, n_arms, N_STATS))
    for feature in features:
        for row, count in zip(rows, counts, strict=True):
            for _ in range(count):
                cell = histogram[feature, binned[feature, row], arm[row]]
                w = weight[row]
                cell[COUNT] += 1.0
                cell[WEIGHT] += w
                cell[WEIGHTED_Y] += w * y[row]
                cell[WEIGHTED_Y2] += w * y[row] ** 2
                cell[WEIGHT_SQUARED] += w * w
    return histogram


@settings(max_examples=200, deadline=None)
@given(seed=SEEDS, n_rows=st.integers(0, 300), n_arms=st.integers(1, 4), n_levels=st.integers(1, MAX_WEIGHT_LEVELS + 3),
       kind=st.sampled_from(LEVEL_KINDS), runs=st.booleans())
def test_level_classes_number_rows_by_arm_sorted_weight_level_and_outcome(seed, n_rows, n_arms, n_levels, kind,
                                                                          runs):
    rng = np.random.default_rng(seed)
    levels = draw_levels(rng, kind, n_levels)
    weight = levels[rng.integers(0, len(levels), n_rows)]
    if runs:  # long runs of one weight (the kernel's shortcut for the previous row's level)
        weight = np.sort(weight)
    weight = weight.copy()
    weight.flags.writeable = False
    arm = rng.integers(0, n_arms, n_rows)
    y = rng.integers(0, 2, n_rows)
    row_class, level_weights = level_classes(arm, y.astype(np.float64), weight, MAX_WEIGHT_LEVELS)
    distinct = sorted(set(weight.tolist()))
    if len(distinct) > MAX_WEIGHT_LEVELS:
        assert len(level_weights) == 0
        return
    np.testing.assert_array_equal(level_weights, distinct)
    expected = [(arm[row] * len(distinct) + distinct.index(weight[row])) * 2 + y[row] for row in range(n_rows)]
    np.testing.assert_array_equal(row_class, expected)
    assert row_class.dtype == np.uint16


def test_level_classes_refuse_nan_weights():
    weight = np.array([1.0, np.nan, 2.0])
    _, level_weights = level_classes(np.zeros(3, dtype=np.int64), np.zeros(3), weight, MAX_WEIGHT_LEVELS)
    assert len(level_weights) == 0


@settings(max_examples=200, deadline=None)
@given(seed=SEEDS, n_rows=st.integers(1, 400), n_arms=st.integers(1, 4), n_bins=st.integers(1, 12),
       n_levels=st.integers(1, MAX_WEIGHT_LEVELS), kind=st.sampled_from(LEVEL_KINDS))
def test_class_histograms_match_row_by_row_sums(seed, n_rows, n_arms, n_bins, n_levels, kind):
    """The kernel on classes made as ``HistogramSource`` makes them, against a float loop over the drawn rows:
    counts exactly, weighted sums to rounding (exactly with dyadic weights, whose sums are exact)."""
    rng = np.random.default_rng(seed)
    levels = np.sort(draw_levels(rng, kind, n_levels))
    level = rng.integers(0, len(levels), n_rows)
    arm = rng.integers(0, n_arms, n_rows)
    y = rng.integers(0, 2, n_rows)
    n_features = int(rng.integers(1, 4))
    binned = rng.integers(0, n_bins, (n_features, n_rows)).astype(np.uint8)
    n_classes = 2 * n_arms * len(levels)
    bin_class = binned.astype(np.uint16) * n_classes + ((arm * len(levels) + level) * 2 + y).astype(np.uint16)
    counts_of_rows = np.where(rng.random(n_rows) < 0.2, 0, rng.integers(1, 4, n_rows)).astype(np.int32)
    rows = np.flatnonzero(counts_of_rows)
    counts = counts_of_rows[rows]
    features = np.sort(rng.choice(n_features, int(rng.integers(1, n_features + 1)), replace=False))
    histogram = np.zeros((n_features, n_bins, n_arms, N_STATS))
    class_histograms(histogram, bin_class, rows, counts, levels, features)
    expected = reference_histograms(binned, arm, levels[level], y.astype(np.float64), rows, counts, features,
                                    n_bins, n_arms)
    np.testing.assert_array_equal(histogram[..., COUNT], expected[..., COUNT])
    if kind in ("dyadic", "unit"):
        np.testing.assert_array_equal(histogram, expected)
    else:
        np.testing.assert_allclose(histogram, expected, rtol=1e-12, atol=1e-12)
    # Zero-weight rows are counted in COUNT only; cells of weight 0 are exactly 0.
    no_weight = expected[..., WEIGHT] == 0.0
    assert not histogram[..., WEIGHT][no_weight].any() and not histogram[..., WEIGHT_SQUARED][no_weight].any()


@settings(max_examples=100, deadline=None)
@given(seed=SEEDS, n_rows=st.integers(1, 300), n_arms=st.integers(2, 4), n_levels=st.integers(1, 20),
       kind=st.sampled_from(LEVEL_KINDS), binary=st.booleans(), n_bins_total=st.sampled_from((4, 256)))
def test_source_counts_levels_whatever_the_row_order(seed, n_rows, n_arms, n_levels, kind, binary, n_bins_total):
    """``HistogramSource.of`` counts classes when the outcome is 0/1 and there are at most ``MAX_WEIGHT_LEVELS``
    weights (and the codes fit 16 bits), else sums floats; either way its histograms are the row-by-row sums,
    and with levels the same bits for the rows in any order (the levels are summed in sorted order)."""
    rng = np.random.default_rng(seed)
    levels = draw_levels(rng, kind, n_levels)
    weight = levels[rng.integers(0, len(levels), n_rows)]
    arm = rng.integers(0, n_arms, n_rows)
    y = rng.integers(0, 2, n_rows).astype(np.float64) if binary else rng.normal(size=n_rows)
    binned = rng.integers(0, n_bins_total, (2, n_rows)).astype(np.uint8)
    source = HistogramSource.of(binned, arm, weight, y, n_arms, n_bins_total, binary)
    n_distinct = len(np.unique(weight))
    counting = binary and n_distinct <= MAX_WEIGHT_LEVELS and n_bins_total * 2 * n_arms * n_distinct <= 2**16
    assert (len(source.bin_class) > 0) == counting
    if counting:
        np.testing.assert_array_equal(source.level_weights, np.unique(weight))
    rows, counts = np.arange(n_rows), np.ones(n_rows, dtype=np.int32)
    features = np.arange(2)
    histogram = source.build(rows, counts, features)
    expected = reference_histograms(binned, arm, weight, y, rows, counts, features, n_bins_total, n_arms)
    np.testing.assert_array_equal(histogram[..., COUNT], expected[..., COUNT])
    np.testing.assert_allclose(histogram, expected, rtol=1e-12, atol=1e-12)
    order = rng.permutation(n_rows)
    shuffled = HistogramSource.of(binned[:, order], arm[order], weight[order], y[order], n_arms, n_bins_total,
                                  binary)
    if counting:
        np.testing.assert_array_equal(shuffled.build(rows, counts, features), histogram)
