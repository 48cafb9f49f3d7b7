"""Rule sheets: a fitted tree's segments as an indented text tree, a Markdown or CSV table, a DataFrame, or
pandas ``query`` strings.

Rules come from :mod:`upliftree.rules` (one merged condition per feature) and the numbers from
:func:`upliftree.segments.node_effects` (per-arm counts and outcome means, uplift with its interval, from
the node statistics: the estimation rows of an honest tree). See ``docs/export.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._base import BINARY, check_tree_model
from .._format import OutcomeFormat, decimals_for, fixed, interval_label, markdown_cell, outcome_scale
from .._params import check_choice
from .._tree_arrays import COUNT, WEIGHT, WEIGHTED_Y2
from ..rules import Condition, format_condition, format_rule, leaf_conditions, missing_note
from ..segments import NodeEffects, node_effects
from .conditions import rule_expression

__all__ = ["FORMATS", "outcome_format", "rules", "segment_sheet", "leaf_queries", "check_query_names", "text_tree",
           "markdown_sheet"]

FORMATS = ("text", "markdown", "csv", "frame", "query")


# -- numbers as people read them (upliftree._format) ----------------------------------------------------
def outcome_format(model: Any) -> OutcomeFormat:
    """How a fitted tree's rates or means and uplifts print: the scale of a continuous outcome is its root
    mean square over the rows of the root (the estimation rows of an honest tree)."""
    root = model.tree_.stats[0]
    scale = outcome_scale(float(root[:, WEIGHT].sum()), float(root[:, WEIGHTED_Y2].sum()))
    return OutcomeFormat.for_scale(model.outcome_type_ == BINARY, scale)


def node_shares(model: Any) -> np.ndarray:
    """Share of the root's rows (all arms, unweighted) reaching each node."""
    counts = model.tree_.stats[:, :, COUNT].sum(axis=1)
    return counts / counts[0] if counts[0] > 0 else np.zeros_like(counts)


def node_summary(model: Any, effects: NodeEffects, shares: np.ndarray, node: int,
                 numbers: OutcomeFormat) -> list[str]:
    """Short lines describing one node: rows and share, outcome per arm, uplift per treatment."""
    binary = numbers.binary
    labels = [str(label) for label in model.treatments_]
    counts = ", ".join(f"{label} {int(count):,}" for label, count in zip(labels, effects.count[node], strict=True))
    outcomes = ", ".join(f"{label} {numbers.level(mean)}"
                         for label, mean in zip(labels, effects.mean[node], strict=True))
    lines = [f"{shares[node]:.1%} of rows ({counts})", f"{'rate' if binary else 'mean'}: {outcomes}"]
    for arm, label in enumerate(labels[1:]):
        name = "uplift" if len(labels) == 2 else f"uplift {label}"
        lines.append(f"{name}: " + numbers.effect(effects.uplift[node, arm], effects.ci_low[node, arm],
                                                  effects.ci_high[node, arm]))
    return lines


def branch_condition(model: Any, node: int) -> Condition:
    """The condition, merged along the path, on the feature that ``node``'s parent splits on."""
    tree = model.tree_
    feature = int(tree.feature[tree.parent[node]])
    return next(condition for condition in leaf_conditions(tree, model.schema_, node)
                if condition.feature_index == feature)


# -- the segment table -----------------------------------------------------------------------------------
def _per_leaf(mapping: Any, leaves: np.ndarray, argument: str) -> list[Any]:
    if not isinstance(mapping, Mapping) and not hasattr(mapping, "items"):
        raise TypeError(f"{argument} must map leaf ids to values, got {type(mapping).__name__}")
    values = {int(leaf): value for leaf, value in mapping.items()}
    missing = sorted(set(leaves.tolist()) - set(values))
    extra = sorted(set(values) - set(leaves.tolist()))
    if missing or extra:
        raise ValueError(f"{argument} must have exactly the leaf ids {leaves.tolist()}; missing {missing}, "
                         f"not leaves {extra}")
    return [values[int(leaf)] for leaf in leaves]


