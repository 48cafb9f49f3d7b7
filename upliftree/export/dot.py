"""Graphviz drawings of a fitted tree: DOT source, and files rendered with the system ``dot`` program, or with
matplotlib where ``dot`` is missing (:mod:`upliftree.export.tree_figure`).

What the boxes and the legend show is :func:`upliftree.export.drawing.tree_drawing`. See ``docs/export.md``.
"""

from __future__ import annotations

import html
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from .._params import check_choice
from .drawing import LEGEND_STEPS, TreeDrawing, tree_drawing, uplift_colour

__all__ = ["to_dot", "plot", "PLOT_FORMATS", "RENDERERS", "graphviz_available", "uplift_colour"]

PLOT_FORMATS = ("svg", "png", "pdf")
RANKDIRS = ("TB", "LR")
RENDERERS = ("auto", "graphviz", "matplotlib")
GRAPHVIZ_HELP = (
    "Rendering needs the Graphviz 'dot' program, which was not found on PATH. Install Graphviz "
    "(Debian/Ubuntu: 'apt-get install graphviz'; macOS: 'brew install graphviz'; conda: "
    "'conda install graphviz'; Windows: https://graphviz.org/download/), or write the DOT source with "
    "model.to_dot() and render it elsewhere."
)


def graphviz_available() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH (where the ``graphviz`` package looks for it)."""
    return shutil.which("dot") is not None


def _html_label(title: str, lines: list[str], colour: str) -> str:
    rows = [f'<TR><TD><B>{html.escape(title)}</B></TD></TR>']
    rows += [f"<TR><TD>{html.escape(line)}</TD></TR>" for line in lines]
    return f'<<FONT COLOR="{colour}"><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">{"".join(rows)}</TABLE></FONT>>'


def _legend_label(drawing: TreeDrawing) -> str:
    cells = [f'<TD BGCOLOR="{fill}" WIDTH="60"><FONT COLOR="{text}">{html.escape(label)}</FONT></TD>'
             for label, fill, text in drawing.legend]
    header = f'<TR><TD COLSPAN="{LEGEND_STEPS}"><B>{html.escape(drawing.legend_title)}</B></TD></TR>'
    footer = ("" if drawing.note is None
              else f'<TR><TD COLSPAN="{LEGEND_STEPS}" BORDER="0">{html.escape(drawing.note)}</TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0">{header}<TR>{"".join(cells)}</TR>{footer}</TABLE>>'


def to_dot(model: Any, alpha: float = 0.05, precision: int | None = 4, rankdir: str = "TB") -> str:
    """DOT source of the fitted tree (needs the ``graphviz`` Python package, not the ``dot`` program).

    Parameters
    ----------
    alpha, precision
        As in :func:`upliftree.export.drawing.tree_drawing` (interval coverage ``1 - alpha``; significant
        digits of thresholds, None for exact).
    rankdir : {"TB", "LR"}
        Root at the top (``"TB"``) or on the left (``"LR"``, easier to read for deep trees with long rules).
    """
    import graphviz

    check_choice(rankdir, "rankdir", RANKDIRS)
    drawing = tree_drawing(model, alpha, precision)
    graph = graphviz.Digraph("uplift_tree", graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
                             node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                        "fontsize": "10", "color": "#888888"},
                             edge_attr={"color": "#666666"})
    for drawn in drawing.nodes:
        graph.node(str(drawn.node), label=_html_label(drawn.title, list(drawn.lines), drawn.text_colour),
                   fillcolor=drawn.fill)
        if drawn.parent >= 0:
            graph.edge(str(drawn.parent), str(drawn.node))
    with graph.subgraph(name="cluster_legend", graph_attr={"label": "", "color": "white"}) as legend:
        # Under the scale, one line on missing values when the conditions leave out "x is missing or".
        legend.node("legend", label=_legend_label(drawing), shape="plaintext", style="")
    return graph.source


def plot(model: Any, path: str | os.PathLike, format: str = "svg", alpha: float = 0.05,
         precision: int | None = 4, rankdir: str = "TB", renderer: str = "auto") -> Path:
    """Draw the tree to ``path`` as SVG, PNG or PDF.

    Parameters
    ----------
    format : {"svg", "png", "pdf"}
    alpha, precision, rankdir
        As in :func:`to_dot`.
    renderer : {"auto", "graphviz", "matplotlib"}
        ``"graphviz"`` renders :func:`to_dot` with the system ``dot`` program; ``"matplotlib"`` draws the same
        boxes with matplotlib (:func:`upliftree.export.tree_figure.tree_figure`); ``"auto"`` uses Graphviz when
        ``dot`` is on PATH and otherwise matplotlib, with a ``UserWarning`` saying so.

    Raises
    ------
    RuntimeError
        With ``renderer="graphviz"`` when the ``dot`` program is not installed (the message says how to
        install it).
    """
    check_choice(format, "format", PLOT_FORMATS)
    check_choice(renderer, "renderer", RENDERERS)
    if renderer == "auto":
        renderer = "graphviz" if graphviz_available() else "matplotlib"
        if renderer == "matplotlib":
            warnings.warn("Graphviz's 'dot' program was not found on PATH: the tree is drawn with matplotlib "
                          "instead (install Graphviz for its layout, or pass renderer='matplotlib' to silence "
                          "this warning)", UserWarning, stacklevel=3)
    path = Path(path)
    if renderer == "matplotlib":
        from .tree_figure import save_tree_figure

        check_choice(rankdir, "rankdir", RANKDIRS)
        save_tree_figure(tree_drawing(model, alpha, precision), path, format, rankdir)
        return path
    import graphviz

    source = to_dot(model, alpha, precision, rankdir)
    try:
        rendered = graphviz.Source(source).pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(GRAPHVIZ_HELP) from None
    path.write_bytes(rendered)
    return path
