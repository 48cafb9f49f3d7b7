"""The tree drawing with matplotlib, for machines without Graphviz's ``dot`` program.

The same boxes, colours and legend as the Graphviz drawing (:func:`upliftree.export.drawing.tree_drawing`).
Unlike scikit-learn's ``plot_tree``, which fits a layout into a given figure and shrinks the font until the
boxes stop overlapping, the font size here is fixed and the figure grows to fit the tree: every box is
measured, depths are columns (``rankdir="LR"``) or rows (``"TB"``) as wide as their widest box, and along the
other axis each subtree is packed as close to its left neighbour as the boxes at every depth allow, with a
parent centred over its children (a Reingold-Tilford tidy layout with per-depth contours).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from .drawing import TreeDrawing

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FONT_SIZE", "save_tree_figure", "tree_figure"]

FONT_SIZE = 9.0  # points: the size Graphviz's drawing uses at 100% (10 pt Helvetica is about as wide)
LINE = 1.3 * FONT_SIZE
PAD = 5.0  # inside a box
SIBLING_GAP = 12.0  # between boxes of one depth
DEPTH_GAP = 36.0  # between depths (the edges)
MARGIN = 10.0
LEGEND_CELL = 60.0
EDGE_COLOUR = "#666666"
BORDER_COLOUR = "#888888"
PNG_DPI = 150


@functools.cache
def _renderer(dpi: int) -> Any:
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, dpi)


# Glyph hinting makes text a few percent wider or narrower depending on the resolution: measured at the
# resolutions the drawing is shown at (screen, PNG), the widest fits them all and the unhinted SVG.
_MEASURE_DPI = (72, 100, PNG_DPI)


def _text_width(text: str, bold: bool) -> float:
    """Width in points of one line of text at :data:`FONT_SIZE` (matplotlib's own text layout), the widest over
    :data:`_MEASURE_DPI`."""
    from matplotlib.font_manager import FontProperties

    font = FontProperties(size=FONT_SIZE, weight="bold" if bold else "normal")
    return max(_renderer(dpi).get_text_width_height_descent(text, font, ismath=False)[0] * 72 / dpi
               for dpi in _MEASURE_DPI)


def _union(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per depth, the extent covering both contours (a contour may be deeper than the other)."""
    levels = []
    for level in range(max(len(first), len(second))):
        parts = [contour[level] for contour in (first, second) if level < len(contour)]
        levels.append((min(low for low, _ in parts), max(high for _, high in parts)))
    return levels


def _tidy_offsets(children: dict[int, list[int]], breadth: dict[int, float]) -> dict[int, float]:
    """Centre of every node along the breadth axis, the root at 0.

    A subtree's contour is, per depth below its root, the lowest and highest extent of its boxes relative to
    the root's centre. Each child subtree is placed at the smallest distance from the ones before it at which
    no two contours overlap at any depth (plus :data:`SIBLING_GAP`), then the children are centred under the
    parent.
    """
    offsets: dict[int, float] = {}

    def place(node: int) -> list[tuple[float, float]]:
        half = breadth[node] / 2
        kids = children.get(node, [])
        if not kids:
            return [(-half, half)]
        merged = place(kids[0])
        centres = [0.0]
        for kid in kids[1:]:
            contour = place(kid)
            shared = min(len(merged), len(contour))
            distance = max(merged[level][1] - contour[level][0] + SIBLING_GAP for level in range(shared))
            centres.append(distance)
            merged = _union(merged, [(low + distance, high + distance) for low, high in contour])
        middle = (centres[0] + centres[-1]) / 2
        for kid, centre in zip(kids, centres, strict=True):
            offsets[kid] = centre - middle
        return [(-half, half)] + [(low - middle, high - middle) for low, high in merged]

    root = next(node for node in breadth if all(node not in kids for kids in children.values()))
    place(root)
    positions = {root: 0.0}
    stack = [root]
    while stack:
        node = stack.pop()
        for kid in children.get(node, []):
            positions[kid] = positions[node] + offsets[kid]
            stack.append(kid)
    return positions


def tree_figure(drawing: TreeDrawing, rankdir: str = "TB") -> Figure:
    """A matplotlib Figure of the drawing, sized so that text is :data:`FONT_SIZE` points at 100%.

    ``rankdir="TB"`` puts the root at the top, ``"LR"`` on the left.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

    nodes = {drawn.node: drawn for drawn in drawing.nodes}
    children: dict[int, list[int]] = {}
    for drawn in drawing.nodes:
        if drawn.parent >= 0:
            children.setdefault(drawn.parent, []).append(drawn.node)
    width = {node: max([_text_width(drawn.title, True), *(_text_width(line, False) for line in drawn.lines)])
             + 2 * PAD for node, drawn in nodes.items()}
    height = {node: (1 + len(drawn.lines)) * LINE + 2 * PAD for node, drawn in nodes.items()}
    across, along = (height, width) if rankdir == "LR" else (width, height)
    breadth = _tidy_offsets(children, across)
    n_depths = 1 + max(drawn.depth for drawn in drawing.nodes)
    depth_size = [max(along[node] for node, drawn in nodes.items() if drawn.depth == depth)
                  for depth in range(n_depths)]
    depth_start = [sum(depth_size[:depth]) + depth * DEPTH_GAP for depth in range(n_depths)]
    low = min(breadth[node] - across[node] / 2 for node in nodes)
    tree_breadth = max(breadth[node] + across[node] / 2 for node in nodes) - low
    tree_depth = depth_start[-1] + depth_size[-1]

    legend_lines = [drawing.legend_title] + ([drawing.note] if drawing.note else [])
    legend_width = max(LEGEND_CELL * len(drawing.legend), *(_text_width(line, False) for line in legend_lines))
    legend_height = (len(legend_lines) + 1) * LINE + PAD
    tree_width, tree_height = (tree_depth, tree_breadth) if rankdir == "LR" else (tree_breadth, tree_depth)
    figure_width = max(tree_width, legend_width) + 2 * MARGIN
    figure_height = tree_height + legend_height + 3 * MARGIN

    # Points as data units, y growing downwards from the top edge of the figure.
    def box(node: int) -> tuple[float, float, float, float]:
        """Left, top, width, height of a node's box."""
        drawn = nodes[node]
        centre_across = breadth[node] - low
        centre_along = depth_start[drawn.depth] + depth_size[drawn.depth] / 2
        x, y = (centre_along, centre_across) if rankdir == "LR" else (centre_across, centre_along)
        return (MARGIN + x - width[node] / 2, legend_height + 2 * MARGIN + y - height[node] / 2, width[node],
                height[node])

    figure = Figure(figsize=(figure_width / 72, figure_height / 72))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, figure_width)
    ax.set_ylim(figure_height, 0)
    ax.set_axis_off()
    text = {"fontsize": FONT_SIZE, "ha": "center", "va": "center"}

    for drawn in drawing.nodes:
        left, top, box_width, box_height = box(drawn.node)
        ax.add_patch(FancyBboxPatch((left, top), box_width, box_height, boxstyle="round,pad=0,rounding_size=4",
                                    facecolor=drawn.fill, edgecolor=BORDER_COLOUR, linewidth=0.8))
        centre = left + box_width / 2
        for row, line in enumerate((drawn.title, *drawn.lines)):
            ax.text(centre, top + PAD + (row + 0.5) * LINE, line, color=drawn.text_colour,
                    fontweight="bold" if row == 0 else "normal", **text)
        if drawn.parent >= 0:
            parent_left, parent_top, parent_width, parent_height = box(drawn.parent)
            if rankdir == "LR":
                start = (parent_left + parent_width, parent_top + parent_height / 2)
                end = (left, top + box_height / 2)
            else:
                start = (parent_left + parent_width / 2, parent_top + parent_height)
                end = (centre, top)
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, color=EDGE_COLOUR,
                                         linewidth=0.8, shrinkA=0, shrinkB=0))

    # The legend above the tree: its title, the colour scale, and the note on missing values.
    ax.text(MARGIN, MARGIN + LINE / 2, drawing.legend_title, fontsize=FONT_SIZE, fontweight="bold", va="center")
    for step, (label, fill, colour) in enumerate(drawing.legend):
        left = MARGIN + step * LEGEND_CELL
        ax.add_patch(Rectangle((left, MARGIN + LINE), LEGEND_CELL, LINE + PAD, facecolor=fill,
                               edgecolor=BORDER_COLOUR, linewidth=0.6))
        ax.text(left + LEGEND_CELL / 2, MARGIN + 1.5 * LINE + PAD / 2, label, color=colour, **text)
    if drawing.note:
        ax.text(MARGIN, MARGIN + 2.5 * LINE + PAD, drawing.note, fontsize=FONT_SIZE, va="center")
    return figure


def save_tree_figure(drawing: TreeDrawing, path: str | os.PathLike, format: str, rankdir: str = "TB") -> None:
    """Write :func:`tree_figure` to ``path`` as SVG, PNG or PDF.

    SVG text is drawn as glyph outlines (matplotlib's default): the boxes were sized for the font that
    measured the text, so the drawing looks the same on machines without that font.
    """
    tree_figure(drawing, rankdir).savefig(path, format=format, dpi=PNG_DPI)