def segment_sheet(model: Any, alpha: float = 0.05, leaf_actions: Any = None, leaf_values: Any = None,
                  precision: int | None = 6) -> pd.DataFrame:
    """One row per leaf: rule, share of rows, per-arm counts and outcome means, uplift with interval.

    Columns: ``leaf_id``, ``rule``, ``share``, ``n_<arm>``, ``rate_<arm>`` (binary outcome) or
    ``mean_<arm>``, then per treatment ``uplift``, ``ci_low``, ``ci_high`` (suffixed ``_<arm>`` when there
    are several treatments), and ``action`` / ``net_value`` when ``leaf_actions`` / ``leaf_values`` (mappings
    leaf id -> action label / net value per row, e.g. from a policy) are given. Rows are sorted by uplift
    (the largest over treatments), best first.
    """
    check_tree_model(model)
    tree = model.tree_
    effects = node_effects(tree, model.outcome_type_ == BINARY, alpha)
    leaves = tree.leaf_ids
    labels = [str(label) for label in model.treatments_]
    shares = node_shares(model)
    columns: dict[str, Any] = {
        "leaf_id": leaves,
        "rule": [format_rule(leaf_conditions(tree, model.schema_, leaf), precision) for leaf in leaves],
        "share": shares[leaves],
    }
    for arm, label in enumerate(labels):
        columns[f"n_{label}"] = effects.count[leaves, arm].astype(np.int64)
    outcome = "rate" if model.outcome_type_ == BINARY else "mean"
    for arm, label in enumerate(labels):
        columns[f"{outcome}_{label}"] = effects.mean[leaves, arm]
    for arm, label in enumerate(labels[1:]):
        suffix = "" if len(labels) == 2 else f"_{label}"
        columns[f"uplift{suffix}"] = effects.uplift[leaves, arm]
        columns[f"ci_low{suffix}"] = effects.ci_low[leaves, arm]
        columns[f"ci_high{suffix}"] = effects.ci_high[leaves, arm]
    if leaf_actions is not None:
        columns["action"] = _per_leaf(leaf_actions, leaves, "leaf_actions")
    if leaf_values is not None:
        columns["net_value"] = np.asarray(_per_leaf(leaf_values, leaves, "leaf_values"), dtype=np.float64)
    frame = pd.DataFrame(columns)
    best = np.nan_to_num(effects.uplift[leaves].max(axis=1), nan=-np.inf)
    return frame.iloc[np.argsort(-best, kind="stable")].reset_index(drop=True)


def markdown_sheet(model: Any, alpha: float = 0.05, leaf_actions: Any = None, leaf_values: Any = None,
                   precision: int | None = 6) -> str:
    """The segment sheet as a Markdown table, with rates in percent and uplift in percentage points.

    When the rules leave out "x is missing or" for features without missing values at fit time, one line
    after the table says where their missing values go (:func:`upliftree.rules.missing_note`).
    """
    sheet = segment_sheet(model, alpha, leaf_actions, leaf_values, precision)
    numbers = outcome_format(model)
    labels = [str(label) for label in model.treatments_]
    outcome = "rate" if numbers.binary else "mean"
    header = ["segment", "rule", "share"] + [f"n {label}" for label in labels]
    header += [f"{outcome} {label}" for label in labels]
    header += [f"uplift{'' if len(labels) == 2 else ' ' + label} ({interval_label(alpha)})" for label in labels[1:]]
    header += (["action"] if leaf_actions is not None else []) + (["net value"] if leaf_values is not None else [])
    # Net values share one precision, that of the largest with 3 significant digits.
    net_decimals = decimals_for(sheet["net_value"], 3) if leaf_values is not None else 0
    rows = []
    for entry in sheet.to_dict("records"):
        cells = [str(entry["leaf_id"]), entry["rule"], f"{entry['share']:.1%}"]
        cells += [f"{entry[f'n_{label}']:,}" for label in labels]
        cells += [numbers.level(entry[f"{outcome}_{label}"]) for label in labels]
        for label in labels[1:]:
            suffix = "" if len(labels) == 2 else f"_{label}"
            cells.append(numbers.effect(entry[f"uplift{suffix}"], entry[f"ci_low{suffix}"],
                                        entry[f"ci_high{suffix}"]))
        if leaf_actions is not None:
            cells.append(str(entry["action"]))
        if leaf_values is not None:
            cells.append(fixed(entry["net_value"], net_decimals))
        rows.append(cells)
    # Numbers right-aligned; rule, intervals and actions left-aligned.
    align = ["---:", ":---", "---:"] + ["---:"] * (2 * len(labels)) + [":---"] * (len(labels) - 1)
    align += ([":---"] if leaf_actions is not None else []) + (["---:"] if leaf_values is not None else [])
    lines = ["| " + " | ".join(markdown_cell(cell) for cell in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in cells) + " |" for cells in rows]
    note = missing_note(model.tree_, model.schema_)
    if note is not None:  # the rules leave out "x is missing or" for these features
        lines += ["", markdown_cell(note)]
    return "\n".join(lines) + "\n"


