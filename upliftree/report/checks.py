"""Checks a careful analyst runs before trusting an uplift model: covariate balance and the usual pitfalls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import FeatureSchema, arm_codes, encode_features
from .experiment import Experiment

__all__ = ["SMD_WARNING", "TINY_ARM", "Check", "balance_check", "covariate_balance", "design_check", "segment_checks"]

SMD_WARNING = 0.1  # |standardized mean difference| above which arms look imbalanced
TINY_ARM = 50  # fewer estimation rows than this in an arm of a leaf make its rate unreliable


@dataclass(frozen=True)
class Check:
    """One line of the report's checklist: ``level`` is "ok", "info", "warning" or "failed" (the data cannot be
    trusted as it is)."""

    level: str
    title: str
    detail: str


def _smd(mean_t: np.ndarray, var_t: np.ndarray, mean_c: np.ndarray, var_c: np.ndarray) -> np.ndarray:
    pooled = np.sqrt((var_t + var_c) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pooled > 0, (mean_t - mean_c) / np.where(pooled > 0, pooled, 1.0), 0.0)


def _indicator_rows(name: str, schema_categories: tuple | None, values: np.ndarray
                    ) -> list[tuple[str, str, np.ndarray]]:
    """(feature, level, per-row values) of what is compared: the value, each category, being missing."""
    missing = np.isnan(values)
    rows = []
    if schema_categories is None:
        rows.append((name, "mean", values))
    else:
        rows += [(name, f"= {category}", np.where(missing, np.nan, values == code).astype(np.float64))
                 for code, category in enumerate(schema_categories)]
    if missing.any():
        rows.append((name, "is missing", missing.astype(np.float64)))
    return rows


def covariate_balance(X: pd.DataFrame, treatment: np.ndarray, arms: list[Any], schema: FeatureSchema, *,
                      propensity: np.ndarray | None = None) -> pd.DataFrame:
    """Standardized mean differences of every feature between each treatment arm and control.

    Numeric features compare means (missing values left out) and categorical features the share of each
    category; a feature with missing values also compares the share missing. SMD = (mean treated - mean
    control) / sqrt((var treated + var control) / 2). In a randomized experiment every |SMD| should be
    small; above :data:`SMD_WARNING` suggests broken randomization or a feature measured after treatment.

    With ``propensity`` (the probability of the arm each row received) means and variances are weighted by
    ``1 / propensity`` (Hajek), so that each arm stands for the whole population as the design's estimates do:
    a stratified design is then balanced, and a difference left over is one the probabilities do not explain
    (weighted standardized differences, Austin & Stuart 2015, "Moving towards best practice when using inverse
    probability of treatment weighting"). ``table.attrs["weighted"]`` says which was computed.

    Returns
    -------
    DataFrame
        ``feature``, ``level``, ``control`` (control mean or share), then per treatment ``<arm>`` and
        ``smd_<arm>``, and ``max_abs_smd``; largest imbalance first.
    """
    encoded = encode_features(X, schema)
    codes = arm_codes(np.asarray(treatment), tuple(arms))
    masks = [codes == code for code in range(len(arms))]
    row_weight = np.ones(len(codes)) if propensity is None else 1.0 / np.asarray(propensity, dtype=np.float64)
    records = []
    for index, (name, categories) in enumerate(zip(schema.names, schema.categories, strict=True)):
        for feature, level, values in _indicator_rows(name, categories, encoded[:, index]):
            moments = [_weighted_moments(values[mask], row_weight[mask]) for mask in masks]
            record: dict[str, Any] = {"feature": feature, "level": level, "control": moments[0][0]}
            for arm, (mean, variance) in zip(arms[1:], moments[1:], strict=True):
                record[str(arm)] = mean
                record[f"smd_{arm}"] = float(_smd(mean, variance, *moments[0]))
            records.append(record)
    table = pd.DataFrame(records)
    table["max_abs_smd"] = table[[f"smd_{arm}" for arm in arms[1:]]].abs().max(axis=1)
    table = table.sort_values("max_abs_smd", ascending=False, kind="stable", ignore_index=True)
    table.attrs["weighted"] = propensity is not None
    return table


def _weighted_moments(values: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted mean and (population) variance of the values present; NaN, NaN when none is."""
    present = ~np.isnan(values)
    if not present.any():
        return np.nan, np.nan
    values, weight = values[present], weight[present]
    mean = float(np.sum(weight * values) / np.sum(weight))
    return mean, float(np.sum(weight * (values - mean) ** 2) / np.sum(weight))


def balance_check(balance: pd.DataFrame) -> Check:
    """The checklist line of :func:`covariate_balance`."""
    weighted = " (inverse-probability weighted by the given propensity)" if balance.attrs.get("weighted") else ""
    imbalanced = balance[balance["max_abs_smd"] > SMD_WARNING]
    if imbalanced.empty:
        worst = balance["max_abs_smd"].max() if len(balance) else 0.0
        return Check("ok", "Arms are balanced",
                     f"Every standardized mean difference{weighted} is below {SMD_WARNING} (largest {worst:.3f}).")
    names = ", ".join(f"{row.feature} ({row.level}: {row.max_abs_smd:.2f})" for row in imbalanced.head(5).itertuples())
    return Check("warning", "Arms differ on some features",
                 f"|SMD|{weighted} > {SMD_WARNING} for {names}. Check the randomization, and that these features "
                 "were measured before treatment.")


def segment_checks(sheet: pd.DataFrame, arm_labels: list[str], treatment_labels: list[str]) -> list[Check]:
    """Pitfalls visible in a tree's segment sheet (one row per leaf, ``upliftree.export.segment_sheet``).

    - tiny arms: a leaf with fewer than :data:`TINY_ARM` estimation rows in some arm;
    - "do not disturb": a leaf whose uplift interval lies below 0 (treating it loses outcomes), and leaves
      whose estimate is negative without being significant.
    """
    checks = []
    counts = sheet[[f"n_{label}" for label in arm_labels]].to_numpy()
    tiny = sheet.loc[counts.min(axis=1) < TINY_ARM, "leaf_id"].tolist()
    if tiny:
        checks.append(Check("warning", "Tiny arms in some segments",
                            f"Segment(s) {tiny} have fewer than {TINY_ARM} rows in an arm; their rates and uplift "
                            "are unreliable. Raise min_samples_leaf or min_samples_treatment."))
    else:
        checks.append(Check("ok", "Every segment has enough rows per arm",
                            f"At least {TINY_ARM} estimation rows of every arm in every segment."))
    for label in treatment_labels:
        suffix = "" if len(treatment_labels) == 1 else f"_{label}"
        name = "" if len(treatment_labels) == 1 else f" ({label})"
        harmful = sheet.loc[sheet[f"ci_high{suffix}"] < 0, "leaf_id"].tolist()
        doubtful = sheet.loc[(sheet[f"uplift{suffix}"] < 0) & ~(sheet[f"ci_high{suffix}"] < 0), "leaf_id"].tolist()
        if harmful:
            checks.append(Check("warning", f"Do not disturb{name}",
                                f"Treatment lowers the outcome in segment(s) {harmful} (interval below 0): "
                                "leave these customers alone."))
        if doubtful:
            checks.append(Check("info", f"Possibly negative{name}",
                                f"Segment(s) {doubtful} have a negative estimate whose interval includes 0."))
        if not harmful and not doubtful:
            checks.append(Check("ok", f"No segment with negative uplift{name}", "Every estimate is >= 0."))
    return checks



def design_check(experiment: Experiment) -> Check:
    """Does the design given (or its absence) agree with the arm shares seen in the features?

    Without ``propensity`` the arms must not depend on any feature (:func:`upliftree.policy.randomization.
    arm_dependence`, the test ``policy_value`` runs before valuing a policy): otherwise the check fails, naming
    the features, because every unweighted number mixes the effect with the strata. With a propensity (two
    arms) the observed arm counts in every feature's bins must be those the probabilities imply
    (:func:`~upliftree.policy.randomization.propensity_contradiction`). With clusters the tests count one row
    per cluster when whole clusters were randomized.
    """
    from ..policy.randomization import DEPENDENCE_ALPHA, arm_dependence, propensity_contradiction

    X, cluster = experiment.X, experiment.cluster
    columns = {str(name): X[name].to_numpy() for name in X.columns}
    arm = arm_codes(experiment.treatment, tuple(experiment.arms))
    if experiment.propensity is None:
        found = arm_dependence(columns, arm, cluster)
        if not found.clear:
            return Check("ok", "Arm shares do not depend on the features",
                         f"No feature's bins show arm shares different beyond chance (smallest Bonferroni-adjusted "
                         f"p-value {found.adjusted_p_value:.2g}, threshold {DEPENDENCE_ALPHA:g}).")
        return Check("failed", f"The arms depend on {', '.join(found.columns)}: the numbers are not trustworthy",
                     f"Arm shares differ across the values of {', '.join(found.columns)} beyond chance (e.g. "
                     f"{found.column} {found.level}; p = {found.adjusted_p_value:.2g}, Bonferroni-adjusted), as in "
                     "a stratified design or a ramp-up. Without the assignment probabilities every effect, score "
                     "and segment here mixes the treatment's effect with these strata. Pass the probability of each "
                     "row's arm (--propensity COLUMN, or propensity= in Python); if these columns were instead "
                     "recorded after treatment (the treatment changed them), leave them out (--exclude).")
    by_arm = experiment.arm_probabilities()
    if by_arm is None:
        return Check("info", "The given propensity was not checked against the data",
                     "With more than two arms a per-row probability of the received arm does not give the "
                     "expected counts of the other arms.")
    found = propensity_contradiction(columns, arm, by_arm, cluster)
    if not found.clear:
        return Check("ok", "Arm shares agree with the given propensity",
                     f"In every feature's bins the observed arm counts are those the given probabilities imply "
                     f"(smallest Bonferroni-adjusted p-value {found.adjusted_p_value:.2g}); the estimates are "
                     "inverse-probability weighted.")
    return Check("failed", f"The given propensity contradicts the arm shares in {', '.join(found.columns)}",
                 f"Observed arm shares differ from what the given probabilities imply beyond chance (e.g. "
                 f"{found.column} {found.level}; p = {found.adjusted_p_value:.2g}, Bonferroni-adjusted). Check the "
                 "propensity column: the weighted numbers are only right with the true probabilities.")
