"""Report stage 1b, observational data (``propensity="estimate"``, ``--propensity estimate``): estimate every
row's propensity, use it as the design, feature the DR tree, and describe the overlap.

When the arms were not randomized (or were, with probabilities nobody recorded), the report estimates the
probability of each row's arm with the learners' machinery (:func:`upliftree.learners.cross_fitted_propensity`:
a classifier of the arm on the screened features, out-of-fold on :data:`PROPENSITY_FOLDS` folds stratified by
arm, whole clusters with ``--cluster``; the report's small base model) and clips it by the learners' rule
(each arm's probability to ``[PROPENSITY_CLIP, 1 - PROPENSITY_CLIP]``, rows are kept: docs/learners.md,
"Propensities and overlap"). Every weighted number of the report then uses these propensities exactly as a
given one (trees, forest, learners, scores, deciles, average effects, balance, policy value). The featured
segmentation is :class:`upliftree.DRUpliftTree` (doubly robust: right when either its outcome models or the
propensity are), with the IPW-weighted uplift tree beside it in the model table (:data:`IPW_TREE`).

All rows are cross-fitted together (training and held-out): the propensity model sees no outcome, and every
row's probability comes from a model that did not see that row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._validation import arm_codes
from ..dr_tree import DRUpliftTree
from ..learners import EstimatedPropensity, cross_fitted_propensity
from .baseline import CROSS_FIT_FOLDS, base_models
from .checks import Check
from .experiment import ESTIMATE, Experiment
from .fitting import FittedModels
from .settings import Progress, ReportSettings
from .split import SplitRows

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ESTIMATE", "IPW_TREE", "PROPENSITY_CLIP", "PROPENSITY_FOLDS", "PROPENSITY_QUANTILES",
           "Observational", "estimate_propensity", "feature_dr_tree", "overlap_figure", "propensity_quantiles"]

PROPENSITY_CLIP = 0.01  # the learners' default propensity_clip
PROPENSITY_FOLDS = CROSS_FIT_FOLDS
PROPENSITY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
IPW_TREE = "uplift tree (IPW)"
UNCONFOUNDED = ("These numbers assume no unmeasured confounding: every cause of both the arm and the outcome is "
                "among the features. The estimated propensity removes the confounding of the features only; a "
                "cause left out biases every effect, score and segment here, and nothing in this data can show it.")


@dataclass(frozen=True)
class Observational:
    """The estimated propensities of the report's rows (after the feature screen, in its row order) and what
    the report shows of them."""

    estimate: EstimatedPropensity
    labels: list[str]

    @property
    def clip(self) -> float:
        return self.estimate.overlap.clip

    def overlap_table(self) -> pd.DataFrame:
        """One row per arm: probabilities of that arm below ``clip`` / above ``1 - clip`` (before clipping, over
        all rows), their smallest and largest value; every such probability was clipped to the bound."""
        table = self.estimate.overlap.to_frame().reset_index()
        table["arm"] = self.labels
        return table

    def quantiles(self) -> pd.DataFrame:
        """:func:`propensity_quantiles` of the estimate."""
        return propensity_quantiles(self.estimate.raw, self.estimate.arm, self.labels)

    def numbers(self) -> dict[str, Any]:
        """What ``report.json`` holds of it (``"propensity"``)."""
        return {"estimated": True, "clip": self.clip, "folds": PROPENSITY_FOLDS,
                "rule": "clipped to [clip, 1 - clip], each arm on its own; no row trimmed",
                "overlap": self.overlap_table().to_dict("records"), "quantiles": self.quantiles().to_dict("records")}


def propensity_quantiles(probabilities: np.ndarray, arm: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """The distribution of each treatment's probability among the rows of each arm that it compares: per
    treatment ``t``, the rows of control and the rows of ``t``, with their count, mean and
    :data:`PROPENSITY_QUANTILES` of ``P(t | x)`` (``probabilities[:, t]``). Overlap is good when the two
    distributions cover the same range."""
    records = []
    for code, label in enumerate(labels[1:], start=1):
        for arm_code in (0, code):
            values = probabilities[arm == arm_code, code]
            record: dict[str, Any] = {"treatment": label, "arm": labels[arm_code], "n": int(len(values)),
                                      "mean": float(values.mean()) if len(values) else np.nan}
            record.update({f"q{round(100 * q)}": float(np.quantile(values, q)) if len(values) else np.nan
                           for q in PROPENSITY_QUANTILES})
            records.append(record)
    return pd.DataFrame(records)


def _observational_check(experiment: Experiment) -> Check:
    """The design check of observational data: the arms are expected to depend on the features."""
    from ..policy.randomization import arm_dependence

    columns = {str(name): experiment.X[name].to_numpy() for name in experiment.X.columns}
    found = arm_dependence(columns, arm_codes(experiment.treatment, tuple(experiment.arms)), experiment.cluster)
    seen = (f"The arms depend on {', '.join(found.columns)} (p = {found.adjusted_p_value:.2g}, "
            "Bonferroni-adjusted), as in observational data" if found.clear else
            "No feature's bins show arm shares different beyond chance, so the data may well be randomized (then "
            "give its design, --propensity COLUMN|NUMBER, rather than an estimate)")
    return Check("warning", "Observational data: the effects rest on estimated propensities and on no unmeasured "
                 "confounding", f"{seen}. Every weighted number uses cross-fitted propensities (see Overlap). "
                 f"{UNCONFOUNDED}")


def estimate_propensity(split: SplitRows, settings: ReportSettings, progress: Progress
                        ) -> tuple[SplitRows, Observational]:
    """The split with every row's cross-fitted, clipped propensity as its design, and the overlap it shows.

    Needs ``split.held_out`` (which rows were held out) to give the training and held-out parts theirs.
    """
    experiment = split.experiment
    if experiment.propensity is not None:
        raise ValueError("propensity: the experiment has a given propensity; 'estimate' is for data without one")
    _, propensity_model, _ = base_models(experiment.binary)
    with progress(f"Estimating the propensity ({PROPENSITY_FOLDS}-fold cross-fitted gradient boosting)"):
        estimate = cross_fitted_propensity(
            experiment.X, experiment.treatment, cluster=experiment.cluster, control=experiment.control,
            propensity_model=propensity_model, cv=PROPENSITY_FOLDS, propensity_clip=PROPENSITY_CLIP,
            random_state=settings.seed, n_jobs=-1)
        design = {**experiment.design, "propensity": ESTIMATE}
        estimated = replace(experiment, propensity=estimate.received, design=design)
        held_out = split.held_out
        split = replace(split, experiment=estimated, train=estimated.subset(~held_out),
                        test=estimated.subset(held_out), design=_observational_check(experiment))
    return split, Observational(estimate, split.labels)


def feature_dr_tree(models: FittedModels, split: SplitRows, settings: ReportSettings, progress: Progress
                    ) -> FittedModels:
    """The models with :class:`upliftree.DRUpliftTree` as the featured tree (same depth, leaf size and honest
    share as the uplift tree, the report's base models, the estimated propensity as its design) and the
    IPW-weighted uplift tree ranked beside it as :data:`IPW_TREE`."""
    train, plain = split.train, models.tree
    outcome_model, propensity_model, _ = base_models(split.experiment.binary)
    tree = DRUpliftTree(outcome_model, propensity_model, cv=CROSS_FIT_FOLDS, propensity_clip=PROPENSITY_CLIP,
                        max_depth=settings.max_depth, min_samples_leaf=plain.min_samples_leaf,
                        control=split.experiment.control, outcome="binary" if split.experiment.binary else
                        "continuous", honest=True, honest_fraction=settings.honest_fraction,
                        random_state=settings.seed, n_jobs=-1)
    with progress(f"Fitting the DR uplift tree on {train.n_rows:,} rows (cross-fitted doubly robust scores)"):
        tree.fit(train.X, train.treatment, train.y, propensity=train.propensity, cluster=train.cluster)
    return replace(models, tree=tree, learners={IPW_TREE: plain, **models.learners})


def overlap_figure(observational: Observational) -> Figure:
    """Histograms of each treatment's estimated probability (before clipping) among control rows and that
    treatment's rows, one panel per treatment, with the clipping bounds."""
    from matplotlib.figure import Figure

    estimate, labels = observational.estimate, observational.labels
    figure = Figure(figsize=(5.2 * (len(labels) - 1), 3.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(labels) - 1, squeeze=False)[0])
    bins = np.linspace(0.0, 1.0, 41)
    for ax, (code, label) in zip(axes, enumerate(labels[1:], start=1), strict=True):
        for arm_code, color in ((0, "#7f7f7f"), (code, "#1f77b4")):
            values = estimate.raw[estimate.arm == arm_code, code]
            ax.hist(values, bins=bins, density=True, alpha=0.55, color=color,
                    label=f"{labels[arm_code]} rows ({len(values):,})")
        for bound in (observational.clip, 1.0 - observational.clip):
            ax.axvline(bound, color="#d62728", linestyle="--", linewidth=1)
        ax.set_xlabel(f"Estimated probability of {label}", fontsize=9)
        ax.set_ylabel("Density", fontsize=9)
        ax.legend(loc="best", frameon=False, fontsize=8)
    return figure


def save_overlap_figure(observational: Observational, path: Path, dpi: int) -> Path:
    """Write :func:`overlap_figure` to ``path``."""
    overlap_figure(observational).savefig(path, dpi=dpi)
    return path