# -- the indented tree -----------------------------------------------------------------------------------
def text_tree(model: Any, alpha: float = 0.05, precision: int | None = 6) -> str:
    """Every node on its own line, children indented under their parent, leaves marked with their id.

    A last line says where missing values go when the conditions leave them out
    (:func:`upliftree.rules.missing_note`).
    """
    check_tree_model(model)
    tree = model.tree_
    effects = node_effects(tree, model.outcome_type_ == BINARY, alpha)
    shares = node_shares(model)
    numbers = outcome_format(model)
    lines: list[str] = []

    def describe(node: int) -> str:
        text = "all rows" if node == 0 else format_condition(branch_condition(model, node), precision)
        summary = "; ".join(node_summary(model, effects, shares, node, numbers))
        leaf = f"[leaf {node}] " if tree.children_left[node] < 0 else ""
        return f"{leaf}{text}: {summary}"

    def visit(node: int, prefix: str, connector: str, child_prefix: str) -> None:
        lines.append(prefix + connector + describe(node))
        if tree.children_left[node] < 0:
            return
        children = [int(tree.children_left[node]), int(tree.children_right[node])]
        for position, child in enumerate(children):
            last = position == len(children) - 1
            visit(child, prefix + child_prefix, "└── " if last else "├── ", "    " if last else "│   ")

    visit(0, "", "", "")
    note = missing_note(tree, model.schema_)
    if note is not None:  # the conditions leave out "x is missing or" for these features
        lines.append(note)
    return "\n".join(lines) + "\n"


# -- pandas query strings --------------------------------------------------------------------------------
# How pandas (3.x) reads a query string, which the writer below is built around: a small scanner first splits
# the text at backticks, skipping quoted text, and turns every backtick-quoted name into a Python identifier
# (``BACKTICK_QUOTED_STRING_...`` unless the name already is one); then Python's tokenizer and parser read the
# result, and each identifier is looked up among the frame's columns by the same transformation of their names.
# The scanner takes any quote preceded by a backslash for an escaped one, so a literal ending in an escaped
# backslash (``'a\\'``) would leave it "inside quotes" and the names after it untransformed. String literals
# are therefore written with no quote character and no backslash pair inside: every backslash starts a hex escape.

@functools.lru_cache(maxsize=1024)
def _pandas_reads_name(name: str) -> bool:
    """Whether ``DataFrame.query`` resolves the backtick-quoted ``name`` to its column.

    pandas turns a quoted name into a Python identifier, which fails for control characters, line breaks,
    tabs and characters that Unicode normalization changes (and ``inf`` is infinity); asking pandas itself is
    the exact test.
    """
    probe = pd.DataFrame({name: [1.0]})
    try:
        return len(probe.query(f"{_quoted(name)}.notna()", engine="python")) == 1
    except Exception:  # pandas raises SyntaxError, ValueError or UndefinedVariableError for such names
        return False


# Names asked for in one probe query (a longer conjunction would nest too deeply for pandas' evaluator).
_PROBE_CHUNK = 100


def _resolved_position(probe: pd.DataFrame, name: str) -> int | None:
    """Position of the column of ``probe`` (each holding its position) that ``DataFrame.query`` reads for
    ``name``; None when it cannot read the name."""
    try:
        return int(probe.eval(_quoted(name), engine="python").iloc[0])
    except Exception:  # SyntaxError, ValueError or UndefinedVariableError: pandas cannot read the name
        return None


@functools.lru_cache(maxsize=64)
def _confused_names(used: tuple[str, ...], columns: tuple[str, ...]) -> tuple[str, ...]:
    """The first group of ``columns`` that ``DataFrame.query`` maps to one identifier, one of which is in
    ``used`` (it then reads a single column for all of them); empty when there is none.

    pandas keeps the last column of a frame for each identifier, so ``used`` names are asked for in frames
    holding ``columns`` in both orders: a clash shows whatever the order of a scoring frame's columns.
    """
    for order in (columns, columns[::-1]):
        probe = pd.DataFrame([list(range(len(order)))], columns=pd.Index(order, dtype=object))
        position = {name: index for index, name in enumerate(order)}
        for start in range(0, len(used), _PROBE_CHUNK):
            chunk = used[start:start + _PROBE_CHUNK]
            query = " and ".join(f"{_quoted(name)} == {position[name]}" for name in chunk)
            if len(probe.query(query, engine="python")) == 1:  # every name read its own column
                continue
            for name in chunk:
                other = _resolved_position(probe, name)
                if other is not None and other != position[name]:
                    return tuple(sorted({name, order[other]}))
    return ()


def check_query_names(names: Sequence[str], columns: Sequence[str] | None = None) -> None:
    """Raise ``ValueError`` unless ``DataFrame.query`` reads each of ``names`` as its own column of a frame with
    the columns ``columns`` (default: ``names``).

    pandas cannot refer to some names at all (tabs, line breaks, control characters, letters that Unicode
    normalization changes; ``inf`` and ``Inf`` read as infinity), and turns some different names into one
    identifier (``a b?`` and ``a_b?``), reading one column for both. No query string can select by such
    columns; the error says so and points to :func:`upliftree.rules.conditions_mask`.
    """
    names = tuple(names)
    for name in names:
        _query_name(name)
    confused = _confused_names(names, names if columns is None else tuple(columns))
    if confused:
        raise ValueError(f"pandas query strings cannot tell the columns {list(confused)} apart (pandas turns "
                         "their names into the same identifier); rename one of them, or select a leaf's rows with "
                         "upliftree.rules.conditions_mask")


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _query_name(name: str) -> str:
    if not _pandas_reads_name(name):
        raise ValueError(f"pandas query strings cannot refer to the column {name!r} (in backtick-quoted names "
                         "pandas rejects tabs, line breaks, control characters and some Unicode, and reads inf and "
                         "Inf as infinity); rename the column, or select a leaf's rows with "
                         "upliftree.rules.conditions_mask")
    return _quoted(name)


