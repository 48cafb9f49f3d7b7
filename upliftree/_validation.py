"""Turn user input into the arrays the compiled core works on.

Every user-facing error message about data lives here: features (numeric vs categorical schema), arm labels
(control first, coded 0), outcomes (binary or continuous, never coerced) and sample weights.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

MAX_CATEGORIES = 255


def as_pandas(data: Any, argument: str) -> Any:
    """``data`` as pandas when it is a table or a column of another DataFrame library, else ``data`` itself.

    Anything that exports Arrow data through the Arrow PyCapsule interface (``__arrow_c_stream__`` or
    ``__arrow_c_array__``) and is not pandas or numpy, such as a Polars DataFrame or Series, a PyArrow Table,
    RecordBatch, Array or ChunkedArray, or a DuckDB relation, is read with PyArrow: a table (a stream of
    records) becomes a DataFrame, a column a Series. The conversion keeps what the values mean: booleans
    become pandas ``boolean`` (with nulls, NumPy would make them an object column, read as categories),
    integers pandas nullable integers, strings pandas strings, and a dictionary-encoded column (a Polars
    ``Categorical`` or ``Enum``, a PyArrow dictionary) a ``category`` column whose categories are the
    dictionary's: in its order when it is ordered (an ``Enum``), sorted when not (the order of an unordered
    dictionary means nothing; a Polars ``Categorical``'s is the order strings first appeared in the
    process), so that the model does not depend on it. Null and NaN are both missing values.

    Without PyArrow a table raises an ``ImportError`` naming ``argument``; a column (an object with a 1-D
    ``shape``) is returned as it is, for NumPy to read.
    """
    if isinstance(data, pd.DataFrame | pd.Series | pd.Index | np.ndarray) or not (
            hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__")):
        return data
    try:
        import pyarrow as pa
    except ImportError:
        if len(getattr(data, "shape", ())) == 1:
            return data  # a column, such as a Polars Series: NumPy reads it too
        raise ImportError(f"{argument} is a {type(data).__module__}.{type(data).__qualname__}; reading it needs "
                          "pyarrow (pip install pyarrow), or pass a pandas DataFrame") from None
    arrow = pa.chunked_array(data)
    types = _pandas_types(pa)
    if not pa.types.is_struct(arrow.type):
        return _sorted_dictionary(arrow.to_pandas(types_mapper=types.get), arrow.type, pa)
    table = pa.Table.from_struct_array(arrow)
    frame = table.to_pandas(types_mapper=types.get)
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            frame.isetitem(index, _sorted_dictionary(frame.iloc[:, index], field.type, pa))
    return frame


def _pandas_types(pa: Any) -> dict[Any, Any]:
    """The pandas dtypes of Arrow's booleans and integers, which keep their nulls as ``pd.NA``."""
    integers = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
                pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype()}
    return {pa.bool_(): pd.BooleanDtype(), **integers}


def _sorted_dictionary(values: pd.Series, arrow_type: Any, pa: Any) -> pd.Series:
    """A column read from an unordered Arrow dictionary, its categories sorted (see :func:`as_pandas`)."""
    if not pa.types.is_dictionary(arrow_type) or arrow_type.ordered:
        return values
    return values.cat.reorder_categories(values.cat.categories.sort_values())


@dataclass(frozen=True)
class PooledCategories:
    """The one category that stands for the rare categories pooled at fit time (see :func:`infer_schema`).

    It is the last entry of a pooled feature's ``FeatureSchema.categories``, so its code is the last one and
    splits route all of ``values`` together. ``str()`` is the readable name rules print, e.g.
    ``812 other rare categories``.
    """

    values: tuple[Any, ...]

    def __str__(self) -> str:
        count = len(self.values)
        return f"{count} other rare categor{'y' if count == 1 else 'ies'}"

    def __repr__(self) -> str:
        return f"PooledCategories(<{len(self.values)} categories>)"


def pooled_group(categories: tuple[Any, ...] | None) -> PooledCategories | None:
    """The pooled group of a feature's category tuple (its last entry), None when nothing was pooled."""
    if categories and isinstance(categories[-1], PooledCategories):
        return categories[-1]
    return None


def expand_categories(values: Any) -> list[Any]:
    """Category values with the pooled group, if any, replaced by the categories it stands for."""
    expanded: list[Any] = []
    for value in values:
        if isinstance(value, PooledCategories):
            expanded.extend(value.values)
        else:
            expanded.append(value)
    return expanded


