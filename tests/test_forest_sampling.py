"""Row samples of forest trees: draw counts, drawn rows, partitions, and growing on counts instead of repeats.

Each compiled kernel is checked against a slow, obvious version on many random inputs.
"""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor, make_uplift_data
from upliftree._grower import HistogramSource, grow_tree
from upliftree._kernels.partition import partition_rows
from upliftree._kernels.sampling import add_draws, drawn_sample, next_position
from upliftree.binning import BinMapper
from upliftree.datasets import FEATURES
from upliftree.tree import growth_params

SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=200, deadline=None)
@given(seed=SEEDS, n_rows=st.integers(0, 400), n_bins=st.integers(1, 256), share=st.floats(0.0, 1.0))
def test_partition_matches_boolean_mask(seed, n_rows, n_bins, share):
    rng = np.random.default_rng(seed)
    column = rng.integers(0, n_bins, 2 * n_rows + 1).astype(np.uint8)
    rows = np.sort(rng.choice(len(column), size=n_rows, replace=False)).astype(np.int64)
    counts = rng.integers(1, 5, n_rows).astype(np.int32)
    left_bins = rng.random(256) < share
    left_rows, left_counts, right_rows, right_counts = partition_rows(rows, counts, column, left_bins)
    goes_left = left_bins[column[rows]]
    np.testing.assert_array_equal(left_rows, rows[goes_left])
    np.testing.assert_array_equal(left_counts, counts[goes_left])
    np.testing.assert_array_equal(right_rows, rows[~goes_left])
    np.testing.assert_array_equal(right_counts, counts[~goes_left])


def _draw_one_at_a_time(seed: int, candidates_by_arm: list, n_draws: list, n_rows: int) -> np.ndarray:
    state = np.array([seed], dtype=np.uint64)
    counts = np.zeros(n_rows, dtype=np.int32)
    for candidates, n_draw in zip(candidates_by_arm, n_draws, strict=True):
        for _ in range(n_draw):
            counts[candidates[next_position(state, len(candidates))]] += 1
    return counts


@settings(max_examples=100, deadline=None)
@given(seed=SEEDS, n_rows=st.integers(1, 300), n_arms=st.integers(1, 4), draw_scale=st.floats(0.0, 3.0))
def test_draw_counts_match_drawing_one_row_at_a_time(seed, n_rows, n_arms, draw_scale):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, n_arms, n_rows)
    candidates_by_arm = [np.flatnonzero(arm == code) for code in range(n_arms)]
    candidates_by_arm = [candidates for candidates in candidates_by_arm if len(candidates)]
    n_draws = [int(draw_scale * len(candidates)) for candidates in candidates_by_arm]
    state = np.array([seed], dtype=np.uint64)
    counts = np.zeros(n_rows, dtype=np.int32)
    scratch = np.full(n_rows, 7, dtype=np.int32)  # add_draws clears what it uses
    for candidates, n_draw in zip(candidates_by_arm, n_draws, strict=True):
        add_draws(state, candidates, n_draw, counts, scratch)
    np.testing.assert_array_equal(counts, _draw_one_at_a_time(seed, candidates_by_arm, n_draws, n_rows))
    assert counts.sum() == sum(n_draws)
    rows, row_counts = drawn_sample(counts)
    np.testing.assert_array_equal(rows, np.flatnonzero(counts))
    np.testing.assert_array_equal(row_counts, counts[counts > 0])


@pytest.mark.parametrize("outcome", ["binary", "continuous"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("max_features", [2, None])
def test_growing_on_counts_equals_growing_on_repeated_rows(outcome, weighted, max_features):
    """A row drawn m times counts m times: the tree and its node statistics are those of the repeated rows.

    Also checks the grower's statistics (taken from histograms, children at max_depth from their parent's)
    against routing the sample through the finished tree.
    """
    frame = make_uplift_data(4_000, n_treatments=2, outcome=outcome, random_state=11)
    estimator_class = UpliftTreeClassifier if outcome == "binary" else UpliftTreeRegressor
    estimator = estimator_class(max_depth=4, min_samples_leaf=40, min_samples_treatment=5, max_features=max_features,
                                control="control")
    rng = np.random.default_rng(5)
    weight = rng.uniform(0.5, 2.0, len(frame)) if weighted else None
    schema, arms, data = estimator._prepare(frame[FEATURES], frame["treatment"], frame["outcome"], weight)
    mapper = BinMapper(63, random_state=0).fit(data.encoded, schema)
    source = HistogramSource.of(mapper.transform(data.encoded), data.arm, data.weight, data.y, arms.n_arms,
                                mapper.missing_bin_ + 1, estimator.outcome_type == "binary")
    assert (len(source.bin_class) > 0) == (outcome == "binary" and not weighted)
    params = replace(growth_params(estimator, schema.n_features, parallel=False), n_features_per_split=2
                     if max_features else schema.n_features)
    counts = np.bincount(rng.integers(0, len(frame), len(frame)), minlength=len(frame)).astype(np.int32)
    repeated = np.repeat(np.arange(len(frame)), counts)

    on_counts = grow_tree(source, mapper, *drawn_sample(counts), params, np.random.default_rng(1))
    on_repeats = grow_tree(source, mapper, repeated, np.ones(len(repeated), dtype=np.int32), params,
                           np.random.default_rng(1))
    assert on_counts.n_nodes > 7
    routed = on_counts.route_statistics(data.encoded, data.arm, data.weight, data.y, repeated)
    if weighted:
        # Sums of non-integer weights in another order: equal up to rounding (ties could pick other splits).
        np.testing.assert_allclose(on_counts.stats, routed, rtol=1e-9, atol=1e-9)
        return
    for name in ("feature", "threshold", "children_left", "missing_left", "category_bitset"):
        np.testing.assert_array_equal(getattr(on_counts, name), getattr(on_repeats, name))
    # Counts of 0/1 outcomes are exact; sums of continuous outcomes differ by rounding (m * y vs y + ... + y).
    tolerance = 0.0 if outcome == "binary" else 1e-12
    np.testing.assert_allclose(on_counts.stats, on_repeats.stats, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(on_counts.stats, routed, rtol=tolerance, atol=tolerance)