def _escaped_character(character: str) -> str:
    if character.isprintable() and character not in "\\'\"":
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _query_string(text: str) -> str:
    """A Python string literal holding no quote and no backslash but those starting a hex escape."""
    return "'" + "".join(_escaped_character(character) for character in text) + "'"


def _query_number(value: float) -> str:
    # 1e999 is a Python literal of infinity; "inf" is only a name, which pandas resolves.
    value = float(value)
    return ("-1e999" if value < 0 else "1e999") if np.isinf(value) else repr(value)


def _query_literal(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return _query_string(value)
    if isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        return _query_number(value)
    raise TypeError(f"cannot write the category {value!r} of type {type(value).__name__} in a query string")


class PandasQuery:
    """The :class:`~upliftree.export.conditions.QueryLanguage` of ``DataFrame.query(..., engine="python")``."""

    and_ = " and "
    or_ = " or "

    def column(self, name: str) -> str:
        return _query_name(name)

    def number(self, value: float) -> str:
        return _query_number(value)

    def is_in(self, column: str, values) -> str:
        return f"{column} in [{', '.join(_query_literal(value) for value in values)}]"

    def missing_or_not_in(self, column: str, values) -> str:
        # "not in" is True for missing values and unseen categories alike.
        return f"{column} not in [{', '.join(_query_literal(value) for value in values)}]"

    def missing_tests(self, column: str) -> list[str]:
        return [f"{column}.isna()"]

    def not_missing(self, column: str) -> str:
        return f"{column}.notna()"

    def never(self, column: str) -> str:
        return f"{column}.isna() and {column}.notna()"

    def nan_excluded(self, column: str) -> list[str]:
        return []  # comparisons are False for NaN


def leaf_queries(model: Any) -> dict[int, str]:
    """For every leaf id, a ``DataFrame.query`` string selecting the rows :meth:`apply` puts in that leaf.

    Column names are backtick-quoted and thresholds exact; use ``X.query(text, engine="python")`` (the
    strings call ``.isna()``/``.notna()``, which the numexpr engine does not support).
    """
    check_tree_model(model)
    tree = model.tree_
    names = model.schema_.names
    split_features = np.unique(tree.feature[tree.children_left >= 0])
    check_query_names([names[feature] for feature in split_features] or [names[0]], names)
    language = PandasQuery()
    queries = {}
    for leaf in tree.leaf_ids:
        query = rule_expression(leaf_conditions(tree, model.schema_, int(leaf)), language)
        if query is None:  # a stump: a test true for every row, as pandas has no "True" query
            column = language.column(model.schema_.names[0])
            query = f"{column}.isna() or {column}.notna()"
        queries[int(leaf)] = query
    return queries


def rules(model: Any, format: str = "text", alpha: float = 0.05, leaf_actions: Any = None,
          leaf_values: Any = None, precision: int | None = 6) -> str | pd.DataFrame | dict[int, str]:
    """A fitted tree's segments in one of ``FORMATS``.

    Parameters
    ----------
    format : {"text", "markdown", "csv", "frame", "query"}
        ``"text"``: indented tree (str); ``"markdown"`` / ``"csv"``: the segment sheet (str);
        ``"frame"``: the segment sheet (DataFrame, see :func:`segment_sheet`); ``"query"``: dict leaf id ->
        pandas query string (see :func:`leaf_queries`).
    alpha : float
        Intervals have coverage ``1 - alpha``.
    leaf_actions, leaf_values : mapping leaf id -> action label / net value, optional
        Add ``action`` / ``net_value`` columns to the sheet (e.g. from a policy).
    precision : int or None
        Significant digits of thresholds in rule text; None prints them exactly.
    """
    check_choice(format, "format", FORMATS)
    if format == "text":
        return text_tree(model, alpha, precision)
    if format == "query":
        return leaf_queries(model)
    if format == "markdown":
        return markdown_sheet(model, alpha, leaf_actions, leaf_values, precision)
    sheet = segment_sheet(model, alpha, leaf_actions, leaf_values, precision)
    return sheet if format == "frame" else sheet.to_csv(index=False, lineterminator="\n")
