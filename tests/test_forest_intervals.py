"""Per-row uplift intervals of forests grown in little bags: kernel against a slow reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree._kernels.forest_variance import little_bag_terms


def loop_terms(leaves, value, group_size):
    """The kernel's arithmetic in plain Python, same operations in the same order (for an exact match)."""
    n_rows, n_trees = leaves.shape
    n_groups = n_trees // group_size
    between = np.empty((n_rows, value.shape[0] - 1))
    noise = np.empty_like(between)
    for row in range(n_rows):
        for arm in range(1, value.shape[0]):
            shift = value[arm, leaves[row, 0]] - value[0, leaves[row, 0]]
            total_sum = total_squares = group_squares = 0.0
            for group in range(n_groups):
                group_sum = 0.0
                for member in range(group_size):
                    leaf = leaves[row, group * group_size + member]
                    deviation = value[arm, leaf] - value[0, leaf] - shift
                    group_sum += deviation
                    total_squares += deviation * deviation
                total_sum += group_sum
                group_squares += (group_sum / group_size) ** 2
            overall = total_sum / (n_groups * group_size)
            between[row, arm - 1] = group_squares / n_groups - overall * overall
            noise[row, arm - 1] = (total_squares / (n_groups * group_size) - overall * overall
                                   - between[row, arm - 1]) / (group_size - 1)
    return between, noise


def reference_terms(leaves, value, group_size):
    """The between-group and group-noise terms by their definition, over a rows x trees uplift matrix."""
    uplift = value[1:, leaves] - value[:1, leaves]  # (n_treatments, n_rows, n_trees)
    n_groups = leaves.shape[1] // group_size
    uplift = uplift[:, :, : n_groups * group_size]
    overall = uplift.mean(axis=2, keepdims=True)
    group_means = uplift.reshape(uplift.shape[0], uplift.shape[1], n_groups, group_size).mean(axis=3)
    between = ((group_means - overall) ** 2).mean(axis=2)
    total = ((uplift - overall) ** 2).mean(axis=2)
    return between.T, ((total - between) / (group_size - 1)).T


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(1, 8), st.integers(2, 4), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_little_bag_terms_match_reference(n_rows, n_groups, group_size, n_arms, seed):
    rng = np.random.default_rng(seed)
    n_nodes = 30
    value = rng.normal(loc=rng.normal(scale=100.0), size=(n_arms, n_nodes))
    leaves = rng.integers(0, n_nodes, size=(n_rows, n_groups * group_size))
    between = np.empty((n_rows, n_arms - 1))
    noise = np.empty((n_rows, n_arms - 1))
    little_bag_terms(leaves, value, group_size, between, noise)
    exact_between, exact_noise = loop_terms(leaves, value, group_size)
    np.testing.assert_array_equal(between, exact_between)
    np.testing.assert_array_equal(noise, exact_noise)
    expected_between, expected_noise = reference_terms(leaves, value, group_size)
    scale = max(np.abs(value).max() ** 2, 1.0)
    np.testing.assert_allclose(between, expected_between, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(noise, expected_noise, rtol=1e-9, atol=1e-12 * scale)
