"""Save and load fitted models as versioned, human-readable JSON (no pickle, no code execution).

The schema is documented in ``docs/model_json.md``. :mod:`.writer` turns a fitted model into a document
(``to_json``, ``save``); :mod:`.reader` checks a document field by field and builds the fitted estimator
(``from_json``, ``load``); :mod:`._format` holds what both share. The names below load on first use, so writing a
model (``model.save``) does not load the reader, which imports the estimators (``docs/architecture.md``).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FORMAT": "upliftree.export.model_json._format",
    "FORMAT_VERSION": "upliftree.export.model_json._format",
    "ModelFormatError": "upliftree.export.model_json._format",
    "from_json": "upliftree.export.model_json.reader",
    "load": "upliftree.export.model_json.reader",
    "read_document": "upliftree.export.model_json.reader",
    "model_document": "upliftree.export.model_json.writer",
    "save": "upliftree.export.model_json.writer",
    "to_json": "upliftree.export.model_json.writer",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'upliftree.export.model_json' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
