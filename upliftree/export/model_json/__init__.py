"""Save and load fitted models as versioned, human-readable JSON (no pickle, no code execution).

The schema is documented in ``docs/model_json.md``. :mod:`.writer` turns a fitted model into a document
(``to_json``, ``save``); :mod:`.reader` checks a document field by field and builds the fitted estimator
(``from_json``, ``load``); :mod:`._format` holds what both share. The names below load on first use, so writing a
model (``model.save``) does not load the reader, which imports the estimators (``docs/architecture.md``).
"""

from __future__ import annotations

from ..._lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(__name__, globals(), {
    "upliftree.export.model_json._format": ("FORMAT", "FORMAT_VERSION", "ModelFormatError"),
    "upliftree.export.model_json.reader": ("from_json", "load", "read_document"),
    "upliftree.export.model_json.writer": ("model_document", "save", "to_json"),
})
