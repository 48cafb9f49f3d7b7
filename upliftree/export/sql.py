"""Score rows in a database: a fitted tree or forest as one ``SELECT`` with ``CASE WHEN`` expressions.

Each leaf becomes one ``WHEN`` holding its rule from :func:`upliftree.rules.leaf_conditions`, so the SQL routes
rows exactly as :meth:`apply` does: numeric tests compare with the exact threshold (``-inf`` included; the
shortest round-trip text of the float, or in SQLite, whose parser misrounds some, an exact integer
expression), bool features and categorical ones are tested by value (the known categories on each side),
and SQL ``NULL`` (and ``NaN`` where the dialect has it) or a category unseen at fit time follows the node's
missing-value direction. See ``docs/export.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._base import FOREST, model_kind
from .._params import check_choice
from ..rules import Condition, leaf_conditions
from .conditions import rule_expression

__all__ = ["DIALECTS", "to_sql"]

INDENT = "  "
ALWAYS = "1 = 1"
NEVER = "1 = 0"
BOOLEANS = (False, True)


@dataclass(frozen=True)
class Dialect:
    """How one SQL dialect quotes names and strings and writes doubles, infinities and NaN tests."""

    name: str
    identifier_quote: str
    backslash_escapes: bool  # string literals always treat "\" as an escape character (Spark)
    escape_strings: bool  # E'' strings exist, which escape backslashes whatever the server settings (Postgres)
    double_type: str | None  # type that output numbers are cast to (None: a literal already is a double)
    nan_test: str | None  # template of "x is NaN" for dialects whose doubles can hold NaN
    infinity: str  # template of an infinite double, "{sign}" is "" or "-"
    dyadic_numbers: bool = False  # decimal literals may be misread: write integers and powers of two (SQLite)
    # Numbers are cast from text, as CAST('34.0' AS DOUBLE PRECISION): PostgreSQL reads 34.0E0 as NUMERIC,
    # which compares with a BIGINT or NUMERIC column exactly instead of as the doubles the model read, and
    # has no -0.0.
    text_numbers: bool = False

    def identifier(self, name: str) -> str:
        _check_text(name, "identifier")
        quote = self.identifier_quote
        return f"{quote}{name.replace(quote, quote + quote)}{quote}"

    def string(self, text: str) -> str:
        _check_text(text, "string")
        if self.backslash_escapes:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        if self.escape_strings and "\\" in text:
            # E'' strings escape the same way whatever standard_conforming_strings is set to.
            return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
        return "'" + text.replace("'", "''") + "'"

    def number(self, value: float) -> str:
        """A double literal; plain decimals get an exponent so that every dialect reads them as doubles."""
        value = float(value)
        if math.isnan(value):
            raise ValueError("SQL export cannot write a NaN number")
        if math.isinf(value):
            return self.infinity.format(sign="-" if value < 0 else "")
        if self.dyadic_numbers:
            return _dyadic_number(value)
        text = repr(value)
        if self.text_numbers:
            return f"CAST('{text}' AS {self.double_type})"
        return text if "e" in text else f"{text}E0"

    def double(self, value: float) -> str:
        literal = self.number(value)
        if self.double_type is None or self.text_numbers:  # the literal already is a double
            return literal
        return f"CAST({literal} AS {self.double_type})"

    # -- the QueryLanguage protocol of .conditions ----------------------------------------------------------
    and_ = " AND "
    or_ = " OR "

    def column(self, name: str) -> str:
        return self.identifier(name)

    def is_in(self, column: str, values: Sequence[Any]) -> str:
        return f"{column} IN ({_value_list(values, self)})"

    def missing_or_not_in(self, column: str, values: Sequence[Any]) -> str:
        # NOT IN is NULL, not true, for a NULL value: test NULL explicitly.
        return f"({column} IS NULL OR {column} NOT IN ({_value_list(values, self)}))"

    def missing_tests(self, column: str) -> list[str]:
        return [f"{column} IS NULL"] + ([] if self.nan_test is None else [self.nan_test.format(column)])

    def not_missing(self, column: str) -> str:
        tests = self.missing_tests(column)
        return f"{column} IS NOT NULL" if len(tests) == 1 else f"NOT ({' OR '.join(tests)})"

    def never(self, column: str) -> str:
        return NEVER

    def nan_excluded(self, column: str) -> list[str]:
        # NULL fails any comparison, but NaN is larger than every number where doubles have NaN.
        return [] if self.nan_test is None else [f"NOT {self.nan_test.format(column)}"]


DIALECTS = {
    "ansi": Dialect("ansi", '"', False, False, "DOUBLE PRECISION", None, "CAST('{sign}Infinity' AS DOUBLE PRECISION)",
                    text_numbers=True),
    "duckdb": Dialect("duckdb", '"', False, False, "DOUBLE", "isnan({})", "CAST('{sign}inf' AS DOUBLE)"),
    "sqlite": Dialect("sqlite", '"', False, False, None, None, "{sign}9e999", dyadic_numbers=True),
    "postgres": Dialect("postgres", '"', False, True, "DOUBLE PRECISION", "{} = CAST('NaN' AS DOUBLE PRECISION)",
                        "CAST('{sign}Infinity' AS DOUBLE PRECISION)", text_numbers=True),
    "spark": Dialect("spark", "`", True, False, "DOUBLE", "isnan({})", "CAST('{sign}Infinity' AS DOUBLE)"),
}


# The largest power of two below 2**63, so that every factor is an SQL integer.
_LARGEST_POWER_STEP = 62


def _dyadic_number(value: float) -> str:
    """A finite double as an expression every SQLite computes exactly: ``CAST(m AS REAL)`` for an integer ``m`` of
    at most 53 bits, then multiplied or divided by powers of two (integers up to ``2**62``).

    SQLite's own decimal-to-double conversion rounds some 17-digit literals to a neighbouring double (it
    scales in long double, or in double where long double is double), and which ones depends on the build.
    Converting a 53-bit integer is exact, and so is each scaling by a power of two: every intermediate result
    is the value times a power of two, representable whenever the value is (subnormals included).
    """
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    numerator, denominator = value.as_integer_ratio()
    exponent = 1 - denominator.bit_length()  # value == numerator * 2**exponent
    if exponent == 0 and abs(numerator) < 2**63:  # an integer: converted exactly, as it has at most 53 bits
        return f"CAST({numerator} AS REAL)"
    trailing_zeros = (numerator & -numerator).bit_length() - 1
    numerator >>= trailing_zeros
    exponent += trailing_zeros
    operator = " * " if exponent > 0 else " / "
    steps, last = divmod(abs(exponent), _LARGEST_POWER_STEP)
    factors = [1 << _LARGEST_POWER_STEP] * steps + ([1 << last] if last else [])
    return f"(CAST({numerator} AS REAL){''.join(f'{operator}{factor}' for factor in factors)})"


def _check_text(text: Any, what: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"SQL {what} must be a string, got {type(text).__name__}: {text!r}")
    if "\x00" in text:
        raise ValueError(f"SQL {what} {text!r} contains a NUL character, which SQL text cannot carry")


def _literal(value: Any, dialect: Dialect) -> str:
    """A category value or an action label as an SQL literal of its own type."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return dialect.string(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return dialect.number(value)
    raise TypeError(f"cannot write {value!r} of type {type(value).__name__} as an SQL literal")


