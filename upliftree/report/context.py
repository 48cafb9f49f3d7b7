"""Report stage 7 (first half): everything the template shows, as text for people (:mod:`upliftree._format`).

Outcome levels and effects print with :func:`upliftree.export.sheets.outcome_format` of the report's tree,
so the summary, the tables, the tree and the rule sheets agree to the digit.
"""

from __future__ import annotations

import base64
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._format import (
    OutcomeFormat,
    count,
    decimals_for,
    fixed,
    interval,
    interval_label,
    p_value,
    percent,
    significant,
)
from .._validation import arm_codes, inverse_probability_weights
from ..design import arm_mean_moments, one_node_moments
from ..dr_tree import DRUpliftTree
from ..export.drawing import tree_drawing
from ..export.sheets import outcome_format
from ..policy.evaluation import describe_alternative
from ..rules import missing_note
from .baseline import LEARNERS, learner_description
from .checks import SMD_WARNING
from .decision import Decision
from .evaluation import RANDOM, TOP_SHARES, Evaluation
from .experiment import Experiment
from .exports import RENDERER_NAMES, Exports
from .fitting import FittedModels
from .overlap import IPW_TREE, PROPENSITY_FOLDS, PROPENSITY_QUANTILES, UNCONFOUNDED, Observational
from .review import Checks
from .settings import ReportSettings
from .split import SplitRows
from .tree_view import arm_cells, tree_view

__all__ = ["ARTIFACTS", "arm_outcomes", "report_context"]

# File written -> what it holds (the report lists them; eligibility.csv only with a policy, propensity.png only
# with propensity="estimate").
ARTIFACTS = {
    "report.html": "this report, one self-contained file",
    "report.json": "every number of this report, for scripts (schema in docs/cli.md)",
    "model.json": "the honest tree of the report (upliftree.load / upliftree score), with its training profile",
    "tree.svg": "the tree drawing at full size",
    "rules.md": "segment rule sheet, Markdown",
    "rules.csv": "segment rule sheet, CSV",
    "segments.csv": "segments with estimation and held-out uplift, intervals and p-values",
    "qini.png": "Qini curves with bootstrap bands",
    "uplift.png": "uplift curves with bootstrap bands",
    "deciles.png": "held-out outcome by decile of the forest's predicted uplift",
    "propensity.png": "estimated propensities per arm (--propensity estimate)",
    "eligibility.csv": "who gets which treatment under the policy",
    "scoring.sql": "SQL query that scores rows in a database like the tree",
}
QINI_DECIMALS = 3  # Qini coefficients and uplift AUC are between -1 and 1: three decimals throughout
SMD_DECIMALS = 3


def _verdict(low: float, high: float) -> str:
    return "treat" if low > 0 else ("do not disturb" if high < 0 else "no clear effect")


def _effect_cards(evaluation: Evaluation, numbers: OutcomeFormat) -> list[dict[str, Any]]:
    return [{"label": effect["label"], "n_rows": count(effect["n_rows"]), "low": effect["low"],
             "high": effect["high"], "headline": numbers.effect(effect["effect"]),
             "interval": numbers.interval(effect["low"], effect["high"]) or "n/a",
             "p_text": p_value(effect["p_value"]), "significant": effect["low"] > 0 or effect["high"] < 0,
             "design": effect["design"]}
            for effect in evaluation.effects]


