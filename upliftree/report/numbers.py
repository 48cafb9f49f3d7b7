"""Report stage 7 (beside the page): every number the report shows, as plain JSON for scripts (``report.json``).

The schema is documented in ``docs/cli.md`` ("report.json"); numbers are the unrounded values the page
formats, NaN and infinities become ``null``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .decision import Decision
from .evaluation import Evaluation
from .exports import Exports
from .review import Checks
from .settings import ReportSettings
from .split import SplitRows

__all__ = ["SCHEMA_VERSION", "report_numbers", "write_numbers"]

SCHEMA_VERSION = 1


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and non-finite floats as None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [_plain(record) for record in table.to_dict("records")]


def report_numbers(settings: ReportSettings, split: SplitRows, evaluation: Evaluation, decision: Decision | None,
                   exports: Exports, checks: Checks, observational: Any = None) -> dict[str, Any]:
    """The content of ``report.json``: design, per-arm effects, model scores, deciles, segments, policy
    values and checks; with ``observational`` (:class:`upliftree.report.overlap.Observational`) the estimated
    propensities' overlap and quantiles (``"propensity"``)."""
    experiment = split.experiment
    policy = None
    if decision is not None:
        value = decision.value.reset_index()
        comparison = decision.comparison
        policy = {"estimator": decision.value.attrs.get("estimator"), "rows": _records(value),
                  "verdict": comparison.verdict, "best_alternative": comparison.best,
                  "recommendation": comparison.recommendation, "headline": comparison.headline()}
    return _plain({
        "schema_version": SCHEMA_VERSION,
        "source": experiment.source,
        "outcome": {"column": experiment.outcome_column, "binary": experiment.binary},
        "treatment_column": experiment.treatment_column,
        "arms": split.labels,
        "design": {"propensity": experiment.design.get("propensity"), "cluster": experiment.design.get("cluster")},
        "n_rows": experiment.n_rows, "n_train": split.train.n_rows, "n_test": split.test.n_rows,
        "alpha": settings.alpha,
        "settings": asdict(settings),
        "effects": evaluation.effects,
        "scores": {label: _records(table) for label, table in evaluation.scores.items()},
        "deciles": {label: _records(table) for label, table in evaluation.deciles.items()},
        "segments": _records(exports.sheet),
        "policy": policy,
        "checks": [asdict(check) for check in checks.checks],
        "propensity": None if observational is None else observational.numbers(),
    })


def search_numbers(search: Any) -> dict[str, Any] | None:
    """``report.json``'s ``search``: the tree settings search (budget, candidates tried of how many, whether
    the budget stopped it, and every tried candidate's cross-validated score in the grid's order); None when
    no search ran."""
    if search is None:
        return None
    return _plain({"time_budget": search.time_budget, "folds": search.n_splits_, "elapsed": search.elapsed_,
                   "n_candidates": search.n_candidates_, "n_tried": search.n_candidates_tried_,
                   "stopped_early": search.stopped_early_, "best_params": search.best_params_,
                   "candidates": _records(search.results_)})


def write_numbers(numbers: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(numbers, indent=1, allow_nan=False), encoding="utf-8")