def _value_list(values: Sequence[Any], dialect: Dialect) -> str:
    return ", ".join(_literal(value, dialect) for value in values)


def _on_booleans(condition: Condition) -> Condition:
    """A condition on a bool feature (False is 0, True is 1 to the tree) as one on the values FALSE and TRUE.

    A database column of booleans can be neither compared with a number nor tested for NaN, but it can be
    tested by value, as categories are: ``"flag" IN (TRUE)``, ``("flag" IS NULL OR "flag" NOT IN (FALSE))``.
    """
    allowed = condition.in_interval(np.array([0.0, 1.0]))
    return replace(condition, low=-np.inf, low_inclusive=True, high=np.inf, high_inclusive=True,
                   categories=tuple(value for value, ok in zip(BOOLEANS, allowed, strict=True) if ok),
                   known_categories=BOOLEANS)


def _sql_conditions(estimator: Any, leaf: int) -> list[Condition]:
    """The leaf's rule, with the conditions on bool features as tests of boolean values."""
    schema = estimator.schema_
    is_bool = schema.is_bool or (False,) * schema.n_features
    return [_on_booleans(condition) if is_bool[condition.feature_index] else condition
            for condition in leaf_conditions(estimator.tree_, schema, leaf)]


def _leaf_id_sql(estimator: Any, dialect: Dialect, indent: str) -> str:
    """``CASE`` with one ``WHEN <leaf's rule> THEN <leaf id>`` per leaf."""
    tree = estimator.tree_
    leaves = tree.leaf_ids
    if len(leaves) == 1:
        return str(int(leaves[0]))
    whens = []
    for leaf in leaves:
        rule = rule_expression(_sql_conditions(estimator, int(leaf)), dialect) or ALWAYS
        whens.append(f"{indent}{INDENT}WHEN {rule} THEN {int(leaf)}")
    return "CASE\n" + "\n".join(whens) + f"\n{indent}END"


