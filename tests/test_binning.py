"""Bins: the mergeable quantile sketch (any partition of the rows merges to the one-chunk summary), the meaning of
its thresholds (exact bins, ``inverted_cdf`` quantiles), and ``BinMapper.from_thresholds``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from upliftree._validation import FeatureSchema
from upliftree.binning import BinMapper, QuantileSketch, thresholds_from_bin_edges


def column_of_kind(kind: int, n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Continuous, few values, few values with a rare one, or rounded (many ties); some missing."""
    if kind == 0:
        values = rng.normal(size=n_rows)
    elif kind == 1:
        values = rng.integers(0, 6, n_rows).astype(np.float64)
    elif kind == 2:
        values = rng.integers(0, 3, n_rows).astype(np.float64)
        values[rng.random(n_rows) < 0.02] = 50.0 + rng.integers(0, 8)
    else:
        values = np.round(rng.normal(size=n_rows), 1)
    values[rng.random(n_rows) < rng.choice([0.0, 0.1, 0.5])] = np.nan
    return values


@st.composite
def chunked_rows(draw):
    """Rows of a few numeric columns with their sample keys, settings, and a partition of the rows into chunks."""
    n_rows = draw(st.integers(0, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kinds = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    values = np.column_stack([column_of_kind(kind, n_rows, rng) for kind in kinds])
    keys = rng.random(n_rows)
    cuts = sorted(draw(st.lists(st.integers(0, n_rows), max_size=6)))
    max_bins = draw(st.integers(2, 12))
    subsample = draw(st.one_of(st.none(), st.integers(20, 500)))
    return values, keys, [0, *cuts, n_rows], max_bins, subsample


def merged_in_a_tree(sketches: list[QuantileSketch], fan_in: int) -> QuantileSketch:
    """Consecutive groups merged, then the groups' results, as Dask's tree reduction does."""
    while len(sketches) > 1:
        sketches = [QuantileSketch.merge(sketches[start:start + fan_in]) for start in range(0, len(sketches), fan_in)]
    return sketches[0]


def assert_same_summary(merged: QuantileSketch, whole: QuantileSketch) -> None:
    assert merged.n_rows == whole.n_rows
    np.testing.assert_array_equal(merged.keys, whole.keys)
    for merged_sample, sample in zip(merged.sample, whole.sample, strict=True):
        np.testing.assert_array_equal(merged_sample, sample)
    for merged_distinct, distinct in zip(merged.distinct, whole.distinct, strict=True):
        assert (merged_distinct is None) == (distinct is None)
        if distinct is not None:
            np.testing.assert_array_equal(merged_distinct, distinct)
    for merged_edges, edges in zip(merged.thresholds(), whole.thresholds(), strict=True):
        np.testing.assert_array_equal(merged_edges, edges)


@given(chunked_rows(), st.integers(2, 4))
def test_merging_the_chunks_of_any_partition_gives_the_one_chunk_summary(case, fan_in):
    values, keys, bounds, max_bins, subsample = case
    columns = list(range(values.shape[1]))
    whole = QuantileSketch.of_rows(values, columns, keys, max_bins, subsample)
    chunks = [QuantileSketch.of_rows(values[start:stop], columns, keys[start:stop], max_bins, subsample)
              for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    assert_same_summary(QuantileSketch.merge(chunks), whole)
    assert_same_summary(merged_in_a_tree(chunks, fan_in), whole)
    # The thresholds a one-chunk summary finds while summarizing are those its state gives.
    assert_same_summary(QuantileSketch.merge([whole]), whole)


def test_the_sample_keeps_each_row_whose_key_is_below_subsample_over_rows():
    rng = np.random.default_rng(0)
    values, keys = rng.normal(size=(10_000, 1)), rng.random(10_000)
    sketch = QuantileSketch.of_rows(values, [0], keys, 255, 1_000)
    kept = keys < 1_000 / 10_000
    np.testing.assert_array_equal(sketch.keys, keys[kept])
    np.testing.assert_array_equal(sketch.sample[0], values[kept, 0])
    assert sketch.distinct == (None,)
    assert abs(len(sketch.keys) - 1_000) < 4 * np.sqrt(1_000)  # about subsample rows


def test_thresholds_are_the_distinct_values_or_inverted_cdf_quantiles():
    rng = np.random.default_rng(1)
    few = rng.choice([0.5, 2.0, 7.0], 3_000)
    few[:3] = np.nan
    many = np.round(rng.lognormal(size=3_000), 2)
    sketch = QuantileSketch.of_rows(np.column_stack([few, many]), [0, 1], rng.random(3_000), 16, None)
    exact, quantile = sketch.thresholds()
    np.testing.assert_array_equal(exact, [0.5, 2.0])  # one bin per value: every value but the largest
    levels = np.arange(1, 16) / 16
    edges = np.unique(np.quantile(many, levels, method="inverted_cdf"))
    np.testing.assert_array_equal(quantile, edges)  # the maximum closes the last bin and is no threshold
    assert quantile[-1] < many.max()


def test_in_memory_fit_is_the_one_chunk_sketch_of_its_rows():
    rng = np.random.default_rng(2)
    encoded = np.column_stack([rng.normal(size=5_000), rng.integers(0, 3, 5_000), rng.integers(0, 40, 5_000)])
    keys = np.random.default_rng(3).random(5_000)  # the fit's keys: draws of its random_state
    encoded[np.flatnonzero(keys >= 500 / 5_000)[:5], 1] = 9.0  # a rare value on rows out of the sample
    schema = FeatureSchema(("x", "c", "z"), (None, None, ("a",) * 40))
    mapper = BinMapper(32, subsample=500, random_state=3).fit(encoded, schema)
    sketch = QuantileSketch.of_rows(encoded, [0, 1], keys, 32, 500)
    for feature, thresholds in enumerate(sketch.thresholds()):
        np.testing.assert_array_equal(mapper.bin_thresholds_[feature], thresholds)
    assert 9.0 not in sketch.sample[1]
    np.testing.assert_array_equal(mapper.bin_thresholds_[1], [0.0, 1.0, 2.0])  # every row's values are seen
    assert len(mapper.bin_thresholds_[2]) == 0 and mapper.n_bins_non_missing_[2] == 40


def test_from_thresholds_is_the_fitted_mapper_it_describes():
    rng = np.random.default_rng(4)
    encoded = np.column_stack([rng.normal(size=2_000), rng.integers(0, 5, 2_000)]).astype(np.float64)
    schema = FeatureSchema(("x", "c"), (None, tuple("abcde")))
    fitted = BinMapper(64, random_state=0).fit(encoded, schema)
    built = BinMapper.from_thresholds(schema, [fitted.bin_thresholds_[0], None], 64)
    for name in ("bin_thresholds_", "n_bins_non_missing_", "is_categorical_", "missing_bin_"):
        expected, actual = getattr(fitted, name), getattr(built, name)
        if name == "bin_thresholds_":
            assert all(np.array_equal(a, b) for a, b in zip(actual, expected, strict=True))
        else:
            np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(built.transform(encoded), fitted.transform(encoded))
    assert not built.bin_thresholds_[0].flags.writeable
    # Data may hold infinite values, so fitted thresholds may too; unordered or too many are refused.
    BinMapper.from_thresholds(schema, [[-np.inf, 0.0], None], 64)
    with pytest.raises(ValueError, match="the thresholds of 'x' must be at most max_bins - 1 = 63 strictly"):
        BinMapper.from_thresholds(schema, [[1.0, 0.0], None], 64)
    with pytest.raises(ValueError, match="the thresholds of 'x'"):
        BinMapper.from_thresholds(schema, [np.arange(64.0), None], 64)
    with pytest.raises(ValueError, match="one entry per feature"):
        BinMapper.from_thresholds(schema, [[0.0]], 64)


def test_given_bin_edges_are_checked_against_the_schema():
    schema = FeatureSchema(("x", "c"), (None, tuple("abc")))
    assert thresholds_from_bin_edges(None, schema, 16) == [None, None]
    given = thresholds_from_bin_edges({"x": [0.0, 1.0]}, schema, 16)
    np.testing.assert_array_equal(given[0], [0.0, 1.0])
    assert given[1] is None
    with pytest.raises(ValueError, match=r"bin_edges\['x'\] must be at most max_bins - 1 = 15 finite"):
        thresholds_from_bin_edges({"x": [0.0, np.inf]}, schema, 16)
    with pytest.raises(ValueError, match="not a numeric feature"):
        thresholds_from_bin_edges({"c": [0.0]}, schema, 16)
    other = BinMapper.from_thresholds(FeatureSchema(("x", "c"), (None, tuple("ab"))), [[0.0], None], 16)
    with pytest.raises(ValueError, match="other features, categories or max_bins"):
        thresholds_from_bin_edges(other, schema, 16)
    with pytest.raises(TypeError, match="bin_edges must be None, a fitted BinMapper or a dict"):
        thresholds_from_bin_edges([0.0], schema, 16)