@dataclass(frozen=True)
class FeatureSchema:
    """Names and kinds of the features a model was fitted on.

    Attributes
    ----------
    names : tuple of str
        Column names, in the order of the model's feature indices.
    categories : tuple
        For each feature, ``None`` when it is numeric, else the tuple of its category values; a category's
        code is its position in that tuple. When a feature had more categories than ``max_bins`` at fit time,
        the rare ones were pooled: its last entry is then a :class:`PooledCategories` holding all of them,
        and any of them gets that entry's code (see :attr:`pooled`).
    has_missing : tuple of bool
        For each feature, whether the training data had a missing value (NaN, None, ``pd.NA``) in it. It
        changes only how rules read (a feature without missing values is not written "x is missing or ...",
        see :mod:`upliftree.rules`), never how rows are routed. ``None`` (the default, and what models saved
        before the field existed get) means "had missing values" for every feature: the cautious reading.
    is_bool : tuple of bool
        For each feature, whether it was a bool column (numpy ``bool`` or pandas ``boolean``), a numeric
        feature with values 0 and 1. Only SQL uses it: a database column of booleans is not compared with
        numbers. ``None`` (the default, and models saved before the field existed) means no bool feature.
    """

    names: tuple[str, ...]
    categories: tuple[tuple[Any, ...] | None, ...]
    has_missing: tuple[bool, ...] | None = None
    is_bool: tuple[bool, ...] | None = None

    def __post_init__(self) -> None:
        for name, cats in zip(self.names, self.categories, strict=True):
            if cats is not None and any(isinstance(value, PooledCategories) for value in cats[:-1]):
                raise ValueError(f"feature {name!r}: the pooled categories must be the last category")
        bools = () if self.is_bool is None else tuple(bool(flag) for flag in self.is_bool)
        if bools and len(bools) != len(self.names):
            raise ValueError(f"is_bool must have one flag per feature ({len(self.names)}), got {len(bools)}")
        object.__setattr__(self, "is_bool", bools or (False,) * len(self.names))
        if self.has_missing is None:
            object.__setattr__(self, "has_missing", (True,) * len(self.names))
            return
        flags = tuple(bool(flag) for flag in self.has_missing)
        if len(flags) != len(self.names):
            raise ValueError(f"has_missing must have one flag per feature ({len(self.names)}), got {len(flags)}")
        object.__setattr__(self, "has_missing", flags)

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def is_categorical(self) -> np.ndarray:
        return np.array([cats is not None for cats in self.categories], dtype=np.bool_)

    @property
    def pooled(self) -> tuple[tuple[Any, ...] | None, ...]:
        """For each feature, the categories pooled into its last category at fit time, None when none were.

        Kept inside ``categories`` (as a :class:`PooledCategories` last entry), so every schema built from
        another's ``categories`` keeps the pooling.
        """
        groups = (pooled_group(cats) for cats in self.categories)
        return tuple(None if group is None else group.values for group in groups)

    def missing_at_fit(self, feature: int) -> bool:
        """Whether feature ``feature`` (an index) had missing values in the training data (True if unknown)."""
        # getattr: a schema unpickled from before the field existed has no instance value (class default None).
        flags = getattr(self, "has_missing", None)
        return True if flags is None else bool(flags[feature])

    def with_missing(self, has_missing: Any) -> FeatureSchema:
        """The same schema with the per-feature "had missing values" flags ``has_missing``."""
        return replace(self, has_missing=tuple(bool(flag) for flag in has_missing))


def missing_per_feature(encoded: np.ndarray) -> tuple[bool, ...]:
    """Which columns of an encoded matrix (:func:`encode_features`) hold a NaN: a missing value, or for a
    categorical feature a category outside the schema's (which the model routes like a missing value)."""
    if encoded.shape[0] == 0:
        return (False,) * encoded.shape[1]
    return tuple(bool(flag) for flag in np.isnan(encoded).any(axis=0))


def _is_categorical_dtype(dtype: Any) -> bool:
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _is_numeric_dtype(dtype: Any) -> bool:
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    )


def _sorted_categories(values: pd.Series, name: str) -> tuple[Any, ...]:
    unique = pd.unique(values.dropna())
    try:
        ordered = sorted(unique.tolist())
    except TypeError:
        # Mixed types (e.g. ints and strings) cannot be compared; a stable text order still reproduces codes.
        ordered = sorted(unique.tolist(), key=lambda value: (type(value).__name__, str(value)))
    for value in ordered:
        if not isinstance(value, str | bool | Integral | Real):
            raise TypeError(
                f"Column {name!r}: categorical values must be strings or numbers, found {type(value).__name__}"
            )
    return tuple(_python_scalar(value) for value in ordered)


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _pool_rare(column: pd.Series, cats: tuple[Any, ...], name: str, max_categories: int) -> tuple[Any, ...]:
    """Keep the ``max_categories - 1`` most frequent categories (ties: the earlier category), in their order,
    and pool the others into one last :class:`PooledCategories`; warn that it happened."""
    codes = pd.Index(list(cats), dtype=object).get_indexer(column.dropna().astype(object))
    counts = np.bincount(codes[codes >= 0], minlength=len(cats))
    order = np.argsort(-counts, kind="stable")
    kept = np.sort(order[: max_categories - 1])
    pooled = np.sort(order[max_categories - 1:])
    group = PooledCategories(tuple(cats[index] for index in pooled))
    n_rows = int(counts[pooled].sum())
    warnings.warn(
        f"Column {name!r} has {len(cats)} categories, more than max_bins={max_categories}: its {len(pooled)} "
        f"least frequent categories ({n_rows} rows) are pooled into one category that splits keep together "
        f"(rules show it as '{group}'). To avoid pooling, group or encode the rare categories yourself "
        "(e.g. map them to an 'other' value) or encode the column numerically.",
        UserWarning, stacklevel=4,
    )
    return (*(cats[index] for index in kept), group)


def infer_schema(X: Any, max_categories: int = MAX_CATEGORIES) -> FeatureSchema:
    """Read feature names and kinds, and whether each has missing values, from a DataFrame or a 2-D array.

    DataFrame columns that are numeric or bool are numeric features; ``category``, ``object`` and string
    columns are categorical. A 2-D numpy array must be numeric; its features are named ``x0, x1, ...``.
    ``has_missing`` records which columns hold a missing value (NaN, None, ``pd.NA``).

    A categorical column with more than ``max_categories`` categories keeps its ``max_categories - 1`` most
    frequent ones (ties go to the earlier category) and pools the others into one last category, a
    :class:`PooledCategories`, with a ``UserWarning``.
    """
    if isinstance(X, pd.DataFrame):
        if X.shape[1] == 0:
            raise ValueError("X has no columns; expected at least one feature")
        names = [str(column) for column in X.columns]
        _check_unique_names(names, names)
        categories: list[tuple[Any, ...] | None] = []
        for column, name in zip(X.columns, names, strict=True):
            dtype = X[column].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                cats = tuple(_python_scalar(value) for value in dtype.categories.tolist())
                categories.append(cats)
            elif _is_numeric_dtype(dtype):
                categories.append(None)
            elif _is_categorical_dtype(dtype):
                categories.append(_sorted_categories(X[column], name))
            else:
                raise TypeError(
                    f"Column {name!r} has dtype {dtype}; expected a numeric, bool, category or string column"
                )
            cats = categories[-1]
            if cats is not None and len(cats) > max_categories:
                categories[-1] = _pool_rare(X[column], cats, name, max_categories)
        has_missing = tuple(bool(X[column].isna().any()) for column in X.columns)
        is_bool = tuple(cats is None and pd.api.types.is_bool_dtype(X[column].dtype)
                        for column, cats in zip(X.columns, categories, strict=True))
        return FeatureSchema(tuple(names), tuple(categories), has_missing, is_bool)
    array = _as_2d_array(X)
    if np.issubdtype(array.dtype, np.floating) and array.shape[0] > 0:
        has_missing = tuple(bool(flag) for flag in np.isnan(array).any(axis=0))
    else:
        has_missing = (False,) * array.shape[1]  # integer and bool arrays cannot hold NaN
    return FeatureSchema(tuple(f"x{i}" for i in range(array.shape[1])), (None,) * array.shape[1], has_missing,
                         (array.dtype == np.bool_,) * array.shape[1])


