"""The work of the compile helper, the second process that compiles kernels on a cold cache (``docs/performance.md``).

Numba compiles on one thread, under a lock held for the whole compilation, so a first run on an empty cache
uses one core however many the machine has. When the kernels are not cached yet, importing them starts a
helper interpreter (``upliftree._kernels.start_compile_helper``) that runs :func:`main`: it compiles, into the
same on-disk cache, the kernels a first session reaches *late*, in the order it reaches them (:data:`STEPS`):
the callees of the split search (which the split search then links from the cache instead of compiling them),
the rest of a tree fit, forest prediction, the metrics, a forest's row draws. Meanwhile the session compiles
the first kernels of its fit (bin mapping, histograms, category orders, the split search); each kernel it
reaches later is loaded from the cache when the helper has finished it, and compiled there otherwise (Numba
looks in the cache before compiling), so results never depend on the helper: it only moves compilation to
another core. ``tests/test_coldstart.py`` checks that the helper compiles only kernels and signatures a first
session compiles by itself, and that the session then compiles none of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def _split_search_callees() -> None:
    """The functions the split search calls, typed as ``best_split`` and ``category_orders`` call them: cached,
    they are linked into the split search instead of compiled inside it (about a third of its compile time)."""
    from numba import types

    from ._kernels.criteria import split_gain
    from ._kernels.splitter import add_cells, row_count

    cells, per_arm = types.float64[:, ::1], types.float64[::1]
    split_gain.compile((cells, cells, cells, per_arm, types.float64, types.int64, types.boolean, types.float64,
                        types.boolean, types.float64, per_arm, per_arm))
    add_cells.compile((cells, cells))
    row_count.compile((cells,))


def _one_split_tree_fields() -> dict:
    """The node table of a tree with one split (feature 0 at 0.5), two arms: TreeArrays' fields but its
    statistics (``_tree_arrays`` imports pandas, which the tree-fit step does not wait for)."""
    import numpy as np

    from ._kernels.predictor import BITSET_WORDS

    return {"children_left": np.array([1, -1, -1]), "children_right": np.array([2, -1, -1]),
            "parent": np.array([-1, 0, 0]), "depth": np.array([0, 1, 1]), "feature": np.array([0, -1, -1]),
            "threshold": np.array([0.5, np.nan, np.nan]), "is_categorical": np.zeros(3, dtype=bool),
            "category_bitset": np.zeros((3, BITSET_WORDS), dtype=np.uint64), "missing_left": np.zeros(3, dtype=bool),
            "gain": np.zeros(3), "raw_gain": np.zeros(3)}


def _one_split_tree():
    """:func:`_one_split_tree_fields` as the TreeArrays a fit builds (unit statistics)."""
    import numpy as np

    from ._tree_arrays import N_STATS, TreeArrays, node_values

    fields = _one_split_tree_fields()
    stats = np.ones((3, 2, N_STATS))
    return TreeArrays(**fields, stats=stats, value=node_values(stats, fields["parent"]))


def _tree_fit_rest() -> None:
    """Splitting a node's rows, sibling histograms, and the honest estimates: rows routed through a one-split
    tree (``TreeArrays.route_statistics``). Called at the kernel boundary, in the one type per argument it
    fixes: the estimators' modules import pandas, a third of a second this step does not wait for."""
    import numpy as np

    from ._kernels.boundary import kernel_array, strided_matrix
    from ._kernels.histogram import sibling_histogram
    from ._kernels.partition import partition_rows
    from ._kernels.predictor import ALL_ROWS, ROUTING_FIELDS, accumulate_node_stats, apply_tree
    from ._kernels.stats_layout import N_STATS

    binned = np.zeros((1, 4), dtype=np.uint8)
    partition_rows(np.arange(4), np.ones(4, dtype=np.int32), binned[0], np.zeros(256, dtype=np.bool_))
    histogram = np.ones((1, 256, 2, N_STATS))
    sibling_histogram(histogram, histogram)
    tree = _one_split_tree_fields()
    routing = tuple(kernel_array(tree[name], dtype) for name, dtype in ROUTING_FIELDS)
    leaves = np.empty(4, dtype=np.int64)
    apply_tree(*strided_matrix(np.zeros((4, 1))), ALL_ROWS, 0, 4, *routing, leaves)
    per_row = (kernel_array(leaves, np.int64), kernel_array([0, 1, 0, 1], np.int64),
               kernel_array(np.ones(4), np.float64), kernel_array(np.zeros(4), np.float64))
    accumulate_node_stats(*per_row, 2, kernel_array(tree["parent"], np.int64))


def _forest_draws() -> None:
    """A forest's bootstrap draws and its samples."""
    import numpy as np

    from ._kernels.sampling import drawn_sample
    from .forest import draw_counts

    counts = draw_counts([np.array([0, 2]), np.array([1, 3])], np.array([2, 2]), True, 4, np.random.default_rng(0))
    drawn_sample(counts)


def _forest_prediction() -> None:
    import numpy as np

    from .predictor import StackedForest

    StackedForest.from_trees([_one_split_tree()]).mean_values(np.zeros((4, 1)))


def _metrics() -> None:
    """A Qini coefficient, its bootstrap interval and a decile table."""
    import numpy as np

    from . import metrics

    y, score, treated = np.array([0, 1, 1, 0] * 10), np.linspace(0.0, 1.0, 40), np.array([0, 0, 1, 1] * 10)
    metrics.qini_auc_score(y, score, treated)
    metrics.bootstrap_ci(metrics.qini_auc_score, y, score, treated, n_boot=10, random_state=0)
    metrics.uplift_by_percentile(y, score, treated, std=True)


# In the order a first session reaches them, what a first tree fit waits for first. A forest draws its rows
# before growing its trees, so a first fit of a forest compiles the draws itself before the helper would: they
# come last, for the sessions that reach a forest after predictions and metrics.
STEPS: tuple[Callable[[], None], ...] = (_split_search_callees, _tree_fit_rest, _forest_prediction, _metrics,
                                         _forest_draws)


def main() -> None:
    """The helper's work: every step in order, at a lower priority than the process it helps."""
    if hasattr(os, "nice"):
        os.nice(5)
    for step in STEPS:
        step()
