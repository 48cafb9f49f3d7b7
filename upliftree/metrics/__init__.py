"""Uplift evaluation for any uplift scores: curves, normalized areas, uplift@k, decile tables, intervals.

Functions take ``(y_true, uplift, treatment)`` with ``treatment`` coded 1 (treated) / 0 (control). Names,
signatures and numbers follow scikit-uplift 0.5.1 (``sklift.metrics``); where this package differs (tied
scores, continuous outcomes, undefined results) the function's docstring says so, and docs/metrics.md
lists every difference. For several treatments, evaluate one arm against control with
:func:`one_vs_control`, and the model's best-arm recommendation with :func:`best_arm_score`.

Rows with tied scores are never split by row order: curves have one point per group of tied scores, and
where a cut (``uplift_at_k``, the treatment balance window) falls inside such a group, the group counts
with its share of rows, i.e. the average over all orderings of the tied rows. Decile tables keep every
tie group whole in one bin.

One module per job: :mod:`~upliftree.metrics.curves` (curves and their normalized areas),
:mod:`~upliftree.metrics.tables` (top-k, percentile and calibration tables), :mod:`~upliftree.metrics.arms`
(several treatments), :mod:`~upliftree.metrics.bootstrap` (intervals); every function checks its arrays in
``_inputs`` and its settings with :mod:`upliftree._params`.
"""

from __future__ import annotations

from ._inputs import UndefinedMetricWarning
from .arms import ArmRows, best_arm_rows, best_arm_score, one_vs_control
from .bootstrap import BootstrapComparison, bootstrap_ci, bootstrap_compare, bootstrap_curve_band
from .curves import (
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_curve,
    uplift_auc_score,
    uplift_curve,
)
from .groups import qini_by_group
from .tables import (
    calibration_table,
    response_rate_by_percentile,
    score_bins,
    treatment_balance_curve,
    uplift_at_k,
    uplift_by_percentile,
    weighted_average_uplift,
)

__all__ = [
    "UndefinedMetricWarning",
    "BootstrapComparison",
    "ArmRows",
    "uplift_curve",
    "qini_curve",
    "perfect_uplift_curve",
    "perfect_qini_curve",
    "uplift_auc_score",
    "qini_auc_score",
    "uplift_at_k",
    "response_rate_by_percentile",
    "uplift_by_percentile",
    "weighted_average_uplift",
    "treatment_balance_curve",
    "calibration_table",
    "score_bins",
    "one_vs_control",
    "best_arm_rows",
    "best_arm_score",
    "bootstrap_ci",
    "bootstrap_compare",
    "bootstrap_curve_band",
    "qini_by_group",
]
