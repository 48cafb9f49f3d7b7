"""Report stage 5: write the files: figures, the model, rule sheets, segments, the drawing, SQL, eligibility."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._base import BINARY
from .._tree_arrays import estimated
from .._validation import inverse_probability_weights
from ..dr_tree import DRUpliftTree
from ..export.dot import graphviz_available
from ..export.dot import plot as plot_tree
from ..learners import DRScores, doubly_robust_scores
from ..monitor import record_training_profile
from ..segments import node_effects
from ..tree import ExperimentData
from .baseline import arm_shares
from .decision import Decision
from .evaluation import Evaluation
from .experiment import Experiment
from .fitting import FittedModels
from .settings import Progress, ReportSettings
from .split import SplitRows

__all__ = ["FIGURE_DPI", "RENDERER_NAMES", "Exports", "export_files", "held_out_effects", "held_out_scores"]

FIGURE_DPI = 110
RENDERER_NAMES = {"graphviz": "Graphviz (dot)", "matplotlib": "matplotlib (Graphviz's dot program was not found)"}


@dataclass(frozen=True)
class Exports:
    """The files written (name -> path), the rule sheet with each segment's held-out uplift, and which
    renderer drew ``tree.svg`` (``"graphviz"`` or ``"matplotlib"``)."""

    files: dict[str, Path]
    sheet: pd.DataFrame
    tree_renderer: str


def held_out_scores(tree: DRUpliftTree, test: Experiment) -> DRScores:
    """Doubly robust scores of the held-out rows for a DR tree's held-out check: its own nuisance settings
    (base models, folds, clip, seed) cross-fitted on those rows, with their design; without a propensity, the
    report's reading of a randomized experiment (each arm's share of the rows, as the learners get)."""
    arms = list(tree.treatments_)
    propensity = test.propensity if test.propensity is not None else arm_shares(test.treatment, arms)
    return doubly_robust_scores(test.X, test.treatment, test.y, propensity=propensity, cluster=test.cluster,
                                control=arms[0], outcome=tree.outcome_type_, outcome_model=tree.outcome_model,
                                propensity_model=tree.propensity_model, cv=tree.cv,
                                propensity_clip=tree.propensity_clip, random_state=tree.random_state,
                                n_jobs=tree.n_jobs)


def held_out_effects(tree: Any, test: Experiment, alpha: float) -> Any:
    """Per-node effects of the tree computed from the held-out rows (does each segment replicate?), with the
    experiment's design weights and design-based intervals when it has a design.

    A :class:`upliftree.DRUpliftTree` is estimated as it estimates itself, by the mean doubly robust scores of
    the rows in each node (:func:`held_out_scores`, :meth:`~upliftree.DRUpliftTree.estimate_nodes`), not by
    the arms' raw means, which confounding biases."""
    if isinstance(tree, DRUpliftTree):
        return node_effects(tree.estimate_nodes(test.X, held_out_scores(tree, test)),
                            tree.outcome_type_ == BINARY, alpha)
    weight = np.ones(test.n_rows)
    if test.propensity is not None:
        weight = inverse_probability_weights(weight, test.propensity)
    rows = ExperimentData(tree.fitted_state_.inputs.encode(test.X), tree.arm_index(test.treatment), test.y, weight,
                          test.cluster, test.has_design)
    return node_effects(estimated(tree.tree_, rows), tree.outcome_type_ == BINARY, alpha)


def _segment_frames(tree: Any, test: Experiment, settings: ReportSettings, decision: Decision | None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule sheet (with held-out uplift) and the segment table for segments.csv."""
    actions = {} if decision is None else {"leaf_actions": decision.leaf_actions, "leaf_values": decision.leaf_values}
    sheet = tree.rules("frame", alpha=settings.alpha, **actions)
    held_out = held_out_effects(tree, test, settings.alpha)
    labels = [str(label) for label in tree.treatments_]
    leaves = sheet["leaf_id"].to_numpy()
    segments = tree.segments(settings.alpha)
    several = len(labels) > 2
    for arm, label in enumerate(labels[1:]):
        suffix = "" if not several else f"_{label}"
        for name in ("uplift", "ci_low", "ci_high"):
            sheet[f"held_out_{name}{suffix}"] = getattr(held_out, name)[leaves, arm]
        rows = segments["treatment"] == label if several else np.ones(len(segments), dtype=bool)
        segment_leaves = segments.loc[rows, "leaf_id"].to_numpy()
        for name in ("uplift", "ci_low", "ci_high"):
            segments.loc[rows, f"held_out_{name}"] = getattr(held_out, name)[segment_leaves, arm]
    for arm, label in enumerate(labels):
        sheet[f"held_out_n_{label}"] = held_out.count[leaves, arm].astype(np.int64)
    return sheet, segments


def export_files(split: SplitRows, models: FittedModels, evaluation: Evaluation, decision: Decision | None,
                 settings: ReportSettings, out_dir: Path, progress: Progress) -> Exports:
    """Write every file of :data:`upliftree.report.ARTIFACTS` but report.html into ``out_dir``."""
    files: dict[str, Path] = {}
    with progress("Writing the figures"):
        for name, figure in evaluation.figures.items():
            figure.savefig(out_dir / name, dpi=FIGURE_DPI)
            files[name] = out_dir / name
    tree = models.tree
    with progress("Exporting the tree: JSON model, rule sheets, drawing, SQL"):
        sheet, segments = _segment_frames(tree, split.test, settings, decision)
        record_training_profile(tree, split.train.X, None if decision is None else decision.policy)
        tree.save(out_dir / "model.json")
        files["model.json"] = out_dir / "model.json"
        rules_kwargs: dict[str, Any] = {"alpha": settings.alpha}
        if decision is not None:
            rules_kwargs.update(leaf_actions=decision.leaf_actions, leaf_values=decision.leaf_values)
        (out_dir / "rules.md").write_text(tree.rules("markdown", **rules_kwargs), encoding="utf-8")
        (out_dir / "rules.csv").write_text(tree.rules("csv", **rules_kwargs), encoding="utf-8")
        segments.to_csv(out_dir / "segments.csv", index=False)
        sql = tree.to_sql(settings.sql_table, dialect=settings.sql_dialect,
                          leaf_actions=None if decision is None else decision.leaf_actions)
        (out_dir / "scoring.sql").write_text(sql, encoding="utf-8")
        files.update({name: out_dir / name for name in ("rules.md", "rules.csv", "segments.csv", "scoring.sql")})
        # Left to right: deep trees with long rules keep a readable aspect. Without Graphviz, matplotlib.
        renderer = "graphviz" if graphviz_available() else "matplotlib"
        plot_tree(tree, out_dir / "tree.svg", format="svg", alpha=settings.alpha, rankdir="LR", renderer=renderer)
        files["tree.svg"] = out_dir / "tree.svg"
    if decision is not None:
        decision.eligibility.to_csv(out_dir / "eligibility.csv", index=False, float_format="%.6g")
        files["eligibility.csv"] = out_dir / "eligibility.csv"
    return Exports(files, sheet, renderer)
