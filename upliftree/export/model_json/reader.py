"""Read fitted models from JSON documents (no pickle, no code execution; the schema: ``docs/model_json.md``).

Reading checks every field's type, range and array length, each array against the sizes the other fields
declare before anything is allocated for it (so memory stays proportional to the document), the tree
structure and its category codes (:meth:`TreeArrays.validate`, errors pointed at the file's fields), and only
builds estimators of known classes.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
from typing import Any

import numpy as np

from ..._tree_arrays import BITSET_WORDS, InvalidTreeError, TreeArrays, category_bitset_of
from ..._validation import MAX_CATEGORIES, FeatureSchema, PooledCategories
from ...design import N_MOMENTS
from ...tree import FittedInputs, FittedTree
from ._format import (
    ESTIMATOR_CLASSES,
    FITTED_SCALARS,
    FOREST_CLASSES,
    FORMAT,
    NON_FINITE,
    OPTIONAL_FITTED_SCALARS,
    OUTCOMES,
    READABLE_VERSIONS,
    STATS_FIELDS,
    UNSAVED_PARAMS,
    ModelFormatError,
)

__all__ = ["read_document", "from_json", "load"]


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
    """The nested arrays ``value`` of exactly ``shape`` as floats.

    Every list's length is checked while reading, before the array is allocated: a document that declares
    large sizes (many nodes, many arms) without holding the numbers fails here, with memory proportional to
    what it holds.
    """
    numbers: list[float] = []

    def read(items: Any, item_path: str, depth: int) -> None:
        items = _array(items, item_path, shape[depth])
        for position, item in enumerate(items):
            if depth + 1 == len(shape):
                numbers.append(_float(item, f"{item_path}[{position}]", finite))
            else:
                read(item, f"{item_path}[{position}]", depth + 1)

    read(value, path, 0)
    return np.array(numbers, dtype=np.float64).reshape(shape)


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
    table = _object(value, path, fields, ("params", "design_moments") if with_params else ("design_moments",))
    n_nodes = _integer(table["n_nodes"], f"{path}.n_nodes", 1, 2**31 - 1)
    feature = _int_array(table["feature"], f"{path}.feature", n_nodes, -1, schema.n_features - 1)
    left_categories = _array(table["left_categories"], f"{path}.left_categories", n_nodes)
    # Codes a bitset holds; which nodes may list codes, and which codes, the node table checks (validate).
    category_bitset = np.zeros((n_nodes, BITSET_WORDS), dtype=np.uint64)
    for node, items in enumerate(left_categories):
        codes_path = f"{path}.left_categories[{node}]"
        if _array(items, codes_path) == []:
            continue
        codes = _int_array(items, codes_path, len(items), 0, 64 * BITSET_WORDS - 1)
        if len(np.unique(codes)) != len(codes):
            raise _fail(codes_path, "duplicated category codes")
        category_bitset[node] = category_bitset_of(codes)
    try:
        return TreeArrays(
            children_left=_int_array(table["children_left"], f"{path}.children_left", n_nodes, -1, n_nodes - 1),
            children_right=_int_array(table["children_right"], f"{path}.children_right", n_nodes, -1, n_nodes - 1),
            parent=_int_array(table["parent"], f"{path}.parent", n_nodes, -1, n_nodes - 1),
            depth=_int_array(table["depth"], f"{path}.depth", n_nodes, 0, n_nodes - 1),
            feature=feature,
            threshold=_float_array(table["threshold"], f"{path}.threshold", (n_nodes,), finite=False),
            is_categorical=_bool_array(table["is_categorical"], f"{path}.is_categorical", n_nodes),
            category_bitset=category_bitset,
            missing_left=_bool_array(table["missing_left"], f"{path}.missing_left", n_nodes),
            gain=_float_array(table["gain"], f"{path}.gain", (n_nodes,), finite=True),
            raw_gain=_float_array(table["raw_gain"], f"{path}.raw_gain", (n_nodes,), finite=True),
            stats=_float_array(table["stats"], f"{path}.stats", (n_nodes, n_arms, len(STATS_FIELDS)), finite=True),
            value=_float_array(table["value"], f"{path}.value", (n_nodes, n_arms), finite=True),
            # Present when the fit was given propensity or cluster (format version 3): robust node intervals.
            design_moments=None if table.get("design_moments") is None else _float_array(
                table["design_moments"], f"{path}.design_moments", (n_nodes, n_arms, N_MOMENTS), finite=True),
        )
    except InvalidTreeError as error:
        raise _tree_error(path, error) from None


def _tree_error(path: str, error: InvalidTreeError) -> ModelFormatError:
    """The node table's complaint about the tree at ``path``, pointing to the file's field.

    The table's ``category_bitset`` is written as ``left_categories``; the other fields have the file's names.
    """
    if error.field == "category_bitset":
        return _fail(f"{path}.left_categories[{error.node}]", str(error))
    return _fail(path, str(error))


def _read_params(value: Any, path: str, estimator_class: type) -> dict[str, Any]:
    params = _object(value, path, tuple(name for name in estimator_class().get_params() if name not in UNSAVED_PARAMS))
    for name, item in params.items():
        if item is not None and not isinstance(item, str | bool | int | float):
            raise _fail(f"{path}.{name}", f"expected a string, number, boolean or null, got {_type_name(item)}")
    return params


def _estimator_class(class_name: str) -> tuple[type, str | None, type]:
    """The estimator class a document names, its outcome kind (None: from the document) and its state class."""
    if class_name not in ESTIMATOR_CLASSES:
        raise _fail("class", f"unknown class {_short(class_name)}; expected one of {sorted(ESTIMATOR_CLASSES)}")
    module_name, outcome, state_name = ESTIMATOR_CLASSES[class_name]
    module = importlib.import_module(module_name)
    return getattr(module, class_name), outcome, getattr(module, state_name)


def _read_fitted(value: Any, path: str, state_class: type) -> dict[str, Any]:
    """The fitted scalars of a tree document, by field of ``state_class`` (only the non-null ones)."""
    fitted = _object(value, path, tuple(attribute.rstrip("_") for attribute in FITTED_SCALARS),
                     tuple(attribute.rstrip("_") for attribute in OPTIONAL_FITTED_SCALARS))
    state_fields = {field.name for field in dataclasses.fields(state_class)}
    values = {}
    for attribute, kind in {**FITTED_SCALARS, **OPTIONAL_FITTED_SCALARS}.items():
        name = attribute.rstrip("_")
        item = fitted.get(name)
        if item is None:
            continue
        if name not in state_fields:
            raise _fail(f"{path}.{name}", f"expected null: this model has no {attribute}")
        if kind is int:
            values[name] = _integer(item, f"{path}.{name}", 0, 2**31 - 1)
        elif kind is bool:
            if not isinstance(item, bool):
                raise _fail(f"{path}.{name}", f"expected true, false or null, got {_type_name(item)}")
            values[name] = item
        else:
            values[name] = _float(item, f"{path}.{name}", finite=False)
    return values


def _new_estimator(estimator_class: type, params: dict[str, Any], path: str) -> Any:
    model = estimator_class(**params)
    try:
        model.check_params()
    except (TypeError, ValueError) as error:
        raise _fail(path, str(error)) from None
    return model


def _read_tree(value: Any, path: str, estimator_class: type, state_class: type, params: dict[str, Any] | None,
               inputs: Any, **state: Any) -> Any:
    """A fitted tree estimator from a tree document (its own ``params`` when ``params`` is None).

    ``state`` holds fitted-state fields the document gives outside the tree (profile, outcome kind).
    """
    with_params = params is None
    tree = _read_tree_arrays(value, path, inputs.schema, len(inputs.treatments), with_params)
    if with_params:
        if "params" not in value:
            raise _fail(path, "missing field(s) ['params']")
        params = _read_params(value["params"], f"{path}.params", estimator_class)
    model = _new_estimator(estimator_class, params, f"{path}.params" if with_params else "params")
    scalars = _read_fitted(value["fitted"], f"{path}.fitted", state_class)
    try:
        model.fitted_state_ = state_class(inputs, tree, **scalars, **state)
    except InvalidTreeError as error:
        raise _tree_error(path, error) from None
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
    estimator_class, class_outcome, state_class = _estimator_class(class_name)
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
    inputs = FittedInputs(_read_schema(document, version), _read_treatments(document), outcome)
    params = _read_params(document["params"], "params", estimator_class)
    profile = _read_profile(document)
    if not is_forest:
        return _read_tree(document["tree"], "tree", estimator_class, state_class, params, inputs,
                          training_profile=profile)
    documents = _array(document["trees"], "trees")
    if not documents:
        raise _fail("trees", "expected at least one tree")
    model = _new_estimator(estimator_class, params, "params")
    estimators = tuple(_read_tree(item, f"trees[{index}]", model.tree_class, FittedTree, None, inputs)
                       for index, item in enumerate(documents))
    # The trees' grouping (little bags) is the forest's ci_group_size parameter, saved with the others; the
    # forest's leaf size is the one every tree grew with (unknown in files older than version 4).
    leaf_sizes = {estimator.fitted_state_.min_samples_leaf for estimator in estimators}
    model.fitted_state_ = state_class(inputs, estimators, training_profile=profile,
                                      ci_group_size=max(int(model.ci_group_size), 1),
                                      min_samples_leaf=leaf_sizes.pop() if len(leaf_sizes) == 1 else None)
    return model


def _read_profile(document: dict) -> dict | None:
    """The optional ``training_profile`` (drift monitoring, :mod:`upliftree.monitor`), checked."""
    if "training_profile" not in document:
        return None
    from ...monitor import check_profile

    try:
        return check_profile(document["training_profile"])
    except ValueError as error:
        raise ModelFormatError(f"invalid upliftree model: {error}") from None


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

