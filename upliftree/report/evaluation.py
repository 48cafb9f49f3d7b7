"""Report stage 3: held-out evaluation of every model's uplift scores, each treatment against control, with
figures, and the average effect of each treatment on all rows."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import metrics
from .._validation import arm_codes, inverse_probability_weights, labels_equal
from ..design import arm_mean_moments, one_node_moments
from ..inference import diff_proportions_ci, robust_difference_ci, welch_ci
from ..metrics import calibration_table, score_bins
from ..plot import plot_qini_curve, plot_uplift_by_percentile, plot_uplift_curve
from .experiment import Experiment
from .fitting import FittedModels
from .settings import Progress, ReportSettings
from .split import SplitRows

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FOREST", "RANDOM", "TOP_SHARES", "TREE", "Evaluation", "average_effect", "curves_figure", "design_of",
           "deciles_figure", "evaluate_models", "score_table", "with_forest_bands"]

TOP_SHARES = (0.1, 0.2, 0.3)
DECILES = 10  # bins of the decile table (calibration_table's default)
RANDOM = "random targeting"
TREE = "uplift tree"
FOREST = "uplift forest"


@dataclass(frozen=True)
class Evaluation:
    """Held-out scores and decile tables per treatment label, the figures by file name, and per treatment the
    average effect on all rows (:func:`average_effect` with its ``label``)."""

    scores: dict[str, pd.DataFrame]
    deciles: dict[str, pd.DataFrame]
    figures: dict[str, Figure]
    effects: list[dict[str, Any]]


def _uplift_matrix(scores: np.ndarray) -> np.ndarray:
    return scores[:, None] if scores.ndim == 1 else scores


def evaluate_models(split: SplitRows, models: FittedModels, settings: ReportSettings,
                    progress: Progress) -> Evaluation:
    """Score every model on the held-out rows, bootstrap the intervals and bands, and draw the figures."""
    test, labels = split.test, split.labels
    with progress("Scoring and bootstrapping on the held-out rows"):
        predictions = {TREE: _uplift_matrix(models.tree.predict(test.X)),
                       FOREST: _uplift_matrix(models.forest.predict(test.X))}
        predictions.update({label: _uplift_matrix(learner.predict(test.X))
                            for label, learner in models.learners.items()})
        test_arm = arm_codes(test.treatment, tuple(split.experiment.arms))
        panels, decile_panels, scores, deciles = [], [], {}, {}
        for code, label in enumerate(labels[1:], start=1):
            rows = (test_arm == code) | (test_arm == 0)
            y, treated = test.y[rows], test_arm[rows] == code
            design = design_of(test, rows)
            arm_scores = {name: matrix[rows, code - 1] for name, matrix in predictions.items()}
            scores[label] = score_table(y, treated, arm_scores, test.binary, settings.n_boot, settings.alpha,
                                        settings.seed, **design)
            deciles[label] = with_forest_bands(
                calibration_table(y, arm_scores[FOREST], treated.astype(np.int64), bins=DECILES, alpha=settings.alpha,
                                  **design),
                models.forest, test.X.iloc[np.flatnonzero(rows)], arm_scores[FOREST], code, settings.alpha)
            panels.append((label, y, treated, arm_scores, design))
            decile_panels.append((label, y, treated, arm_scores[FOREST], design))
    with progress("Drawing the curves"):
        figures = {"qini.png": curves_figure("qini", panels, settings.n_boot, settings.alpha, settings.seed),
                   "uplift.png": curves_figure("uplift", panels, settings.n_boot, settings.alpha, settings.seed),
                   "deciles.png": deciles_figure(decile_panels, FOREST, settings.alpha)}
    full = split.experiment
    full_arm = arm_codes(full.treatment, tuple(full.arms))
    effects = []
    for code, label in enumerate(labels[1:], start=1):
        rows = (full_arm == code) | (full_arm == 0)
        effects.append({"label": label, "n_rows": int(rows.sum()),
                        **average_effect(full.y[rows], full_arm[rows] == code, full.binary, settings.alpha,
                                         **design_of(full, rows))})
    return Evaluation(scores, deciles, figures, effects)


def with_forest_bands(table: pd.DataFrame, forest: Any, X: pd.DataFrame, score: np.ndarray, code: int,
                      alpha: float) -> pd.DataFrame:
    """The decile ``table`` of ``forest``'s uplift ``score`` of treatment ``code`` (its position in
    ``forest.treatments_``) on the rows ``X``, with ``predicted_low`` and ``predicted_high``: the ``1 - alpha``
    interval of each decile's mean predicted uplift (``forest.predict_group_interval`` over the decile's rows,
    the little-bag variance of the group mean, ``docs/forest.md``). NaN when the forest was not grown in little
    bags (``ReportSettings.forest_bands``)."""
    table = table.copy()
    table["predicted_low"] = table["predicted_high"] = np.nan
    if forest.ci_group_size < 2:
        return table
    bands = forest.predict_group_interval(X, score_bins(score, DECILES), alpha=alpha)
    bands = bands[bands["treatment"].map(lambda label: labels_equal(label, forest.treatments_[code]))]
    by_bin = bands.set_index(bands["group"].to_numpy() + 1)
    table["predicted_low"] = by_bin["ci_low"].reindex(table["bin"]).to_numpy()
    table["predicted_high"] = by_bin["ci_high"].reindex(table["bin"]).to_numpy()
    return table


def design_of(experiment: Experiment, rows: np.ndarray) -> dict[str, np.ndarray | None]:
    """``propensity=`` and ``cluster=`` of the experiment's ``rows``, as the metrics take them."""
    return {"propensity": None if experiment.propensity is None else experiment.propensity[rows],
            "cluster": None if experiment.cluster is None else experiment.cluster[rows]}


