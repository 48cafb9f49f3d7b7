"""pandas query strings: hostile column names next to hostile category values and numbers.

pandas reads a query string in two passes: a small scanner splits it at backticks (skipping quoted text, where
it takes a quote preceded by a backslash for an escaped one), then Python's tokenizer reads the result. A string
literal that ends with an escaped backslash (``'a\\\\'``) fooled the scanner, so the backtick-quoted name after
it was never converted and pandas raised ``SyntaxError``. These tests put names and values side by side in one
query and require exactly the rows :func:`upliftree.rules.conditions_mask` selects (the reference semantics).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from upliftree import UpliftTreeClassifier
from upliftree.export.conditions import rule_expression
from upliftree.export.sheets import PandasQuery, check_query_names
from upliftree.rules import Condition, conditions_mask

# Pieces that break naive quoting: escapes, both quotes, backticks (doubled in names), comment and local-variable
# marks, line breaks, tabs, a letter that Unicode normalization changes, brackets and commas of value lists.
PIECES = ["\\", "'", '"', "`", "``", " ", "#", "@", "\n", "\t", "\r", "a", "x", "é", "ﬁ", "--", ";", "(", ")",
          "[", "]", ",", "and", "in", "not", "inf", "True", "0", "1e999", "\x00", "\u2028", "🙂"]
HOSTILE = st.lists(st.sampled_from(PIECES), max_size=6).map("".join) | st.text(max_size=6)
# Names are mostly made of what pandas can read (else most rules would be refused), sometimes of anything.
READABLE = st.lists(st.sampled_from([piece for piece in PIECES if piece.isprintable() and piece != "ﬁ"]), max_size=6)
NAMES = st.one_of(*[READABLE.map("".join)] * 4, HOSTILE)
NUMBERS = st.sampled_from([-np.inf, np.inf, 0.0, -0.0, 1.5, -2.25, 1e-300, 5e-324, 1.7976931348623157e308,
                           0.1, np.nextafter(0.1, 1.0)])


def pandas_resolves(name: str, names: list[str]) -> bool:
    """Whether ``DataFrame.query`` finds ``name``'s own column in frames holding ``names`` in either order."""
    quoted = "`" + name.replace("`", "``") + "`"
    for order in (names, names[::-1]):
        frame = pd.DataFrame([[float(names.index(column)) for column in order]], columns=pd.Index(order, dtype=object))
        try:
            if len(frame.query(f"{quoted} == {float(names.index(name))}", engine="python")) != 1:
                return False
        except Exception:  # SyntaxError, ValueError, KeyError or UndefinedVariableError: not readable
            return False
    return True


@st.composite
def rules_on_frames(draw):
    """A rule of 1-4 conditions on hostile names, and a frame with values on both sides of every bound."""
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    conditions, columns = [], {}
    for index, name in enumerate(names):
        missing = draw(st.booleans())
        if draw(st.booleans()):
            values_of_one_type = draw(st.sampled_from([HOSTILE, st.integers(-3, 3), st.booleans()]))
            known = draw(st.lists(values_of_one_type, min_size=1, max_size=5, unique=True))
            allowed = tuple(value for value in known if draw(st.booleans()))
            conditions.append(Condition(name, index, categories=allowed, known_categories=tuple(known),
                                        missing=missing))
            unseen = "".join(str(value) for value in known) + "?"
            values = draw(st.lists(st.sampled_from([*known, unseen, None]), min_size=30, max_size=30))
            columns[name] = pd.Series(values, dtype=object)
        else:
            low, high = sorted(draw(st.lists(NUMBERS, min_size=2, max_size=2)))
            conditions.append(Condition(name, index, low=low, low_inclusive=draw(st.booleans()), high=high,
                                        high_inclusive=draw(st.booleans()), missing=missing))
            with np.errstate(over="ignore"):  # the float next to a bound, on both sides
                pool = [low, high, np.nextafter(low, -np.inf), np.nextafter(high, np.inf), -np.inf, np.inf, np.nan]
            columns[name] = np.asarray(draw(st.lists(st.sampled_from(pool), min_size=30, max_size=30)))
    frame = pd.DataFrame({name: columns[name] for name in names})
    return conditions, frame


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_on_frames())
def test_query_selects_exactly_the_rows_of_the_rule(rule) -> None:
    conditions, frame = rule
    names = list(frame.columns)
    try:
        check_query_names(names)
        query = rule_expression(conditions, PandasQuery())
    except ValueError as error:
        # Refused only when pandas truly cannot read a name (alone, or beside the others in some order).
        assert "pandas query strings cannot" in str(error)
        assert not all(pandas_resolves(name, names) for name in names), str(error)
        event("refused: a name pandas cannot read")
        return
    expected = conditions_mask(conditions, frame)
    if query is None:
        assert expected.all()
        return
    event(f"query on {len(conditions)} condition(s)")
    selected = frame.query(query, engine="python").index.to_numpy()
    np.testing.assert_array_equal(selected, np.flatnonzero(expected), err_msg=query)


def test_value_ending_in_a_backslash_next_to_a_hostile_name() -> None:
    """The failing draw of issue 13: a category ending in a backslash, then a backtick-quoted name."""
    rng = np.random.default_rng(0)
    n_rows = 3000
    arm = rng.integers(0, 2, n_rows)
    category = rng.choice(np.array(["ends\\", "it's \\' x", "plain"], dtype=object), n_rows)
    number = rng.normal(size=n_rows)
    y = (rng.random(n_rows) < 0.1 + arm * ((category == "ends\\") * 0.3 + (number > 0) * 0.2)).astype(int)
    X = pd.DataFrame({'weird "col"; drop table x; --': category, "num": number})
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=100).fit(X, arm, y)
    leaves = model.apply(X)
    queries = model.rules("query")
    assert any("\\" in query for query in queries.values())
    for leaf, query in queries.items():
        np.testing.assert_array_equal(X.query(query, engine="python").index.to_numpy(), np.flatnonzero(leaves == leaf),
                                      err_msg=query)


def test_names_pandas_would_confuse_are_refused() -> None:
    """pandas turns "a b?" and "a_b?" into the same identifier: a query on one would read the other column."""
    rng = np.random.default_rng(1)
    n_rows = 2000
    arm = rng.integers(0, 2, n_rows)
    X = pd.DataFrame({"a b?": rng.normal(size=n_rows), "a_b?": rng.normal(size=n_rows)})
    y = (rng.random(n_rows) < 0.1 + arm * ((X["a b?"] > 0) * 0.3 + (X["a_b?"] > 0) * 0.2)).astype(int)
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=100).fit(X, arm, y)
    with pytest.raises(ValueError, match=r"pandas query strings cannot tell the columns \['a b\?', 'a_b\?'\] apart"):
        model.rules("query")
    check_query_names(["a b?", "a b!"])  # different identifiers: fine


def test_literals_never_put_a_backslash_before_a_quote() -> None:
    """Every backslash starts an escape that ends in a hex digit; quotes inside values are escaped."""
    language = PandasQuery()
    text = language.is_in("`x`", ["a\\", "'", '"', "\\'", "tab\there", "\u2028", "🙂", "é"])
    inside = text[len("`x` in ["):-1]
    for literal in inside.split(", "):
        body = literal[1:-1]
        assert literal[0] == literal[-1] == "'" and "'" not in body and '"' not in body and not body.endswith("\\")
    assert "'🙂'" in text and "'é'" in text  # printable letters stay readable
    assert language.number(-np.inf) == "-1e999" and language.number(np.inf) == "1e999"
