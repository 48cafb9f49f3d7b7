"""The analysis of a policy test that ran: personalization against the holdout, and the policy inside it.

**Incremental value.** The difference of mean outcome per row, personalization minus holdout, is unbiased for
what running the policy (with its exploration bucket) adds over business as usual, because the groups were
randomized. Its standard error is Welch's, computed on unit totals: with ``r_i = (y_i - mean_g) / n_g`` for a
row of group ``g`` (``n_g`` rows) and ``T_ug`` the sum of ``r_i`` over the rows of unit ``u`` in group ``g``,

    V_g = G_g / (G_g - 1) * sum_u T_ug**2,    SE**2 = V_p + V_h - 2 * sum_u T_up * T_uh,

where a unit is a row, or a cluster with ``cluster`` (the unit of randomization, or any group of rows whose
outcomes are correlated) and ``G_g`` the number of units with rows in group ``g``. Without clusters this is
exactly Welch's variance; the cross term is zero unless a cluster has rows in both groups. The interval is
Student's t with the Welch-Satterthwaite degrees of freedom ``(V_p + V_h)**2 / (V_p**2 / (G_p - 1) +
V_h**2 / (G_h - 1))``; the verdict is "wins" when the whole ``1 - alpha`` interval is above 0, "loses" when it is
below 0, else "inconclusive". Per-segment rows apply the same estimator to each segment's rows (not adjusted
for the number of segments).

**The policy inside the personalization group.** The exploration bucket gives every arm to random rows, so
with the logged probability of each row's arm :func:`~upliftree.policy.policy_value` estimates (doubly robust
or IPW) what the policy, treating nobody, treating everyone with each arm, and random targeting would achieve on
the personalization group. Without logged probabilities those estimates would be biased (the arms follow the
policy, which follows the features), so :func:`analyze` refuses unless told to skip them. See
``docs/policy.md``, "Policy tests".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._format import OutcomeFormat, count, interval_label, outcome_scale, p_value, percent
from .._params import check_alpha
from .._validation import as_pandas, is_binary, validate_cluster, validate_outcome
from .assignment import GROUPS, HOLDOUT, PERSONALIZATION
from .evaluation import policy_value

VERDICTS = ("wins", "loses", "inconclusive", "too few rows")
TEMPLATE = "policy_test.html.j2"
COMPARISON_COLUMNS = ("n_holdout", "n_personalization", "units_holdout", "units_personalization", "mean_holdout",
                      "mean_personalization", "incremental_value", "std_error", "df", "low", "high", "p_value",
                      "verdict")


@dataclass(frozen=True)
class PolicyTestResult:
    """What :func:`analyze` found.

    Attributes
    ----------
    outcome : str
        The outcome column analysed.
    binary : bool
        Whether every outcome is 0 or 1 (rates in percent, differences in percentage points).
    scale : float
        The outcome's root mean square, which sets the decimals shown.
    alpha : float
        Intervals have coverage ``1 - alpha``.
    cluster : str or None
        What the units of the standard errors are: the cluster column, ``"given ids"``, or None (rows).
    summary : DataFrame
        One row, ``all rows``: the comparison of the module docstring, columns ``n_holdout``,
        ``n_personalization``, ``units_holdout``, ``units_personalization`` (clusters, or rows), ``mean_holdout``,
        ``mean_personalization``, ``incremental_value``, ``std_error``, ``df``, ``low``, ``high``, ``p_value``,
        ``verdict``.
    segments : DataFrame or None
        The same columns per segment (with ``segment=``), segments in sorted order.
    policy : DataFrame or None
        :func:`~upliftree.policy.policy_value` on the personalization group with the logged probabilities:
        rows ``policy``, ``treat none``, ``treat all: <arm>``, ``random (same shares)``; None without them.
    """

    outcome: str
    binary: bool
    scale: float
    alpha: float
    cluster: str | None
    summary: pd.DataFrame
    segments: pd.DataFrame | None
    policy: pd.DataFrame | None

    @property
    def incremental_value(self) -> float:
        """Mean outcome per row, personalization minus holdout."""
        return float(self.summary["incremental_value"].iloc[0])

    @property
    def low(self) -> float:
        return float(self.summary["low"].iloc[0])

    @property
    def high(self) -> float:
        return float(self.summary["high"].iloc[0])

    @property
    def p_value(self) -> float:
        return float(self.summary["p_value"].iloc[0])

    @property
    def verdict(self) -> str:
        """``"wins"``, ``"loses"`` or ``"inconclusive"`` at ``alpha`` (module docstring)."""
        return str(self.summary["verdict"].iloc[0])

    @property
    def format(self) -> OutcomeFormat:
        return OutcomeFormat.for_scale(self.binary, self.scale)

    @property
    def headline(self) -> str:
        """One sentence: the verdict, the incremental value per row with its interval and p-value."""
        outcome = self.format
        verdict = {"wins": "Personalization wins", "loses": "Personalization loses",
                   "inconclusive": "Inconclusive"}[self.verdict]
        return (f"{verdict}: {outcome.difference(self.incremental_value)}{outcome.unit} {self.outcome} per row "
                f"against the holdout ({interval_label(self.alpha)} {outcome.difference(self.low)} to "
                f"{outcome.difference(self.high)}{outcome.unit}, {p_value(self.p_value)})")

    def policy_comparisons(self) -> list[str]:
        """One sentence per alternative: whether the policy beats it inside the personalization group."""
        if self.policy is None:
            return []
        sentences = []
        for name, row in self.policy.drop(index="policy").iterrows():
            gain = self.format.effect(row["policy_gain"], row["policy_gain_low"], row["policy_gain_high"])
            if row["policy_gain_low"] > 0:
                sentences.append(f"The policy beats {name}: {gain} per row.")
            elif row["policy_gain_high"] < 0:
                sentences.append(f"The policy loses to {name}: {gain} per row; consider {name} instead.")
            else:
                sentences.append(f"The policy and {name} are not distinguishable: {gain} per row.")
        return sentences

    def to_html(self, path: str | Path | None = None) -> str:
        """A standalone HTML page (CSS inline, no network needed) of the analysis; written to ``path`` if
        given."""
        import jinja2

        environment = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True,
                                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        html = environment.get_template(TEMPLATE).render(**_html_context(self))
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html


def analyze(log: Any, *, outcome: str, group: str = "group", cluster: Any = None, segment: Any = None,
            propensity: str | None = "assignment_probability", arm: str = "assigned",
            policy_arm: str = "policy_arm", control: Any = None, estimator: str = "dr", alpha: float = 0.05,
            n_boot: int = 1000, random_state: Any = None) -> PolicyTestResult:
    """Analyse a policy test from its log: one row per assigned id, with its group, arm and outcome.

    Parameters
    ----------
    log : DataFrame
        E.g. the rows of :func:`~upliftree.policy_test.assign` joined with the outcomes.
    outcome : str
        Outcome column (conversion, revenue, or realized net value such as margin minus the treatment's cost).
    group : str
        Column of ``"holdout"`` / ``"personalization"``.
    cluster : None, str or array
        Unit of randomization (or of correlated outcomes): a column name or one id per row. Standard errors
        and the bootstrap of the policy part are then by cluster.
    segment : None, str or array
        A column (or values) to break the comparison down by, e.g. the policy tree's ``leaf_id`` or a channel;
        it must be known before assignment, for both groups.
    propensity : str or None
        Column of the logged probability of each row's arm (``assignment_probability`` of
        :func:`~upliftree.policy_test.assign` or :meth:`Policy.eligibility`). ``None``: compare the groups
        only, without valuing the policy inside the personalization group.
    arm, policy_arm : str
        Columns of the arm each row got and the arm the policy chose.
    control : label
        The arm that means "do nothing"; needed to value the policy.
    estimator, n_boot, random_state
        For the policy's value, as in :func:`~upliftree.policy.policy_value`.
    alpha : float
        Intervals have coverage ``1 - alpha``; the verdicts are at level ``alpha``.

    Returns
    -------
    PolicyTestResult
    """
    alpha = check_alpha(alpha)
    log = as_pandas(log, "log")
    if not isinstance(log, pd.DataFrame):
        raise TypeError(f"log must be a DataFrame with one row per assigned id, got {type(log).__name__}")
    n_rows = len(log)
    if n_rows == 0:
        raise ValueError("log has no rows")
    values = validate_outcome(_column(log, outcome, "outcome"), n_rows, binary=False,
                              argument=f"outcome column {outcome!r}")
    groups = _column(log, group, "group")
    unknown = sorted({str(value) for value in pd.unique(groups) if value not in GROUPS})
    if unknown:
        raise ValueError(f"group column {group!r} holds {unknown[:5]}; expected only {list(GROUPS)}")
    personalization = groups == PERSONALIZATION
    codes = validate_cluster(cluster, n_rows, log)
    unit = np.arange(n_rows) if codes is None else codes
    summary = _comparison_table(values, personalization, unit, np.zeros(n_rows, dtype=np.int64),
                                pd.Index(["all rows"]), alpha)
    for name in (HOLDOUT, PERSONALIZATION):
        if summary[f"units_{name}"].iloc[0] < 2:
            raise ValueError(f"the {name} group has {int(summary[f'units_{name}'].iloc[0])} "
                             f"{'cluster' if codes is not None else 'row'}(s) in column {group!r}; the comparison "
                             "needs at least 2 in each group")
    segments = None
    if segment is not None:
        segment_values = _column(log, segment, "segment") if isinstance(segment, str) else np.asarray(segment)
        if segment_values.ndim != 1 or len(segment_values) != n_rows:
            raise ValueError(f"segment has {len(segment_values)} values but log has {n_rows} rows")
        if pd.isna(segment_values).any():
            raise ValueError("segment has missing values; give every row a segment (e.g. 'unknown')")
        segment_codes, labels = pd.factorize(segment_values, sort=True)
        segments = _comparison_table(values, personalization, unit, segment_codes,
                                     pd.Index(labels, name=segment if isinstance(segment, str) else "segment"),
                                     alpha)
    policy = None
    if propensity is not None:
        policy = _policy_inside(log, values, personalization, codes, propensity, arm, policy_arm, control,
                                estimator, alpha, n_boot, random_state)
    cluster_name = None if codes is None else (cluster if isinstance(cluster, str) else "given ids")
    return PolicyTestResult(outcome=outcome, binary=is_binary(values), scale=outcome_scale(n_rows, values @ values),
                            alpha=alpha, cluster=cluster_name, summary=summary, segments=segments, policy=policy)


def _column(log: pd.DataFrame, name: Any, argument: str) -> np.ndarray:
    if not isinstance(name, str) or name not in log.columns:
        raise ValueError(f"{argument}={name!r} is not a column of log; columns: {list(map(str, log.columns))[:20]}")
    if int((log.columns == name).sum()) > 1:
        raise ValueError(f"{argument}={name!r} names several columns of log")
    return log[name].to_numpy()


def _policy_inside(log: pd.DataFrame, values: np.ndarray, personalization: np.ndarray, cluster: np.ndarray | None,
                   propensity: str, arm: str, policy_arm: str, control: Any, estimator: str, alpha: float,
                   n_boot: int, random_state: Any) -> pd.DataFrame:
    """``policy_value`` of the policy's arms on the personalization rows, with the logged probabilities."""
    if propensity not in log.columns:
        raise ValueError(
            f"log has no column {propensity!r} with the logged probability of each row's arm. Without it the "
            "value of the policy from the exploration bucket would be biased (the arms follow the policy, which "
            "follows the features), so it is not estimated: pass propensity=<the column of logged probabilities> "
            "(assignment_probability of policy_test.assign or Policy.eligibility), or propensity=None (on the "
            "command line --groups-only) to compare personalization with the holdout only"
        )
    missing = [f"{argument}={name!r}" for argument, name in (("arm", arm), ("policy_arm", policy_arm))
               if name not in log.columns]
    if missing:
        raise ValueError(f"valuing the policy needs the columns {', '.join(missing)}, which log does not have; or "
                         "pass propensity=None to compare personalization with the holdout only")
    if control is None:
        raise ValueError("control=<the arm that means doing nothing> is needed to value the policy; or pass "
                         "propensity=None to compare personalization with the holdout only")
    rows = log[personalization]
    probability = rows[propensity].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(probability).any():
        raise ValueError(f"propensity column {propensity!r} has {int(np.isnan(probability).sum())} missing value(s) "
                         "in the personalization group; every personalization row needs its logged probability")
    if (probability == 1.0).all():
        raise ValueError(f"propensity column {propensity!r} is 1 for every personalization row: nothing was "
                         "explored, so other arms cannot be valued; pass propensity=None to compare "
                         "personalization with the holdout only")
    return policy_value(rows[policy_arm].to_numpy(), rows, rows[arm].to_numpy(), values[personalization],
                        propensity=probability, cluster=None if cluster is None else cluster[personalization],
                        estimator=estimator, n_boot=n_boot, alpha=alpha, control=control,
                        random_state=random_state)