def average_effect(y: np.ndarray, treated: np.ndarray, binary: bool, alpha: float, *,
                   propensity: np.ndarray | None = None, cluster: np.ndarray | None = None) -> dict[str, Any]:
    """Treated minus control outcome (rate or mean) with its interval and p-value, and both arms' levels.

    Without a design: Newcombe's interval (binary outcome) or Welch's. With ``propensity`` (the probability of
    each row's received arm) or ``cluster`` (unit codes): the arms' Hajek means with inverse-probability
    weights and the design-based (sandwich over units) interval of their difference, as the trees' nodes
    (:func:`upliftree.design.robust_mean_covariance`, ``docs/design.md``). ``design`` says which was used.
    """
    if propensity is not None or cluster is not None:
        return _design_average_effect(y, treated, alpha, propensity, cluster)
    y_t, y_c = y[treated], y[~treated]
    if binary:
        estimate, low, high, p_value = diff_proportions_ci(len(y_t), y_t.sum(), len(y_c), y_c.sum(), alpha)
    else:
        estimate, low, high, p_value = welch_ci(len(y_t), y_t.mean(), y_t.var(ddof=1), len(y_c), y_c.mean(),
                                                y_c.var(ddof=1), alpha)
    return {"n_treated": int(len(y_t)), "n_control": int(len(y_c)), "outcome_treated": float(y_t.mean()),
            "outcome_control": float(y_c.mean()), "effect": float(estimate), "low": float(low),
            "high": float(high), "p_value": float(p_value), "design": "none"}


def _design_average_effect(y: np.ndarray, treated: np.ndarray, alpha: float, propensity: np.ndarray | None,
                           cluster: np.ndarray | None) -> dict[str, Any]:
    """The root node's design-based interval of a tree (``upliftree.segments.node_effects``) over these rows."""
    arm = treated.astype(np.int64)
    weight = np.ones(len(y)) if propensity is None else inverse_probability_weights(np.ones(len(y)), propensity)
    stats, moments = one_node_moments(arm, weight, y, cluster, 2)
    mean, variance, units, covariance = arm_mean_moments(stats, moments)
    estimate, low, high, p_value = robust_difference_ci(mean[0, 1], variance[0, 1], units[0, 1], mean[0, 0],
                                                        variance[0, 0], units[0, 0], covariance[0, 0], alpha)
    mean = mean[0]
    return {"n_treated": int(treated.sum()), "n_control": int((~treated).sum()), "outcome_treated": float(mean[1]),
            "outcome_control": float(mean[0]), "effect": float(estimate), "low": float(low), "high": float(high),
            "p_value": float(p_value),
            "design": "inverse-probability weighted (Hajek), design-based interval" if propensity is not None
            else "cluster-robust interval"}