def _segment_rows(sheet: pd.DataFrame, labels: list[str], numbers: OutcomeFormat,
                  decision: Decision | None) -> list[dict[str, Any]]:
    """Rule sheet rows as the template shows them (formatted numbers, a verdict per treatment)."""
    outcome = "rate" if numbers.binary else "mean"
    net_decimals = None if decision is None else decimals_for(sheet["net_value"], 3)
    rows = []
    for entry in sheet.to_dict("records"):
        row: dict[str, Any] = {
            "leaf_id": int(entry["leaf_id"]), "rule": entry["rule"], "share": percent(entry["share"]),
            "arms": arm_cells(labels, [entry[f"n_{label}"] for label in labels],
                              [entry[f"{outcome}_{label}"] for label in labels], numbers),
            "effects": []}
        for label in labels[1:]:
            suffix = "" if len(labels) == 2 else f"_{label}"
            low, high = entry[f"ci_low{suffix}"], entry[f"ci_high{suffix}"]
            row["effects"].append({
                "uplift": entry[f"uplift{suffix}"], "headline": numbers.effect(entry[f"uplift{suffix}"]),
                "interval": numbers.interval(low, high),
                "held_out": numbers.effect(entry[f"held_out_uplift{suffix}"]),
                "held_out_interval": numbers.interval(entry[f"held_out_ci_low{suffix}"],
                                                      entry[f"held_out_ci_high{suffix}"]),
                "verdict": _verdict(low, high),
            })
        # The summary cards show a segment's largest (most responsive) and smallest effect, with its treatment.
        order = np.argsort([np.nan_to_num(effect["uplift"], nan=-np.inf) for effect in row["effects"]], kind="stable")
        row["top"] = {"treatment": labels[1 + order[-1]], **row["effects"][order[-1]]}
        row["bottom"] = {"treatment": labels[1 + order[0]], **row["effects"][order[0]]}
        if decision is not None:
            row["treat"] = str(entry["action"]) != labels[0]
            row["action"] = str(entry["action"]) if row["treat"] else "no action"
            row["net_value"] = fixed(entry["net_value"], net_decimals, sign=True)
        rows.append(row)
    return rows


def _score_rows(table: pd.DataFrame, numbers: OutcomeFormat) -> list[dict[str, Any]]:
    rows = []
    for entry in table.to_dict("records"):
        qini, auuc = (f"{fixed(entry[key], QINI_DECIMALS)} "
                      f"{interval(entry[f'{key}_low'], entry[f'{key}_high'], QINI_DECIMALS)}".strip()
                      for key in ("qini", "auuc"))
        rows.append({"model": entry["model"], "qini": qini, "auuc": auuc, "random": entry["model"] == RANDOM,
                     "top": [numbers.effect(entry[f"uplift_at_{round(share * 100)}"]) for share in TOP_SHARES]})
    return rows


def _decile_rows(table: pd.DataFrame, numbers: OutcomeFormat) -> list[dict[str, Any]]:
    return [{"bin": int(entry["bin"]), "n": f"{count(entry['n_treatment'])} / {count(entry['n_control'])}",
             "predicted": numbers.effect(entry["predicted_uplift"], entry["predicted_low"], entry["predicted_high"]),
             "treated": numbers.level(entry["response_rate_treatment"]),
             "control": numbers.level(entry["response_rate_control"]),
             "observed": numbers.effect(entry["observed_uplift"], entry["ci_low"], entry["ci_high"]),
             "positive": entry["ci_low"] > 0, "negative": entry["ci_high"] < 0}
            for entry in table.to_dict("records")]


def _balance_rows(balance: pd.DataFrame, arms: list[str]) -> list[dict[str, Any]]:
    return [{"feature": entry["feature"], "level": entry["level"],
             "values": [significant(entry["control"], 3)] + [significant(entry[arm], 3) for arm in arms[1:]],
             "smd": [fixed(entry[f"smd_{arm}"], SMD_DECIMALS, sign=True) for arm in arms[1:]],
             "warn": entry["max_abs_smd"] > SMD_WARNING}
            for entry in balance.to_dict("records")]


def arm_outcomes(experiment: Experiment) -> np.ndarray:
    """Each arm's outcome level (rate or mean), control first: with a propensity the Hajek mean with
    inverse-probability weights (each arm standing for all rows, as the average effects and the trees' nodes
    weigh them: :func:`upliftree.design.arm_mean_moments`), else the arm's plain mean."""
    codes = arm_codes(experiment.treatment, tuple(experiment.arms))
    weight = np.ones(experiment.n_rows)
    if experiment.propensity is not None:
        weight = inverse_probability_weights(weight, experiment.propensity)
    stats, moments = one_node_moments(codes, weight, experiment.y, experiment.cluster, len(experiment.arms))
    return arm_mean_moments(stats, moments)[0][0]


def _arm_rows(split: SplitRows, numbers: OutcomeFormat) -> list[dict[str, Any]]:
    experiment = split.experiment
    codes = arm_codes(experiment.treatment, tuple(experiment.arms))
    levels = arm_outcomes(experiment)
    rows = []
    for code, label in enumerate(split.labels):
        n_rows = int((codes == code).sum())
        rows.append({"label": label, "role": "control" if code == 0 else "treatment", "n": count(n_rows),
                     "share": percent(n_rows / experiment.n_rows), "outcome": numbers.level(float(levels[code]))})
    return rows


