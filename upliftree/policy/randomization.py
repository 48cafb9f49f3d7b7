"""Do the arm shares depend on the features? Randomized experiments: no; data logged by a policy: yes.

:func:`policy_value` without ``propensity`` estimates each row's assignment probability by its arm's share of
the rows, which is right only when the arms were randomized with fixed probabilities. On data a policy
logged (the policy's arm for most rows, a small exploration bucket) the share is wrong row by row and the value
is badly biased, so :func:`arm_dependence` tests, for every feature, whether the arm is independent of it:

- a numeric feature is cut at its deciles (fewer bins when ties or few rows leave fewer), missing values in a
  bin of their own; any other column keeps its ``MAX_BINS - 1`` most frequent values and pools the rest; bins
  expected to hold fewer than ``MIN_EXPECTED`` rows of the smallest arm are pooled too;
- Pearson's chi-squared test of independence of the (bin x arm) table, ``(bins - 1) * (arms - 1)`` degrees of
  freedom;
- the arms clearly depend on the features when the smallest p-value, Bonferroni-adjusted over the features
  tested, is below ``DEPENDENCE_ALPHA`` (1e-3): a randomized experiment is refused at most once in a thousand.

With clusters whose rows all share one arm (randomized by cluster), the rows of a cluster are not independent
draws, so the test uses one row per cluster (its first).

:func:`propensity_contradiction` is the test for a *given* design: in every bin of every column, are the
observed arm counts what the given probabilities imply? Pearson's statistic of observed against expected
counts (the sum of the rows' probabilities of each arm), ``bins * (arms - 1)`` degrees of freedom; bins are
pooled until each expects ``MIN_EXPECTED`` rows of the rarest arm. Rows whose probabilities vary within a bin
make the counts less variable than multinomial ones, so the test errs on the side of not failing. Both tests
report the columns that clearly fail, and the bin of the strongest one whose arm shares are furthest from
what was expected (``level``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DEPENDENCE_ALPHA = 1e-3
MAX_BINS = 10
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class ArmDependence:
    """The strongest dependence found: ``column``, its p-value, and the Bonferroni-adjusted one; ``columns``,
    every column whose adjusted p-value is below ``DEPENDENCE_ALPHA`` (strongest first), and ``level``, the
    strongest column's bin furthest from the expected arm shares (its values, observed and expected share of
    the first treatment)."""

    column: str | None
    p_value: float
    adjusted_p_value: float
    n_tests: int
    columns: tuple[str, ...] = ()
    level: str = ""

    @property
    def clear(self) -> bool:
        """Whether the arms clearly depend on the features (adjusted p-value below ``DEPENDENCE_ALPHA``)."""
        return self.adjusted_p_value < DEPENDENCE_ALPHA


def arm_dependence(columns: dict[str, Any], arm: np.ndarray, cluster: np.ndarray | None = None) -> ArmDependence:
    """Chi-squared tests of the arm codes ``arm`` against each of ``columns`` (name -> one value per row)."""
    rows = _one_row_per_cluster(arm, cluster)
    arm = arm[rows]
    n_arms = int(arm.max()) + 1
    arm_rows = np.bincount(arm, minlength=n_arms)
    shares = np.broadcast_to(arm_rows / len(arm), (len(arm), n_arms))
    min_bin_rows = MIN_EXPECTED * len(arm) / max(arm_rows.min(), 1)
    return _strongest(columns, rows, arm, shares, min_bin_rows, given=False)


def propensity_contradiction(columns: dict[str, Any], arm: np.ndarray, by_arm: np.ndarray,
                             cluster: np.ndarray | None = None) -> ArmDependence:
    """Goodness-of-fit tests of the arm codes ``arm`` against the probabilities ``by_arm`` ``(n_rows, n_arms)``
    in the bins of each of ``columns`` (module docstring)."""
    rows = _one_row_per_cluster(arm, cluster)
    arm, by_arm = arm[rows], np.asarray(by_arm, dtype=np.float64)[rows]
    min_bin_rows = MIN_EXPECTED / max(float(by_arm.mean(axis=0).min()), 1e-12)
    return _strongest(columns, rows, arm, by_arm, min_bin_rows, given=True)


def _strongest(columns: dict[str, Any], rows: np.ndarray, arm: np.ndarray, probability: np.ndarray,
               min_bin_rows: float, given: bool) -> ArmDependence:
    """Pearson's test of observed against expected arm counts per bin of each column; without ``given``
    probabilities the expected shares are the arms' overall shares (a test of independence)."""
    from scipy.special import chdtrc  # chi-squared survival function, without importing scipy.stats

    n_arms = probability.shape[1]
    results = []
    for name, values in columns.items():
        values = np.asarray(values)[rows]
        codes = _bins(values, min_bin_rows)
        n_bins = int(codes.max()) + 1
        if n_bins < 2 and not given:
            continue
        observed = np.bincount(codes * n_arms + arm, minlength=n_bins * n_arms).reshape(n_bins, n_arms)
        expected = np.column_stack([np.bincount(codes, weights=probability[:, code], minlength=n_bins)
                                    for code in range(n_arms)])
        residual = (observed - expected) ** 2 / expected
        dof = n_bins * (n_arms - 1) if given else (n_bins - 1) * (n_arms - 1)
        results.append((float(chdtrc(dof, float(residual.sum()))), name, values, codes, observed, expected))
    if not results:
        return ArmDependence(None, 1.0, 1.0, 0)
    results.sort(key=lambda result: result[0])
    p_value, name, values, codes, observed, expected = results[0]
    n_tests = len(results)
    clear = tuple(result[1] for result in results if min(1.0, result[0] * n_tests) < DEPENDENCE_ALPHA)
    return ArmDependence(name, p_value, min(1.0, p_value * n_tests), n_tests, clear,
                         _level(values, codes, observed, expected))