def _check_unique_names(names: list[str], features: Any) -> None:
    """Raise when one of ``features`` names several columns of ``names`` (column names compared as text)."""
    counts = Counter(names)
    duplicated = sorted({str(name) for name in features if counts[str(name)] > 1})
    if duplicated:
        raise ValueError(
            f"X has several columns named {duplicated} (names are compared as text, so 1 and '1' are the same "
            "name); each feature must be exactly one column: drop or rename the duplicates"
        )


def _2d_array(X: Any) -> np.ndarray:
    """``X`` as a numpy array, checked to be 2-D with at least one column (its dtype is not checked)."""
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be a 2-D array or a DataFrame, got an array with {array.ndim} dimension(s)")
    if array.shape[1] == 0:
        raise ValueError("X has no columns; expected at least one feature")
    return array


_STRING_HINT = " Pass a pandas DataFrame to use categorical (string) features."


def _as_2d_array(X: Any) -> np.ndarray:
    """A numeric 2-D numpy ``X``; an object array of numbers becomes float64 (see :func:`_numeric_object_values`)."""
    array = _2d_array(X)
    if array.dtype == object:
        return _numeric_object_values(array, "X", _STRING_HINT)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.iscomplexobj(array):
        raise TypeError(f"X is an array of dtype {array.dtype}; a numpy X must be numeric.{_STRING_HINT}")
    return array


# What ``pd.api.types.infer_dtype(..., skipna=True)`` says of an object array holding only real numbers (or
# only missing values); anything else ("mixed-integer" is also ints with bools, or ints with text) is checked
# value type by value type.
_NUMERIC_INFERRED = frozenset({"integer", "floating", "mixed-integer-float", "boolean", "empty"})
_MISSING_TYPES = (type(None), type(pd.NA))


def _numeric_object_values(values: np.ndarray, argument: str, hint: str = "") -> np.ndarray:
    """A float64 copy of an object array of numbers, as scikit-learn's ``check_array`` reads one.

    Python or numpy ints, floats and bools are numbers (``True`` is 1.0); ``None``, NaN and ``pd.NA`` are
    missing values (NaN). Anything else, text included, raises a ``TypeError`` naming ``argument``: unlike
    ``check_array``, the text ``"2.5"`` is not parsed as a number (nothing is silently coerced).
    """
    flat = values.ravel(order="K")
    if pd.api.types.infer_dtype(flat, skipna=True) not in _NUMERIC_INFERRED:
        bad_types = {kind for kind in set(map(type, flat))
                     if not issubclass(kind, _MISSING_TYPES) and not issubclass(kind, Real | np.bool_)}
        if bad_types:
            example = next(value for value in flat if type(value) in bad_types)
            raise TypeError(
                f"{argument} is an object array holding {type(example).__name__} values such as {example!r}; "
                f"expected numbers (int, float, bool), with None or NaN for missing values.{hint}"
            )
    try:
        return np.where(pd.isna(values), np.nan, values).astype(np.float64)
    except OverflowError:
        raise ValueError(f"{argument} holds an integer too large for float64") from None


def encode_features(X: Any, schema: FeatureSchema) -> np.ndarray:
    """Encode ``X`` as a contiguous float64 matrix (C or Fortran order) in the schema's column order.

    Numeric features keep their values; categorical features become their category codes. Missing values
    and categories unseen at fit time become NaN, so they follow each split's missing-value direction.

    A numpy ``X`` that is already float64 and C- or Fortran-contiguous is returned as it is, not copied (a
    1M x 13 float64 matrix is 104 MB): callers and kernels only read the result, never write into it, since
    it may be the user's own array. Any other numpy ``X`` (another dtype, or strided) is copied to a
    C-contiguous float64 matrix; a DataFrame is encoded column by column into a new C-contiguous matrix.
    """
    if isinstance(X, pd.DataFrame):
        # Duplicates among the other columns do not matter: they are never read.
        _check_unique_names([str(column) for column in X.columns], schema.names)
        columns = {str(column): column for column in X.columns}
        missing = [name for name in schema.names if name not in columns]
        if missing:
            raise ValueError(f"X is missing the feature column(s) {missing} the model was fitted on")
        encoded = np.empty((len(X), schema.n_features), dtype=np.float64)
        for index, (name, cats) in enumerate(zip(schema.names, schema.categories, strict=True)):
            column = X[columns[name]]
            if cats is None:
                encoded[:, index] = _numeric_column(column, name)
            else:
                encoded[:, index] = _category_codes(column, cats, name)
        return encoded
    array = _as_2d_array(X)
    if array.shape[1] != schema.n_features:
        raise ValueError(f"X has {array.shape[1]} features, but the model was fitted on {schema.n_features}")
    if schema.is_categorical.any():
        raise TypeError("This model has categorical features; pass X as a pandas DataFrame with named columns")
    return contiguous_float64(array)


