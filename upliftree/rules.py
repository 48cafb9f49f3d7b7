"""A node's path from the root as a simplified conjunction of per-feature conditions.

This is the one place that turns a tree's splits into rules; the segment table and every export (text,
Markdown, CSV, SQL, pandas query) build on it.

How a tree routes a row (see :class:`upliftree._tree_arrays.TreeArrays`): a numeric split sends
``x <= threshold`` left and ``x > threshold`` right (``threshold = inf`` splits "not missing" from
"missing"); a categorical split sends the categories in the node's bitset left and the others right;
a missing value, and for a categorical feature a category not seen at fit time, follows the node's
``missing_left`` direction.

API
---
``leaf_conditions(tree, schema, node) -> list[Condition]``
    The path from the root to ``node`` (any node id, usually a leaf as returned by ``apply``), with all
    the tests on one feature merged into one :class:`Condition`, in the order the features are first
    tested along the path. An empty list means "every row" (the root).
``Condition``
    Frozen dataclass, one per feature on the path. A row satisfies it when

    - its value is not missing and lies in the condition's values: for a numeric feature the interval
      ``low < x <= high`` (the bounds' inclusivity is given by ``low_inclusive`` / ``high_inclusive``).
      Infinite bounds are bounds like any other, because features may hold ``-inf`` and ``inf`` and a tree
      may split at ``-inf`` (an observed value): ``-inf <= x <= inf`` (the default) is every non-missing
      value, ``x > -inf`` leaves out ``-inf``, and ``x <= -inf`` is ``x = -inf``. A tree's splits give
      exclusive lower and inclusive upper bounds. For a categorical feature: membership in ``categories``
      (category values, by name; a :class:`~upliftree._validation.PooledCategories` entry, the rare
      categories pooled at fit time when a feature had more than ``max_bins``, stands for every category it
      holds);
    - or its value is missing and ``missing`` is True. For a categorical feature "missing" also covers
      any category outside ``known_categories`` (the categories seen at fit time), because the model
      routes unseen categories like missing values.

    ``allows_values`` is False when no non-missing value satisfies it (the interval or the category set
    is empty): the condition is then "x is missing". ``restricts_values`` is False when every
    non-missing value satisfies it: the condition is then "x is not missing".
``format_condition(condition, precision=6) -> str`` and ``format_rule(conditions, precision=6) -> str``
    Human-readable text, e.g. ``35 < age <= 60``, ``region in {north, south}``, ``x = -inf``,
    ``city in {Paris, Lyon, 812 other rare categories}`` (a pooled group of rare categories),
    ``income is missing or income <= 80``; a rule joins conditions with ``and`` (parenthesizing those that
    contain ``or``) and is ``"all rows"`` for an empty list. Thresholds are printed with at most
    ``precision`` significant digits (``None``: the shortest text that reads back as the exact float), so
    the text may round a threshold; the Condition objects always hold the exact values.

    For a feature that had no missing value in the training data (``Condition.missing_at_fit`` False, from
    ``FeatureSchema.has_missing``) the text leaves out "x is missing or" (``income <= 80``), and a rule leaves
    out the conditions that every non-missing value satisfies ("x is any value", "x is not missing"): on data
    like the training data they say nothing. Missing values (and, for a categorical feature, unseen
    categories) of such a feature still follow each split's missing direction, the larger child at fit time;
    ``missing_note`` says so in one line. Only the text changes: ``Condition.missing``, ``conditions_mask``
    and the exports that evaluate rules (SQL, pandas query strings) keep the exact routing.
``missing_note(tree, schema) -> str or None``
    The line the text exports add when some split feature had no missing values at fit time, e.g.
    "Missing values of age, income (none in the training data) follow the larger branch at each split."
``conditions_mask(conditions, X) -> ndarray of bool``
    Evaluate a rule on raw data (a DataFrame with the model's feature columns, or for all-numeric models a
    2-D array). This is the reference semantics an export must reproduce: for the rows of ``X``, the
    mask of ``leaf_conditions(tree, schema, leaf)`` equals ``model.apply(X) == leaf``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ._params import check_int
from ._tree_arrays import TreeArrays, categories_in_bitset
from ._validation import FeatureSchema, as_pandas, expand_categories

__all__ = ["Condition", "leaf_conditions", "format_condition", "format_rule", "conditions_mask", "missing_note"]

ALL_ROWS = "all rows"


@dataclass(frozen=True)
class Condition:
    """What a row's value of one feature must satisfy to reach a node (see the module docstring).

    Attributes
    ----------
    feature : str
        Column name.
    feature_index : int
        Position of the feature in the model's schema (column of ``X`` for a numpy ``X``).
    low, high : float
        Numeric features: bounds of the allowed interval; unused (infinite) for categorical features.
    low_inclusive, high_inclusive : bool
        Whether the bounds themselves are allowed. Infinite bounds count (features may hold ``-inf`` and
        ``inf``): with the defaults, ``-inf <= x <= inf``, the interval is every non-missing value. When
        ``low_inclusive`` is not given it is True for ``low = -inf`` and False otherwise (``x > low``, as trees
        split).
    categories : tuple or None
        Categorical features: the allowed category values, in schema order; None for numeric features.
    known_categories : tuple or None
        Categorical features: all categories seen at fit time; None for numeric features.
    missing : bool
        Whether a missing value (or an unseen category) satisfies the condition.
    missing_at_fit : bool
        Whether the training data had missing values of this feature (``FeatureSchema.has_missing``). It only
        changes the text (:func:`format_condition`, :func:`format_rule`), never which rows satisfy the
        condition.
    """

    feature: str
    feature_index: int
    low: float = -np.inf
    low_inclusive: bool | None = None
    high: float = np.inf
    high_inclusive: bool = True
    categories: tuple[Any, ...] | None = None
    known_categories: tuple[Any, ...] | None = None
    missing: bool = True
    missing_at_fit: bool = True

    def __post_init__(self) -> None:
        if self.low_inclusive is None:
            object.__setattr__(self, "low_inclusive", bool(self.low == -np.inf))

    @property
    def is_categorical(self) -> bool:
        return self.known_categories is not None

    @property
    def bounded_below(self) -> bool:
        """Whether the lower bound leaves out some number (``x > -inf`` does: it leaves out ``-inf``)."""
        return bool(self.low > -np.inf or not self.low_inclusive)

    @property
    def bounded_above(self) -> bool:
        """Whether the upper bound leaves out some number (``x < inf`` does: it leaves out ``inf``)."""
        return bool(self.high < np.inf or not self.high_inclusive)

    def in_interval(self, numbers: np.ndarray) -> np.ndarray:
        """Whether each of the float ``numbers`` lies in the interval of a numeric condition (NaN never does)."""
        with np.errstate(invalid="ignore"):
            above = numbers >= self.low if self.low_inclusive else numbers > self.low
            below = numbers <= self.high if self.high_inclusive else numbers < self.high
        return above & below

    @property
    def allows_values(self) -> bool:
        """Whether some non-missing value satisfies the condition."""
        if self.is_categorical:
            return len(self.categories) > 0
        return bool(self.low < self.high or (self.low == self.high and self.low_inclusive and self.high_inclusive))

    @property
    def restricts_values(self) -> bool:
        """Whether some non-missing value fails the condition."""
        if self.is_categorical:
            return len(self.categories) < len(self.known_categories)
        return self.bounded_below or self.bounded_above


def _unrestricted(schema: FeatureSchema, feature: int) -> Condition:
    known = schema.categories[feature]
    return Condition(schema.names[feature], feature, categories=known, known_categories=known,
                     missing_at_fit=schema.missing_at_fit(feature))


def _narrowed(condition: Condition, tree: TreeArrays, node: int, went_left: bool) -> Condition:
    """``condition`` and the test of ``node`` (left or right branch)."""
    missing = condition.missing and went_left == bool(tree.missing_left[node])
    if condition.is_categorical:
        known = condition.known_categories
        left_codes = set(categories_in_bitset(tree.category_bitset[node], len(known)).tolist())
        allowed = tuple(value for code, value in enumerate(known)
                        if value in condition.categories and (code in left_codes) == went_left)
        return replace(condition, categories=allowed, missing=missing)
    threshold = float(tree.threshold[node])
    if went_left:  # x <= threshold
        if threshold < condition.high:
            return replace(condition, high=threshold, high_inclusive=True, missing=missing)
    elif threshold >= condition.low:  # x > threshold
        return replace(condition, low=threshold, low_inclusive=False, missing=missing)
    return replace(condition, missing=missing)


def leaf_conditions(tree: TreeArrays, schema: FeatureSchema, node: int) -> list[Condition]:
    """Merged per-feature conditions of the path from the root to ``node``.

    Parameters
    ----------
    tree : TreeArrays
        The node table (``model.tree_``).
    schema : FeatureSchema
        Feature names and categories (``model.schema_``).
    node : int
        A node id, e.g. a leaf id from ``model.apply``.

    Returns
    -------
    list of Condition
        One per feature tested on the path, in order of the feature's first test from the root.
    """
    if not 0 <= int(node) < tree.n_nodes:
        raise ValueError(f"node must be a node id in [0, {tree.n_nodes}), got {node!r}")
    path = []  # (ancestor, went_left) from node up to the root
    child = int(node)
    while tree.parent[child] >= 0:
        ancestor = int(tree.parent[child])
        path.append((ancestor, bool(tree.children_left[ancestor] == child)))
        child = ancestor
    conditions: dict[int, Condition] = {}  # insertion order = first test from the root
    for ancestor, went_left in reversed(path):
        feature = int(tree.feature[ancestor])
        current = conditions.get(feature, _unrestricted(schema, feature))
        conditions[feature] = _narrowed(current, tree, ancestor, went_left)
    return list(conditions.values())


def _format_number(value: float, precision: int | None) -> str:
    if precision is None:
        text = repr(float(value))
    else:
        text = f"{value:.{precision}g}"
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _format_values(condition: Condition, precision: int | None) -> str:
    name = condition.feature
    if condition.is_categorical:
        return f"{name} in {{{', '.join(str(value) for value in condition.categories)}}}"
    low = _format_number(condition.low, precision)
    high = _format_number(condition.high, precision)
    low_op = "<=" if condition.low_inclusive else "<"
    high_op = "<=" if condition.high_inclusive else "<"
    if condition.low == condition.high:  # both inclusive, as the condition allows values: -inf after x <= -inf
        return f"{name} = {low}"
    if condition.bounded_below and condition.bounded_above:
        return f"{low} {low_op} {name} {high_op} {high}"
    if condition.bounded_below:
        return f"{name} {'>=' if condition.low_inclusive else '>'} {low}"
    return f"{name} {high_op} {high}"


def format_condition(condition: Condition, precision: int | None = 6) -> str:
    """Text of one condition, e.g. ``35 < age <= 60`` or ``income is missing or income <= 80``.

    For a feature without missing values at fit time (``condition.missing_at_fit`` False) the text leaves
    out "x is missing or", and "x is not missing" reads "x is any value" (see the module docstring).
    """
    if precision is not None:
        check_int(precision, "precision", 1)
    name = condition.feature
    if not condition.allows_values:
        # Exact even without missing values at fit time: no non-missing value satisfies the condition.
        return f"{name} is missing" if condition.missing else f"{name} is never satisfied"
    if not condition.restricts_values:
        return f"{name} is any value" if condition.missing or not condition.missing_at_fit else f"{name} is not missing"
    values = _format_values(condition, precision)
    return f"{name} is missing or {values}" if condition.missing and condition.missing_at_fit else values


def _says_nothing(condition: Condition) -> bool:
    """Every non-missing value satisfies the condition and the feature had no missing values at fit time."""
    return not condition.missing_at_fit and condition.allows_values and not condition.restricts_values


def format_rule(conditions: list[Condition], precision: int | None = 6) -> str:
    """Conditions joined by ``and``; ``"all rows"`` when there are none.

    Conditions that every non-missing value satisfies are left out when their feature had no missing values
    at fit time (see the module docstring).

    Parameters
    ----------
    conditions : list of Condition
        Usually ``leaf_conditions(...)``.
    precision : int or None
        Significant digits of thresholds; None prints each threshold exactly (shortest round-trip text).
    """
    texts = [format_condition(condition, precision) for condition in conditions if not _says_nothing(condition)]
    if not texts:
        return ALL_ROWS
    if len(texts) > 1:
        texts = [f"({text})" if " or " in text else text for text in texts]
    return " and ".join(texts)


def missing_note(tree: TreeArrays, schema: FeatureSchema) -> str | None:
    """One line explaining where missing values of the split features without any at fit time go.

    Rule text leaves out "x is missing or" for those features (see :func:`format_condition`); this line, which
    the text exports print once, keeps readers from concluding that missing values have no segment. None
    when every split feature had missing values at fit time (the rules then say where they go) or the tree
    has no split.
    """
    split = {int(feature) for feature, left in zip(tree.feature, tree.children_left, strict=True) if left >= 0}
    quiet = [index for index in sorted(split) if not schema.missing_at_fit(index)]
    if not quiet:
        return None
    names = ", ".join(schema.names[index] for index in quiet)
    categorical = [schema.names[index] for index in quiet if schema.categories[index] is not None]
    if len(categorical) == len(quiet):  # unseen categories route like missing values
        return f"Missing values and new categories of {names} (none in the training data) follow the larger " \
               "branch at each split."
    unseen = f" and new categories of {', '.join(categorical)}" if categorical else ""
    return f"Missing values of {names} (none in the training data){unseen} follow the larger branch at each split."


def _column(X: Any, condition: Condition) -> pd.Series:
    if isinstance(X, pd.DataFrame):
        columns = {str(column): column for column in X.columns}
        if condition.feature not in columns:
            raise ValueError(f"X has no column {condition.feature!r} that the rule tests")
        return X[columns[condition.feature]]
    array = np.asarray(X)
    if array.ndim != 2 or condition.feature_index >= array.shape[1]:
        raise ValueError(f"X must be a DataFrame or a 2-D array with column {condition.feature_index}, "
                         f"got shape {array.shape}")
    return pd.Series(array[:, condition.feature_index])


def _condition_mask(condition: Condition, X: Any) -> np.ndarray:
    column = _column(X, condition)
    if condition.is_categorical:
        values = column.astype(object)
        # A pooled group (upliftree._validation.PooledCategories) stands for all the categories it pooled.
        in_values = values.isin(expand_categories(condition.categories)).to_numpy()
        is_missing = (values.isna() | ~values.isin(expand_categories(condition.known_categories))).to_numpy()
    else:
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
        is_missing = np.isnan(numbers)
        in_values = condition.in_interval(numbers)
    return in_values | (is_missing & condition.missing)


def conditions_mask(conditions: list[Condition], X: Any) -> np.ndarray:
    """Rows of ``X`` that satisfy every condition (a DataFrame by column name, or a 2-D numeric array)."""
    X = as_pandas(X, "X")
    n_rows = len(X) if isinstance(X, pd.DataFrame) else np.asarray(X).shape[0]
    mask = np.ones(n_rows, dtype=np.bool_)
    for condition in conditions:
        mask &= _condition_mask(condition, X)
    return mask
