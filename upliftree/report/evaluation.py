"""Held-out evaluation of several models' uplift scores for one treatment against control, with figures."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import metrics
from ..inference import diff_proportions_ci, welch_ci
from ..plot import plot_qini_curve, plot_uplift_by_percentile, plot_uplift_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RANDOM", "TOP_SHARES", "average_effect", "curves_figure", "deciles_figure", "score_table"]

TOP_SHARES = (0.1, 0.2, 0.3)
RANDOM = "random targeting"


def average_effect(y: np.ndarray, treated: np.ndarray, binary: bool, alpha: float) -> dict[str, float]:
    """Treated minus control outcome (rate or mean) with its interval and p-value, and both arms' levels."""
    y_t, y_c = y[treated], y[~treated]
    if binary:
        estimate, low, high, p_value = diff_proportions_ci(len(y_t), y_t.sum(), len(y_c), y_c.sum(), alpha)
    else:
        estimate, low, high, p_value = welch_ci(len(y_t), y_t.mean(), y_t.var(ddof=1), len(y_c), y_c.mean(),
                                                y_c.var(ddof=1), alpha)
    return {"n_treated": int(len(y_t)), "n_control": int(len(y_c)), "outcome_treated": float(y_t.mean()),
            "outcome_control": float(y_c.mean()), "effect": float(estimate), "low": float(low),
            "high": float(high), "p_value": float(p_value)}


def _quietly(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A metric whose undefined cases (NaN, e.g. no treated row among the top rows) stay NaN without noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        return function(*args, **kwargs)


def score_table(y: np.ndarray, treated: np.ndarray, scores: dict[str, np.ndarray], binary: bool, n_boot: int,
                alpha: float, random_state: int) -> pd.DataFrame:
    """Qini coefficient (with a bootstrap interval), uplift AUC and uplift@k of each model, and random targeting.

    Random targeting has Qini and AUC 0 by definition, and its uplift@k is the average effect of the rows.
    """
    treatment = treated.astype(np.int64)
    records = []
    for name, score in scores.items():
        qini = _quietly(metrics.qini_auc_score, y, score, treatment)
        low, high = _quietly(metrics.bootstrap_ci, "qini_auc_score", y, score, treatment, n_boot=n_boot,
                             alpha=alpha, random_state=random_state, n_jobs=-1)
        record = {"model": name, "qini": qini, "qini_low": low, "qini_high": high,
                  "auuc": _quietly(metrics.uplift_auc_score, y, score, treatment) if binary else np.nan}
        for share in TOP_SHARES:
            record[f"uplift_at_{round(share * 100)}"] = _quietly(metrics.uplift_at_k, y, score, treatment, k=share)
        records.append(record)
    effect = float(y[treated].mean() - y[~treated].mean())
    random = {"model": RANDOM, "qini": 0.0, "qini_low": np.nan, "qini_high": np.nan,
              "auuc": 0.0 if binary else np.nan}
    random.update({f"uplift_at_{round(share * 100)}": effect for share in TOP_SHARES})
    return pd.DataFrame([*records, random])


def _new_figure(n_rows: int, n_columns: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * n_columns, height * n_rows), layout="constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False, sharey="row")
    return figure, axes


def curves_figure(curve: str, panels: list[tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]],
                  n_boot: int, alpha: float, random_state: int) -> Figure:
    """Qini (``curve="qini"``) or uplift curves: one row per treatment, one panel per model, with bands.

    The perfect curve is left out: it is usually so far above real models that their curves look flat.

    ``panels`` holds ``(treatment label, y, treated, {model name: scores})`` per treatment.
    """
    n_models = max(len(scores) for *_, scores in panels)
    figure, axes = _new_figure(len(panels), n_models, 4.6, 3.6)
    for row, (label, y, treated, scores) in enumerate(panels):
        for column, (name, score) in enumerate(scores.items()):
            ax = axes[row, column]
            if curve == "qini":
                _quietly(plot_qini_curve, y, score, treated.astype(np.int64), perfect=False, n_boot=n_boot,
                         alpha=alpha, random_state=random_state, label=name, ax=ax)
            else:
                _quietly(plot_uplift_curve, y, score, treated.astype(np.int64), perfect=False, n_boot=n_boot,
                         alpha=alpha, random_state=random_state, label=name, ax=ax)
            ax.set_title(name if len(panels) == 1 else f"{name}: {label}", fontsize=11)
            ax.legend(loc="best", frameon=False, fontsize=8)
            ax.set_xlabel("Rows targeted, highest predicted uplift first", fontsize=9)
            if column:
                ax.set_ylabel("")
        for column in range(len(scores), n_models):
            axes[row, column].set_visible(False)
    return figure


def deciles_figure(panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], model_name: str,
                   alpha: float) -> Figure:
    """Outcome by decile of ``model_name``'s predicted uplift: one panel per treatment."""
    figure, axes = _new_figure(len(panels), 1, 9.0, 3.8)
    for row, (label, y, treated, score) in enumerate(panels):
        ax = axes[row, 0]
        _quietly(plot_uplift_by_percentile, y, score, treated.astype(np.int64), alpha=alpha, ax=ax)
        suffix = "" if len(panels) == 1 else f", {label} vs control"
        ax.set_title(f"Held-out outcome by decile of the {model_name}'s predicted uplift{suffix}", fontsize=11)
    return figure