def _observational_context(observational: Observational | None) -> dict[str, Any] | None:
    """The Overlap section: the quantile table of the estimated propensities per arm, the counts outside the
    clipping bounds and the rule applied."""
    if observational is None:
        return None
    quantiles = observational.quantiles()
    columns = [f"q{round(100 * q)}" for q in PROPENSITY_QUANTILES]
    rows = [{"treatment": entry["treatment"], "arm": entry["arm"], "n": count(entry["n"]),
             "mean": fixed(entry["mean"], 3), "quantiles": [fixed(entry[name], 3) for name in columns]}
            for entry in quantiles.to_dict("records")]
    overlap = [{"arm": entry["arm"], "n_below": count(entry["n_below"]), "n_above": count(entry["n_above"]),
                "minimum": fixed(entry["minimum"], 4), "maximum": fixed(entry["maximum"], 4),
                "outside": entry["n_below"] + entry["n_above"] > 0}
               for entry in observational.overlap_table().to_dict("records")]
    clip = observational.clip
    return {"quantile_labels": [f"{q:.0%}" for q in PROPENSITY_QUANTILES], "quantiles": rows, "overlap": overlap,
            "clip": f"{clip:g}", "upper": f"{1 - clip:g}", "max_weight": f"{1 / clip:g}", "folds": PROPENSITY_FOLDS,
            "n_outside": count(observational.estimate.overlap.n_outside), "ipw_tree": IPW_TREE,
            "warning": UNCONFOUNDED}