def _quietly(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A metric whose undefined cases (NaN, e.g. no treated row among the top rows) stay NaN without noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        return function(*args, **kwargs)


def score_table(y: np.ndarray, treated: np.ndarray, scores: dict[str, np.ndarray], binary: bool, n_boot: int,
                alpha: float, random_state: int, *, propensity: np.ndarray | None = None,
                cluster: np.ndarray | None = None) -> pd.DataFrame:
    """Qini coefficient and (binary outcome) uplift AUC, each with a bootstrap interval, and uplift@k of each model,
    and random targeting.

    Every model is scored on the same rows and the same resamples, with the design's weights (``propensity``)
    and cluster bootstrap (``cluster``). Random targeting has Qini and AUC 0 by definition, and its uplift@k is
    the (weighted) average effect of the rows.
    """
    design = {"propensity": propensity, "cluster": cluster}
    treatment = treated.astype(np.int64)
    # The uplift AUC is normalized by the perfect curve of a 0/1 outcome; for a continuous one it stays NaN.
    scored = [("qini", "qini_auc_score"), ("auuc", "uplift_auc_score")] if binary else [("qini", "qini_auc_score")]
    records = []
    for name, score in scores.items():
        record = {"model": name, "auuc": np.nan, "auuc_low": np.nan, "auuc_high": np.nan}
        for key, metric in scored:
            low, high = _quietly(metrics.bootstrap_ci, metric, y, score, treatment, n_boot=n_boot, alpha=alpha,
                                 random_state=random_state, n_jobs=-1, **design)
            record.update({key: _quietly(getattr(metrics, metric), y, score, treatment, **design), f"{key}_low": low,
                           f"{key}_high": high})
        for share in TOP_SHARES:
            record[f"uplift_at_{round(share * 100)}"] = _quietly(metrics.uplift_at_k, y, score, treatment, k=share,
                                                                       **design)
        records.append(record)
    effect = float(metrics.weighted_average_uplift(y, np.zeros(len(y)), treatment, bins=1, **design))
    random = {"model": RANDOM, "qini": 0.0, "qini_low": np.nan, "qini_high": np.nan,
              "auuc": 0.0 if binary else np.nan, "auuc_low": np.nan, "auuc_high": np.nan}
    random.update({f"uplift_at_{round(share * 100)}": effect for share in TOP_SHARES})
    return pd.DataFrame([*records, random])


def _new_figure(n_rows: int, n_columns: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * n_columns, height * n_rows), layout="constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False, sharey="row")
    return figure, axes


def curves_figure(curve: str, panels: list[tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray], dict]],
                  n_boot: int, alpha: float, random_state: int) -> Figure:
    """Qini (``curve="qini"``) or uplift curves: one row per treatment, one panel per model, with bands.

    The perfect curve is left out: it is usually so far above real models that their curves look flat.

    ``panels`` holds ``(treatment label, y, treated, {model name: scores}, design)`` per treatment, ``design``
    the rows' ``propensity`` and ``cluster`` (:func:`design_of`): curves are weighted and bands resample clusters.
    """
    n_models = max(len(panel[3]) for panel in panels)
    figure, axes = _new_figure(len(panels), n_models, 4.6, 3.6)
    for row, (label, y, treated, scores, design) in enumerate(panels):
        for column, (name, score) in enumerate(scores.items()):
            ax = axes[row, column]
            if curve == "qini":
                _quietly(plot_qini_curve, y, score, treated.astype(np.int64), perfect=False, n_boot=n_boot,
                         alpha=alpha, random_state=random_state, label=name, ax=ax, **design)
            else:
                _quietly(plot_uplift_curve, y, score, treated.astype(np.int64), perfect=False, n_boot=n_boot,
                         alpha=alpha, random_state=random_state, label=name, ax=ax, **design)
            ax.set_title(name if len(panels) == 1 else f"{name}: {label}", fontsize=11)
            ax.legend(loc="best", frameon=False, fontsize=8)
            ax.set_xlabel("Rows targeted, highest predicted uplift first", fontsize=9)
            if column:
                ax.set_ylabel("")
        for column in range(len(scores), n_models):
            axes[row, column].set_visible(False)
    return figure


def deciles_figure(panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, dict]], model_name: str,
                   alpha: float) -> Figure:
    """Outcome by decile of ``model_name``'s predicted uplift: one panel per treatment, ``(treatment label, y,
    treated, scores, design)`` each, rates weighted and error bars design-based with a design."""
    figure, axes = _new_figure(len(panels), 1, 9.0, 3.8)
    for row, (label, y, treated, score, design) in enumerate(panels):
        ax = axes[row, 0]
        _quietly(plot_uplift_by_percentile, y, score, treated.astype(np.int64), alpha=alpha, ax=ax, **design)
        suffix = "" if len(panels) == 1 else f", {label} vs control"
        ax.set_title(f"Held-out outcome by decile of the {model_name}'s predicted uplift{suffix}", fontsize=11)
    return figure
