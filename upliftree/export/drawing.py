"""What a drawing of a fitted tree shows, whoever renders it (Graphviz, matplotlib, the HTML report).

Every node shows the condition that leads to it (merged per feature along the path, from
:mod:`upliftree.rules`), its share of rows, per-arm counts and outcome means, and the uplift with its
interval (:func:`upliftree.segments.node_effects`). Leaves are filled on a diverging scale, red for negative
and blue for positive uplift (with several treatments: the best treatment's), saturating at the largest
absolute leaf uplift; a legend shows the scale, and under it one line says where missing values go when the
conditions leave them out (:func:`upliftree.rules.missing_note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._base import check_tree_model
from .._format import OutcomeFormat, interval_label
from ..rules import format_condition, missing_note
from ..segments import NodeEffects, node_effects
from .sheets import branch_condition, node_shares, node_summary, outcome_format

__all__ = ["DrawnNode", "TreeDrawing", "tree_drawing", "uplift_colour", "text_colour"]

NEGATIVE = np.array([178, 24, 43])  # red
NEUTRAL = np.array([247, 247, 247])  # near white
POSITIVE = np.array([33, 102, 172])  # blue
LEGEND_STEPS = 5


def uplift_colour(uplift: float, scale: float) -> str:
    """Hex colour of ``uplift`` on the diverging scale saturating at ``+-scale`` (grey when undefined)."""
    if not np.isfinite(uplift):
        return "#cccccc"
    position = float(np.clip(uplift / scale, -1.0, 1.0))
    end = POSITIVE if position > 0 else NEGATIVE
    rgb = np.rint(NEUTRAL + abs(position) * (end - NEUTRAL)).astype(int)
    return "#" + "".join(f"{channel:02x}" for channel in rgb)


def text_colour(uplift: float, scale: float) -> str:
    """White on the saturated ends of the scale, black elsewhere."""
    return "white" if np.isfinite(uplift) and abs(uplift) / scale > 0.6 else "black"


@dataclass(frozen=True)
class DrawnNode:
    """One box: ``title`` in bold (``all rows``, or the condition, ``leaf 7: ...`` for a leaf), then ``lines``."""

    node: int
    parent: int  # -1 for the root
    depth: int
    is_leaf: bool
    condition: str
    title: str
    lines: tuple[str, ...]
    fill: str
    text_colour: str


@dataclass(frozen=True)
class TreeDrawing:
    """The boxes of a tree in node order (a parent before its children), and the legend of the colours."""

    nodes: tuple[DrawnNode, ...]
    legend_title: str
    legend: tuple[tuple[str, str, str], ...]  # (label, fill, text colour) from -scale to +scale
    note: str | None
    effects: NodeEffects
    shares: np.ndarray
    numbers: OutcomeFormat
    scale: float

    def children(self, node: int) -> list[int]:
        return [drawn.node for drawn in self.nodes if drawn.parent == node]


def tree_drawing(model: Any, alpha: float = 0.05, precision: int | None = 4) -> TreeDrawing:
    """The boxes, colours and legend of a fitted tree's drawing.

    Parameters
    ----------
    alpha : float
        Intervals have coverage ``1 - alpha``.
    precision : int or None
        Significant digits of thresholds; None prints them exactly.
    """
    check_tree_model(model)
    tree = model.tree_
    numbers = outcome_format(model)
    effects = node_effects(tree, numbers.binary, alpha)
    shares = node_shares(model)
    several = effects.uplift.shape[1] > 1
    # With several treatments a leaf is coloured by its best treatment's uplift.
    leaf_uplift = np.full(tree.n_nodes, np.nan)
    finite = np.isfinite(effects.uplift).any(axis=1)
    leaf_uplift[finite] = np.nanmax(effects.uplift[finite], axis=1)
    scale = np.nanmax(np.abs(leaf_uplift[tree.leaf_ids]), initial=0.0)
    scale = float(scale) if scale > 0 else 1.0

    nodes = []
    depth = np.zeros(tree.n_nodes, dtype=np.int64)
    for node in range(tree.n_nodes):
        parent = int(tree.parent[node]) if node > 0 else -1
        depth[node] = depth[parent] + 1 if node > 0 else 0
        condition = "all rows" if node == 0 else format_condition(branch_condition(model, node), precision)
        is_leaf = bool(tree.children_left[node] < 0)
        if is_leaf:
            fill, text = uplift_colour(leaf_uplift[node], scale), text_colour(leaf_uplift[node], scale)
        else:
            fill, text = "white", "black"
        nodes.append(DrawnNode(node, parent, int(depth[node]), is_leaf, condition,
                               f"leaf {node}: {condition}" if is_leaf else condition,
                               tuple(node_summary(model, effects, shares, node, numbers)), fill, text))
    legend = tuple((f"{numbers.difference(value)}{numbers.unit}", uplift_colour(value, scale),
                    text_colour(value, scale)) for value in np.linspace(-scale, scale, LEGEND_STEPS))
    title = f"uplift{' of the best treatment' if several else ''} ({interval_label(alpha)} in parentheses)"
    return TreeDrawing(tuple(nodes), title, legend, missing_note(tree, model.schema_), effects, shares, numbers,
                       scale)
