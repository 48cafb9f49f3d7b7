"""Screen an experiment's feature columns for data recorded after treatment (post-treatment leakage).

A feature must be known before treatment. A column recorded after it (a later outcome such as conversion
or spend, opens or clicks caused by the e-mail) makes uplift models split on the effect itself. Three
tests, each controlling its family-wise false-alarm rate at :data:`LEAKAGE_ALPHA` (see docs/cli.md,
"Post-treatment columns"):

- **nested outcome**: some region of the column's values (a category or all others, a tail ``x <= c`` /
  ``x > c`` with ``c`` a quantile at a level j / :data:`REGION_BINS`, being missing or not; at least
  :data:`MIN_REGION_ROWS` rows) nearly implies one value of the outcome. In the region's ``n`` rows, ``m``
  have the other value, whose overall rate is ``q``; the region is flagged when
  ``P(Binomial(n, IMPLIED_SHARE * q) <= m)`` is below ``LEAKAGE_ALPHA / K`` (Bonferroni over the ``K``
  regions and directions tested in all columns): the column removes more than 95% of the other value,
  beyond chance. ``conversion = 1`` implies ``visit = 1``. The event is ``y = 1`` for a binary outcome and
  ``y != 0`` for a continuous one.
- **determines the outcome**: the column's bins (categories, or up to 64 quantile bins, merged to at
  least :data:`EXPLAINED_BIN_ROWS` rows) explain at least :data:`DETERMINED_SHARE` of the outcome's
  variance (adjusted correlation ratio: adjusted R^2 of the outcome on the bins' means).
- **differs by arm**: the column's distribution differs between the arms: chi-squared test of
  independence of the arm and the column's bins (about :data:`ARM_BINS` of equal mass for a numeric column,
  categories; missing values a bin; bins of at least :data:`MIN_BIN_ROWS` rows), p-values Holm-adjusted
  over the columns. In a randomized experiment only a column the treatment changed, or a broken
  randomization, does this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import arm_codes
from ..policy.randomization import propensity_contradiction
from .checks import Check
from .experiment import Experiment

__all__ = ["ARM_BINS", "DETERMINED_SHARE", "IMPLIED_SHARE", "LEAKAGE_ALPHA", "MIN_REGION_ROWS", "REGION_BINS",
           "Screen", "leakage_check", "leakage_screen", "screen_experiment"]

LEAKAGE_ALPHA = 0.001  # family-wise false-alarm rate of each test
IMPLIED_SHARE = 0.05  # a region "nearly implies" the outcome when it keeps under 5% of the other value's rate
DETERMINED_SHARE = 0.9  # share of the outcome's variance a column's bins must explain to "determine" it
REGION_BINS = 64  # a numeric column is cut at (the distinct values of) its quantiles at levels j / 64
ARM_BINS = 10  # arm test: adjacent bins of a numeric column merged into about this many of equal mass
MIN_REGION_ROWS = 100  # smaller regions are not tested (they could not reach significance)
MIN_BIN_ROWS = 50  # arm test: no bin smaller than this, keeping the chi-squared approximation sound
EXPLAINED_BIN_ROWS = 20  # explained share: no bin smaller than this


@dataclass(frozen=True)
class _Bins:
    """A column cut into bins: ``code`` per row (-1 when missing).

    Numeric columns (``ordered``): ``values`` are the cut points as text; bin ``j`` holds
    ``values[j-1] < x <= values[j]`` (one bin more than cuts). Categorical columns: one bin per category,
    ``values`` the categories as text.
    """

    code: np.ndarray
    values: list[str]
    ordered: bool

    @property
    def n_bins(self) -> int:
        return len(self.values) + 1 if self.ordered else len(self.values)

    def rows(self) -> np.ndarray:
        """Rows per bin, then missing rows last."""
        return np.bincount(np.where(self.code < 0, self.n_bins, self.code), minlength=self.n_bins + 1)


def _is_numeric(column: pd.Series) -> bool:
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype))


def _bins(column: pd.Series) -> _Bins:
    """Numeric columns: bins between the distinct quantiles at :data:`REGION_BINS` levels; categorical: one
    bin per category."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return _Bins(column.cat.codes.to_numpy(dtype=np.int64), [str(value) for value in column.cat.categories],
                     False)
    if not _is_numeric(column):
        code, uniques = pd.factorize(column, sort=False)
        return _Bins(code.astype(np.int64), [str(value) for value in uniques], False)
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    present = values[~missing]
    cuts = np.empty(0)
    if len(present):
        levels = np.arange(1, REGION_BINS) / REGION_BINS
        cuts = np.unique(np.quantile(present, levels, method="inverted_cdf"))
        cuts = cuts[cuts < present.max()]  # a cut at the maximum would leave an empty upper bin
    code = np.searchsorted(cuts, values, side="left").astype(np.int64)
    code[missing] = -1
    return _Bins(code, [f"{cut:.6g}" for cut in cuts], True)