def _leaf_map_sql(leaf_column: str, mapping: dict[int, str], indent: str) -> str:
    whens = [f"{indent}{INDENT}WHEN {leaf} THEN {value}" for leaf, value in mapping.items()]
    return f"CASE {leaf_column}\n" + "\n".join(whens) + f"\n{indent}END"


def _table_sql(table: Any, dialect: Dialect) -> str:
    if isinstance(table, str):
        return dialect.identifier(table)
    if isinstance(table, Sequence) and table and all(isinstance(part, str) for part in table):
        return ".".join(dialect.identifier(part) for part in table)
    raise TypeError(f"table must be a table name or a sequence of name parts such as ('schema', 'table'), "
                    f"got {table!r}")


def _uplift_names(treatments: Sequence[Any]) -> list[str]:
    if len(treatments) == 2:
        return ["uplift"]
    return [f"uplift_{label}" for label in treatments[1:]]


def _check_names(names: list[str]) -> None:
    # Several engines (DuckDB, Spark) match even quoted identifiers case-insensitively.
    folded = [name.casefold() for name in names]
    clashes = sorted({name for name, key in zip(names, folded, strict=True) if folded.count(key) > 1})
    if clashes:
        raise ValueError(f"the query would have several columns named {clashes} (names compared "
                         "case-insensitively); rename the key columns, or the arms whose labels collide")


def _leaf_actions(leaf_actions: Any, leaves: np.ndarray, dialect: Dialect) -> dict[int, str]:
    if not isinstance(leaf_actions, Mapping) and not hasattr(leaf_actions, "items"):
        raise TypeError(f"leaf_actions must map leaf ids to action labels, got {type(leaf_actions).__name__}")
    actions = {}
    for leaf, action in leaf_actions.items():
        if isinstance(leaf, bool) or not isinstance(leaf, int | np.integer):
            raise TypeError(f"leaf_actions keys must be leaf ids (ints), got {leaf!r}")
        actions[int(leaf)] = action
    expected = {int(leaf) for leaf in leaves}
    if set(actions) != expected:
        missing, extra = sorted(expected - set(actions)), sorted(set(actions) - expected)
        raise ValueError(f"leaf_actions must give an action for every leaf {sorted(expected)}; "
                         f"missing {missing}, not leaves {extra}")
    return {leaf: _literal(actions[leaf], dialect) for leaf in sorted(actions)}


