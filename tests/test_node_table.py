"""The node-table module: the statistics layout it owns and the one renumbering routine of node tables."""

from __future__ import annotations

import upliftree._tree_arrays as nodes


def test_stats_layout_names_every_column_in_order() -> None:
    columns = [nodes.COUNT, nodes.WEIGHT, nodes.WEIGHTED_Y, nodes.WEIGHTED_Y2, nodes.WEIGHT_SQUARED]
    assert columns == list(range(nodes.N_STATS))
    assert len(nodes.STAT_NAMES) == nodes.N_STATS
    assert [nodes.STAT_NAMES[column] for column in columns] == [
        "count", "weight", "weighted_y", "weighted_y2", "weight_squared"]
