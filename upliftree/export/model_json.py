"""Save and load fitted models as versioned, human-readable JSON (no pickle, no code execution).

The schema is documented in ``docs/model_json.md``. Writing keeps every float exact (Python's shortest
round-trip ``repr``); the non-finite floats JSON lacks are written as the strings ``"inf"``, ``"-inf"`` and
``"nan"``. Reading checks every field's type, range and array length and the tree structure (children after
their parent, every node but the root reached exactly once), and only builds estimators of known classes.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from typing import Any

import numpy as np

from .._tree_arrays import BITSET_WORDS, TreeArrays, categories_in_bitset, category_bitset_of
from .._validation import MAX_CATEGORIES, FeatureSchema, PooledCategories, pooled_group

__all__ = ["ModelFormatError", "to_json", "from_json", "save", "load", "FORMAT", "FORMAT_VERSION"]

FORMAT = "upliftree-model"
FORMAT_VERSION = 2
# Versions a reader accepts. Version 1 lacks the features' "has_missing" flags and the categorical features'
# "pooled" categories (both added in 2); its models read as "every feature had missing values", which keeps
# their rule text as it was, and as having pooled no category.
READABLE_VERSIONS = (1, 2)
STATS_FIELDS = ("count", "weight", "weighted_y", "weighted_y2", "weight_squared")
INLINE_WIDTH = 100  # objects and nested lists up to this many characters stay on one line
NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}

# Estimator classes a document may name: class name -> (module, outcome kind). Nothing else is imported.
TREE_CLASSES = {
    "UpliftTreeClassifier": ("upliftree.tree", "binary"),
    "UpliftTreeRegressor": ("upliftree.tree", "continuous"),
}
FOREST_CLASSES = {
    "UpliftRandomForestClassifier": ("upliftree.forest", "binary"),
    "UpliftRandomForestRegressor": ("upliftree.forest", "continuous"),
}
DISTILLED_CLASSES = {"DistilledUpliftTree": ("upliftree.export.distill", None)}  # outcome taken from the document
ESTIMATOR_CLASSES = {**TREE_CLASSES, **FOREST_CLASSES, **DISTILLED_CLASSES}
OUTCOMES = ("binary", "continuous")
# Scalar fitted attributes saved with each tree (null when the model does not have them) and their JSON types.
FITTED_SCALARS = {
    "n_splits_merged_": int,
    "n_splits_pruned_": int,
    "honest_estimates_": bool,
    "fidelity_r2_": float,
    "qini_model_": float,
    "qini_distilled_": float,
    "qini_kept_": float,
}


class ModelFormatError(ValueError):
    """The text is not a valid upliftree model document; the message names the offending field."""


# -- writing ---------------------------------------------------------------------------------------------
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
    for attribute, kind in FITTED_SCALARS.items():
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
    return document


def _params_document(estimator: Any) -> dict[str, Any]:
    return {name: _param_value(name, value) for name, value in estimator.get_params().items()}


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
    class_name = type(model).__name__
    if class_name not in ESTIMATOR_CLASSES:
        raise TypeError(f"model must be an upliftree tree, distilled tree or forest, got {class_name}")
    is_forest = class_name in FOREST_CLASSES
    if not hasattr(model, "estimators_" if is_forest else "tree_"):
        raise ValueError(f"This {class_name} instance is not fitted yet; call fit first.")
    import upliftree

    schema = model.schema_
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": upliftree.__version__,
        "class": class_name,
        "outcome": "binary" if model._binary else "continuous",
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
        from ..monitor import check_profile

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


# -- reading ---------------------------------------------------------------------------------------------
def _fail(path: str, message: str) -> ModelFormatError:
    return ModelFormatError(f"invalid upliftree model: {path}: {message}")


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _object(value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, f"expected an object, got {_type_name(value)}")
    missing = [key for key in required if key not in value]
    if missing:
        raise _fail(path, f"missing field(s) {missing}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise _fail(path, f"unknown field(s) {unknown}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"expected a string, got {_type_name(value)}")
    return value


def _integer(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"expected an integer, got {_type_name(value)}")
    if not low <= value <= high:
        raise _fail(path, f"expected an integer in [{low}, {high}], got {_short(value)}")
    return value


def _float(value: Any, path: str, finite: bool) -> float:
    if isinstance(value, str) and value in NON_FINITE and not finite:
        return NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        allowed = "a number" if finite else 'a number or one of "inf", "-inf", "nan"'
        raise _fail(path, f"expected {allowed}, got {_type_name(value)} {_short(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise _fail(path, f"number {_short(value)} is too large") from None
    if not math.isfinite(number):
        raise _fail(path, f"number {_short(value)} is not finite")
    return number


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _array(value: Any, path: str, length: int | None = None) -> list:
    if not isinstance(value, list):
        raise _fail(path, f"expected an array, got {_type_name(value)}")
    if length is not None and len(value) != length:
        raise _fail(path, f"expected {length} entries, got {len(value)}")
    return value


def _int_array(value: Any, path: str, length: int, low: int, high: int) -> np.ndarray:
    items = _array(value, path, length)
    for index, item in enumerate(items):
        _integer(item, f"{path}[{index}]", low, high)
    return np.asarray(items, dtype=np.int64).reshape(length)


def _bool_array(value: Any, path: str, length: int) -> np.ndarray:
    items = _array(value, path, length)
    for index, item in enumerate(items):
        if not isinstance(item, bool):
            raise _fail(f"{path}[{index}]", f"expected true or false, got {_type_name(item)}")
    return np.asarray(items, dtype=np.bool_).reshape(length)


def _float_array(value: Any, path: str, shape: tuple[int, ...], finite: bool) -> np.ndarray:
    values = np.empty(shape, dtype=np.float64)

    def fill(items: Any, item_path: str, index: tuple[int, ...]) -> None:
        depth = len(index)
        items = _array(items, item_path, shape[depth])
        for position, item in enumerate(items):
            if depth + 1 == len(shape):
                values[(*index, position)] = _float(item, f"{item_path}[{position}]", finite)
            else:
                fill(item, f"{item_path}[{position}]", (*index, position))

    fill(value, path, ())
    return values


def _label(value: Any, path: str) -> Any:
    if isinstance(value, str | bool) or (isinstance(value, int) and abs(value) < 2**63):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise _fail(path, f"expected a string, boolean, integer or finite number, got {_type_name(value)} "
                      f"{_short(value)}")


def _unique(values: list, path: str) -> None:
    # Python equality, as pandas and the arm coding use: 1, 1.0 and True are the same label, "1" is not.
    if len(set(values)) != len(values):
        raise _fail(path, "duplicated values")


def _read_schema(document: dict, version: int) -> FeatureSchema:
    features = _array(document["features"], "features")
    if not features:
        raise _fail("features", "expected at least one feature")
    # Version 1 has no "has_missing": every feature reads as having had missing values (the old rule text).
    # Version 1 has no "pooled" either (no category was pooled); version 2 requires it of categorical features.
    required = ("name", "type") if version == 1 else ("name", "type", "has_missing")
    optional = ("categories",) if version == 1 else ("categories", "pooled")
    names, categories, has_missing, is_bool = [], [], [], []
    for index, feature in enumerate(features):
        path = f"features[{index}]"
        kind = _string(_object(feature, path, required, optional)["type"], f"{path}.type")
        names.append(_string(feature["name"], f"{path}.name"))
        flag = feature.get("has_missing", True)
        if not isinstance(flag, bool):
            raise _fail(f"{path}.has_missing", f"expected true or false, got {_type_name(flag)}")
        has_missing.append(flag)
        is_bool.append(kind == "bool")
        if kind in ("numeric", "bool"):
            if "categories" in feature or "pooled" in feature:
                raise _fail(path, "a numeric feature has no categories")
            categories.append(None)
        elif kind == "categorical":
            needed = ["categories"] if version == 1 else ["categories", "pooled"]
            absent = [key for key in needed if key not in feature]
            if absent:
                raise _fail(path, f"missing field(s) {absent}")
            values = _array(feature["categories"], f"{path}.categories")
            cats = tuple(_label(value, f"{path}.categories[{i}]") for i, value in enumerate(values))
            pooled = feature.get("pooled")
            if pooled is not None:
                items = _array(pooled, f"{path}.pooled")
                if not items:
                    raise _fail(f"{path}.pooled", "expected null or at least one category")
                group = tuple(_label(value, f"{path}.pooled[{i}]") for i, value in enumerate(items))
                _unique([*cats, *group], f"{path}.categories and {path}.pooled")
                cats = (*cats, PooledCategories(group))
            if len(cats) > MAX_CATEGORIES:
                raise _fail(f"{path}.categories", f"at most {MAX_CATEGORIES} categories (the pooled group counting "
                                                  f"as one), got {len(cats)}")
            _unique(list(cats), f"{path}.categories")
            categories.append(cats)
        else:
            raise _fail(f"{path}.type", f"expected 'numeric', 'bool' or 'categorical', got {_short(kind)}")
    if len(set(names)) != len(names):
        raise _fail("features", "duplicated feature names")
    return FeatureSchema(tuple(names), tuple(categories), tuple(has_missing), tuple(is_bool))


def _read_treatments(document: dict) -> tuple[Any, ...]:
    labels = _array(document["treatments"], "treatments")
    if len(labels) < 2:
        raise _fail("treatments", "expected the control label and at least one treatment label")
    treatments = tuple(_label(label, f"treatments[{index}]") for index, label in enumerate(labels))
    _unique(list(treatments), "treatments")
    return treatments


def _read_tree_arrays(value: Any, path: str, schema: FeatureSchema, n_arms: int, with_params: bool) -> TreeArrays:
    fields = ("fitted", "n_nodes", "children_left", "children_right", "parent", "depth", "feature", "threshold",
              "is_categorical", "left_categories", "missing_left", "gain", "raw_gain", "stats", "value")
    table = _object(value, path, fields, ("params",) if with_params else ())
    n_nodes = _integer(table["n_nodes"], f"{path}.n_nodes", 1, 2**31 - 1)
    children_left = _int_array(table["children_left"], f"{path}.children_left", n_nodes, -1, n_nodes - 1)
    children_right = _int_array(table["children_right"], f"{path}.children_right", n_nodes, -1, n_nodes - 1)
    parent = _check_structure(children_left, children_right, path)
    depth = _depths(parent)
    if not np.array_equal(_int_array(table["parent"], f"{path}.parent", n_nodes, -1, n_nodes - 1), parent):
        raise _fail(f"{path}.parent", "does not match children_left / children_right")
    if not np.array_equal(_int_array(table["depth"], f"{path}.depth", n_nodes, 0, n_nodes - 1), depth):
        raise _fail(f"{path}.depth", "does not match the tree structure")
    is_leaf = children_left < 0
    feature = _int_array(table["feature"], f"{path}.feature", n_nodes, -1, schema.n_features - 1)
    threshold = _float_array(table["threshold"], f"{path}.threshold", (n_nodes,), finite=False)
    is_categorical = _bool_array(table["is_categorical"], f"{path}.is_categorical", n_nodes)
    missing_left = _bool_array(table["missing_left"], f"{path}.missing_left", n_nodes)
    left_categories = _array(table["left_categories"], f"{path}.left_categories", n_nodes)
    category_bitset = np.zeros((n_nodes, BITSET_WORDS), dtype=np.uint64)
    for node in range(n_nodes):
        node_path = f"{path}[node {node}]"
        if is_leaf[node]:
            if feature[node] != -1 or is_categorical[node] or missing_left[node] or left_categories[node] != []:
                raise _fail(node_path, "a leaf must have feature -1, is_categorical false, missing_left false "
                                       "and no left_categories")
            if not math.isnan(threshold[node]):
                raise _fail(node_path, 'a leaf must have threshold "nan"')
            continue
        if feature[node] < 0:
            raise _fail(f"{path}.feature[{node}]", "a split node needs a feature index")
        categories = schema.categories[feature[node]]
        if is_categorical[node] != (categories is not None):
            raise _fail(f"{path}.is_categorical[{node}]", f"does not match the type of feature {feature[node]}")
        if categories is None:
            if math.isnan(threshold[node]) or left_categories[node] != []:
                raise _fail(node_path, "a numeric split needs a threshold (not nan) and no left_categories")
            continue
        if not math.isnan(threshold[node]):
            raise _fail(f"{path}.threshold[{node}]", 'a categorical split must have threshold "nan"')
        codes_path = f"{path}.left_categories[{node}]"
        items = _array(left_categories[node], codes_path)
        codes = _int_array(items, codes_path, len(items), 0, len(categories) - 1)
        if len(np.unique(codes)) != len(codes):
            raise _fail(f"{path}.left_categories[{node}]", "duplicated category codes")
        category_bitset[node] = category_bitset_of(codes)
    return TreeArrays(
        children_left=children_left, children_right=children_right, parent=parent, depth=depth,
        feature=feature, threshold=threshold, is_categorical=is_categorical, category_bitset=category_bitset,
        missing_left=missing_left,
        gain=_float_array(table["gain"], f"{path}.gain", (n_nodes,), finite=True),
        raw_gain=_float_array(table["raw_gain"], f"{path}.raw_gain", (n_nodes,), finite=True),
        stats=_checked_stats(_float_array(table["stats"], f"{path}.stats", (n_nodes, n_arms, len(STATS_FIELDS)),
                                          finite=True), f"{path}.stats"),
        value=_float_array(table["value"], f"{path}.value", (n_nodes, n_arms), finite=True),
    )


def _check_structure(children_left: np.ndarray, children_right: np.ndarray, path: str) -> np.ndarray:
    """Parent of every node, after checking the children describe one tree rooted at node 0."""
    n_nodes = len(children_left)
    parent = np.full(n_nodes, -1, dtype=np.int64)
    for node in range(n_nodes):
        left, right = int(children_left[node]), int(children_right[node])
        if (left < 0) != (right < 0):
            raise _fail(f"{path}[node {node}]", "children_left and children_right must both be -1 or both be "
                                                "node ids")
        if left >= 0 and left == right:
            raise _fail(f"{path}[node {node}]", "both children are the same node")
        for child in (left, right) if left >= 0 else ():
            # Children after their parent rule out cycles; one parent each rules out shared subtrees.
            if child <= node:
                raise _fail(f"{path}[node {node}]", f"child id {child} must be larger than its parent's id")
            if parent[child] >= 0:
                raise _fail(f"{path}[node {node}]", f"node {child} is the child of two nodes")
            parent[child] = node
    orphans = np.flatnonzero(parent[1:] < 0) + 1
    if len(orphans):
        raise _fail(path, f"node {int(orphans[0])} is not reached from the root")
    return parent


def _depths(parent: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(parent), dtype=np.int64)
    for node in range(1, len(parent)):  # parents precede children
        depth[node] = depth[parent[node]] + 1
    return depth


def _checked_stats(stats: np.ndarray, path: str) -> np.ndarray:
    if (stats[:, :, 0] < 0).any() or (stats[:, :, 1] < 0).any() or (stats[:, :, 4] < 0).any():
        raise _fail(path, "counts, weights and squared weights must be >= 0")
    return stats


def _read_params(value: Any, path: str, estimator_class: type) -> dict[str, Any]:
    params = _object(value, path, tuple(estimator_class._get_param_names()))
    for name, item in params.items():
        if item is not None and not isinstance(item, str | bool | int | float):
            raise _fail(f"{path}.{name}", f"expected a string, number, boolean or null, got {_type_name(item)}")
    return params


def _estimator_class(class_name: str) -> tuple[type, str | None]:
    if class_name not in ESTIMATOR_CLASSES:
        raise _fail("class", f"unknown class {_short(class_name)}; expected one of {sorted(ESTIMATOR_CLASSES)}")
    module_name, outcome = ESTIMATOR_CLASSES[class_name]
    estimator_class = getattr(importlib.import_module(module_name), class_name)
    return estimator_class, outcome


def _read_fitted(value: Any, path: str) -> dict[str, Any]:
    fitted = _object(value, path, tuple(attribute.rstrip("_") for attribute in FITTED_SCALARS))
    values = {}
    for attribute, kind in FITTED_SCALARS.items():
        name = attribute.rstrip("_")
        item = fitted[name]
        if item is None:
            continue
        if kind is int:
            values[attribute] = _integer(item, f"{path}.{name}", 0, 2**31 - 1)
        elif kind is bool:
            if not isinstance(item, bool):
                raise _fail(f"{path}.{name}", f"expected true, false or null, got {_type_name(item)}")
            values[attribute] = item
        else:
            values[attribute] = _float(item, f"{path}.{name}", finite=False)
    return values


def set_schema(model: Any, schema: FeatureSchema, treatments: tuple[Any, ...]) -> None:
    """Give ``model`` the fitted attributes that describe its inputs: schema, arm labels, feature names."""
    model.schema_ = schema
    model.treatments_ = np.asarray(treatments, dtype=object)
    model.feature_names_in_ = np.asarray(schema.names, dtype=object)
    model.n_features_in_ = schema.n_features


def _new_estimator(estimator_class: type, params: dict[str, Any], path: str) -> Any:
    model = estimator_class(**params)
    check = getattr(model, "_check_tree_params", None)
    if check is not None:
        try:
            check()
        except (TypeError, ValueError) as error:
            raise _fail(path, str(error)) from None
    return model


def _read_tree(value: Any, path: str, estimator_class: type, params: dict[str, Any] | None, schema: FeatureSchema,
               treatments: tuple[Any, ...]) -> Any:
    """A fitted tree estimator from a tree document (its own ``params`` when ``params`` is None)."""
    with_params = params is None
    tree = _read_tree_arrays(value, path, schema, len(treatments), with_params)
    if with_params:
        if "params" not in value:
            raise _fail(path, "missing field(s) ['params']")
        params = _read_params(value["params"], f"{path}.params", estimator_class)
    model = _new_estimator(estimator_class, params, f"{path}.params" if with_params else "params")
    set_schema(model, schema, treatments)
    model._set_tree(tree)
    for attribute, item in _read_fitted(value["fitted"], f"{path}.fitted").items():
        setattr(model, attribute, item)
    return model


def read_document(document: Any) -> Any:
    """A fitted estimator from a parsed JSON document; raises ModelFormatError when it is not valid."""
    if not isinstance(document, dict):
        raise _fail("document", f"expected a JSON object, got {_type_name(document)}")
    if document.get("format") != FORMAT:
        raise _fail("format", f"expected {FORMAT!r}, got {_short(document.get('format'))}; "
                              "this is not an upliftree model file")
    version = document.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        readable = " or ".join(str(item) for item in READABLE_VERSIONS)
        raise _fail("format_version", f"this upliftree reads format_version {readable}, got "
                                      f"{_short(version)}; load it with the upliftree version that wrote it")
    class_name = _string(document.get("class"), "class")
    estimator_class, class_outcome = _estimator_class(class_name)
    is_forest = class_name in FOREST_CLASSES
    _object(document, "document", ("format", "format_version", "library_version", "class", "outcome", "params",
                                   "features", "treatments", "stats_fields", "trees" if is_forest else "tree"),
            ("training_profile",))
    _string(document["library_version"], "library_version")
    outcome = _string(document["outcome"], "outcome")
    if outcome not in OUTCOMES or (class_outcome is not None and outcome != class_outcome):
        expected = [class_outcome] if class_outcome else list(OUTCOMES)
        raise _fail("outcome", f"expected one of {expected} for {class_name}, got {_short(outcome)}")
    if _array(document["stats_fields"], "stats_fields") != list(STATS_FIELDS):
        raise _fail("stats_fields", f"expected {list(STATS_FIELDS)}")
    schema = _read_schema(document, version)
    treatments = _read_treatments(document)
    params = _read_params(document["params"], "params", estimator_class)
    if not is_forest:
        model = _read_tree(document["tree"], "tree", estimator_class, params, schema, treatments)
        if class_outcome is None:  # a distilled tree has the outcome kind of the model it imitates
            model._binary = outcome == "binary"
        return _with_profile(model, document)
    documents = _array(document["trees"], "trees")
    if not documents:
        raise _fail("trees", "expected at least one tree")
    model = _new_estimator(estimator_class, params, "params")
    set_schema(model, schema, treatments)
    model.estimators_ = [
        _read_tree(item, f"trees[{index}]", model._tree_class, None, schema, treatments)
        for index, item in enumerate(documents)
    ]
    model.feature_importances_ = np.mean([tree.feature_importances_ for tree in model.estimators_], axis=0)
    return _with_profile(model, document)


def _with_profile(model: Any, document: dict) -> Any:
    """Attach the optional ``training_profile`` (drift monitoring, :mod:`upliftree.monitor`) after checking it."""
    if "training_profile" in document:
        from ..monitor import check_profile

        try:
            model.training_profile_ = check_profile(document["training_profile"])
        except ValueError as error:
            raise ModelFormatError(f"invalid upliftree model: {error}") from None
    return model


def _reject_constant(name: str) -> None:
    raise ModelFormatError(f"invalid upliftree model: {name} is not valid JSON (write non-finite floats as the "
                           'strings "inf", "-inf" or "nan")')


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicated = sorted({key for key in keys if keys.count(key) > 1})
        raise ModelFormatError(f"invalid upliftree model: duplicated key(s) {duplicated[:5]} in one object")
    return dict(pairs)


def from_json(text: str | bytes) -> Any:
    """Build the fitted estimator described by a JSON model document (as written by :func:`to_json`).

    Raises
    ------
    ModelFormatError
        (a ``ValueError``) when the text is not JSON or breaks the schema; the message names the field.
    TypeError
        When ``text`` is not a string or bytes.
    """
    if not isinstance(text, str | bytes | bytearray):
        raise TypeError(f"text must be a JSON string, got {type(text).__name__}")
    try:
        document = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicates)
    except ModelFormatError:
        raise
    except json.JSONDecodeError as error:
        raise ModelFormatError(f"invalid upliftree model: not valid JSON ({error}); is the file truncated?") from None
    except UnicodeDecodeError as error:
        raise ModelFormatError(f"invalid upliftree model: not UTF-8 text ({error})") from None
    except (RecursionError, ValueError) as error:
        # ValueError: an integer with more digits than Python converts; RecursionError: absurd nesting.
        raise ModelFormatError(f"invalid upliftree model: unreadable JSON ({_short(str(error))})") from None
    return read_document(document)


def load(path: str | os.PathLike) -> Any:
    """Read a model written by ``model.save(path)`` / :func:`save`."""
    with open(path, "rb") as file:
        return from_json(file.read())

