"""Rules of :mod:`upliftree.rules` as boolean expressions of a query language: SQL dialects, pandas ``query``.

One translation for every language, so SQL and pandas query strings route rows the same way. A language
says how to quote a column, write numbers and value lists, and test for missing values; the translation
decides which tests a condition needs (e.g. "missing or not one of the excluded categories", which also
lets unseen categories through, as the model does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .._validation import expand_categories
from ..rules import Condition

__all__ = ["QueryLanguage", "condition_expression", "rule_expression"]


class QueryLanguage(Protocol):
    """What :func:`condition_expression` needs to know about a query language."""

    and_: str  # conjunction with its spaces, e.g. " AND "
    or_: str

    def column(self, name: str) -> str:
        """The quoted column name."""

    def number(self, value: float) -> str:
        """An exact literal of a (finite or infinite) float."""

    def is_in(self, column: str, values: Sequence[Any]) -> str:
        """True when the column holds one of ``values`` (never for missing values)."""

    def missing_or_not_in(self, column: str, values: Sequence[Any]) -> str:
        """True when the column is missing or holds none of ``values``."""

    def missing_tests(self, column: str) -> list[str]:
        """Tests of which any one means "missing" (NULL, NaN, ...)."""

    def not_missing(self, column: str) -> str:
        """True when the column holds a value."""

    def never(self, column: str) -> str:
        """An expression false for every row."""

    def nan_excluded(self, column: str) -> list[str]:
        """Tests that exclude missing values which pass ``column > number`` (NaN in SQL dialects that order
        NaN above every number)."""


def _bounds(condition: Condition, column: str, language: QueryLanguage) -> list[str]:
    # Infinite bounds are written too when they leave out a number: "x > -inf" is not every value.
    bounds = []
    if condition.bounded_below:
        bounds.append(f"{column} {'>=' if condition.low_inclusive else '>'} {language.number(condition.low)}")
    if condition.bounded_above:
        bounds.append(f"{column} {'<=' if condition.high_inclusive else '<'} {language.number(condition.high)}")
    return bounds


def condition_expression(condition: Condition, language: QueryLanguage) -> str | None:
    """Expression of one condition; None when every row satisfies it.

    The result is a single test, a conjunction, or a parenthesized disjunction, so conjunctions of
    results need no further parentheses.
    """
    column = language.column(condition.feature)
    if condition.is_categorical:
        # A pooled group of rare categories (upliftree._validation.PooledCategories) is written out as the
        # list of the categories it holds, which the model routes together.
        if condition.missing:
            # Missing values and categories unseen at fit time pass: exclude only the known ones that fail.
            excluded = [value for value in condition.known_categories if value not in condition.categories]
            return language.missing_or_not_in(column, expand_categories(excluded)) if excluded else None
        if not condition.categories:
            return language.never(column)
        return language.is_in(column, expand_categories(condition.categories))
    if not condition.allows_values:
        tests = language.missing_tests(column)
        if not condition.missing:
            return language.never(column)
        return tests[0] if len(tests) == 1 else f"({language.or_.join(tests)})"
    if not condition.restricts_values:
        return None if condition.missing else language.not_missing(column)
    bounds = _bounds(condition, column, language)
    if condition.missing:
        values = bounds[0] if len(bounds) == 1 else f"({language.and_.join(bounds)})"
        return f"({language.or_.join(language.missing_tests(column) + [values])})"
    if not condition.bounded_above:
        bounds += language.nan_excluded(column)
    return language.and_.join(bounds)


def rule_expression(conditions: list[Condition], language: QueryLanguage) -> str | None:
    """Conjunction of the conditions of a rule; None when every row satisfies it."""
    tests = [test for test in (condition_expression(condition, language) for condition in conditions)
             if test is not None]
    return language.and_.join(tests) if tests else None