def contiguous_float64(array: np.ndarray) -> np.ndarray:
    """``array`` itself when it is float64 and C- or Fortran-contiguous, else a C-contiguous float64 copy.

    The compiled kernels read either layout (Numba compiles one version per layout), so a Fortran matrix,
    like a C one, reaches them without being copied.
    """
    if array.dtype == np.float64 and (array.flags.c_contiguous or array.flags.f_contiguous):
        return array
    return np.ascontiguousarray(array, dtype=np.float64)


def _numeric_column(column: pd.Series, name: str) -> np.ndarray:
    if column.dtype == object:
        # An object column of numbers (None for missing) holds the same values as a float one.
        return _numeric_object_values(column.to_numpy(), f"Column {name!r} (numeric at fit time)",
                                     " Convert it with pd.to_numeric.")
    if not _is_numeric_dtype(column.dtype):
        raise TypeError(
            f"Column {name!r} was numeric at fit time but has dtype {column.dtype} now; expected a numeric or "
            "bool column (convert text with pd.to_numeric)"
        )
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


# How a value's type is named when categories and the values given for them are compared.
_TEXT, _NUMBER, _BOOL = "text", "numeric", "bool"
_CONVERSION_HINTS = {
    _TEXT: "X[{name!r}] = X[{name!r}].astype(str)",
    _NUMBER: "X[{name!r}] = pd.to_numeric(X[{name!r}])",
    _BOOL: "X[{name!r}] = X[{name!r}].astype(bool)",
}


def _value_kind(kind: type) -> str:
    """Which values can be equal: text only to text, bools only to bools, numbers (any int or float type,
    so 3 and 3.0 are the same category) only to numbers."""
    if issubclass(kind, bool | np.bool_):
        return _BOOL
    if issubclass(kind, str):
        return _TEXT
    if issubclass(kind, Real):
        return _NUMBER
    return kind.__name__


def _check_category_kinds(values: np.ndarray, dtype: Any, categories: tuple[Any, ...], name: str) -> None:
    """Raise when ``values`` (the distinct values of a column) hold a kind of value no category has.

    Such a value can never equal a category, so it would be routed as an unseen category: integer codes given
    for text categories, or the text '1' for the category 1, would silently send every row down the
    missing-value branches.
    """
    fitted = {_value_kind(type(value)) for value in expand_categories(categories)}
    given = {_value_kind(kind) for kind in set(map(type, values))}
    foreign = sorted(given - fitted)
    # A feature without categories (all missing at fit) has no type to compare with: every value is unseen.
    if foreign and fitted:
        examples = ", ".join(repr(value) for value in expand_categories(categories)[:3])
        expected = " and ".join(sorted(fitted))
        hint = _CONVERSION_HINTS.get(next(iter(fitted)), "") if len(fitted) == 1 else ""
        raise TypeError(
            f"Column {name!r} holds {' and '.join(foreign)} values (dtype {dtype}), but the model's categories "
            f"for it are {expected} (e.g. {examples}); a value never equals a category of another type (the "
            "number 1 is not the text '1'), so these rows would all be routed as unseen categories. Give the "
            "column the values it had at fit time" + (f", e.g. {hint.format(name=name)}" if hint else "")
        )


def _category_codes(column: pd.Series, categories: tuple[Any, ...], name: str) -> np.ndarray:
    if not (_is_categorical_dtype(column.dtype) or _is_numeric_dtype(column.dtype)):
        raise TypeError(f"Column {name!r} was categorical at fit time but has dtype {column.dtype} now")
    # Each distinct value is looked up once; missing values get the code -1.
    row_codes, distinct = pd.factorize(column)
    distinct = np.asarray(distinct, dtype=object)
    _check_category_kinds(distinct, column.dtype, categories, name)
    group = pooled_group(categories)
    if group is None:
        positions = pd.Index(list(categories), dtype=object).get_indexer(distinct)
    else:
        # Every pooled category gets the code of the pooled group, the last one.
        pooled_code = len(categories) - 1
        positions = pd.Index([*categories[:-1], *group.values], dtype=object).get_indexer(distinct)
        positions = np.where(positions < 0, -1, np.minimum(positions, pooled_code))
    # Appending -1 sends the missing values' code -1 to -1; -1 (unseen or missing) becomes NaN.
    codes = np.append(positions, -1)[row_codes].astype(np.float64)
    codes[codes < 0] = np.nan
    return codes


@dataclass(frozen=True)
class Arms:
    """Arm codes of every row: 0 is control, 1..k the treatments in ``labels[1:]`` order."""

    codes: np.ndarray
    labels: tuple[Any, ...]

    @property
    def n_arms(self) -> int:
        return len(self.labels)


def check_1d(values: Any, argument: str, n_rows: int) -> np.ndarray:
    """``values`` (array-like, Series or one-column frame) as a 1-D array of ``n_rows`` entries, naming ``argument``
    in the error otherwise."""
    array = np.asarray(as_pandas(values, argument))
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{argument} must be 1-D, got shape {array.shape}")
    if len(array) != n_rows:
        raise ValueError(f"{argument} has {len(array)} rows but X has {n_rows}")
    return array


def validate_treatment(treatment: Any, control: Any, n_rows: int) -> Arms:
    """Code arm labels with control as 0 and the other labels, sorted, as 1..k."""
    labels = check_1d(treatment, "treatment", n_rows)
    if pd.isna(labels).any():
        raise ValueError("treatment contains missing values; every row needs an arm label")
    unique = pd.unique(labels)
    if not any(labels_equal(value, control) for value in unique):
        shown = [_python_scalar(value) for value in unique[:10]]
        raise ValueError(
            f"control={control!r} is not a label in treatment; labels found: {shown}. "
            "Pass control=<the control arm's label>."
        )
    others = [value for value in unique if not labels_equal(value, control)]
    if not others:
        raise ValueError(f"treatment has only the control arm {control!r}; an uplift model needs a treated arm")
    try:
        others = sorted(others)
    except TypeError:
        others = sorted(others, key=str)
    ordered = (_python_scalar(control), *(_python_scalar(value) for value in others))
    return Arms(arm_codes(labels, ordered), ordered)


