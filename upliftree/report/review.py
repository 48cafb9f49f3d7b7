"""Report stage 6: the checklist: columns recorded after treatment, covariate balance, whether the tree beats
random, whether segments replicate on held-out rows, and the pitfalls visible in its segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._format import fixed
from .._validation import FeatureSchema
from .checks import Check, balance_check, covariate_balance, segment_checks
from .evaluation import Evaluation
from .leakage import leakage_check
from .settings import Progress
from .split import SplitRows

__all__ = ["Checks", "model_checks", "replication_check", "run_checks"]


def model_checks(scores: dict[str, pd.DataFrame], model_name: str) -> list[Check]:
    """Whether ``model_name``'s held-out Qini interval (per treatment label in ``scores``) is above 0."""
    checks = []
    for label, table in scores.items():
        tree = table.set_index("model").loc[model_name]
        name = "" if len(scores) == 1 else f" ({label})"
        interval = f"({fixed(tree['qini_low'], 3)}, {fixed(tree['qini_high'], 3)})"
        if np.isfinite(tree["qini_low"]) and tree["qini_low"] > 0:
            checks.append(Check("ok", f"The tree ranks better than random on held-out rows{name}",
                                f"Qini coefficient {fixed(tree['qini'], 3)}, interval {interval} above 0."))
        else:
            checks.append(Check("warning", f"The tree is not clearly better than random{name}",
                                f"Its held-out Qini interval {interval} includes 0: do not target on its "
                                "segments alone."))
    return checks


def replication_check(sheet: pd.DataFrame, labels: list[str]) -> Check:
    """Segments whose held-out interval excludes 0 on the other side of the estimate do not replicate."""
    failing = set()
    for label in labels[1:]:
        suffix = "" if len(labels) == 2 else f"_{label}"
        estimate = sheet[f"uplift{suffix}"]
        flipped = ((estimate > 0) & (sheet[f"held_out_ci_high{suffix}"] < 0)) | (
            (estimate < 0) & (sheet[f"held_out_ci_low{suffix}"] > 0))
        failing |= set(sheet.loc[flipped, "leaf_id"].astype(int))
    if failing:
        return Check("warning", "Some segments do not replicate",
                     f"On held-out rows, segment(s) {sorted(failing)} show a significant effect of the opposite sign.")
    return Check("ok", "Segments replicate on held-out rows",
                 "No segment's held-out effect is significantly of the opposite sign to its estimate.")


@dataclass(frozen=True)
class Checks:
    """The checklist, and the covariate balance table it read."""

    checks: list[Check]
    balance: pd.DataFrame

    @property
    def n_warnings(self) -> int:
        return sum(check.level == "warning" for check in self.checks)

    @property
    def n_failed(self) -> int:
        return sum(check.level == "failed" for check in self.checks)


def run_checks(split: SplitRows, schema: FeatureSchema, evaluation: Evaluation, sheet: pd.DataFrame,
               model_name: str, progress: Progress) -> Checks:
    """Every check of the report, in the order it lists them.

    ``sheet`` is the tree's rule sheet with held-out columns, ``model_name`` the tree's name in the score
    tables.
    """
    experiment, labels = split.experiment, split.labels
    with progress("Checking balance and pitfalls"):
        balance = covariate_balance(experiment.X, experiment.treatment, experiment.arms, schema,
                                    propensity=experiment.propensity)
        checks = [split.design, leakage_check(split.screen), balance_check(balance),
                  *model_checks(evaluation.scores, model_name),
                  replication_check(sheet, labels), *segment_checks(sheet, labels, labels[1:])]
        if not any(effect["low"] > 0 or effect["high"] < 0 for effect in evaluation.effects):
            checks.append(Check("info", "The average effect is not significant",
                                "Treating everyone does not clearly change the outcome; segments may still "
                                "respond in opposite directions."))
    return Checks(checks, balance)