def _policy_context(decision: Decision, settings: ReportSettings, split: SplitRows) -> dict[str, Any]:
    eligibility, value = decision.eligibility, decision.value
    treated = eligibility["policy_arm"].astype(str) != str(split.experiment.control)
    # One precision for every net value of the table and the summary card.
    decimals = decimals_for(value[["net_value", "net_value_low", "net_value_high"]].to_numpy().ravel(), 3)

    def with_interval(entry: pd.Series, name: str) -> str:
        bounds = interval(entry[f"{name}_low"], entry[f"{name}_high"], decimals, sign=True)
        return f"{fixed(entry[name], decimals, sign=True)} {bounds}".strip()

    rows = [{"name": name, "treated": percent(entry["treated_share"]), "net_value": with_interval(entry, "net_value"),
             "gain": "" if name == "policy" else with_interval(entry, "policy_gain"), "is_policy": name == "policy",
             "spend": fixed(entry["spend"], decimals), "feasible": bool(entry["feasible"]),
             "is_best": name == decision.comparison.best}
            for name, entry in value.iterrows()]
    chosen = eligibility.loc[~eligibility["exploration"]]
    return {
        # Settings as they were given (25, 0.5), not rounded.
        "benefit": f"{settings.benefit:,g}", "cost": f"{settings.cost:,g}",
        "budget": None if settings.budget is None else f"{settings.budget:,g}",
        "n_treated": count(treated.sum()), "n_rows": count(split.experiment.n_rows),
        "treated_share": percent(treated.mean()), "total_cost": fixed(chosen["cost"].sum(), 2),
        "total_net_value": fixed(chosen["net_value"].sum(), 2), "explore": settings.explore, "value_rows": rows,
        "estimator": value.attrs.get("estimator", "dr"),
        "net_per_row": fixed(value.loc["policy", "net_value"], decimals, sign=True),
        "verdict": decision.comparison.verdict, "headline": decision.comparison.headline(decimals),
        "best": describe_alternative(decision.comparison.best),
        "best_per_row": fixed(value.loc[decision.comparison.best, "net_value"], decimals, sign=True),
        "best_gain": with_interval(value.loc[decision.comparison.best], "policy_gain"),
    }


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def report_context(settings: ReportSettings, split: SplitRows, models: FittedModels, evaluation: Evaluation,
                   decision: Decision | None, exports: Exports, checks: Checks, elapsed: float, *,
                   observational: Observational | None = None) -> dict[str, Any]:
    """The template's variables (``report.html.j2``) from every stage's output; ``observational``: the
    estimated propensities of ``propensity="estimate"`` (:mod:`upliftree.report.overlap`)."""
    tree, forest, experiment = models.tree, models.forest, split.experiment
    labels = split.labels
    numbers = outcome_format(tree)
    drawing = tree_drawing(tree, settings.alpha)
    n_estimation = int(drawing.effects.count[0].sum())
    root_name = "All estimation rows" if tree.honest_estimates_ else "All training rows"
    return {
        "title": settings.title,
        "description": settings.description,
        "generated": time.strftime("%Y-%m-%d %H:%M"),
        "source": experiment.source,
        "binary": experiment.binary,
        "outcome_kind": "binary" if experiment.binary else "continuous",
        "outcome_column": experiment.outcome_column,
        "treatment_column": experiment.treatment_column,
        "n_rows": count(experiment.n_rows), "n_train": count(split.train.n_rows), "n_test": count(split.test.n_rows),
        "features": list(tree.schema_.names),
        "labels": labels,
        "treatments": labels[1:],
        "arms": _arm_rows(split, numbers),
        "arms_weighted": experiment.propensity is not None,
        "observational": _observational_context(observational),
        "effects": _effect_cards(evaluation, numbers),
        "interval": interval_label(settings.alpha),
        "settings": asdict(settings),
        "tree": {"criterion": getattr(tree, "criterion", "squared error of the doubly robust scores"),
                 "dr": isinstance(tree, DRUpliftTree), "max_depth": tree.max_depth, "depth": tree.depth_,
                 "min_samples_leaf": _leaf_text(tree), "honest_fraction": tree.honest_fraction,
                 "n_leaves": tree.n_leaves_, "honest": bool(tree.honest_estimates_),
                 "n_estimation": count(n_estimation)},
        "forest": {"n_estimators": forest.n_estimators, "max_depth": forest.max_depth,
                   "max_samples": forest.max_samples,
                   "min_samples_leaf": _leaf_text(forest), "max_features": forest.max_features,
                   "bands": forest.ci_group_size >= 2},
        "search": _search_context(models.search, settings),
        "learners": [{"label": LEARNERS[name],
                      "settings": learner_description(name, experiment.propensity is not None,
                                                      observational is not None)}
                     for name in settings.learners],
        "learner_notes": models.learner_notes,
        "scores": {label: _score_rows(table, numbers) for label, table in evaluation.scores.items()},
        "top_shares": [f"{share:.0%}" for share in TOP_SHARES],
        "deciles": {label: _decile_rows(table, numbers) for label, table in evaluation.deciles.items()},
        "images": {name: _data_uri(exports.files[name]) for name in (*evaluation.figures, "propensity.png")
                   if name in exports.files},
        "tree_view": tree_view(drawing, labels, root_name),
        "tree_legend": drawing.legend,
        "tree_renderer": RENDERER_NAMES[exports.tree_renderer],
        "segments": _segment_rows(exports.sheet, labels, numbers, decision),
        "missing_note": missing_note(tree.tree_, tree.schema_),
        "policy": None if decision is None else _policy_context(decision, settings, split),
        "balance": _balance_rows(checks.balance, labels),
        "balance_weighted": bool(checks.balance.attrs.get("weighted")),
        "checks": checks.checks,
        "n_warnings": checks.n_warnings,
        "n_failed": checks.n_failed,
        "excluded": split.screen.excluded,
        "artifacts": [(name, description) for name, description in ARTIFACTS.items()
                      if name in exports.files or name == "report.html"],
        "elapsed": f"{elapsed:.0f} s",
    }


def _leaf_text(model: Any) -> str:
    """``min_samples_leaf`` as fitted: ``"auto" → 1,499`` when the rule chose it."""
    if isinstance(model.min_samples_leaf, str):
        return f"{model.min_samples_leaf} → {count(model.min_samples_leaf_)}"
    return count(model.min_samples_leaf)


def _search_context(search: Any, settings: ReportSettings) -> dict | None:
    """The tree search for the page: budget, candidates tried (of how many), each with its cross-validated
    Qini (mean ± standard error over folds), the winner first."""
    if search is None:
        return None
    table = search.results_.sort_values("rank", kind="stable")
    names = [name for name in table.columns if name in search.best_params_]
    rows = [{"settings": ", ".join(f"{name} {row[name]}" for name in names),
             "score": f"{row['mean']:.4f} ± {row['se']:.4f}", "best": int(row["rank"]) == 1,
             "seconds": f"{row['fit_seconds']:.1f}"} for _, row in table.iterrows()]
    return {"budget": f"{settings.search_seconds:g} s", "n_tried": search.n_candidates_tried_,
            "n_candidates": search.n_candidates_, "stopped_early": search.stopped_early_, "folds": search.n_splits_,
            "elapsed": f"{search.elapsed_:.0f} s", "rows": rows}
