"""Plots of uplift evaluation: Qini and uplift curves, uplift by decile, calibration.

Every function draws what a function of :mod:`upliftree.metrics` computes, and takes the experiment's design as
those do: ``propensity=`` (the known probability of each row's arm) weights every curve, bar and point, and
``cluster=`` (the unit of randomization) makes bands and error bars cluster-robust (``docs/design.md``).
Every function draws on ``ax`` (a new ``matplotlib.figure.Figure`` when None, so no pyplot state and no
display are needed) and returns the Axes; save with ``ax.figure.savefig("qini.png")`` (PNG, SVG, PDF).
matplotlib is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from . import metrics
from ._format import axis_thousands
from ._params import check_alpha
from ._validation import is_binary

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_qini_curve", "plot_uplift_curve", "plot_uplift_by_percentile", "plot_calibration",
           "plot_metrics_by_group"]

_MODEL_COLOR = "tab:blue"
_PERFECT_COLOR = "tab:green"
_RANDOM_COLOR = "tab:gray"
_TREATED_COLOR = "tab:orange"
_CONTROL_COLOR = "tab:gray"


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (7.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    return figure.add_subplot()


def _plot_curve(
    curve: str, y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, perfect: bool, random: bool,
    negative_effect: bool, n_boot: int, alpha: float, random_state: Any, label: str, ax: Axes | None,
    propensity: Any, cluster: Any,
) -> Axes:
    ax = _new_axes(ax)
    design = {"propensity": propensity, "cluster": cluster}
    if curve == "qini":
        x, values = metrics.qini_curve(y_true, uplift, treatment, **design)
        score = metrics.qini_auc_score(y_true, uplift, treatment, negative_effect=negative_effect, **design)
        score_name, title, y_label = "Qini coefficient", "Qini curve", "Incremental outcome (Qini)"
    else:
        x, values = metrics.uplift_curve(y_true, uplift, treatment, **design)
        # The normalized uplift area needs a binary outcome; a continuous one is drawn without it.
        binary = is_binary(np.asarray(y_true, dtype=np.float64))
        score = metrics.uplift_auc_score(y_true, uplift, treatment, **design) if binary else None
        score_name, title, y_label = "uplift AUC", "Uplift curve", "Incremental outcome (uplift)"
    if n_boot:
        grid, low, high = metrics.bootstrap_curve_band(
            y_true, uplift, treatment, curve=curve, n_boot=n_boot, alpha=alpha, random_state=random_state, n_jobs=-1,
            **design,
        )
        ax.fill_between(grid, low, high, color=_MODEL_COLOR, alpha=0.2, linewidth=0,
                        label=f"{1 - alpha:.0%} bootstrap band")
    model_label = label if score is None else f"{label} ({score_name} {score:.3f})"
    ax.plot(x, values, color=_MODEL_COLOR, linewidth=2, label=model_label)
    if perfect:
        if curve == "qini":
            perfect_x, perfect_values = metrics.perfect_qini_curve(y_true, treatment, negative_effect, **design)
        else:
            perfect_x, perfect_values = metrics.perfect_uplift_curve(y_true, treatment, **design)
        ax.plot(perfect_x, perfect_values, color=_PERFECT_COLOR, linewidth=1.5, label="perfect")
    if random:
        ax.plot([0, x[-1]], [0, values[-1]], color=_RANDOM_COLOR, linestyle="--", linewidth=1.5,
                label="random")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set(title=title, xlabel="Number targeted (highest predicted uplift first)", ylabel=y_label)
    # Row counts and incremental outcomes reach the hundred thousands: 300,000 with few ticks, not 300000.
    axis_thousands(ax, max_ticks=5)
    ax.legend(loc="best", frameon=False)
    ax.grid(alpha=0.3)
    return ax


def plot_qini_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, negative_effect: bool = True,
    perfect: bool = True, random: bool = True, n_boot: int = 0, alpha: float = 0.05,
    random_state: Any = None, label: str = "model", ax: Axes | None = None, propensity: Any = None,
    cluster: Any = None,
) -> Axes:
    """Qini curve of a model with the random line, the perfect curve and optionally a bootstrap band.

    Parameters
    ----------
    y_true, uplift, treatment : array-like
        As in :func:`upliftree.metrics.qini_curve`.
    negative_effect : bool
        Which perfect curve to draw (and to normalize the Qini coefficient in the legend).
    perfect, random : bool
        Draw the perfect curve / the random line.
    n_boot : int
        Resamples for a pointwise bootstrap band (0: no band), on all cores; see
        :func:`upliftree.metrics.bootstrap_curve_band`.
    alpha : float
        The band has coverage ``1 - alpha``.
    random_state : None, int or numpy.random.Generator
        Seed of the band's resampling.
    label : str
        Legend label of the model.
    ax : matplotlib Axes, optional
    propensity, cluster : optional
        The experiment's design, as in :func:`upliftree.metrics.qini_curve` (arrays, one value per row): the
        curve, the perfect curve and the score are inverse-probability weighted, and the band resamples
        whole clusters.

    Returns
    -------
    matplotlib.axes.Axes
    """
    return _plot_curve("qini", y_true, uplift, treatment, perfect=perfect, random=random,
                       negative_effect=negative_effect, n_boot=n_boot, alpha=alpha,
                       random_state=random_state, label=label, ax=ax, propensity=propensity, cluster=cluster)


def plot_uplift_curve(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, perfect: bool = True, random: bool = True,
    n_boot: int = 0, alpha: float = 0.05, random_state: Any = None, label: str = "model",
    ax: Axes | None = None, propensity: Any = None, cluster: Any = None,
) -> Axes:
    """Uplift curve of a model with the random line, the perfect curve and optionally a bootstrap band.

    Parameters as in :func:`plot_qini_curve`; the perfect uplift curve needs a binary outcome (pass
    ``perfect=False`` for a continuous one).
    """
    return _plot_curve("uplift", y_true, uplift, treatment, perfect=perfect, random=random,
                       negative_effect=True, n_boot=n_boot, alpha=alpha, random_state=random_state,
                       label=label, ax=ax, propensity=propensity, cluster=cluster)


def plot_uplift_by_percentile(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, strategy: str = "overall", bins: int = 10,
    alpha: float = 0.05, ax: Axes | None = None, propensity: Any = None, cluster: Any = None,
) -> Axes:
    """Bars per bin of predicted uplift: treated rate, control rate and their difference, with error bars.

    Bins and rates are those of :func:`upliftree.metrics.uplift_by_percentile`; error bars are normal
    approximation intervals (``z * std``) with coverage ``1 - alpha``. Empty bins are left blank. With
    ``propensity`` and ``cluster`` the rates are weighted and the standard errors design-based, as the table's.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy import special

    alpha = check_alpha(alpha)
    table = metrics.uplift_by_percentile(y_true, uplift, treatment, strategy=strategy, bins=bins, std=True,
                                         propensity=propensity, cluster=cluster)
    z = special.ndtri(1 - alpha / 2)
    ax = _new_axes(ax, figsize=(max(7.0, 0.7 * len(table)), 4.5))
    positions = np.arange(len(table))
    width = 0.27
    bars = (
        ("response_rate_treatment", "std_treatment", "treated", _TREATED_COLOR),
        ("response_rate_control", "std_control", "control", _CONTROL_COLOR),
        ("uplift", "std_uplift", "uplift", _MODEL_COLOR),
    )
    for offset, (column, std_column, label, color) in zip((-width, 0.0, width), bars, strict=True):
        ax.bar(positions + offset, table[column].to_numpy(), width, yerr=z * table[std_column].to_numpy(),
               color=color, label=label, capsize=3, error_kw={"linewidth": 1})
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(positions, [str(label) for label in table.index])
    ax.set(title=f"Outcome by percentile of predicted uplift ({1 - alpha:.0%} intervals)",
           xlabel="Percentile of predicted uplift (highest first)",
           ylabel="Outcome rate" if is_binary(np.asarray(y_true, dtype=np.float64)) else "Mean outcome")
    axis_thousands(ax, "y")
    ax.legend(loc="best", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_calibration(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, *, bins: int = 10, alpha: float = 0.05,
    ax: Axes | None = None, propensity: Any = None, cluster: Any = None,
) -> Axes:
    """Observed vs predicted uplift per bin of predicted uplift, with confidence intervals.

    Points and intervals are those of :func:`upliftree.metrics.calibration_table`; a well calibrated
    model's points lie on the diagonal. With ``propensity`` and ``cluster`` the observed uplift is weighted
    and the intervals design-based, as the table's.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = metrics.calibration_table(y_true, uplift, treatment, bins=bins, alpha=alpha, propensity=propensity,
                                      cluster=cluster)
    ax = _new_axes(ax, figsize=(5.5, 5.0))
    predicted, observed, low, high = (
        table[column].to_numpy(dtype=np.float64)
        for column in ("predicted_uplift", "observed_uplift", "ci_low", "ci_high")
    )
    ax.errorbar(predicted, observed, yerr=np.vstack([observed - low, high - observed]), fmt="o",
                color=_MODEL_COLOR, capsize=3, label=f"bins ({1 - alpha:.0%} intervals)")
    limits = np.array([np.nanmin(np.r_[predicted, low]), np.nanmax(np.r_[predicted, high])])
    ax.plot(limits, limits, color=_RANDOM_COLOR, linestyle="--", linewidth=1, label="perfect calibration")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set(title="Uplift calibration", xlabel="Predicted uplift (bin mean)",
           ylabel="Observed uplift (treated - control)")
    axis_thousands(ax)
    ax.legend(loc="best", frameon=False)
    ax.grid(alpha=0.3)
    return ax


def plot_metrics_by_group(table: Any, *, metrics_shown: tuple[str, ...] = ("average_effect", "uplift_at_k", "qini"),
                          ax: Any = None) -> Any:
    """Each group's metrics with their intervals, from :func:`upliftree.metrics.qini_by_group`: one panel per
    metric, groups along the x-axis in their order (time periods left to right).

    Parameters
    ----------
    table : DataFrame
        The table of :func:`upliftree.metrics.qini_by_group` (columns ``group``, ``<metric>``, ``<metric>_low``,
        ``<metric>_high``).
    metrics_shown : tuple of str
        Among ``"average_effect"``, ``"uplift_at_k"``, ``"qini"``.
    ax : sequence of Axes, optional
        One per metric; by default a new figure with the panels side by side.

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    titles = {"average_effect": "Average effect", "uplift_at_k": "Uplift among the top k", "qini": "Qini coefficient"}
    for name in metrics_shown:
        if name not in titles:
            raise ValueError(f"metrics_shown: {name!r} is not one of {list(titles)}")
        missing = [column for column in (name, f"{name}_low", f"{name}_high") if column not in table.columns]
        if missing or "group" not in table.columns:
            raise ValueError(f"table must be a qini_by_group table; it has no column(s) {missing or ['group']}")
    if ax is None:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(4.2 * len(metrics_shown), 3.8), layout="constrained")
        axes = list(np.atleast_1d(figure.subplots(1, len(metrics_shown))))
    else:
        axes = list(np.atleast_1d(ax))
        if len(axes) != len(metrics_shown):
            raise ValueError(f"ax must hold {len(metrics_shown)} Axes, one per metric, got {len(axes)}")
    positions = np.arange(len(table))
    names = [str(group) for group in table["group"]]
    for axis, name in zip(axes, metrics_shown, strict=True):
        value, low, high = (table[column].to_numpy(dtype=np.float64) for column in (name, f"{name}_low",
                                                                                   f"{name}_high"))
        with np.errstate(invalid="ignore"):
            errors = np.vstack([value - low, high - value])
        axis.errorbar(positions, value, yerr=np.nan_to_num(errors), fmt="o", color=_MODEL_COLOR, capsize=3)
        axis.axhline(0, color="black", linewidth=0.6)
        axis.set_xticks(positions, names, rotation=30 if max(map(len, names)) > 6 else 0, ha="right")
        axis.set(title=titles[name])
        axis.grid(alpha=0.3)
    return axes
