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
    """The strongest dependence found: ``column``, its p-value, and the Bonferroni-adjusted one."""

    column: str | None
    p_value: float
    adjusted_p_value: float
    n_tests: int

    @property
    def clear(self) -> bool:
        """Whether the arms clearly depend on the features (adjusted p-value below ``DEPENDENCE_ALPHA``)."""
        return self.adjusted_p_value < DEPENDENCE_ALPHA


def arm_dependence(columns: dict[str, Any], arm: np.ndarray, cluster: np.ndarray | None = None) -> ArmDependence:
    """Chi-squared tests of the arm codes ``arm`` against each of ``columns`` (name -> one value per row)."""
    from scipy.special import chdtrc  # chi-squared survival function, without importing scipy.stats

    rows = _one_row_per_cluster(arm, cluster)
    arm = arm[rows]
    n_arms = int(arm.max()) + 1
    arm_rows = np.bincount(arm, minlength=n_arms)
    min_bin_rows = MIN_EXPECTED * len(arm) / max(arm_rows.min(), 1)
    results = []
    for name, values in columns.items():
        codes = _bins(np.asarray(values)[rows], min_bin_rows)
        n_bins = int(codes.max()) + 1
        if n_bins < 2:
            continue
        observed = np.bincount(codes * n_arms + arm, minlength=n_bins * n_arms).reshape(n_bins, n_arms)
        expected = observed.sum(axis=1)[:, None] * arm_rows[None, :] / len(arm)
        statistic = float(((observed - expected) ** 2 / expected).sum())
        results.append((float(chdtrc((n_bins - 1) * (n_arms - 1), statistic)), name))
    if not results:
        return ArmDependence(None, 1.0, 1.0, 0)
    p_value, name = min(results)
    return ArmDependence(name, p_value, min(1.0, p_value * len(results)), len(results))


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
