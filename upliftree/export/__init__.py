"""Exports of fitted models: JSON model files, SQL scoring queries, Graphviz drawings and rule sheets.

Every export is also an estimator method (``save``, ``to_json``, ``to_sql``, ``to_dot``, ``plot``,
``rules``); ``upliftree.load`` / ``upliftree.from_json`` read models back and ``upliftree.distill``
(:func:`upliftree.export.distill.distill`) turns a forest into a shallow exportable tree. See
``docs/export.md`` and ``docs/model_json.md``.
"""

from .distill import DistilledUpliftTree
from .dot import plot, to_dot
from .model_json import ModelFormatError, from_json, load, save, to_json
from .sheets import leaf_queries, rules, segment_sheet
from .sql import to_sql

__all__ = ["DistilledUpliftTree", "ModelFormatError", "from_json", "leaf_queries", "load", "plot", "rules",
           "save", "segment_sheet", "to_dot", "to_json", "to_sql"]
