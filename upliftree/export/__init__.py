"""Exports of fitted models: JSON model files, SQL scoring queries, Graphviz drawings and rule sheets.

Every export is also an estimator method (``save``, ``to_json``, ``to_sql``, ``to_dot``, ``plot``,
``rules``); ``upliftree.load`` / ``upliftree.from_json`` read models back and ``upliftree.distill``
(:func:`upliftree.export.distill.distill`) turns a forest into a shallow exportable tree. See
``docs/export.md`` and ``docs/model_json.md``.

The names below load on first use, so importing one exporter (say ``upliftree.export.sql``, which an estimator's
``to_sql`` does) loads neither the estimators nor the other exporters: dependencies point one way
(``docs/architecture.md``).
"""

from __future__ import annotations

from .._lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(__name__, globals(), {
    "upliftree.export.distill": ("DistilledUpliftTree",),
    "upliftree.export.model_json": ("ModelFormatError", "from_json", "load", "save", "to_json"),
    "upliftree.export.dot": ("plot", "to_dot"),
    "upliftree.export.sheets": ("leaf_queries", "rules", "segment_sheet"),
    "upliftree.export.sql": ("to_sql",),
})