def _merged(bins: _Bins, target_rows: int, min_rows: int) -> np.ndarray:
    """Bin codes 0.. of groups of bins: missing values a group of their own, no group under ``min_rows`` rows.

    Numeric columns merge adjacent bins, left to right, until a group has ``target_rows`` rows (a last group
    under ``min_rows`` joins the one before); categorical columns pool the categories under ``min_rows``
    rows. A pool or missing group still under ``min_rows`` rows joins the largest group.
    """
    rows = bins.rows()
    group = np.arange(bins.n_bins + 1)
    if bins.ordered:
        start, filled, previous = 0, 0, 0
        for index in range(bins.n_bins):
            group[index], filled = start, filled + rows[index]
            if filled >= target_rows:
                previous, start, filled = start, index + 1, 0
        if 0 < filled < min_rows:
            group[start:bins.n_bins] = previous
    else:
        small = np.flatnonzero(rows[:-1] < min_rows)
        group[small] = small[0] if len(small) else 0
    sizes = np.bincount(group, weights=rows, minlength=bins.n_bins + 1)
    group = np.where((sizes[group] > 0) & (sizes[group] < min_rows), int(np.argmax(sizes)), group)
    used = np.bincount(group, weights=rows, minlength=bins.n_bins + 1) > 0
    relabel = np.cumsum(used) - 1
    return relabel[group][np.where(bins.code < 0, bins.n_bins, bins.code)]


@dataclass(frozen=True)
class _Region:
    """Rows of a column in a region of its values (``text``): how many, and how many have the event."""

    feature: str
    text: str
    n_rows: int
    n_events: int


def _regions(name: str, bins: _Bins, event: np.ndarray) -> list[_Region]:
    """The regions of a column tested for nesting: tails (numeric), each category and its complement
    (categorical), missing and not missing; those of at least :data:`MIN_REGION_ROWS` rows."""
    present = bins.code >= 0
    rows = np.bincount(bins.code[present], minlength=bins.n_bins)
    events = np.bincount(bins.code[present], weights=event[present], minlength=bins.n_bins).round()
    n_rows, n_events = int(rows.sum()), int(events.sum())
    regions = []
    if bins.ordered:
        for cut, low_rows, low_events in zip(bins.values, np.cumsum(rows), np.cumsum(events), strict=False):
            regions.append(_Region(name, f"{name} <= {cut}", int(low_rows), int(low_events)))
            regions.append(_Region(name, f"{name} > {cut}", n_rows - int(low_rows), n_events - int(low_events)))
    else:  # a category too small to test, and its complement (nearly the whole column), are skipped
        for index in np.flatnonzero(rows >= MIN_REGION_ROWS):
            value, value_rows, value_events = bins.values[index], rows[index], events[index]
            regions.append(_Region(name, f"{name} = {value}", int(value_rows), int(value_events)))
            regions.append(_Region(name, f"{name} != {value}", n_rows - int(value_rows),
                                   n_events - int(value_events)))
    if not present.all() and present.any():
        regions.append(_Region(name, f"{name} is missing", int((~present).sum()), int(event[~present].sum())))
        regions.append(_Region(name, f"{name} is not missing", n_rows, n_events))
    return [region for region in regions if region.n_rows >= MIN_REGION_ROWS]