def _level(values: np.ndarray, codes: np.ndarray, observed: np.ndarray, expected: np.ndarray) -> str:
    """The bin whose first treatment's count is furthest from expected: its values and both shares."""
    treated = 1 if observed.shape[1] > 1 else 0
    worst = int(np.argmax(np.abs(observed[:, treated] - expected[:, treated]) / np.sqrt(expected[:, treated])))
    members = values[codes == worst]
    if members.dtype.kind in "biuf":
        numbers = members.astype(np.float64)
        present = numbers[~np.isnan(numbers)]
        where = "missing" if not len(present) else f"{present.min():g} to {present.max():g}"
    else:
        found = pd.unique(pd.Series(members, dtype=object)).tolist()
        where = ", ".join(str(value) for value in found[:3]) + (", ..." if len(found) > 3 else "")
    rows = observed[worst].sum()
    return (f"{where}: {observed[worst, treated] / rows:.0%} of its {rows:,} rows in the first treatment, "
            f"{expected[worst, treated] / rows:.0%} expected")


def _one_row_per_cluster(arm: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """All rows, or the first row of each cluster when every cluster's rows share one arm."""
    if cluster is None:
        return np.arange(len(arm))
    _, first = np.unique(cluster, return_index=True)
    if (arm == arm[first][cluster]).all():
        return first
    return np.arange(len(arm))


def _bins(values: np.ndarray, min_bin_rows: float) -> np.ndarray:
    """Bin codes 0..b-1 of one column (module docstring); every bin holds at least ``min_bin_rows`` rows,
    except the pooled one, which joins the smallest other bin when it is too small itself."""
    if values.dtype.kind in "biuf":
        numbers = values.astype(np.float64)
        missing = np.isnan(numbers)
        edges = np.unique(np.quantile(numbers[~missing], np.linspace(0, 1, MAX_BINS + 1)[1:-1])) \
            if (~missing).any() else np.empty(0)
        codes = np.where(missing, len(edges) + 1, np.searchsorted(edges, numbers, side="right"))
    else:
        codes, _ = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    counts = np.bincount(codes)
    order = np.argsort(-counts, kind="stable")
    kept = order[(counts[order] >= min_bin_rows) & (np.arange(len(order)) < MAX_BINS - 1)]
    recode = np.full(len(counts), len(kept), dtype=np.int64)
    recode[kept] = np.arange(len(kept))
    codes = recode[codes]
    pooled = codes == len(kept)
    if 0 < pooled.sum() < min_bin_rows and len(kept) > 0:
        codes[pooled] = len(kept) - 1  # the smallest kept bin
    return np.unique(codes, return_inverse=True)[1]
