"""Numbers for people (upliftree._format): one precision per outcome, values that read back, no zero-width
intervals, thousands separators; and the tables of the rule sheets and the CLI that use them."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from upliftree import UpliftTreeRegressor
from upliftree._format import (
    NO_VARIATION,
    OUTCOME_DIGITS,
    OutcomeFormat,
    axis_thousands,
    decimals_for,
    fixed,
    significant,
)
from upliftree._tables import OutputTable, readable, render_tables

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
scales = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?")


def parse(text: str) -> float:
    return float(text.replace(",", ""))


def decimals_of(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


@given(scale=scales, values=st.lists(finite, min_size=3, max_size=3))
def test_a_continuous_outcome_prints_every_number_with_the_same_decimals(scale, values):
    numbers = OutcomeFormat.for_scale(False, scale)
    estimate, low, high = sorted(values)[1], sorted(values)[0], sorted(values)[2]
    text = numbers.effect(estimate, low, high)
    printed = NUMBER.findall(text)
    if low == high:
        assert text.endswith(f"({NO_VARIATION})") and len(printed) == 1
    else:
        assert len(printed) == 3
    assert {decimals_of(number) for number in printed} == {numbers.decimals}
    assert decimals_of(numbers.level(scale)) == numbers.decimals
    # Each number reads back to within half a unit of its last decimal.
    for number, value in zip(printed, (estimate, low, high), strict=False):
        assert abs(parse(number) - value) <= 0.5 * 10.0 ** -numbers.decimals * (1 + 1e-9) + abs(value) * 1e-15
    # A typical value (of size scale) shows OUTCOME_DIGITS significant digits, or more when it is large.
    digits = len(fixed(scale, numbers.decimals).replace(",", "").replace(".", "").lstrip("0"))
    assert digits >= OUTCOME_DIGITS - 1


def test_the_mixed_precision_of_the_issue_is_gone():
    spend = OutcomeFormat.for_scale(False, 15.07)  # Hillstrom's spend: root mean square 15.07
    assert spend.effect(0.0001382) == "+0.00"
    assert spend.effect(3.896, -0.07257, 7.865) == "+3.90 (-0.07, +7.87)"
    assert spend.effect(0.0, 0.0, 0.0) == "+0.00 (no variation)"
    assert OutcomeFormat.for_scale(False, 3_000.0).effect(1234.5, 100.0, 2500.0) == "+1,234 (+100, +2,500)"


@given(value=st.floats(min_value=-1.0, max_value=1.0, allow_nan=False), width=st.floats(0.0, 0.5))
def test_a_binary_outcome_prints_as_before(value, width):
    """Rates in percent and uplift in percentage points, one decimal (the golden sheets and DOT depend on it)."""
    rates = OutcomeFormat.for_scale(True, 0.3)
    low, high = value - width, value + width
    expected = f"{100 * value:+.1f} pp ({100 * low:+.1f}, {100 * high:+.1f})"
    assert rates.effect(value, low, high) == (expected if low != high else f"{100 * value:+.1f} pp (no variation)")
    assert rates.level(abs(value)) == f"{abs(value):.1%}"


def test_undefined_numbers():
    numbers = OutcomeFormat.for_scale(False, 2.0)
    assert numbers.effect(np.nan, 0.0, 1.0) == "n/a"
    assert numbers.effect(1.0, np.nan, 2.0) == "+1.000"
    assert numbers.level(None) == "n/a" and significant(np.inf) == "n/a"


@given(value=finite.filter(lambda value: value != 0), digits=st.integers(2, 6))
def test_significant_digits_read_back(value, digits):
    text = significant(value, digits)
    assert abs(parse(text) - value) <= abs(value) * 0.5 * 10.0 ** (1 - digits) * (1 + 1e-9)
    mantissa = text.split("e")[0].replace(",", "").replace(".", "").lstrip("+-").lstrip("0")
    if "e" in text or "." in text:
        assert len(mantissa) == digits
    else:  # a whole number of more digits than asked for is printed in full, not rounded to 1.2e+05
        assert len(mantissa) >= digits
    if 1e-4 <= abs(value) < 1e15:
        assert "e" not in text
        if abs(value) >= 1000:
            assert "," in text


def test_significant_examples():
    assert significant(8.367e-08) == "8.367e-08"  # the PSI the 80-column table cut to "8.367…"
    assert significant(300_000) == "300,000"
    assert significant(0.0001382) == "0.0001382"
    assert significant(9.9996) == "10.00"
    assert significant(0) == "0"


def test_decimals_for_a_column():
    assert decimals_for([0.118, -0.369, 0.09]) == 3
    assert decimals_for([1234.5, 2.0]) == 0
    assert decimals_for([np.nan, 0.0]) == 2


def test_axis_tick_labels_have_thousands_separators():
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    ax.plot([0, 300_000], [-1_500, 2_500.5])
    axis_thousands(ax, max_ticks=4)
    ax.figure.canvas.draw()
    labels = [label.get_text() for label in ax.get_xticklabels() if label.get_text()]
    assert "300,000" in labels or "200,000" in labels
    assert len(ax.get_xticks()) <= 6
    assert all(re.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d+)?", label.replace("−", "-")) for label in labels)


# -- where the numbers are printed -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def constant_segment():
    """A continuous outcome that is 0 for every row with x = 0, whatever the arm, and varies elsewhere."""
    rng = np.random.default_rng(0)
    n_rows = 4_000
    x = rng.integers(0, 2, n_rows)
    treated = rng.integers(0, 2, n_rows)
    y = np.where(x == 1, rng.normal(10, 3, n_rows) + 2 * treated, 0.0)
    return UpliftTreeRegressor(max_depth=1, min_samples_leaf=100, control=0, honest=False).fit(
        pd.DataFrame({"x": x}), treated, y)


def test_sheets_say_no_variation_and_share_one_precision(constant_segment):
    for text in (constant_segment.rules("markdown"), constant_segment.rules("text"), constant_segment.to_dot()):
        assert "+0.000 (no variation)" in text and "(+0, +0)" not in text
    sheet = constant_segment.rules("markdown")
    effects = re.findall(r"\| ([+-][\d.]+) \((?:[+-][\d.]+, [+-][\d.]+|no variation)\) \|", sheet)
    assert len(effects) == 2 and {decimals_of(value) for value in effects} == {3}


def test_cli_tables_in_every_format():
    data = pd.DataFrame({"check": ["feature", "uplift"], "name": ["tenure", "uplift"], "psi": [8.367e-08, 0.31],
                         "n_rows": [12_000, 3], "flagged": [False, True]})
    table = OutputTable("drift", "Drift checks", readable(data), data)
    assert list(readable(data).iloc[0]) == ["feature", "tenure", "8.367e-08", "12,000", "no"]
    assert render_tables([table], "csv").splitlines()[1] == "feature,tenure,8.367e-08,12000,False"
    import json

    document = json.loads(render_tables([table], "json"))
    assert document["drift"][0]["psi"] == 8.367e-08 and document["drift"][1]["flagged"] is True
    markdown = render_tables([table], "markdown")
    assert "**Drift checks**" in markdown and "| feature | tenure | 8.367e-08 | 12,000 | no |" in markdown
    assert "|:---|:---|---:|---:|:---|" in markdown
    two = render_tables([table, table], "csv")
    assert two.count("check,name,psi") == 2 and "\n\ncheck" in two
    with pytest.raises(ValueError, match="format"):
        render_tables([table], "xml")
    assert math.isclose(parse(readable(data)["psi"][1]), 0.31)
