"""The design-moment kernels (upliftree._kernels.design) on random trees: rows as units equal clusters of one
row, and cluster codes or row order change nothing but rounding. The slow reference is in test_design.py."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from upliftree._kernels.design import N_MOMENTS as KERNEL_N_MOMENTS
from upliftree.design import N_MOMENTS, design_moments


def _random_tree(rng, n_nodes):
    """Parents of a random binary-ish tree, parents before children, and its leaves."""
    parent = np.full(n_nodes, -1, dtype=np.int64)
    for node in range(1, n_nodes):
        parent[node] = rng.integers(0, node)
    is_leaf = np.ones(n_nodes, dtype=bool)
    is_leaf[parent[1:]] = False
    return parent, np.flatnonzero(is_leaf)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 80), st.integers(1, 15), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_rows_as_units_equal_clusters_of_one_row_and_codes_and_order_do_not_matter(n_rows, n_nodes, n_arms, seed):
    rng = np.random.default_rng(seed)
    parent, leaf_ids = _random_tree(rng, n_nodes)
    leaves = rng.choice(leaf_ids, size=n_rows)
    arm = rng.integers(0, n_arms, size=n_rows)
    weight = rng.choice([0.0, 0.5, 1.25, 4.0], size=n_rows)
    y = rng.normal(size=n_rows)
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
