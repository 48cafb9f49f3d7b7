"""The report's tree: the drawing's boxes as a foldable tree of rows that stays readable at page width.

A picture of the whole tree shrinks its text with the number of leaves (7 px on the demo at page width).
The report instead lays the boxes of :func:`upliftree.export.drawing.tree_drawing` out as rows, children
indented under their parent with connector lines, and columns aligned across rows: the condition, the share
of rows, per treatment the uplift with its interval drawn on one axis for all rows, and per arm the rows and
outcome. Subtrees below :data:`OPEN_DEPTH` start folded; every subtree folds and unfolds with a click, in
CSS only (no script: the report opens offline and anywhere). The full drawing is ``tree.svg``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._format import OutcomeFormat, count, percent
from ..export.drawing import TreeDrawing

__all__ = ["OPEN_DEPTH", "arm_cells", "tree_view"]

OPEN_DEPTH = 4  # subtrees of nodes at this depth and deeper start folded: the default report tree shows all


def arm_cells(labels: list[str], counts: Any, levels: Any, numbers: OutcomeFormat) -> list[dict[str, str]]:
    """Per arm, its label, rows and outcome level as text (one line of a cell per arm)."""
    return [{"label": label, "n": count(n), "level": numbers.level(level)}
            for label, n, level in zip(labels, counts, levels, strict=True)]


def _axis(drawing: TreeDrawing) -> tuple[float, float]:
    """The interval axis shared by every row: all finite bounds and 0, with a little room at both ends."""
    bounds = np.concatenate([drawing.effects.ci_low.ravel(), drawing.effects.ci_high.ravel(),
                             drawing.effects.uplift.ravel(), [0.0]])
    bounds = bounds[np.isfinite(bounds)]
    low, high = float(bounds.min()), float(bounds.max())
    room = 0.04 * (high - low) if high > low else 1.0
    return low - room, high + room


def tree_view(drawing: TreeDrawing, labels: list[str], root_name: str) -> dict[str, Any]:
    """What the template draws: ``root`` (nested nodes), ``axis`` ticks and the column headers.

    Parameters
    ----------
    drawing : TreeDrawing
    labels : list of str
        Arm labels, control first.
    root_name : str
        What the root's rows are (the estimation rows of an honest tree).
    """
    effects, numbers = drawing.effects, drawing.numbers
    low, high = _axis(drawing)

    def position(value: float) -> float:
        return round(100 * (value - low) / (high - low), 2)

    def effect_view(node: int, arm: int) -> dict[str, Any]:
        estimate, ci_low, ci_high = (float(values[node, arm]) for values in
                                     (effects.uplift, effects.ci_low, effects.ci_high))
        view: dict[str, Any] = {"estimate": numbers.effect(estimate), "interval": numbers.interval(ci_low, ci_high),
                                "bar": None,
                                "sign": "pos" if ci_low > 0 else ("neg" if ci_high < 0 else "none")}
        if np.isfinite(estimate) and np.isfinite(ci_low) and np.isfinite(ci_high):
            view["bar"] = {"low": position(ci_low), "width": max(position(ci_high) - position(ci_low), 0.4),
                           "estimate": position(estimate)}
        return view

    children: dict[int, list[int]] = {}
    for drawn in drawing.nodes:
        children.setdefault(drawn.parent, []).append(drawn.node)

    def build(node: int) -> dict[str, Any]:
        drawn = drawing.nodes[node]
        kids = [build(child) for child in children.get(node, [])]
        return {
            "id": node, "depth": drawn.depth, "leaf": drawn.is_leaf, "fill": drawn.fill,
            "condition": root_name if node == 0 else drawn.condition,
            "share": percent(drawing.shares[node]), "share_width": round(100 * float(drawing.shares[node]), 1),
            "effects": [effect_view(node, arm) for arm in range(len(labels) - 1)],
            "arms": arm_cells(labels, effects.count[node], effects.mean[node], numbers),
            "n_leaves": sum(kid["n_leaves"] for kid in kids) if kids else 1,
            "folded": drawn.depth >= OPEN_DEPTH, "children": kids,
        }

    ticks = [{"position": position(value), "label": f"{numbers.difference(value)}{numbers.unit}" if value else "0"}
             for value in (low, 0.0, high)]
    # A tick label too close to the zero tick would overlap it.
    ticks = [tick for tick in ticks if tick["label"] == "0" or abs(tick["position"] - position(0.0)) > 14]
    return {"root": build(0), "ticks": ticks, "zero": position(0.0), "treatments": labels[1:],
            "outcome": "rate" if numbers.binary else "mean"}