def _comparison_table(value: np.ndarray, personalization: np.ndarray, unit: np.ndarray, segment: np.ndarray,
                      labels: pd.Index, alpha: float) -> pd.DataFrame:
    """Personalization minus holdout in each segment (codes ``segment``, 0..len(labels)-1), Welch's interval on
    the totals of ``unit`` (module docstring), vectorized over segments."""
    from scipy.special import stdtr, stdtrit  # Student's t, without importing scipy.stats

    n_segments = len(labels)
    group = personalization.astype(np.int64)  # 0 holdout, 1 personalization
    cell = segment * 2 + group
    n = np.bincount(cell, minlength=2 * n_segments).reshape(n_segments, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=value, minlength=2 * n_segments).reshape(n_segments, 2) / n
        residual = (value - mean[segment, group]) / n[segment, group]
    n_units = int(unit.max()) + 1
    keys, position = np.unique((segment * n_units + unit) * 2 + group, return_inverse=True)
    totals = np.bincount(position, weights=residual)
    key_segment, key_cell = keys // (2 * n_units), (keys // (2 * n_units)) * 2 + keys % 2
    units = np.bincount(key_cell, minlength=2 * n_segments).reshape(n_segments, 2)
    squares = np.bincount(key_cell, weights=totals**2, minlength=2 * n_segments).reshape(n_segments, 2)
    # Keys are sorted, so a unit with rows in both groups of a segment has its two keys side by side.
    both = np.flatnonzero(np.diff(keys // 2) == 0)
    cross = np.bincount(key_segment[both], weights=totals[both] * totals[both + 1], minlength=n_segments)
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = np.where(units >= 2, squares * units / (units - 1), np.nan)
        std_error = np.sqrt(np.maximum(parts.sum(axis=1) - 2 * cross, 0.0))
        df = parts.sum(axis=1) ** 2 / (parts**2 / (units - 1)).sum(axis=1)
        estimate = mean[:, 1] - mean[:, 0]
        half_width = np.where(std_error > 0, stdtrit(df, 1 - alpha / 2) * std_error, 0.0)
        p = np.where(std_error > 0, 2 * stdtr(df, -np.abs(estimate) / std_error), (estimate == 0).astype(float))
    low, high = estimate - half_width, estimate + half_width
    defined = np.isfinite(std_error)
    p = np.where(defined, p, np.nan)
    verdict = np.select([~defined, low > 0, high < 0], ["too few rows", "wins", "loses"], "inconclusive")
    table = pd.DataFrame({
        "n_holdout": n[:, 0], "n_personalization": n[:, 1], "units_holdout": units[:, 0],
        "units_personalization": units[:, 1], "mean_holdout": mean[:, 0], "mean_personalization": mean[:, 1],
        "incremental_value": estimate, "std_error": std_error, "df": df, "low": low, "high": high, "p_value": p,
        "verdict": verdict,
    }, index=labels)
    return table


def _html_context(result: PolicyTestResult) -> dict[str, Any]:
    """Every number of the page as text, formatted by :mod:`upliftree._format`."""
    outcome = result.format

    def comparison_rows(table: pd.DataFrame) -> list[dict[str, str]]:
        return [{"label": str(label), "n_holdout": count(row["n_holdout"]),
                 "n_personalization": count(row["n_personalization"]),
                 "units": f"{count(row['units_holdout'])} / {count(row['units_personalization'])}",
                 "holdout": outcome.level(row["mean_holdout"]),
                 "personalization": outcome.level(row["mean_personalization"]),
                 "effect": outcome.effect(row["incremental_value"], row["low"], row["high"]),
                 "p_value": p_value(row["p_value"]), "verdict": str(row["verdict"])}
                for label, row in table.iterrows()]

    policy_rows = []
    if result.policy is not None:
        for name, row in result.policy.iterrows():
            policy_rows.append({
                "name": str(name), "treated_share": percent(row["treated_share"]),
                "outcome": f"{outcome.level(row['outcome'])} "
                           f"({outcome.level(row['outcome_low'])}, {outcome.level(row['outcome_high'])})",
                "net_value": outcome.effect(row["net_value"], row["net_value_low"], row["net_value_high"]),
                "gain": "" if name == "policy" else outcome.effect(row["policy_gain"], row["policy_gain_low"],
                                                                   row["policy_gain_high"]),
            })
    summary = result.summary.iloc[0]
    return {
        "title": f"Policy test: {result.outcome}",
        "outcome": result.outcome,
        "headline": result.headline,
        "verdict": result.verdict,
        "interval": interval_label(result.alpha),
        "alpha": f"{result.alpha:g}",
        "units": "rows" if result.cluster is None else f"clusters ({result.cluster})",
        "summary": comparison_rows(result.summary)[0],
        "holdout_level": outcome.level(summary["mean_holdout"]),
        "personalization_level": outcome.level(summary["mean_personalization"]),
        "segments": [] if result.segments is None else comparison_rows(result.segments),
        "segment_name": "" if result.segments is None else str(result.segments.index.name),
        "policy_rows": policy_rows,
        "policy_comparisons": result.policy_comparisons(),
        "estimator": "" if result.policy is None else str(result.policy.attrs["estimator"]).upper(),
    }