def to_sql(model: Any, table: str | Sequence[str], dialect: str = "ansi", key_columns: Sequence[str] = (),
           leaf_actions: Mapping[int, Any] | None = None, tree_leaf_ids: bool = False) -> str:
    """A ``SELECT`` over ``table`` that scores every row like the fitted ``model``.

    Parameters
    ----------
    model : fitted uplift tree, distilled tree or forest
    table : str or sequence of str
        Table (or view) name, quoted as one identifier; a sequence such as ``("sales", "customers")`` is a
        qualified name.
    dialect : {"ansi", "duckdb", "sqlite", "postgres", "spark"}
        Quoting (``"name"`` or Spark's backticks), string escapes, double literals and NaN tests.
    key_columns : sequence of str
        Columns of ``table`` copied to the output first (e.g. a customer id).
    leaf_actions : mapping leaf id -> label, optional
        An action per leaf (e.g. from a policy): adds an ``action`` column. Trees only.
    tree_leaf_ids : bool
        Forests only: also output each tree's leaf, ``leaf_id_0, leaf_id_1, ...``.

    Returns
    -------
    str
        The query. Its columns: the key columns, ``leaf_id`` (a tree) and ``uplift`` (one treatment) or
        ``uplift_<arm>`` (several), and ``action`` when ``leaf_actions`` is given.
    """
    check_choice(dialect, "dialect", sorted(DIALECTS))
    sql = DIALECTS[dialect]
    if isinstance(key_columns, str) or not all(isinstance(name, str) for name in key_columns):
        raise TypeError(f"key_columns must be a sequence of column names, got {key_columns!r}")
    keys = [sql.identifier(name) for name in key_columns]
    is_forest = model_kind(model) == FOREST
    trees = model.estimators_ if is_forest else [model]
    uplift_names = _uplift_names([str(label) for label in model.treatments_])
    leaf_names = [f"leaf_id_{index}" for index in range(len(trees))] if is_forest else ["leaf_id"]
    output_names = list(key_columns) + (leaf_names if tree_leaf_ids or not is_forest else []) + uplift_names
    if leaf_actions is not None:
        if is_forest:
            raise ValueError("leaf_actions applies to a single tree; a forest has no segments to act on")
        actions = _leaf_actions(leaf_actions, model.tree_.leaf_ids, sql)
        output_names.append("action")
    _check_names(output_names + ([] if tree_leaf_ids or not is_forest else leaf_names))

    # Indentation is written line by line, never inserted afterwards: literals may contain line breaks.
    inner = INDENT * 2
    leaf_columns = [f"{inner}{_leaf_id_sql(tree, sql, inner)} AS {sql.identifier(name)}"
                    for tree, name in zip(trees, leaf_names, strict=True)]
    leaf_query = (
        f"{INDENT}SELECT\n" + ",\n".join([f"{inner}{key}" for key in keys] + leaf_columns)
        + f"\n{INDENT}FROM {_table_sql(table, sql)}"
    )
    leaf_refs = [sql.identifier(name) for name in leaf_names]
    if is_forest:
        uplift_columns = _forest_uplift_sql(trees, leaf_refs, sql)
    else:
        uplift = trees[0].tree_.uplift
        uplift_columns = [
            _leaf_map_sql(leaf_refs[0], {int(leaf): sql.double(uplift[leaf, arm]) for leaf in trees[0].tree_.leaf_ids},
                          INDENT)
            for arm in range(uplift.shape[1])
        ]
    columns = [f"{INDENT}{key}" for key in keys]
    if tree_leaf_ids or not is_forest:
        columns += [f"{INDENT}{ref}" for ref in leaf_refs]
    columns += [f"{INDENT}{expression} AS {sql.identifier(name)}"
                for expression, name in zip(uplift_columns, uplift_names, strict=True)]
    if leaf_actions is not None:
        columns.append(f"{INDENT}{_leaf_map_sql(leaf_refs[0], actions, INDENT)} AS {sql.identifier('action')}")
    return "SELECT\n" + ",\n".join(columns) + f"\nFROM (\n{leaf_query}\n) AS {sql.identifier('scored')}\n"


def _forest_uplift_sql(trees: list[Any], leaf_refs: list[str], sql: Dialect) -> list[str]:
    """Mean value per arm over trees, summed in tree order then divided, as ``predict`` does; then uplifts."""
    n_arms = trees[0].tree_.n_arms

    def arm_mean(arm: int) -> str:
        terms = [
            _leaf_map_sql(ref, {int(leaf): sql.double(tree.tree_.value[leaf, arm]) for leaf in tree.tree_.leaf_ids},
                          INDENT * 2)
            for tree, ref in zip(trees, leaf_refs, strict=True)
        ]
        return f"({' + '.join(terms)}) / {len(trees)}"

    control = arm_mean(0)
    return [f"{arm_mean(arm)}\n{INDENT}- {control}" for arm in range(1, n_arms)]
