"""Save and load fitted models as versioned, human-readable JSON (no pickle, no code execution).

The schema is documented in ``docs/model_json.md``. :mod:`.writer` turns a fitted model into a document
(``to_json``, ``save``); :mod:`.reader` checks a document field by field and builds the fitted estimator
(``from_json``, ``load``); :mod:`._format` holds what both share.
"""

from ._format import FORMAT, FORMAT_VERSION, ModelFormatError
from .reader import from_json, load, read_document
from .writer import model_document, save, to_json

__all__ = ["ModelFormatError", "to_json", "from_json", "save", "load", "model_document", "read_document", "FORMAT",
           "FORMAT_VERSION"]
