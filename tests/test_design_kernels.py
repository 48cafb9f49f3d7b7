"""The design-moment kernels (upliftree._kernels.design) on random trees: rows as units equal clusters of one
row, and cluster codes or row order change nothing but rounding. The slow reference is in test_design.py."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree._kernels.design import N_MOMENTS as KERNEL_N_MOMENTS
from upliftree.design import N_MOMENTS, design_moments, moments_of_unit_totals, unit_totals


def _random_tree(rng, n_nodes):
    """Parents of a random binary-ish tree, parents before children, and its leaves."""
    parent = np.full(n_nodes, -1, dtype=np.int64)
    for node in range(1, n_nodes):
        parent[node] = rng.integers(0, node)
    is_leaf = np.ones(n_nodes, dtype=bool)
    is_leaf[parent[1:]] = False
    return parent, np.flatnonzero(is_leaf)


def _random_rows(seed, n_rows, n_nodes, n_arms):
    """A random tree's parents and rows reaching its leaves: leaves, arms, weights (some 0), outcomes, rng."""
    rng = np.random.default_rng(seed)
    parent, leaf_ids = _random_tree(rng, n_nodes)
    leaves = rng.choice(leaf_ids, size=n_rows)
    arm = rng.integers(0, n_arms, size=n_rows)
    weight = rng.choice([0.0, 0.5, 1.25, 4.0], size=n_rows)
    return parent, leaves, arm, weight, rng.normal(size=n_rows), rng


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 80), st.integers(1, 15), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_rows_as_units_equal_clusters_of_one_row_and_codes_and_order_do_not_matter(n_rows, n_nodes, n_arms, seed):
    parent, leaves, arm, weight, y, rng = _random_rows(seed, n_rows, n_nodes, n_arms)
    rows = design_moments(parent, leaves, arm, weight, y, None, n_arms)
    assert rows.shape == (n_nodes, n_arms, N_MOMENTS) and KERNEL_N_MOMENTS == N_MOMENTS
    one_row_clusters = design_moments(parent, leaves, arm, weight, y, rng.permutation(n_rows) * 7, n_arms)
    np.testing.assert_allclose(one_row_clusters, rows, rtol=1e-12, atol=1e-12)
    cluster = rng.integers(0, max(n_rows // 4, 1), size=n_rows)
    clustered = design_moments(parent, leaves, arm, weight, y, cluster, n_arms)
    # Other codes for the same clusters, and the rows in another order: the same sums.
    recoded = design_moments(parent, leaves, arm, weight, y, 1000 - 3 * cluster, n_arms)
    order = rng.permutation(n_rows)
    reordered = design_moments(parent, leaves[order], arm[order], weight[order], y[order], cluster[order], n_arms)
    np.testing.assert_allclose(recoded, clustered, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(reordered, clustered, rtol=1e-12, atol=1e-12)
    # Units and totals: every node counts its rows' units, and the root holds every row.
    if n_rows:
        assert clustered[0, :, 0].sum() == sum(len(np.unique(cluster[arm == a])) for a in range(n_arms))
        np.testing.assert_allclose(rows[0, :, 1].sum(), np.sum(weight * weight), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 80), st.integers(1, 15), st.integers(2, 3), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_unit_totals_merged_over_parts_give_the_design_moments(n_rows, n_nodes, n_arms, n_parts, seed):
    """Totals of each part of the rows (Dask partitions), summed per (node, unit), give every moment."""
    parent, leaves, arm, weight, y, rng = _random_rows(seed, n_rows, n_nodes, n_arms)
    cluster = rng.integers(0, max(n_rows // 3, 1), size=n_rows)
    part = rng.integers(0, n_parts, size=n_rows)
    pieces = [unit_totals(parent, leaves[part == p], arm[part == p], weight[part == p], y[part == p],
                          cluster[part == p], n_arms) for p in range(n_parts) if (part == p).any()]
    node, unit = (np.concatenate([piece[i] for piece in pieces]) for i in range(2))
    key, group = np.unique(node * 1000 + unit, return_inverse=True)
    merged = [np.stack([np.bincount(group, weights=np.concatenate([piece[i][:, a] for piece in pieces]),
                                    minlength=len(key)) for a in range(n_arms)], axis=1) for i in (2, 3, 4)]
    moments = moments_of_unit_totals(key // 1000, *merged, n_nodes)
    np.testing.assert_allclose(moments, design_moments(parent, leaves, arm, weight, y, cluster, n_arms),
                               rtol=1e-10, atol=1e-10)