def arm_codes(labels: np.ndarray, ordered_labels: tuple[Any, ...], argument: str = "treatment") -> np.ndarray:
    """Map arm labels to codes by their position in ``ordered_labels``; unknown labels raise, naming ``argument``.

    Text never equals a number: the label ``"1"`` is not the label ``1``.
    """
    labels = np.asarray(labels)
    codes = _label_positions(labels, ordered_labels)
    if (codes < 0).any():
        unknown = sorted({str(value) for value in labels[codes < 0]})[:10]
        raise ValueError(f"{argument} has labels {unknown} that the model was not fitted on {list(ordered_labels)}")
    return codes


def label_mask(labels: np.ndarray, label: Any) -> np.ndarray:
    """Rows whose arm label is ``label`` (text never equals a number)."""
    return _label_positions(np.asarray(labels), (label,)) == 0


def _label_positions(labels: np.ndarray, ordered_labels: tuple[Any, ...]) -> np.ndarray:
    """Position of each label in ``ordered_labels``, -1 when absent."""
    codes = np.full(len(labels), -1, dtype=np.int64)
    if labels.dtype.kind == "O":
        # One vectorized lookup per kind of label (text, other), so that "1" never matches 1.
        series = pd.Series(labels, dtype=object)
        kind = pd.api.types.infer_dtype(labels, skipna=False)
        if kind in ("string", "bytes", "integer", "floating", "boolean"):
            is_text = np.full(len(labels), kind in ("string", "bytes"))
        else:
            is_text = series.map(lambda value: isinstance(value, str | bytes)).to_numpy(dtype=np.bool_)
        for text in (True, False):
            kind_labels = [label for label in ordered_labels if isinstance(label, str | bytes) == text]
            if kind_labels:
                found = pd.Index(kind_labels, dtype=object).get_indexer(series[is_text == text])
                positions = np.array([ordered_labels.index(label) for label in kind_labels])
                codes[np.flatnonzero(is_text == text)[found >= 0]] = positions[found[found >= 0]]
    else:
        text_array = labels.dtype.kind in "US"
        for code, label in enumerate(ordered_labels):
            if isinstance(label, str | bytes) == text_array:
                codes[labels == label] = code
    return codes


def labels_equal(value: Any, label: Any) -> bool:
    if isinstance(value, str | bytes) != isinstance(label, str | bytes):
        return False
    return bool(value == label)


def _numeric_1d(values: np.ndarray, argument: str) -> np.ndarray:
    """A 1-D array of numbers as float64 (object arrays as :func:`_numeric_object_values` reads them)."""
    if values.dtype == object:
        return _numeric_object_values(values, argument)
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_) or np.iscomplexobj(values):
        raise TypeError(f"{argument} must be numeric, got dtype {values.dtype}")
    return values.astype(np.float64)


def validate_outcome(y: Any, n_rows: int, binary: bool, argument: str = "y") -> np.ndarray:
    """Check the outcome; a classifier's must be 0/1 or bool, and nothing is thresholded."""
    values = _numeric_1d(check_1d(y, argument, n_rows), argument)
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise ValueError(f"{argument} contains {bad} NaN or infinite value(s); drop or impute those rows first")
    if binary:
        not_binary = (values != 0.0) & (values != 1.0)
        if not_binary.any():
            examples = np.unique(values[not_binary])[:5].tolist()
            raise ValueError(
                f"{argument} must be binary (0/1 or bool) for a classifier; found values {examples}. "
                "Use UpliftTreeRegressor / UpliftRandomForestRegressor for a continuous outcome."
            )
    return values


def validate_sample_weight(sample_weight: Any, n_rows: int, argument: str = "sample_weight") -> np.ndarray:
    """Check weights: finite, non-negative, one per row; ``None`` means all ones."""
    if sample_weight is None:
        return np.ones(n_rows, dtype=np.float64)
    weights = _numeric_1d(check_1d(sample_weight, argument, n_rows), argument)
    if not np.isfinite(weights).all():
        raise ValueError(f"{argument} contains NaN or infinite values")
    if (weights < 0).any():
        raise ValueError(f"{argument} contains negative values; weights must be >= 0")
    return weights


# Bound on every total of the node statistics (sum w, sum w|y|, sum w y^2, sum w^2 over the rows): with each
# at most 1e150, every node's statistics are finite and so is the product of any two (squares of sums in
# variances, effective sample sizes and split criteria stay below 1e300).
MAX_STATISTIC = 1e150


