"""Report stage 3b (with a time split): the held-out metrics per period, and whether the effect decayed.

On the held-out rows (the later ones, :func:`upliftree.report.split.time_holdout`), for each treatment against
control: the average effect, the forest's uplift at 30% and its Qini coefficient per period with their intervals
(:func:`upliftree.metrics.qini_by_group`), and the decay test of :func:`upliftree.monitor.effect_report`
(the first held-out period is the reference), all with the experiment's design.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._format import OutcomeFormat, count, fixed, interval
from .._validation import arm_codes
from ..metrics import qini_by_group
from ..monitor import effect_report
from ..plot import plot_metrics_by_group
from .evaluation import design_of
from .fitting import FittedModels
from .settings import Progress, ReportSettings
from .split import SplitRows

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["STABILITY_FIGURE", "STABILITY_TOP_SHARE", "Stability", "evaluate_stability", "stability_context",
           "save_stability_figure", "stability_numbers"]

STABILITY_TOP_SHARE = 0.3
STABILITY_FIGURE = "stability.png"


@dataclass(frozen=True)
class Stability:
    """Per treatment label: the per-period table (:data:`upliftree.metrics.groups.GROUP_COLUMNS`) and the decay
    checks (:data:`upliftree.monitor.EFFECT_COLUMNS`); the figure of the first treatment."""

    time_column: str
    time_cut: str
    tables: dict[str, pd.DataFrame]
    checks: dict[str, pd.DataFrame]
    figure: Figure


def evaluate_stability(split: SplitRows, models: FittedModels, settings: ReportSettings,
                       progress: Progress) -> Stability | None:
    """The held-out metrics per period and the decay checks; None without a time split."""
    if split.test_periods is None or settings.time is None:
        return None
    test = split.test
    tables, checks = {}, {}
    with progress("Evaluating the held-out periods"):
        forest = models.forest.predict(test.X)
        forest = forest[:, None] if forest.ndim == 1 else forest
        arm = arm_codes(test.treatment, tuple(split.experiment.arms))
        for code, label in enumerate(split.labels[1:], start=1):
            rows = (arm == code) | (arm == 0)
            treated = (arm[rows] == code).astype(np.int64)
            design = design_of(test, rows)
            periods = split.test_periods[rows]
            tables[label] = qini_by_group(test.y[rows], forest[rows, code - 1], treated, periods,
                                          k=STABILITY_TOP_SHARE, n_boot=settings.n_boot, alpha=settings.alpha,
                                          random_state=settings.seed, **design)
            if len(np.unique(periods)) >= 2:
                checks[label] = effect_report(test.y[rows], treated, periods, uplift=forest[rows, code - 1],
                                              k=STABILITY_TOP_SHARE, alpha=settings.alpha, n_boot=0, **design)
        first = tables[split.labels[1]]
        axes = plot_metrics_by_group(first)
        axes[0].figure.suptitle(f"Held-out periods by {settings.time} ({split.labels[1]} vs control, "
                                f"{1 - settings.alpha:.0%} intervals)")
    return Stability(settings.time, split.time_cut or "", tables, checks, axes[0].figure)


def stability_numbers(stability: Stability | None) -> Any:
    """``report.json``'s ``stability``: the per-period tables and decay checks as records (None without)."""
    if stability is None:
        return None
    return {"time_column": stability.time_column, "time_cut": stability.time_cut,
            "periods": {label: _records(table) for label, table in stability.tables.items()},
            "checks": {label: _records(table) for label, table in stability.checks.items()}}


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values (NaN as null), the way report.json holds tables."""
    return json.loads(table.astype({"group" if "group" in table else "period": str}).to_json(orient="records"))


def save_stability_figure(stability: Stability | None, out_dir: Path, dpi: int) -> dict[str, Path]:
    """Write :data:`STABILITY_FIGURE` into ``out_dir``; the files written, by name."""
    if stability is None:
        return {}
    path = out_dir / STABILITY_FIGURE
    stability.figure.savefig(path, dpi=dpi)
    return {STABILITY_FIGURE: path}


def _check_text(check: str, name: str) -> str:
    return {"effect": "the average effect", "uplift_at_k": f"the uplift among the {name}"}.get(check, f"segment {name}")


def stability_context(stability: Stability | None, numbers: OutcomeFormat, files: dict[str, Path]) -> Any:
    """The template's ``stability`` (None without a time split): per treatment the periods' rows as text and
    the flagged decay checks, and the figure (from ``files``) as a data URI."""
    if stability is None:
        return None
    image = "data:image/png;base64," + base64.b64encode(files[STABILITY_FIGURE].read_bytes()).decode("ascii")
    panels = []
    for label, table in stability.tables.items():
        rows = [{"period": str(entry["group"]), "n": f"{count(entry['n_treatment'])} / {count(entry['n_control'])}",
                 "effect": numbers.effect(entry["average_effect"], entry["average_effect_low"],
                                          entry["average_effect_high"]),
                 "top": numbers.effect(entry["uplift_at_k"], entry["uplift_at_k_low"], entry["uplift_at_k_high"]),
                 "qini": f"{fixed(entry['qini'], 3)} {interval(entry['qini_low'], entry['qini_high'], 3)}".strip()}
                for entry in table.to_dict("records")]
        checks = stability.checks.get(label)
        flagged = [] if checks is None else [
            f"{entry['period']}: {_check_text(entry['check'], entry['name'])} fell from "
            f"{numbers.effect(entry['reference'])} to {numbers.effect(entry['estimate'])} "
            f"(z = {entry['z']:.2f} > {entry['threshold']:.2f})"
            for entry in checks[checks["flagged"]].to_dict("records")]
        reference = None if checks is None else str(checks["period"].iloc[0])
        panels.append({"label": label, "rows": rows, "flagged": flagged, "reference": reference,
                       "tested": checks is not None})
    return {"time_column": stability.time_column, "time_cut": stability.time_cut, "panels": panels,
            "top_share": f"{STABILITY_TOP_SHARE:.0%}", "image": image}
