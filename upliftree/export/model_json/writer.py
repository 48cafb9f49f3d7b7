"""Write fitted models as versioned, human-readable JSON (the schema: ``docs/model_json.md``).

Every float is kept exact (Python's shortest round-trip ``repr``); the non-finite floats JSON lacks are
written as the strings ``"inf"``, ``"-inf"`` and ``"nan"``. :mod:`.reader` reads the documents back.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from ..._base import FOREST, model_kind
from ..._tree_arrays import categories_in_bitset
from ..._validation import FeatureSchema, pooled_group
from ._format import (
    ESTIMATOR_CLASSES,
    FITTED_SCALARS,
    FORMAT,
    FORMAT_VERSION,
    OPTIONAL_FITTED_SCALARS,
    STATS_FIELDS,
    UNSAVED_PARAMS,
)

__all__ = ["model_document", "to_json", "save"]

INLINE_WIDTH = 100  # objects and nested lists up to this many characters stay on one line


def _json_float(value: float) -> float | str:
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _json_scalar(value: Any, what: str) -> Any:
    """A label, category or parameter as the JSON value of the same type (ints stay ints, strings strings)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what} {value!r} is not finite; JSON models need finite labels and categories")
        return value
    raise TypeError(f"{what} {value!r} of type {type(value).__name__} cannot be written to JSON")


def _param_value(name: str, value: Any) -> Any:
    if isinstance(value, np.random.Generator):
        # A Generator's state is not a parameter one can write down; the loaded model never refits from it.
        return None
    return _json_scalar(value, f"parameter {name}")


def _fitted_document(model: Any) -> dict[str, Any]:
    fitted: dict[str, Any] = {}
    for attribute, kind in {**FITTED_SCALARS, **OPTIONAL_FITTED_SCALARS}.items():
        value = getattr(model, attribute, None)
        name = attribute.rstrip("_")
        if value is None:
            fitted[name] = None
        elif kind is float:
            fitted[name] = _json_float(value)
        else:
            fitted[name] = kind(value)
    return fitted


def _tree_document(estimator: Any, schema: FeatureSchema, with_params: bool) -> dict[str, Any]:
    tree = estimator.tree_
    left_categories = []
    for node in range(tree.n_nodes):
        if tree.is_categorical[node]:
            n_categories = len(schema.categories[int(tree.feature[node])])
            left_categories.append(categories_in_bitset(tree.category_bitset[node], n_categories).tolist())
        else:
            left_categories.append([])
    document: dict[str, Any] = {"params": _params_document(estimator)} if with_params else {}
    document.update({
        "fitted": _fitted_document(estimator),
        "n_nodes": tree.n_nodes,
        "children_left": tree.children_left.tolist(),
        "children_right": tree.children_right.tolist(),
        "parent": tree.parent.tolist(),
        "depth": tree.depth.tolist(),
        "feature": tree.feature.tolist(),
        "threshold": [_json_float(value) for value in tree.threshold],
        "is_categorical": tree.is_categorical.tolist(),
        "left_categories": left_categories,
        "missing_left": tree.missing_left.tolist(),
        "gain": [_json_float(value) for value in tree.gain],
        "raw_gain": [_json_float(value) for value in tree.raw_gain],
        "stats": [[[_json_float(value) for value in arm] for arm in node] for node in tree.stats],
        "value": [[_json_float(value) for value in node] for node in tree.value],
    })
    if tree.has_design:
        document["design_moments"] = [[[_json_float(value) for value in arm] for arm in node]
                                      for node in tree.design_moments]
    return document


def _params_document(estimator: Any) -> dict[str, Any]:
    return {name: _param_value(name, value) for name, value in estimator.get_params().items()
            if name not in UNSAVED_PARAMS}


def _feature_document(schema: FeatureSchema, index: int) -> dict[str, Any]:
    name, categories = schema.names[index], schema.categories[index]
    kind = "categorical" if categories is not None else "bool" if schema.is_bool[index] else "numeric"
    document: dict[str, Any] = {"name": name, "type": kind}
    if categories is not None:
        group = pooled_group(categories)
        kept = categories if group is None else categories[:-1]
        document["categories"] = [_json_scalar(value, f"category of {name!r}") for value in kept]
        # The rare categories pooled into one extra category (code len(categories)) at fit time, or null.
        document["pooled"] = None if group is None else [_json_scalar(value, f"pooled category of {name!r}")
                                                         for value in group.values]
    document["has_missing"] = schema.missing_at_fit(index)
    return document


def model_document(model: Any) -> dict[str, Any]:
    """The JSON-ready dict of a fitted tree, distilled tree or forest."""
    is_forest = model_kind(model) == FOREST
    class_name = type(model).__name__
    if class_name not in ESTIMATOR_CLASSES:
        raise TypeError(f"model must be an upliftree tree, distilled tree or forest, got {class_name}")
    import upliftree

    schema = model.schema_
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": upliftree.__version__,
        "class": class_name,
        "outcome": model.outcome_type_,
        "params": _params_document(model),
        "features": [_feature_document(schema, index) for index in range(schema.n_features)],
        "treatments": [_json_scalar(label, "treatment label") for label in model.treatments_],
        "stats_fields": list(STATS_FIELDS),
    }
    if is_forest:
        document["trees"] = [_tree_document(tree, schema, with_params=True) for tree in model.estimators_]
    else:
        document["tree"] = _tree_document(model, schema, with_params=False)
    profile = getattr(model, "training_profile_", None)
    if profile is not None:  # drift monitoring: see upliftree.monitor
        from ...monitor import check_profile

        document["training_profile"] = check_profile(profile)
    return document


def _dump(value: Any, indent: int) -> str:
    """JSON text: objects indented, one line per item of a long list of lists (a node's row of ``stats``)."""
    inline = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if not isinstance(value, dict | list) or len(inline) <= INLINE_WIDTH:
        return inline
    pad = " " * indent
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(key, ensure_ascii=False)}: {_dump(item, indent + 2)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if any(isinstance(item, dict) for item in value):
        items = [f"{inner}{_dump(item, indent + 2)}" for item in value]
    elif any(isinstance(item, list) for item in value):
        items = [f"{inner}{json.dumps(item, ensure_ascii=False, allow_nan=False)}" for item in value]
    else:
        return inline
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


def to_json(model: Any) -> str:
    """The model as a JSON document (see ``docs/model_json.md``); ``from_json`` reads it back exactly."""
    return _dump(model_document(model), 0) + "\n"


def save(model: Any, path: str | os.PathLike) -> None:
    """Write ``to_json(model)`` to ``path`` (UTF-8)."""
    text = to_json(model)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