def statistic_totals(y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``sum w, sum w|y|, sum w y^2, sum w^2`` over the rows (inf where a sum overflows float64).

    They bound the node statistics (``upliftree/_kernels/histogram.py``) of every subset of the rows. Totals
    of parts of the data (Dask partitions) add up to the totals of the whole.
    """
    # Two scratch arrays reused in place (sums of products rather than np.dot, whose BLAS threads would
    # compete with the fit's own).
    magnitude = np.abs(y)
    with np.errstate(over="ignore", invalid="ignore"):
        weighted = weight * magnitude
        sum_wy = weighted.sum()
        sum_wy2 = np.multiply(weighted, magnitude, out=magnitude).sum()
        sum_w2 = np.multiply(weight, weight, out=weighted).sum()
    return np.array([weight.sum(), sum_wy, sum_wy2, sum_w2])


def check_statistic_totals(totals: np.ndarray, max_draws: int, y_name: str, weight_name: str | None) -> None:
    """Raise unless each of :func:`statistic_totals`, times ``max_draws``, is at most ``MAX_STATISTIC``.

    ``max_draws`` is the most times one row can be in a sample (a forest's bootstrap draws a row up to
    ``n_draw`` times, and its statistics count it that often). The error names the outcome ``y_name`` and
    the weights ``weight_name`` (None when no weights were given: then only the outcome can be too large).
    """
    if weight_name is None:
        checks = ((None, "1"), (y_name, "|y|"), (y_name, "y**2"), (None, "1"))
    else:
        both = f"{y_name} and {weight_name}"
        checks = ((weight_name, "w"), (both, "w * |y|"), (both, "w * y**2"), (weight_name, "w**2"))
    bound = MAX_STATISTIC / max_draws
    for total, (argument, term) in zip(totals, checks, strict=True):
        if argument is None or total <= bound:
            continue
        limit = f"{MAX_STATISTIC:.0e}"
        if max_draws > 1:
            limit += f" / {max_draws} (a bootstrap sample can draw one row {max_draws} times)"
        raise ValueError(
            f"{argument} too large: sum({term}) over the rows is {total:.3g}, above {limit}, so the node "
            f"statistics would overflow float64; rescale {argument} (the bound is in docs/guide.md, Input data)"
        )


def validate_outcome_and_weight(y: Any, sample_weight: Any, n_rows: int, binary: bool, max_draws: int = 1,
                                suffix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The checked outcome and weights of one sample, their statistics bounded (:func:`check_statistic_totals`).

    ``suffix`` names the arguments of a second sample (``y_est``, ``sample_weight_val``).
    """
    y_name, weight_name = f"y{suffix}", f"sample_weight{suffix}"
    values = validate_outcome(y, n_rows, binary, y_name)
    weights = validate_sample_weight(sample_weight, n_rows, weight_name)
    check_statistic_totals(statistic_totals(values, weights), max_draws, y_name,
                           None if sample_weight is None else weight_name)
    return values, weights


def check_arm_sizes(arms: Arms, weights: np.ndarray, min_rows: int, argument: str = "treatment") -> None:
    """Every arm needs at least ``min_rows`` rows (and positive total weight)."""
    counts = np.bincount(arms.codes, minlength=arms.n_arms)
    totals = np.bincount(arms.codes, weights=weights, minlength=arms.n_arms)
    check_arm_totals(arms.labels, counts, totals, min_rows, argument)


def check_arm_totals(labels: tuple, counts: np.ndarray, weights: np.ndarray, min_rows: int,
                     argument: str = "treatment") -> None:
    """``check_arm_sizes`` for per-arm row counts and total weights already summed (e.g. over partitions)."""
    for label, count, weight in zip(labels, counts, weights, strict=True):
        if count < max(min_rows, 1):
            raise ValueError(
                f"{argument}: arm {label!r} has {int(count)} row(s), fewer than "
                f"min_samples_treatment={min_rows}"
            )
        if weight <= 0:
            raise ValueError(f"sample_weight: arm {label!r} has zero total weight")


def check_n_rows(X: Any) -> int:
    n_rows = len(X) if isinstance(X, pd.DataFrame) else _2d_array(X).shape[0]
    if n_rows == 0:
        raise ValueError("X has no rows")
    return n_rows


def finite_float_array(values: Any, argument: str) -> np.ndarray:
    """``values`` as a float64 array of any shape: numbers (bool, int or float dtype), all finite."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{argument} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{argument} contains {int(np.sum(~np.isfinite(array)))} NaN or infinite value(s)")
    return array


def is_binary(values: np.ndarray) -> bool:
    """Whether every value of a float array is 0 or 1 (a binary outcome or a 0/1 arm flag)."""
    return bool(np.all((values == 0.0) | (values == 1.0)))


# -- design inputs: known assignment probabilities and clusters (issue 16) ----------------------------------
# The one boundary where trees, forests, metrics and learners read how an experiment was randomized.

# How far a row of a 2-D propensity (or the values of a dict) may sum from 1: rounding of probabilities computed
# in float64 or float32, not probabilities rounded to a few decimals. Nothing is renormalized.
PROPENSITY_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Propensities:
    """Known assignment probabilities of the rows of an experiment (read by :func:`validate_propensity`).

    Attributes
    ----------
    received : ndarray of shape (n_rows,)
        Probability of the arm each row received, in (0, 1]: all that inverse-probability weighting needs.
    by_arm : ndarray of shape (n_rows, n_arms) or None
        Probability of every arm for every row, columns in the order of the arm labels (control first).
        None when the probabilities were given only for the received arm (a 1-D array or a column) and there
        are more than two arms: they do not determine the other arms' probabilities then. With two arms they
        do (the other arm's is ``1 - received``, which is 0 where ``received`` is 1): built on first use, as a
        fit reads only ``received``.
    form : str
        The form given: ``"number"``, ``"dict"``, ``"received"`` (1-D array or column name) or ``"by_arm"``.
    arm_codes : ndarray of int
        Each row's arm (its position in the arm labels).
    given_by_arm : ndarray of shape (n_rows, n_arms) or None
        ``by_arm`` as given (every form but ``"received"``).
    """

    received: np.ndarray
    form: str
    arm_codes: np.ndarray
    n_arms: int
    given_by_arm: np.ndarray | None = None

    @cached_property
    def by_arm(self) -> np.ndarray | None:
        if self.given_by_arm is not None or self.n_arms != 2:
            return self.given_by_arm
        rows = np.arange(len(self.received))
        by_arm = np.empty((len(self.received), 2))
        by_arm[rows, self.arm_codes] = self.received
        by_arm[rows, 1 - self.arm_codes] = 1.0 - self.received
        return by_arm

    @property
    def constant(self) -> bool:
        """Whether every row has the same probabilities of every arm (a number, a dict, or equal rows)."""
        return self.by_arm is not None and bool((self.by_arm == self.by_arm[:1]).all())

    def require_by_arm(self, purpose: str) -> np.ndarray:
        """``by_arm``, or a ``ValueError`` saying that ``purpose`` needs it when only ``received`` is known."""
        if self.by_arm is None:
            raise ValueError(
                f"propensity: {purpose} needs the probability of every arm for every row, but a 1-D propensity "
                "(or a column) gives only the probability of the arm each row received, which determines the "
                "others only with two arms; pass a 2-D array (n_rows, n_arms) in treatments_ order, or a dict "
                "{arm: probability} for a design with the same probabilities for every row"
            )
        return self.by_arm


def design_values(values: Any, X: Any, n_rows: int, argument: str) -> np.ndarray:
    """One value per row: a column of the DataFrame ``X`` named by ``values``, or an array (a Series must carry
    ``X``'s index when ``X`` is a DataFrame)."""
    if isinstance(values, str):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{argument}={values!r} names a column, so X must be a pandas DataFrame")
        matches = int((X.columns == values).sum())
        if matches != 1:
            raise ValueError(f"{argument}={values!r} is not a column of X" if matches == 0 else
                             f"{argument}={values!r} names several columns of X; drop or rename the duplicates")
        return check_1d(X[values].to_numpy(), argument, n_rows)
    if isinstance(values, pd.Series) and isinstance(X, pd.DataFrame) and not values.index.equals(X.index):
        raise ValueError(f"{argument} is a Series whose index differs from X's index; align it with X "
                         "(or pass a numpy array in X's row order)")
    return check_1d(values.to_numpy() if isinstance(values, pd.Series) else values, argument, n_rows)


def _check_probabilities(values: np.ndarray, argument: str) -> np.ndarray:
    """``values`` as float64, every one a probability in (0, 1] (NaN, text and others out of range raise)."""
    values = _numeric_object_values(values, argument) if values.dtype == object else values
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise TypeError(f"{argument} must hold numbers (probabilities), got dtype {values.dtype}")
    values = values.astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(f"{argument} holds {int(np.isnan(values).sum())} missing (NaN) value(s); every row "
                         "needs its probability")
    outside = ~((values > 0.0) & (values <= 1.0))
    if outside.any():
        examples = np.unique(values[outside])[:5].tolist()
        raise ValueError(
            f"{argument} holds {int(outside.sum())} value(s) outside (0, 1], e.g. {examples}; a probability of "
            "assignment must be positive (a row could not have received an arm of probability 0) and at most 1"
        )
    return values


def _check_sums(sums: np.ndarray, argument: str) -> None:
    off = np.abs(sums - 1.0) > PROPENSITY_SUM_TOLERANCE
    if off.any():
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"{argument}: the probabilities of the arms must sum to 1 (within {PROPENSITY_SUM_TOLERANCE:g}); "
            f"{int(off.sum())} row(s) do not, e.g. row {worst} sums to {float(sums[worst])!r}. They are not "
            "renormalized: give every arm's probability, in treatments_ order"
        )


def probabilities_by_arm(probabilities: dict, arm_labels: Sequence, argument: str) -> np.ndarray:
    """``{arm label: probability}`` as an array in ``arm_labels`` order; every arm needs a number, and every
    key must be an arm (labels compare as :func:`labels_equal`). The values are not range-checked here."""
    per_arm = np.full(len(arm_labels), np.nan)
    for key, value in probabilities.items():
        matches = [code for code, label in enumerate(arm_labels) if labels_equal(key, label)]
        if not matches:
            raise ValueError(f"{argument}: {key!r} is not an arm; arms: {list(arm_labels)}")
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{argument}[{key!r}] must be a number, got {value!r}")
        per_arm[matches[0]] = value
    missing = [label for code, label in enumerate(arm_labels) if np.isnan(per_arm[code])]
    if missing:
        raise ValueError(f"{argument} has no probability for arm(s) {missing}; give one for every arm "
                         f"{list(arm_labels)}")
    return per_arm


def _arm_probability_dict(propensity: dict, arm_labels: tuple) -> np.ndarray:
    per_arm = _check_probabilities(probabilities_by_arm(propensity, arm_labels, "propensity"),
                                   "propensity (dict values)")
    _check_sums(np.array([per_arm.sum()]), "propensity (dict values)")
    return per_arm


def validate_propensity(propensity: Any, arm_labels: tuple, arm_codes: np.ndarray, n_rows: int,
                        X: Any = None) -> Propensities | None:
    """Read known assignment probabilities in any of their forms; ``None`` passes through.

    Parameters
    ----------
    propensity : None, number, dict, 1-D array, 2-D array or str
        - a number ``p``: with two arms, the probability of the treatment (control gets ``1 - p``); in (0, 1);
        - a dict ``{arm: probability}``: every arm's probability, the same for every row; they sum to 1;
        - a 1-D array (or Series): the probability of the arm each row received, in (0, 1];
        - a 2-D array ``(n_rows, n_arms)``: every arm's probability per row, columns in ``arm_labels`` order,
          each in (0, 1] and each row summing to 1;
        - a str: the name of a column of the DataFrame ``X`` holding the 1-D form.
        Sums must be 1 within ``PROPENSITY_SUM_TOLERANCE`` (1e-6); nothing is renormalized or clipped.
    arm_labels : tuple
        Arm labels, control first (an estimator's ``treatments_``).
    arm_codes : ndarray of int
        Each row's arm, as its position in ``arm_labels``.
    n_rows : int
    X : DataFrame, optional
        Needed only for a column name.

    Returns
    -------
    Propensities or None
    """
    if propensity is None:
        return None
    n_arms = len(arm_labels)
    rows = np.arange(n_rows)
    if isinstance(propensity, bool):
        raise TypeError("propensity must be a number, a dict, an array or a column name, got a bool")
    if isinstance(propensity, Real):
        if n_arms != 2:
            raise ValueError(
                f"propensity={propensity!r}: a number is the probability of treatment in a two-arm experiment, "
                f"but there are {n_arms} arms {list(arm_labels)}; pass a dict {{arm: probability}}"
            )
        treated = float(propensity)
        if not 0.0 < treated < 1.0:
            raise ValueError(
                f"propensity={propensity!r} must be in (0, 1): it is the probability of treatment "
                f"{arm_labels[1]!r}, and control {arm_labels[0]!r} gets 1 - propensity; both arms have rows, "
                "so neither probability can be 0"
            )
        by_arm = np.broadcast_to(np.array([1.0 - treated, treated]), (n_rows, 2))
        return Propensities(by_arm[rows, arm_codes], "number", arm_codes, n_arms, by_arm)
    if isinstance(propensity, dict):
        by_arm = np.broadcast_to(_arm_probability_dict(propensity, arm_labels), (n_rows, n_arms))
        return Propensities(by_arm[rows, arm_codes], "dict", arm_codes, n_arms, by_arm)
    if isinstance(propensity, str) or np.ndim(propensity) < 2 or np.shape(propensity)[1:] == (1,):
        argument = f"propensity column {propensity!r}" if isinstance(propensity, str) else "propensity"
        received = _check_probabilities(design_values(propensity, X, n_rows, "propensity"), argument)
        return Propensities(received, "received", arm_codes, n_arms)
    values = np.asarray(propensity)
    if values.shape != (n_rows, n_arms):
        raise ValueError(
            f"propensity has shape {values.shape}; a 2-D propensity is (n_rows, n_arms) = ({n_rows}, {n_arms}), "
            f"columns in the order of the arms {list(arm_labels)}"
        )
    by_arm = _check_probabilities(values, "propensity")
    _check_sums(by_arm.sum(axis=1), "propensity")
    return Propensities(by_arm[rows, arm_codes], "by_arm", arm_codes, n_arms, by_arm)


def validate_cluster(cluster: Any, n_rows: int, X: Any = None) -> np.ndarray | None:
    """Cluster ids (the unit of randomization: store, household...) as int64 codes 0..n_clusters-1.

    ``cluster`` is an array of ids (numbers or text, one per row) or the name of a column of the DataFrame
    ``X``; ``None`` passes through. Codes follow the sorted ids, so they do not depend on the row order.
    """
    if cluster is None:
        return None
    return sorted_id_codes(design_values(cluster, X, n_rows, "cluster"), "cluster", "cluster")[0]


def sorted_id_codes(ids: np.ndarray, argument: str, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Int64 codes ``0 .. n_ids - 1`` of the 1-D ``ids`` (numbers or text) and the ids of the codes, in sorted
    order, so the codes do not depend on the row order; a missing id is an error naming ``argument`` (every row
    needs the id of its ``unit``)."""
    missing = pd.isna(ids)
    if missing.any():
        raise ValueError(f"{argument} has {int(missing.sum())} missing id(s); every row needs the id of its {unit}")
    if ids.dtype.kind in "iu" and len(ids) and int(ids.max()) - int(ids.min()) < 2 * len(ids):
        # Integer ids in a range of at most twice the rows (store numbers, row blocks): codes by marking the
        # ids present, without hashing or sorting them (twice as fast as factorize).
        lowest = int(ids.min())
        offsets = ids.astype(np.int64) - lowest
        present = np.zeros(int(offsets.max()) + 1, dtype=np.bool_)
        present[offsets] = True
        return (np.cumsum(present, dtype=np.int64) - 1)[offsets], (np.flatnonzero(present) + lowest).astype(ids.dtype)
    try:
        codes, uniques = pd.factorize(ids, sort=True)
    except TypeError:
        # Ids of mixed types (numbers and text) do not sort; a stable text order still makes codes row-order free.
        codes, uniques = pd.factorize(ids)
        order = sorted(range(len(uniques)), key=lambda code: (type(uniques[code]).__name__, str(uniques[code])))
        codes = np.argsort(order)[codes]
        uniques = np.asarray(uniques, dtype=object)[order]
    return codes.astype(np.int64), np.asarray(uniques)


def without_design_columns(X: Any, *design: Any) -> Any:
    """``X`` without the columns that ``propensity`` / ``cluster`` name: they describe the design, not the rows."""
    names = [value for value in design if isinstance(value, str)]
    if names and isinstance(X, pd.DataFrame):
        return X.drop(columns=[name for name in names if name in X.columns])
    return X


def inverse_probability_weights(sample_weight: np.ndarray, received: np.ndarray) -> np.ndarray:
    """Row weights of the design: ``sample_weight / p``, ``p`` the probability of the arm each row received."""
    return sample_weight / received


def design_weights(y: np.ndarray, weight: np.ndarray, propensity: Any, arms: Arms, X: Any, max_draws: int,
                   y_name: str = "y") -> np.ndarray:
    """Row weights of the design: ``sample_weight / p``, ``p`` the probability of the arm each row received
    (:func:`validate_propensity`); ``weight`` itself without ``propensity``. Their statistics stay bounded
    (:func:`check_statistic_totals`)."""
    propensities = validate_propensity(propensity, arms.labels, arms.codes, len(weight), X)
    if propensities is None:
        return weight
    received = propensities.received
    design_weight = inverse_probability_weights(weight, received)
    if len(weight) and _design_totals_may_exceed(y, weight, float(received.min()), max_draws):
        check_statistic_totals(statistic_totals(y, design_weight), max_draws, y_name, "sample_weight / propensity")
    return design_weight


def _design_totals_may_exceed(y: np.ndarray, sample_weight: np.ndarray, smallest_propensity: float,
                              max_draws: int) -> bool:
    """Whether a bound on the :func:`statistic_totals` of ``sample_weight / p`` (``p`` at least
    ``smallest_propensity``) passes ``MAX_STATISTIC / max_draws``: ``sum s / p_min`` times the largest of 1,
    ``max |y|``, ``y**2`` and ``max s / p_min``. A few reductions without temporaries, where the exact totals
    take eight passes; they are computed only when the bound (with room for rounding) does not pass."""
    total_weight = sample_weight.sum() / smallest_propensity
    largest_y = max(abs(float(y.max())), abs(float(y.min())))
    factor = max(1.0, largest_y, largest_y * largest_y, float(sample_weight.max()) / smallest_propensity)
    with np.errstate(over="ignore", invalid="ignore"):
        bound = total_weight * factor * (1.0 + 1e-6)
    return not bound <= MAX_STATISTIC / max_draws
