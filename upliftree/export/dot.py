"""Graphviz drawings of a fitted tree: DOT source, and files rendered with the system ``dot`` program.

Every node shows the condition that leads to it (merged per feature along the path, from
:mod:`upliftree.rules`), its share of rows, per-arm counts and outcome means, and the uplift with its
interval (:func:`upliftree.segments.node_effects`). Leaves are filled on a diverging scale, red for
negative and blue for positive uplift, explained by a legend, under which one line says where missing values
go when the conditions leave them out (:func:`upliftree.rules.missing_note`). See ``docs/export.md``.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._base import check_is_fitted
from ..rules import format_condition, missing_note
from ..segments import node_effects
from .sheets import branch_condition, format_uplift, interval_label, node_shares, node_summary

__all__ = ["to_dot", "plot", "PLOT_FORMATS", "uplift_colour"]

PLOT_FORMATS = ("svg", "png", "pdf")
RANKDIRS = ("TB", "LR")
NEGATIVE = np.array([178, 24, 43])  # red
NEUTRAL = np.array([247, 247, 247])  # near white
POSITIVE = np.array([33, 102, 172])  # blue
LEGEND_STEPS = 5
GRAPHVIZ_HELP = (
    "Rendering needs the Graphviz 'dot' program, which was not found on PATH. Install Graphviz "
    "(Debian/Ubuntu: 'apt-get install graphviz'; macOS: 'brew install graphviz'; conda: "
    "'conda install graphviz'; Windows: https://graphviz.org/download/), or write the DOT source with "
    "model.to_dot() and render it elsewhere."
)


def uplift_colour(uplift: float, scale: float) -> str:
    """Hex colour of ``uplift`` on the diverging scale saturating at ``+-scale`` (grey when undefined)."""
    if not np.isfinite(uplift):
        return "#cccccc"
    position = float(np.clip(uplift / scale, -1.0, 1.0))
    end = POSITIVE if position > 0 else NEGATIVE
    rgb = np.rint(NEUTRAL + abs(position) * (end - NEUTRAL)).astype(int)
    return "#" + "".join(f"{channel:02x}" for channel in rgb)


def _text_colour(uplift: float, scale: float) -> str:
    return "white" if np.isfinite(uplift) and abs(uplift) / scale > 0.6 else "black"


def _html_label(title: str, lines: list[str], colour: str) -> str:
    rows = [f'<TR><TD><B>{html.escape(title)}</B></TD></TR>']
    rows += [f"<TR><TD>{html.escape(line)}</TD></TR>" for line in lines]
    return f'<<FONT COLOR="{colour}"><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">{"".join(rows)}</TABLE></FONT>>'


def _legend_label(scale: float, binary: bool, title: str, note: str | None = None) -> str:
    cells = []
    for value in np.linspace(-scale, scale, LEGEND_STEPS):
        text = format_uplift(value, np.nan, np.nan, binary)
        cells.append(f'<TD BGCOLOR="{uplift_colour(value, scale)}" WIDTH="60">'
                     f'<FONT COLOR="{_text_colour(value, scale)}">{html.escape(text)}</FONT></TD>')
    header = f'<TR><TD COLSPAN="{LEGEND_STEPS}"><B>{html.escape(title)}</B></TD></TR>'
    footer = "" if note is None else f'<TR><TD COLSPAN="{LEGEND_STEPS}" BORDER="0">{html.escape(note)}</TD></TR>'
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0">{header}<TR>{"".join(cells)}</TR>{footer}</TABLE>>'


def to_dot(model: Any, alpha: float = 0.05, precision: int | None = 4, rankdir: str = "TB") -> str:
    """DOT source of the fitted tree (needs the ``graphviz`` Python package, not the ``dot`` program).

    Parameters
    ----------
    alpha : float
        Intervals have coverage ``1 - alpha``.
    precision : int or None
        Significant digits of thresholds; None prints them exactly.
    rankdir : {"TB", "LR"}
        Root at the top (``"TB"``) or on the left (``"LR"``, easier to read for deep trees with long rules).
    """
    import graphviz

    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {list(RANKDIRS)}, got {rankdir!r}")
    check_is_fitted(model)
    tree = model.tree_
    binary = model._binary
    effects = node_effects(tree, binary, alpha)
    shares = node_shares(model)
    several = effects.uplift.shape[1] > 1
    # With several treatments a leaf is coloured by its best treatment's uplift.
    leaf_uplift = np.full(tree.n_nodes, np.nan)
    finite = np.isfinite(effects.uplift).any(axis=1)
    leaf_uplift[finite] = np.nanmax(effects.uplift[finite], axis=1)
    leaves = tree.leaf_ids
    scale = np.nanmax(np.abs(leaf_uplift[leaves]), initial=0.0)
    scale = scale if scale > 0 else 1.0

    graph = graphviz.Digraph("uplift_tree", graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
                             node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                        "fontsize": "10", "color": "#888888"},
                             edge_attr={"color": "#666666"})
    for node in range(tree.n_nodes):
        title = "all rows" if node == 0 else format_condition(branch_condition(model, node), precision)
        lines = node_summary(model, effects, shares, node)
        if tree.children_left[node] < 0:
            title = f"leaf {node}: {title}"
            fill, text = uplift_colour(leaf_uplift[node], scale), _text_colour(leaf_uplift[node], scale)
        else:
            fill, text = "white", "black"
        graph.node(str(node), label=_html_label(title, lines, text), fillcolor=fill)
        if node > 0:
            graph.edge(str(int(tree.parent[node])), str(node))
    title = f"uplift{' of the best treatment' if several else ''} ({interval_label(alpha)} in parentheses)"
    with graph.subgraph(name="cluster_legend", graph_attr={"label": "", "color": "white"}) as legend:
        # Under the scale, one line on missing values when the conditions leave out "x is missing or".
        note = missing_note(tree, model.schema_)
        legend.node("legend", label=_legend_label(scale, binary, title, note), shape="plaintext", style="")
    return graph.source


def plot(model: Any, path: str | os.PathLike, format: str = "svg", alpha: float = 0.05,
         precision: int | None = 4, rankdir: str = "TB") -> Path:
    """Render :func:`to_dot` to ``path`` as SVG, PNG or PDF with the system ``dot`` program.

    Raises
    ------
    RuntimeError
        When Graphviz's ``dot`` program is not installed (the message says how to install it).
    """
    import graphviz

    if format not in PLOT_FORMATS:
        raise ValueError(f"format must be one of {list(PLOT_FORMATS)}, got {format!r}")
    source = to_dot(model, alpha, precision, rankdir)
    try:
        rendered = graphviz.Source(source).pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(GRAPHVIZ_HELP) from None
    path = Path(path)
    path.write_bytes(rendered)
    return path
