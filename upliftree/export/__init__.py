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

import importlib
from typing import Any

_LAZY = {
    "DistilledUpliftTree": "upliftree.export.distill",
    "ModelFormatError": "upliftree.export.model_json",
    "from_json": "upliftree.export.model_json",
    "load": "upliftree.export.model_json",
    "save": "upliftree.export.model_json",
    "to_json": "upliftree.export.model_json",
    "plot": "upliftree.export.dot",
    "to_dot": "upliftree.export.dot",
    "leaf_queries": "upliftree.export.sheets",
    "rules": "upliftree.export.sheets",
    "segment_sheet": "upliftree.export.sheets",
    "to_sql": "upliftree.export.sql",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'upliftree.export' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