def _nested_outcome(regions: list[_Region], event: np.ndarray, event_names: tuple[str, str]
                    ) -> dict[str, tuple[float, str]]:
    """Per column, the Bonferroni-adjusted p-value of its strongest implying region, and that region."""
    from scipy import stats

    rate = float(event.mean())
    n_rows = np.array([region.n_rows for region in regions], dtype=np.float64)
    n_events = np.array([region.n_events for region in regions], dtype=np.float64)
    # Either direction: the region implies the event (exceptions: its rows without it, base rate 1 - rate)
    # or implies its absence (exceptions: its rows with it, base rate ``rate``).
    exceptions = np.concatenate([n_rows - n_events, n_events])
    other_rate = np.repeat([1.0 - rate, rate], len(regions))
    log_p = stats.binom.logcdf(exceptions, np.tile(n_rows, 2), IMPLIED_SHARE * other_rate)
    adjusted = np.exp(np.minimum(0.0, log_p + np.log(max(len(log_p), 1))))
    found: dict[str, tuple[float, str]] = {}
    for index in np.argsort(adjusted, kind="stable"):
        region = regions[index % len(regions)]
        if region.feature not in found:
            implied = event_names[index // len(regions)]
            found[region.feature] = (float(adjusted[index]), (
                f"{region.text} implies {implied} ({region.n_rows:,} rows, {int(exceptions[index]):,} exceptions "
                f"where {other_rate[index] * region.n_rows:,.0f} were expected)"))
    return found


def _explained_share(code: np.ndarray, y: np.ndarray) -> float:
    """Adjusted R^2 of ``y`` on the bins' means: 1 - (n - 1) / (n - k) * SS_within / SS_total."""
    n_rows, n_bins = len(y), int(code.max()) + 1
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0 or n_rows <= n_bins:
        return 0.0
    counts = np.bincount(code, minlength=n_bins)
    means = np.bincount(code, weights=y, minlength=n_bins) / np.maximum(counts, 1)
    within = float(((y - means[code]) ** 2).sum())
    return 1.0 - (n_rows - 1) / (n_rows - n_bins) * within / total


def _arm_p_value(code: np.ndarray, arm: np.ndarray, n_arms: int, by_arm: np.ndarray | None) -> float:
    """Chi-squared test of independence between the arm and the column's (pooled) bins; with known
    probabilities ``by_arm`` ``(n_rows, n_arms)``, of the observed arm counts per bin against those they imply."""
    from scipy import stats

    if by_arm is not None:
        return propensity_contradiction({"column": code}, arm, by_arm).p_value
    n_codes = int(code.max()) + 1
    table = np.bincount(arm * n_codes + code, minlength=n_arms * n_codes).reshape(n_arms, n_codes)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: family-wise error control for any dependence between the tests."""
    order = np.argsort(p_values, kind="stable")
    steps = (len(p_values) - np.arange(len(p_values))) * p_values[order]
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps))
    return adjusted


def leakage_screen(X: pd.DataFrame, arm: np.ndarray, y: np.ndarray, binary: bool, outcome: str,
                   by_arm: np.ndarray | None = None, test_arms: bool = True) -> pd.DataFrame:
    """Test every column of ``X`` for signs that it was recorded after treatment (see the module docstring).

    Parameters
    ----------
    X : DataFrame
        Feature columns.
    arm : ndarray of int
        Arm code of every row (0 control, 1.. treatments).
    y : ndarray of float
        Outcome.
    binary : bool
        Whether the outcome is 0/1.
    outcome : str
        The outcome's name, for the descriptions.
    by_arm : ndarray ``(n_rows, n_arms)``, optional
        Known assignment probabilities: the arm test then asks whether the arm counts per bin are those the
        probabilities imply (a stratified design makes a stratum "differ by arm" by design).
    test_arms : bool
        Whether a column that differs by arm is flagged; not in observational data, where confounders do.

    Returns
    -------
    DataFrame
        One row per column: ``feature``, ``nested_p`` (Bonferroni-adjusted p-value of its strongest
        implying region) and ``nested`` (that region), ``explained`` (adjusted share of the outcome's
        variance), ``arm_p`` (Holm-adjusted p-value of the arm test), ``flagged`` and ``reasons``; flagged
        columns first.
    """
    y = np.asarray(y, dtype=np.float64)
    arm = np.asarray(arm, dtype=np.int64)
    event = (y == 1.0) if binary else (y != 0.0)
    event_names = (f"{outcome} = 1", f"{outcome} = 0") if binary else (f"{outcome} != 0", f"{outcome} = 0")
    names = [str(column) for column in X.columns]
    regions, explained, arm_p = [], [], []
    for name, column in zip(names, (X[column] for column in X.columns), strict=True):
        bins = _bins(column)
        regions += _regions(name, bins, event.astype(np.float64))
        explained.append(_explained_share(_merged(bins, EXPLAINED_BIN_ROWS, EXPLAINED_BIN_ROWS), y))
        equal_mass = max(MIN_BIN_ROWS, int((bins.code >= 0).sum()) // ARM_BINS)
        arm_p.append(_arm_p_value(_merged(bins, equal_mass, MIN_BIN_ROWS), arm, int(arm.max()) + 1, by_arm))
    nested = _nested_outcome(regions, event, event_names) if 0 < event.mean() < 1 else {}
    table = pd.DataFrame({
        "feature": names,
        "nested_p": [nested.get(name, (1.0, ""))[0] for name in names],
        "nested": [nested.get(name, (1.0, ""))[1] for name in names],
        "explained": explained,
        "arm_p": _holm(np.asarray(arm_p, dtype=np.float64)),
    })
    reasons = []
    for entry in table.itertuples():
        found = []
        if entry.nested_p <= LEAKAGE_ALPHA:
            found.append(f"looks like another outcome: {entry.nested}")
        if entry.explained >= DETERMINED_SHARE:
            found.append(f"explains {entry.explained:.0%} of the variance of {outcome}")
        if test_arms and entry.arm_p <= LEAKAGE_ALPHA:
            found.append(f"its distribution differs between arms (p = {entry.arm_p:.2g}, Holm-adjusted)")
        reasons.append("; ".join(found))
    table["reasons"] = reasons
    table["flagged"] = table["reasons"] != ""
    return table.sort_values("flagged", ascending=False, kind="stable", ignore_index=True)


@dataclass(frozen=True)
class Screen:
    """What :func:`screen_experiment` found: the test table, the flagged columns and those left out."""

    table: pd.DataFrame
    flagged: list[str]
    excluded: list[str]
    outcome: str

    @property
    def outcome_like(self) -> list[str]:
        """Flagged columns that look like another outcome (nested in it, or explaining most of it), whatever
        their arm test said."""
        table = self.table
        rows = (table["nested_p"] <= LEAKAGE_ALPHA) | (table["explained"] >= DETERMINED_SHARE)
        return table.loc[rows, "feature"].tolist()

    def describe(self) -> str:
        """The flagged columns and why, one sentence each."""
        rows = self.table[self.table["flagged"]]
        return " ".join(f"{entry.feature}: {entry.reasons}." for entry in rows.itertuples())


def screen_experiment(experiment: Experiment) -> tuple[Experiment, Screen]:
    """Screen the experiment's features (:func:`leakage_screen`); leave flagged ones out unless they were
    listed by name (``experiment.features_given``): a post-treatment feature biases every estimate, while
    leaving out a pre-treatment one only costs precision. In observational data (``experiment.observational``)
    the features that differ between arms are the confounders the estimated propensity accounts for, so only
    the outcome tests flag: leaving a confounder out would bias every estimate."""
    arm = arm_codes(experiment.treatment, tuple(experiment.arms))
    table = leakage_screen(experiment.X, arm, experiment.y, experiment.binary, experiment.outcome_column,
                           experiment.arm_probabilities(), test_arms=not experiment.observational)
    flagged = table.loc[table["flagged"], "feature"].tolist()
    excluded = [] if experiment.features_given else flagged
    return experiment.without(excluded), Screen(table, flagged, excluded, experiment.outcome_column)


def leakage_check(screen: Screen) -> Check:
    """The checklist line of a :class:`Screen`: failed when any column was flagged."""
    if not screen.flagged:
        return Check("ok", "No feature looks recorded after treatment",
                     f"No feature nearly implies or determines {screen.outcome}, and none differs between the "
                     f"arms beyond chance (each test at a family-wise false-alarm rate of {LEAKAGE_ALPHA:g}).")
    names = ", ".join(screen.flagged)
    if screen.excluded:
        return Check("failed", f"Left out columns that look recorded after treatment: {names}",
                     f"{screen.describe()} A column recorded after treatment (another outcome, something the "
                     "treatment changed) makes every estimate wrong, so these were not used as features. If they "
                     "were known before treatment, name them in the features (--features) to use them.")
    return Check("failed", f"Features that look recorded after treatment: {names}",
                 f"{screen.describe()} They were used because the features were listed by name; leave them out "
                 "(--exclude, or drop them from --features) unless they were known before treatment.")
