"""Effects with confidence intervals for every node of a fitted tree, and the per-leaf segment table.

The numbers come from the node statistics ``tree_.stats`` (count, sum w, sum w*y, sum w*y^2, sum w^2 per
node and arm), i.e. from the estimation rows of an honest tree. Formulas: ``docs/honesty.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._base import BINARY, check_tree_model
from ._tree_arrays import COUNT, WEIGHT, WEIGHT_SQUARED, WEIGHTED_Y, WEIGHTED_Y2, TreeArrays
from .design import arm_mean_moments
from .inference import diff_proportions_ci, robust_difference_ci, welch_ci
from .rules import format_rule, leaf_conditions

__all__ = ["ArmMoments", "NodeEffects", "arm_moments", "leaf_columns", "node_effects", "segment_table"]


@dataclass(frozen=True)
class ArmMoments:
    """Weighted mean, variance and effective size per node and arm; 0 where they are undefined."""

    mean: np.ndarray
    variance: np.ndarray
    n_effective: np.ndarray


def arm_moments(stats: np.ndarray) -> ArmMoments:
    """Mean, variance and effective sample size of each arm from node statistics ``(..., n_arms, 5)``.

    With weights ``w``: mean ``S/W``, effective size ``W^2 / sum w^2`` (Kish) and the unbiased
    reliability-weights variance ``(Q - S^2/W) / (W - sum w^2 / W)``, which is the ``ddof=1`` sample
    variance for unit weights. Undefined entries (no weight; one effective row for the variance) are 0;
    callers rely on the effective size to tell them apart.
    """
    weight = stats[..., WEIGHT]
    has_weight = weight > 0
    safe_weight = np.where(has_weight, weight, 1.0)
    mean = np.where(has_weight, stats[..., WEIGHTED_Y] / safe_weight, 0.0)
    weight_squared = stats[..., WEIGHT_SQUARED]
    n_effective = np.where(has_weight, weight**2 / np.where(has_weight, weight_squared, 1.0), 0.0)
    denominator = weight - weight_squared / safe_weight
    spread = has_weight & (denominator > 0)
    # Q - S^2/W cancels catastrophically for constant outcomes; clip the rounding error at 0.
    sum_of_squares = np.maximum(stats[..., WEIGHTED_Y2] - stats[..., WEIGHTED_Y] * mean, 0.0)
    variance = np.where(spread, sum_of_squares / np.where(spread, denominator, 1.0), 0.0)
    return ArmMoments(mean, variance, n_effective)


@dataclass(frozen=True)
class NodeEffects:
    """Per-node effects of every treatment against control.

    Attributes
    ----------
    count : ndarray ``(n_nodes, n_arms)``
        Rows per arm (unweighted).
    n_effective : ndarray ``(n_nodes, n_arms)``
        Effective sample size per arm, ``(sum w)^2 / sum w^2`` (the count for unit weights).
    mean : ndarray ``(n_nodes, n_arms)``
        Weighted outcome mean (a rate for a binary outcome) per arm; NaN where an arm has no weight.
    uplift, ci_low, ci_high, p_value : ndarray ``(n_nodes, n_arms - 1)``
        Difference treatment minus control, its ``1 - alpha`` interval and the two-sided p-value of
        "uplift = 0"; NaN where an arm lacks rows (no rows for a proportion, fewer than 2 effective rows
        for Welch).
    """

    count: np.ndarray
    n_effective: np.ndarray
    mean: np.ndarray
    uplift: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray


def node_effects(tree: TreeArrays, binary: bool, alpha: float = 0.05) -> NodeEffects:
    """Uplift, confidence interval and p-value of every node and treatment from the tree's node statistics.

    Parameters
    ----------
    tree : TreeArrays
        A fitted node table (``model.tree_``).
    binary : bool
        Binary outcome: Newcombe's hybrid score interval for a difference of proportions; otherwise
        Welch's interval. Both on effective sample sizes when rows are weighted. A tree fitted with
        ``propensity`` or ``cluster`` carries design moments: then, whatever the outcome, a t interval on the
        robust (cluster or row level) variance of the difference of Hajek means (``docs/design.md``).
    alpha : float
        Intervals have coverage ``1 - alpha``.
    """
    moments = arm_moments(tree.stats)
    n_effective = moments.n_effective
    n_t, n_c = n_effective[:, 1:], n_effective[:, :1]
    mean_t, mean_c = moments.mean[:, 1:], moments.mean[:, :1]
    if tree.has_design:
        mean, variance, units, covariance = arm_mean_moments(tree.stats, tree.design_moments)
        uplift, low, high, p_value = robust_difference_ci(mean[:, 1:], variance[:, 1:], units[:, 1:], mean[:, :1],
                                                          variance[:, :1], units[:, :1], covariance, alpha)
    elif binary:
        # Weighted sums of 0/1 outcomes can exceed the weight by rounding; rates stay in [0, 1].
        rate_t, rate_c = np.clip(mean_t, 0.0, 1.0), np.clip(mean_c, 0.0, 1.0)
        uplift, low, high, p_value = diff_proportions_ci(n_t, rate_t * n_t, n_c, rate_c * n_c, alpha)
    else:
        uplift, low, high, p_value = welch_ci(n_t, mean_t, moments.variance[:, 1:], n_c, mean_c,
                                              moments.variance[:, :1], alpha)
    mean = np.where(n_effective > 0, moments.mean, np.nan)
    return NodeEffects(tree.stats[:, :, COUNT].copy(), n_effective, mean, uplift, low, high, p_value)


def leaf_columns(model: Any, effects: NodeEffects, precision: int | None = 6) -> dict[str, Any]:
    """Per-leaf columns of a segment table, in leaf id order: ``leaf_id``, ``rule``, ``n_<arm>`` and
    ``rate_<arm>`` (binary outcome) or ``mean_<arm>`` (continuous), arms in ``model.treatments_`` order.

    ``precision`` is the significant digits of thresholds in the rule (see :func:`upliftree.rules.format_rule`).
    """
    tree = model.tree_
    leaves = tree.leaf_ids
    labels = [str(label) for label in model.treatments_]
    columns: dict[str, Any] = {
        "leaf_id": leaves,
        "rule": [format_rule(leaf_conditions(tree, model.schema_, leaf), precision) for leaf in leaves],
    }
    for arm, label in enumerate(labels):
        columns[f"n_{label}"] = effects.count[leaves, arm].astype(np.int64)
    outcome = "rate" if model.outcome_type_ == BINARY else "mean"
    for arm, label in enumerate(labels):
        columns[f"{outcome}_{label}"] = effects.mean[leaves, arm]
    return columns


def segment_table(model: Any, alpha: float = 0.05) -> pd.DataFrame:
    """One row per leaf (and per treatment when there are several) of a fitted uplift tree.

    Columns: ``leaf_id`` (as returned by ``model.apply``), ``treatment`` (only with several treatments),
    ``rule``, ``n_<arm>`` (rows per arm), ``rate_<arm>`` (binary outcome) or ``mean_<arm>`` (continuous),
    ``uplift``, ``ci_low``, ``ci_high``, ``p_value`` and ``honest`` (whether the numbers come from rows that
    did not choose the splits). Sorted by uplift, best first.
    """
    check_tree_model(model)
    effects = node_effects(model.tree_, model.outcome_type_ == BINARY, alpha)
    leaves = model.tree_.leaf_ids
    columns = leaf_columns(model, effects)
    several = len(model.treatments_) > 2
    frames = []
    for treatment, label in enumerate(model.treatments_[1:]):
        frame = pd.DataFrame(columns)
        if several:
            frame.insert(1, "treatment", label)
        for name in ("uplift", "ci_low", "ci_high", "p_value"):
            frame[name] = getattr(effects, name)[leaves, treatment]
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["honest"] = bool(model.honest_estimates_)
    # Stable sort keeps leaf and treatment order among equal uplifts.
    return table.sort_values("uplift", ascending=False, kind="stable", ignore_index=True)
