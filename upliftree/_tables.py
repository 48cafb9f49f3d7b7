"""Tables the command line prints: for people (``table``, ``markdown``) or for programs (``csv``, ``json``).

Each :class:`OutputTable` carries two frames: ``shown``, text for people (numbers through
:mod:`upliftree._format`), and ``data``, the full values. ``table`` is drawn by rich (in the CLI: at the
terminal's width on a terminal and at the table's own full width otherwise, so piped output is never cut),
``markdown`` writes ``shown`` as GitHub tables, ``csv`` and ``json`` write ``data`` at full precision.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._format import markdown_cell, significant

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TABLE_FORMATS", "OutputTable", "readable", "render_tables"]

TABLE_FORMATS = ("table", "csv", "json", "markdown")
# Integer columns that name things rather than count them: no thousands separators.
_IDENTIFIERS = ("id", "leaf", "bin", "leaf_id", "segment")
_NUMBER_START = re.compile(r"^([+-]?[\d.]|n/a$|$)")


@dataclass(frozen=True)
class OutputTable:
    """One printed table: ``name`` (its key in JSON output), ``title``, ``shown`` (text) and ``data`` (values)."""

    name: str
    title: str
    shown: pd.DataFrame
    data: pd.DataFrame

    def numeric_columns(self) -> list[bool]:
        """Which columns of ``shown`` hold numbers (right-aligned): numbers in ``data``, or text that starts
        like a number in every row (``+2.1 pp (+0.4, +3.8)``, ``12.5%``)."""
        return [(column in self.data and self.data[column].dtype.kind in "iuf")
                or (len(self.shown) > 0 and all(_NUMBER_START.match(str(value)) for value in self.shown[column]))
                for column in self.shown.columns]


def _readable_value(value: Any, identifier: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value) if identifier else f"{value:,}"
    if isinstance(value, float | np.floating):
        return significant(value)
    return str(value)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as text for people: floats to 4 significant digits (tiny ones in scientific notation),
    counts with thousands separators, booleans as yes/no."""
    import pandas as pd

    columns = {}
    for column in frame.columns:
        identifier = str(column).lower() in _IDENTIFIERS
        columns[column] = [_readable_value(value, identifier) for value in frame[column].tolist()]
    return pd.DataFrame(columns, index=frame.index)


def _json_value(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _markdown(table: OutputTable) -> str:
    header = [markdown_cell(column) for column in table.shown.columns]
    align = ["---:" if numeric else ":---" for numeric in table.numeric_columns()]
    lines = [f"**{markdown_cell(table.title)}**", "", "| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |"
              for row in table.shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def render_tables(tables: Sequence[OutputTable], format: str) -> str:
    """The tables as one text in ``format`` ``"csv"`` (tables apart by an empty line), ``"json"`` (one object,
    table name -> list of rows) or ``"markdown"``; ``"table"`` is drawn by the caller (rich)."""
    if format == "csv":
        return "\n".join(table.data.to_csv(index=False, lineterminator="\n") for table in tables)
    if format == "json":
        document = {table.name: [{str(key): _json_value(value) for key, value in row.items()}
                                 for row in table.data.to_dict("records")] for table in tables}
        return json.dumps(document, indent=1, allow_nan=False) + "\n"
    if format == "markdown":
        return "\n".join(_markdown(table) for table in tables)
    raise ValueError(f"format must be one of {list(TABLE_FORMATS[1:])} here, got {format!r}")
