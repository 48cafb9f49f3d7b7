"""The one-command report, in stages that each take and return typed values:

1. :func:`~upliftree.report.split.split_rows`: screen the features, hold out rows (:class:`SplitRows`);
2. :func:`~upliftree.report.fitting.fit_models`: the honest tree, the forest, the learners (:class:`FittedModels`);
3. :func:`~upliftree.report.evaluation.evaluate_models`: held-out scores, deciles, figures, average effects
   (:class:`Evaluation`); with a time split, :func:`~upliftree.report.stability.evaluate_stability`: the
   held-out periods' metrics and decay checks (:class:`Stability`);
4. :func:`~upliftree.report.decision.decide`: with a benefit, the policy and its value (:class:`Decision`);
5. :func:`~upliftree.report.exports.export_files`: model, rule sheets, drawing, SQL, figures (:class:`Exports`);
6. :func:`~upliftree.report.review.run_checks`: the checklist (:class:`Checks`);
7. :func:`~upliftree.report.context.report_context` and :func:`~upliftree.report.render.render_html`: the page;
   :func:`~upliftree.report.numbers.report_numbers`: every number it shows, for ``report.json``.

A new design (propensities, clusters), another learner or another policy comparison changes one stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..export.sheets import outcome_format
from .checks import Check
from .context import ARTIFACTS, report_context
from .decision import decide
from .evaluation import TREE, evaluate_models
from .experiment import Experiment
from .exports import FIGURE_DPI, export_files
from .fitting import fit_models
from .leakage import Screen
from .numbers import report_numbers, search_numbers, write_numbers
from .overlap import ESTIMATE, estimate_propensity, feature_dr_tree, save_overlap_figure
from .render import render_html
from .review import run_checks
from .settings import Progress, ReportSettings, no_progress
from .split import split_rows
from .stability import evaluate_stability, save_stability_figure, stability_context, stability_numbers

__all__ = ["ARTIFACTS", "Report", "ReportSettings", "make_report"]


@dataclass
class Report:
    """What :func:`make_report` made: the files, the fitted models (``learners`` by label, e.g. ``"DR-learner"``)
    and the held-out scores."""

    out_dir: Path
    html: Path
    files: dict[str, Path]
    tree: Any
    forest: Any
    learners: dict[str, Any]
    scores: dict[str, pd.DataFrame]
    checks: list[Check] = field(default_factory=list)
    screen: Screen | None = None


def make_report(experiment: Experiment, out_dir: str | Path, settings: ReportSettings | None = None, *,
                ids: Any = None, progress: Progress | None = None) -> Report:
    """Fit, evaluate and export everything about one experiment, and write ``out_dir/report.html``.

    Rows are split (stratified by arm and, for a binary outcome, outcome) into training rows and
    ``settings.test_size`` held-out rows. On the training rows: an honest uplift tree, an uplift forest and the
    meta-learners of ``settings.learners`` (default T and DR). On the held-out rows: Qini and uplift curves with
    bootstrap bands, Qini coefficient and uplift AUC (with intervals) and uplift at 10/20/30% of every model; the decile
    table of the forest; each segment's held-out uplift. With ``settings.benefit`` a :class:`Policy` on the
    tree gives actions, the eligibility list and the policy's held-out value. Files: :data:`ARTIFACTS`.

    With ``settings.propensity="estimate"`` (observational data) the propensity is estimated, cross-fitted,
    and used as the design of every weighted number, the featured tree is a :class:`upliftree.DRUpliftTree`
    and an Overlap section shows the propensities per arm (:mod:`upliftree.report.overlap`).

    First the features are screened for columns recorded after treatment
    (:func:`~upliftree.report.leakage.screen_experiment`): flagged columns fail a check, and are left out
    unless the experiment's features were listed by name.

    Parameters
    ----------
    experiment : Experiment
        From :func:`upliftree.report.experiment_from_frame`.
    out_dir : path
        Created if needed; existing files of the same names are replaced.
    settings : ReportSettings, optional
    ids : None, str or array
        Identifiers for the eligibility list (default: row numbers).
    progress : callable, optional
        ``progress(description)`` returns a context manager around each long step (the CLI shows a spinner).
    """
    settings = settings or ReportSettings()
    settings.check()
    if settings.propensity == ESTIMATE and experiment.propensity is not None:
        raise ValueError("propensity: the experiment comes with its propensity (its design); 'estimate' is for "
                         "observational data without one")
    progress = progress or no_progress
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    if settings.propensity == ESTIMATE:  # marked before the feature screen, which then keeps confounders
        experiment = replace(experiment, design={**experiment.design, "propensity": ESTIMATE})
    split = split_rows(experiment, settings, progress)
    observational = None
    if settings.propensity == ESTIMATE:  # observational data: estimated propensities as the design
        split, observational = estimate_propensity(split, settings, progress)
    models = fit_models(split, settings, progress)
    if observational is not None:
        models = feature_dr_tree(models, split, settings, progress)
    evaluation = evaluate_models(split, models, settings, progress)
    stability = evaluate_stability(split, models, settings, progress)
    decision = decide(split, models, settings, ids, progress)
    exports = export_files(split, models, evaluation, decision, settings, out_dir, progress)
    if observational is not None:
        exports = replace(exports, files={**exports.files, "propensity.png": save_overlap_figure(
            observational, out_dir / "propensity.png", FIGURE_DPI)})
    checks = run_checks(split, models.tree.schema_, evaluation, exports.sheet, TREE, progress)
    stability_files = save_stability_figure(stability, out_dir, FIGURE_DPI)

    html = out_dir / "report.html"
    with progress("Writing report.html"):
        context = report_context(settings, split, models, evaluation, decision, exports, checks,
                                 time.perf_counter() - started, observational=observational)
        context["stability"] = stability_context(stability, outcome_format(models.tree), stability_files)
        html.write_text(render_html(context), encoding="utf-8")
        numbers = report_numbers(settings, split, evaluation, decision, exports, checks,
                                 observational=observational)
        numbers["stability"] = stability_numbers(stability)
        numbers["search"] = search_numbers(models.search)
        write_numbers(numbers, out_dir / "report.json")
    files = {"report.html": html, "report.json": out_dir / "report.json", **exports.files, **stability_files}
    return Report(out_dir, html, files, models.tree, models.forest, models.learners, evaluation.scores,
                  checks.checks, split.screen)
