"""Numbers as people read them: one place for the report, the rule sheets, drawings and the CLI's tables.

- :class:`OutcomeFormat`: outcome levels and effects. A binary outcome prints rates in percent and effects
  in percentage points (``10.4%``, ``+2.1 pp (+0.4, +3.8)``); a continuous one prints every level and
  effect with the same number of decimals, chosen from the outcome's scale (the root mean square of its
  values) so that a typical value has :data:`OUTCOME_DIGITS` significant digits: ``+3.90 (-0.07, +7.87)``
  and ``+0.00`` side by side, never ``+3.896`` next to ``+0.0001382``. An interval of width 0 (every row
  of both arms has the same outcome) reads ``(no variation)``.
- :func:`significant`, :func:`fixed`, :func:`decimals_for`: other statistics (Qini coefficients, PSI,
  net values, feature means) with thousands separators; tiny values in scientific notation (``8.37e-08``).
- :func:`axis_thousands`: tick labels of matplotlib axes with thousands separators (``300,000``).

Machine-readable outputs (CSV, JSON, model files, SQL) never go through this module: they keep full
precision.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["NOT_AVAILABLE", "NO_VARIATION", "OUTCOME_DIGITS", "OutcomeFormat", "axis_thousands", "count",
           "decimals_for", "fixed", "interval", "interval_label", "markdown_cell", "outcome_scale", "p_value",
           "percent", "significant"]

NOT_AVAILABLE = "n/a"
NO_VARIATION = "no variation"
# Significant digits of a typical outcome value (its root mean square): spend around 15 prints 2 decimals.
OUTCOME_DIGITS = 4
# Beyond these magnitudes fixed notation is unreadable (0.00000008367, or 20 digits): scientific instead.
_SMALLEST_FIXED = 1e-4
_LARGEST_FIXED = 1e15


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fixed(value: Any, decimals: int, sign: bool = False) -> str:
    """``value`` with ``decimals`` decimals and thousands separators (``"n/a"`` when not a finite number)."""
    if not _finite(value):
        return NOT_AVAILABLE
    return f"{float(value):{'+' if sign else ''},.{decimals}f}"


def interval(low: Any, high: Any, decimals: int, sign: bool = False) -> str:
    """``(+0.047, +0.782)`` with ``decimals`` decimals; ``(no variation)`` for an interval of width 0; empty
    when a bound is undefined."""
    if not (_finite(low) and _finite(high)):
        return ""
    if float(low) == float(high):
        return f"({NO_VARIATION})"
    return f"({fixed(low, decimals, sign)}, {fixed(high, decimals, sign)})"


def _decimals(magnitude: float, digits: int) -> int:
    """Decimals that show ``digits`` significant digits of a number of size ``magnitude``."""
    if not _finite(magnitude) or magnitude <= 0:
        return digits - 1
    return max(0, digits - 1 - math.floor(math.log10(magnitude)))


def significant(value: Any, digits: int = 4, sign: bool = False) -> str:
    """``value`` to ``digits`` significant digits, with thousands separators: ``300,000``, ``0.1382``,
    ``1,235``; scientific notation below 1e-4 and from 1e15 in size (``8.367e-08``); ``0`` for zero."""
    if not _finite(value):
        return NOT_AVAILABLE
    value = float(value)
    if value == 0:
        return "+0" if sign else "0"
    plus = "+" if sign else ""
    magnitude = abs(value)
    if magnitude < _SMALLEST_FIXED or magnitude >= _LARGEST_FIXED:
        return f"{value:{plus}.{digits - 1}e}"
    decimals = _decimals(magnitude, digits)
    text = f"{value:{plus},.{decimals}f}"
    # Rounding up can add a digit (9.9996 -> 10.000): one decimal fewer keeps the digits.
    if decimals and len(text.replace(",", "").lstrip("+-").replace(".", "").lstrip("0")) > digits:
        text = f"{value:{plus},.{decimals - 1}f}"
    return text


def decimals_for(values: Iterable[Any], digits: int = 3) -> int:
    """Decimals that show the largest finite ``values`` (in size) with ``digits`` significant digits, so a
    column of numbers shares one precision."""
    magnitudes = [abs(float(value)) for value in values if _finite(value) and float(value) != 0]
    return _decimals(max(magnitudes, default=0.0), digits)


def count(value: Any) -> str:
    """A number of rows: ``1,234``."""
    return f"{int(value):,}" if _finite(value) else NOT_AVAILABLE


def percent(share: Any, decimals: int = 1) -> str:
    """A share as a percentage: ``12.3%``."""
    return f"{float(share):.{decimals}%}" if _finite(share) else NOT_AVAILABLE


def p_value(value: Any) -> str:
    if not _finite(value):
        return "p = n/a"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def interval_label(alpha: float) -> str:
    """``95% CI`` for ``alpha=0.05``."""
    return f"{100 * (1 - alpha):g}% CI"


def outcome_scale(sum_weight: float, sum_weighted_y2: float) -> float:
    """The typical size of an outcome value: its (weighted) root mean square, ``sqrt(sum w y^2 / sum w)``."""
    return math.sqrt(sum_weighted_y2 / sum_weight) if sum_weight > 0 and sum_weighted_y2 >= 0 else 0.0


@dataclass(frozen=True)
class OutcomeFormat:
    """How outcome levels (rates, means) and effects (uplift) print.

    Parameters
    ----------
    binary : bool
        Rates in percent, effects in percentage points (one decimal).
    decimals : int
        Decimals of a continuous outcome's levels and effects; :meth:`for_scale` chooses them.
    """

    binary: bool
    decimals: int = 1

    @classmethod
    def for_scale(cls, binary: bool, scale: float) -> OutcomeFormat:
        """The format of an outcome whose typical value has size ``scale`` (see :func:`outcome_scale`)."""
        return cls(binary, 1 if binary else _decimals(scale, OUTCOME_DIGITS))

    @property
    def unit(self) -> str:
        return " pp" if self.binary else ""

    def level(self, value: Any) -> str:
        """A rate (``10.4%``) or a mean (``1,234.57``)."""
        if self.binary:
            return percent(value, self.decimals)
        return fixed(value, self.decimals)

    def difference(self, value: Any) -> str:
        """An effect without unit: ``+2.1`` (percentage points) or ``+3.90``."""
        if not _finite(value):
            return NOT_AVAILABLE
        return fixed(100 * float(value) if self.binary else value, self.decimals, sign=True)

    def interval(self, low: Any, high: Any) -> str:
        """``(+0.4, +3.8)``, ``(no variation)`` for an interval of width 0, empty when undefined."""
        scale = 100.0 if self.binary else 1.0
        if not (_finite(low) and _finite(high)):
            return ""
        return interval(scale * float(low), scale * float(high), self.decimals, sign=True)

    def effect(self, estimate: Any, low: Any = math.nan, high: Any = math.nan) -> str:
        """``+2.1 pp (+0.4, +3.8)``, ``+3.90 (-0.07, +7.87)`` or ``+0.00 (no variation)``."""
        if not _finite(estimate):
            return NOT_AVAILABLE
        interval = self.interval(low, high)
        return f"{self.difference(estimate)}{self.unit}" + (f" {interval}" if interval else "")


_MARKDOWN_SPECIAL = re.compile(r"([\\|*`\[\]])|<(?=[A-Za-z/!?])")


def markdown_cell(text: Any) -> str:
    """Text for one cell of a Markdown table: one line, with ``| * ` [ ] \\`` and ``<tag`` escaped."""
    escaped = _MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(0), str(text))
    return " ".join(escaped.splitlines())


def _tick(value: float, position: Any = None) -> str:
    if value == 0:
        return "0"
    if float(value).is_integer():
        return f"{value:,.0f}"
    text = f"{value:,.{max(0, 3 - math.floor(math.log10(abs(value))))}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def axis_thousands(ax: Any, axis: str = "both", max_ticks: int | None = None) -> None:
    """Tick labels of ``ax`` with thousands separators (``300,000``, no ``1e6`` offset), at most
    ``max_ticks`` ticks on the x axis when given, so long labels do not crowd."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes = {"x": [ax.xaxis], "y": [ax.yaxis], "both": [ax.xaxis, ax.yaxis]}[axis]
    for one in axes:
        one.set_major_formatter(FuncFormatter(_tick))
    if max_ticks is not None and axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(nbins=max_ticks, steps=[1, 2, 2.5, 5, 10]))
