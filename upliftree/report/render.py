"""Render the report context with the jinja2 template into one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["TEMPLATE", "render_html"]

TEMPLATE = "report.html.j2"


def render_html(context: dict[str, Any]) -> str:
    """HTML with CSS inline, figures as base64 PNG and the tree as inline SVG: no network needed to view it.

    Every value is HTML-escaped except the tree's SVG, which Graphviz wrote with escaped labels.
    """
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE).render(**context)
