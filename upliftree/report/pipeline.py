"""The one-command report: split, fit an honest tree, a forest and a baseline, evaluate, export, render."""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._base import spawn_generators
from .._params import check_int, check_real
from .._validation import arm_codes
from ..export.dot import plot as plot_tree
from ..export.sheets import format_outcome, format_uplift, interval_label
from ..forest import UpliftRandomForestClassifier, UpliftRandomForestRegressor
from ..metrics import calibration_table
from ..monitor import record_training_profile
from ..rules import missing_note
from ..segments import node_effects
from ..tree import UpliftTreeClassifier, UpliftTreeRegressor, stratified_holdout
from .baseline import TLearner, baseline_available
from .checks import SMD_WARNING, Check, balance_check, covariate_balance, segment_checks
from .evaluation import RANDOM, TOP_SHARES, average_effect, curves_figure, deciles_figure, score_table
from .experiment import Experiment
from .leakage import Screen, leakage_check, screen_experiment

__all__ = ["ARTIFACTS", "Report", "ReportSettings", "make_report"]

TREE = "uplift tree"
FOREST = "uplift forest"
BASELINE = "T-learner baseline"

# File written -> what it holds (the report lists them; eligibility.csv only with a policy).
ARTIFACTS = {
    "report.html": "this report, one self-contained file",
    "model.json": "the honest uplift tree (upliftree.load / upliftree score), with its training profile",
    "tree.svg": "the tree drawing",
    "rules.md": "segment rule sheet, Markdown",
    "rules.csv": "segment rule sheet, CSV",
    "segments.csv": "segments with estimation and held-out uplift, intervals and p-values",
    "qini.png": "Qini curves with bootstrap bands",
    "uplift.png": "uplift curves with bootstrap bands",
    "deciles.png": "held-out outcome by decile of the forest's predicted uplift",
    "eligibility.csv": "who gets which treatment under the policy",
    "scoring.sql": "SQL query that scores rows in a database like the tree",
}


@dataclass(frozen=True)
class ReportSettings:
    """How the report splits, fits, evaluates and decides.

    Parameters
    ----------
    criterion : str or None
        Split criterion of the tree and forest; None takes the estimators' default (``"kl"`` for a binary
        outcome, ``"tstat"`` for a continuous one).
    max_depth : int
        Depth of the honest tree.
    min_samples_leaf : int or None
        Rows per leaf of the tree; None: 0.5% of the training rows, at least 100.
    honest_fraction : float
        Share of the training rows that estimates the tree's segments (the rest chooses the splits).
    n_estimators, forest_max_depth : int
        Size of the forest.
    forest_max_samples : float or None
        Share of the training rows each forest tree draws (None: as many as there are); smaller is faster.
    test_size : float
        Share of the rows (stratified by arm and outcome) held out for evaluation.
    n_boot : int
        Bootstrap resamples of the intervals and curve bands.
    alpha : float
        Intervals have coverage ``1 - alpha``.
    baseline : bool
        Fit the T-learner baseline (when scikit-learn is installed).
    benefit, cost, budget : float or None
        A policy: value of one unit of outcome, cost of treating one row, and the most the treatments may
        cost in total (None: treat every row with positive net value). No ``benefit``: no policy.
    explore : float
        Share of rows of the eligibility list put in a randomized exploration bucket.
    sql_table, sql_dialect : str
        Table the scoring SQL reads, and its dialect.
    seed : int
        Seeds the split, the models and the bootstrap.
    title, description : str
        Title of the report and an optional paragraph under it (what the experiment was).
    """

    criterion: str | None = None
    max_depth: int = 4
    min_samples_leaf: int | None = None
    honest_fraction: float = 0.5
    n_estimators: int = 100
    forest_max_depth: int = 6
    forest_max_samples: float | None = None
    test_size: float = 0.3
    n_boot: int = 200
    alpha: float = 0.05
    baseline: bool = True
    benefit: float | None = None
    cost: float = 0.0
    budget: float | None = None
    explore: float = 0.0
    sql_table: str = "customers"
    sql_dialect: str = "ansi"
    seed: int = 0
    title: str = "Uplift report"
    description: str = ""

    def check(self) -> None:
        check_int(self.max_depth, "max_depth", 0)
        if self.min_samples_leaf is not None:
            check_int(self.min_samples_leaf, "min_samples_leaf", 1)
        check_int(self.n_estimators, "n_estimators", 1)
        check_int(self.forest_max_depth, "forest_max_depth", 0)
        if self.forest_max_samples is not None:
            check_real(self.forest_max_samples, "forest_max_samples", 0.0, 1.0, open_low=True)
        check_int(self.n_boot, "n_boot", 1)
        check_int(self.seed, "seed", 0)
        check_real(self.test_size, "test_size", 0.0, 0.9, open_low=True)
        check_real(self.alpha, "alpha", 0.0, 0.5, open_low=True)
        check_real(self.explore, "explore", 0.0, 0.99)
        check_real(self.cost, "cost", 0.0)
        if self.benefit is not None:
            check_real(self.benefit, "benefit", -np.inf)
        elif self.budget is not None or self.cost:
            raise ValueError("cost and budget describe a policy; give benefit (value of one unit of outcome) too")
        if self.budget is not None:
            check_real(self.budget, "budget", 0.0)


@dataclass
class Report:
    """What :func:`make_report` made: the files, the fitted models and the held-out scores."""

    out_dir: Path
    html: Path
    files: dict[str, Path]
    tree: Any
    forest: Any
    baseline: Any
    scores: dict[str, pd.DataFrame]
    checks: list[Check] = field(default_factory=list)
    screen: Screen | None = None


Progress = Callable[[str], contextlib.AbstractContextManager]


def _no_progress(description: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


# -- formatting for people -----------------------------------------------------------------------------------
def _number(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _headline(estimate: float, low: float, high: float, binary: bool) -> dict[str, str]:
    """An effect as ``text`` (with interval), ``headline`` (estimate only) and ``interval``."""
    headline = format_uplift(estimate, np.nan, np.nan, binary)
    text = format_uplift(estimate, low, high, binary)
    return {"text": text, "headline": headline, "interval": text[len(headline):].strip() or "n/a"}


def _png(figure: Any, path: Path) -> None:
    figure.savefig(path, dpi=110)


def _svg_inline(path: Path) -> str:
    """An SVG file's ``<svg>`` element, for inlining in HTML."""
    text = path.read_text(encoding="utf-8")
    return text[text.index("<svg"):]


# -- the steps -------------------------------------------------------------------------------------------------
def _models(experiment: Experiment, settings: ReportSettings, n_train: int) -> tuple[Any, Any]:
    min_samples_leaf = settings.min_samples_leaf or max(100, n_train // 200)
    criterion = {"criterion": settings.criterion} if settings.criterion else {}
    tree_class = UpliftTreeClassifier if experiment.binary else UpliftTreeRegressor
    forest_class = UpliftRandomForestClassifier if experiment.binary else UpliftRandomForestRegressor
    tree = tree_class(max_depth=settings.max_depth, min_samples_leaf=min_samples_leaf, honest=True,
                      honest_fraction=settings.honest_fraction, control=experiment.control,
                      random_state=settings.seed, **criterion)
    forest = forest_class(n_estimators=settings.n_estimators, max_depth=settings.forest_max_depth,
                          min_samples_leaf=max(50, min_samples_leaf // 4), max_samples=settings.forest_max_samples,
                          control=experiment.control, n_jobs=-1, random_state=settings.seed, verbose=0, **criterion)
    return tree, forest


def _uplift_matrix(scores: np.ndarray) -> np.ndarray:
    return scores[:, None] if scores.ndim == 1 else scores


def _held_out_effects(tree: Any, test: Experiment, alpha: float) -> Any:
    """Per-node effects of the tree computed from the held-out rows (does each segment replicate?)."""
    encoded = tree._encode(test.X)
    arm = arm_codes(test.treatment, tuple(tree.treatments_))
    stats = tree.tree_.route_statistics(encoded, arm, np.ones(test.n_rows), test.y)
    return node_effects(tree.tree_.with_stats(stats), tree._binary, alpha)


def _segment_frames(tree: Any, test: Experiment, settings: ReportSettings, policy: Any
                    ) -> tuple[pd.DataFrame, pd.DataFrame, dict | None, dict | None]:
    """The rule sheet (with held-out uplift), the segment table for segments.csv, and the policy's leaf maps."""
    leaf_actions = leaf_values = None
    if policy is not None:
        policy_sheet = policy.segment_sheet()
        leaf_actions = policy.leaf_actions()
        leaf_values = dict(zip(policy_sheet["leaf_id"].astype(int), policy_sheet["net_value"], strict=True))
    sheet = tree.rules("frame", alpha=settings.alpha, leaf_actions=leaf_actions, leaf_values=leaf_values)
    held_out = _held_out_effects(tree, test, settings.alpha)
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
    return sheet, segments, leaf_actions, leaf_values


def _segment_rows(sheet: pd.DataFrame, labels: list[str], binary: bool, policy: bool) -> list[dict[str, Any]]:
    """Rule sheet rows as the template shows them (formatted numbers, a verdict per treatment)."""
    outcome = "rate" if binary else "mean"
    rows = []
    for entry in sheet.to_dict("records"):
        row: dict[str, Any] = {"leaf_id": int(entry["leaf_id"]), "rule": entry["rule"],
                               "share": f"{entry['share']:.1%}",
                               "counts": " / ".join(f"{entry[f'n_{label}']:,}" for label in labels),
                               "outcomes": " / ".join(format_outcome(entry[f"{outcome}_{label}"], binary)
                                                      for label in labels),
                               "effects": []}
        for label in labels[1:]:
            suffix = "" if len(labels) == 2 else f"_{label}"
            low, high = entry[f"ci_low{suffix}"], entry[f"ci_high{suffix}"]
            verdict = "treat" if low > 0 else ("do not disturb" if high < 0 else "no clear effect")
            row["effects"].append({
                "uplift": entry[f"uplift{suffix}"],
                **_headline(entry[f"uplift{suffix}"], low, high, binary),
                "held_out": format_uplift(entry[f"held_out_uplift{suffix}"], entry[f"held_out_ci_low{suffix}"],
                                          entry[f"held_out_ci_high{suffix}"], binary),
                "verdict": verdict,
            })
        if policy:
            row["treat"] = str(entry["action"]) != labels[0]
            row["action"] = str(entry["action"]) if row["treat"] else "no action"
            row["net_value"] = f"{entry['net_value']:,.2f}"
        rows.append(row)
    return rows


def _score_rows(table: pd.DataFrame, binary: bool) -> list[dict[str, Any]]:
    rows = []
    for entry in table.to_dict("records"):
        interval = ("" if not np.isfinite(entry["qini_low"])
                    else f" ({_number(entry['qini_low'])}, {_number(entry['qini_high'])})")
        row = {"model": entry["model"], "qini": _number(entry["qini"]) + interval, "auuc": _number(entry["auuc"]),
               "random": entry["model"] == RANDOM,
               "top": [format_uplift(entry[f"uplift_at_{round(share * 100)}"], np.nan, np.nan, binary)
                       for share in TOP_SHARES]}
        rows.append(row)
    return rows


def _decile_rows(table: pd.DataFrame, binary: bool) -> list[dict[str, Any]]:
    return [{"bin": int(entry["bin"]), "n": f"{entry['n_treatment']:,} / {entry['n_control']:,}",
             "predicted": format_uplift(entry["predicted_uplift"], np.nan, np.nan, binary),
             "treated": format_outcome(entry["response_rate_treatment"], binary),
             "control": format_outcome(entry["response_rate_control"], binary),
             "observed": format_uplift(entry["observed_uplift"], entry["ci_low"], entry["ci_high"], binary),
             "positive": entry["ci_low"] > 0, "negative": entry["ci_high"] < 0}
            for entry in table.to_dict("records")]


def _model_check(scores: dict[str, pd.DataFrame]) -> list[Check]:
    checks = []
    for label, table in scores.items():
        tree = table.set_index("model").loc[TREE]
        name = "" if len(scores) == 1 else f" ({label})"
        if np.isfinite(tree["qini_low"]) and tree["qini_low"] > 0:
            checks.append(Check("ok", f"The tree ranks better than random on held-out rows{name}",
                                f"Qini coefficient {tree['qini']:.3f}, interval ({tree['qini_low']:.3f}, "
                                f"{tree['qini_high']:.3f}) above 0."))
        else:
            checks.append(Check("warning", f"The tree is not clearly better than random{name}",
                                f"Its held-out Qini interval ({_number(tree['qini_low'])}, "
                                f"{_number(tree['qini_high'])}) includes 0: do not target on its segments alone."))
    return checks


def _replication_check(sheet: pd.DataFrame, labels: list[str]) -> Check:
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


def _balance_rows(balance: pd.DataFrame, arms: list[str]) -> list[dict[str, Any]]:
    return [{"feature": entry["feature"], "level": entry["level"],
             "values": [_number(entry["control"])] + [_number(entry[arm]) for arm in arms[1:]],
             "smd": [_number(entry[f"smd_{arm}"]) for arm in arms[1:]],
             "warn": entry["max_abs_smd"] > SMD_WARNING}
            for entry in balance.to_dict("records")]


def _policy_section(policy: Any, settings: ReportSettings, full: Experiment, test: Experiment, ids: Any,
                    out_dir: Path) -> dict[str, Any]:
    from ..policy import policy_value

    decide: dict[str, Any] = {"rule": "threshold"}
    if settings.budget is not None:
        decide = {"rule": "budget", "budget": settings.budget}
    # The rule text of every row's leaf would make the file ten times larger: rules.csv has it per leaf_id.
    eligibility = policy.eligibility(full.X, ids=ids, explore=settings.explore, random_state=settings.seed,
                                     rule_text=False, **decide)
    eligibility.to_csv(out_dir / "eligibility.csv", index=False, float_format="%.6g")
    # A budget is for the whole table; on the held-out rows it scales with their share of the rows.
    test_decide = dict(decide)
    if settings.budget is not None:
        test_decide["budget"] = settings.budget * test.n_rows / full.n_rows
    value = policy_value(policy, test.X, test.treatment, test.y, n_boot=settings.n_boot, alpha=settings.alpha,
                         random_state=settings.seed, **test_decide)
    treated = eligibility["policy_arm"].astype(str) != str(full.control)
    def with_interval(entry: pd.Series, name: str) -> str:
        return f"{entry[name]:,.3g} ({entry[f'{name}_low']:,.3g}, {entry[f'{name}_high']:,.3g})"

    rows = [{"name": name, "treated": f"{entry['treated_share']:.1%}", "net_value": with_interval(entry, "net_value"),
             "gain": "" if name == "policy" else with_interval(entry, "policy_gain"), "is_policy": name == "policy"}
            for name, entry in value.iterrows()]
    return {
        "benefit": settings.benefit, "cost": settings.cost, "budget": settings.budget, "rule": decide["rule"],
        "n_treated": f"{int(treated.sum()):,}", "n_rows": f"{full.n_rows:,}", "treated_share": f"{treated.mean():.1%}",
        "total_cost": f"{eligibility.loc[~eligibility['exploration'], 'cost'].sum():,.2f}",
        "total_net_value": f"{eligibility.loc[~eligibility['exploration'], 'net_value'].sum():,.2f}",
        "explore": settings.explore, "value_rows": rows, "estimator": value.attrs.get("estimator", "dr"),
        "net_per_row": f"{value.loc['policy', 'net_value']:+,.3g}",
        "treat_all_per_row": f"{value.iloc[2]['net_value']:+,.3g}",
    }


def make_report(experiment: Experiment, out_dir: str | Path, settings: ReportSettings | None = None, *,
                ids: Any = None, progress: Progress | None = None) -> Report:
    """Fit, evaluate and export everything about one experiment, and write ``out_dir/report.html``.

    Rows are split (stratified by arm and, for a binary outcome, outcome) into training rows and
    ``settings.test_size`` held-out rows. On the training rows: an honest uplift tree, an uplift forest and,
    with scikit-learn, a T-learner baseline. On the held-out rows: Qini and uplift curves with bootstrap
    bands, Qini coefficient (with interval), uplift AUC and uplift at 10/20/30% of every model; the decile
    table of the forest; each segment's held-out uplift. With ``settings.benefit`` a :class:`Policy` on the
    tree gives actions, the eligibility list and the policy's held-out value. Files: :data:`ARTIFACTS`.

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
    progress = progress or _no_progress
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    arms = experiment.arms
    labels = [str(label) for label in arms]
    files: dict[str, Path] = {}

    with progress("Screening the features for columns recorded after treatment"):
        experiment, screen = screen_experiment(experiment)

    with progress("Splitting rows into training and held-out parts"):
        arm = arm_codes(experiment.treatment, tuple(arms))
        split_rng, = spawn_generators(settings.seed, 1)
        held_out = stratified_holdout(arm, experiment.y, experiment.binary, settings.test_size, split_rng)
        train, test = experiment.subset(~held_out), experiment.subset(held_out)
    tree, forest = _models(experiment, settings, train.n_rows)
    with progress(f"Fitting the honest uplift tree on {train.n_rows:,} rows"):
        tree.fit(train.X, train.treatment, train.y)
    with progress(f"Fitting the uplift forest ({settings.n_estimators} trees)"):
        forest.fit(train.X, train.treatment, train.y)
    baseline = None
    baseline_note = ""
    if not settings.baseline:
        baseline_note = "The T-learner baseline was turned off."
    elif not baseline_available():
        baseline_note = ("The T-learner baseline needs scikit-learn, which is not installed: "
                         "pip install 'upliftree[baseline]'.")
    else:
        with progress("Fitting the T-learner baseline (scikit-learn gradient boosting)"):
            try:
                baseline = TLearner(experiment.binary, tree.schema_, settings.seed).fit(
                    train.X, train.treatment, train.y, arms)
            except ValueError as error:  # e.g. an arm whose outcome never varies
                baseline_note = f"The T-learner baseline could not be fitted: {error}"

    policy = None
    if settings.benefit is not None:
        from ..policy import Policy

        policy = Policy(tree, benefit=settings.benefit, cost=settings.cost)

    with progress("Scoring and bootstrapping on the held-out rows"):
        predictions = {TREE: _uplift_matrix(tree.predict(test.X)), FOREST: _uplift_matrix(forest.predict(test.X))}
        if baseline is not None:
            predictions[BASELINE] = baseline.predict(test.X)
        test_arm = arm_codes(test.treatment, tuple(arms))
        panels, decile_panels, scores, decile_tables = [], [], {}, {}
        for code, label in enumerate(labels[1:], start=1):
            rows = (test_arm == code) | (test_arm == 0)
            y, treated = test.y[rows], test_arm[rows] == code
            arm_scores = {name: matrix[rows, code - 1] for name, matrix in predictions.items()}
            scores[label] = score_table(y, treated, arm_scores, experiment.binary, settings.n_boot, settings.alpha,
                                        settings.seed)
            decile_tables[label] = calibration_table(y, arm_scores[FOREST], treated.astype(np.int64),
                                                     alpha=settings.alpha)
            panels.append((label, y, treated, arm_scores))
            decile_panels.append((label, y, treated, arm_scores[FOREST]))
    with progress("Drawing the curves"):
        figures = {"qini.png": curves_figure("qini", panels, settings.n_boot, settings.alpha, settings.seed),
                   "uplift.png": curves_figure("uplift", panels, settings.n_boot, settings.alpha, settings.seed),
                   "deciles.png": deciles_figure(decile_panels, FOREST, settings.alpha)}
        images = {}
        for name, figure in figures.items():
            _png(figure, out_dir / name)
            files[name] = out_dir / name
            images[name] = _data_uri(out_dir / name)

    with progress("Exporting the tree: JSON model, rule sheets, drawing, SQL"):
        sheet, segments, leaf_actions, leaf_values = _segment_frames(tree, test, settings, policy)
        record_training_profile(tree, train.X, policy)
        tree.save(out_dir / "model.json")
        files["model.json"] = out_dir / "model.json"
        rules_kwargs = {"alpha": settings.alpha, "leaf_actions": leaf_actions, "leaf_values": leaf_values}
        (out_dir / "rules.md").write_text(tree.rules("markdown", **rules_kwargs), encoding="utf-8")
        (out_dir / "rules.csv").write_text(tree.rules("csv", **rules_kwargs), encoding="utf-8")
        segments.to_csv(out_dir / "segments.csv", index=False)
        sql = tree.to_sql(settings.sql_table, dialect=settings.sql_dialect, leaf_actions=leaf_actions)
        (out_dir / "scoring.sql").write_text(sql, encoding="utf-8")
        files.update({name: out_dir / name for name in ("rules.md", "rules.csv", "segments.csv", "scoring.sql")})
        tree_svg, tree_note = None, ""
        try:
            # Left to right: deep trees with long rules stay readable at the width of a page.
            plot_tree(tree, out_dir / "tree.svg", format="svg", alpha=settings.alpha, rankdir="LR")
            files["tree.svg"] = out_dir / "tree.svg"
            tree_svg = _svg_inline(out_dir / "tree.svg")
        except RuntimeError as error:  # Graphviz's dot program is missing
            tree_note = str(error)

    policy_context = None
    if policy is not None:
        with progress("Applying the policy: eligibility list and held-out policy value"):
            policy_context = _policy_section(policy, settings, experiment, test, ids, out_dir)
            files["eligibility.csv"] = out_dir / "eligibility.csv"

    with progress("Checking balance and pitfalls"):
        balance = covariate_balance(experiment.X, experiment.treatment, arms, tree.schema_)
        checks = [leakage_check(screen), balance_check(balance), *_model_check(scores),
                  _replication_check(sheet, labels),
                  *segment_checks(sheet, labels, labels[1:])]
        effects = []
        full_arm = arm_codes(experiment.treatment, tuple(arms))
        for code, label in enumerate(labels[1:], start=1):
            rows = (full_arm == code) | (full_arm == 0)
            effect = average_effect(experiment.y[rows], full_arm[rows] == code, experiment.binary, settings.alpha)
            effect["label"] = label
            effect.update(_headline(effect["effect"], effect["low"], effect["high"], experiment.binary))
            effect["p_text"] = "p < 0.001" if effect["p_value"] < 0.001 else f"p = {effect['p_value']:.3f}"
            effect["significant"] = effect["low"] > 0 or effect["high"] < 0
            effects.append(effect)
        if not any(effect["significant"] for effect in effects):
            checks.append(Check("info", "The average effect is not significant",
                                "Treating everyone does not clearly change the outcome; segments may still "
                                "respond in opposite directions."))

    context = {
        "title": settings.title,
        "description": settings.description,
        "generated": time.strftime("%Y-%m-%d %H:%M"),
        "source": experiment.source,
        "binary": experiment.binary,
        "outcome_kind": "binary" if experiment.binary else "continuous",
        "outcome_column": experiment.outcome_column,
        "treatment_column": experiment.treatment_column,
        "n_rows": f"{experiment.n_rows:,}", "n_train": f"{train.n_rows:,}", "n_test": f"{test.n_rows:,}",
        "features": list(tree.schema_.names),
        "labels": labels,
        "treatments": labels[1:],
        "arms": _arm_rows(experiment, arms, labels),
        "effects": effects,
        "interval": interval_label(settings.alpha),
        "settings": asdict(settings),
        "tree": {"criterion": tree.criterion, "max_depth": tree.max_depth, "depth": tree.depth_,
                 "min_samples_leaf": tree.min_samples_leaf, "honest_fraction": tree.honest_fraction,
                 "n_leaves": tree.n_leaves_},
        "forest": {"n_estimators": forest.n_estimators, "max_depth": forest.max_depth,
                   "max_samples": forest.max_samples,
                   "min_samples_leaf": forest.min_samples_leaf, "max_features": forest.max_features},
        "baseline_note": baseline_note,
        "scores": {label: _score_rows(table, experiment.binary) for label, table in scores.items()},
        "top_shares": [f"{share:.0%}" for share in TOP_SHARES],
        "deciles": {label: _decile_rows(table, experiment.binary) for label, table in decile_tables.items()},
        "images": images,
        "tree_svg": tree_svg,
        "tree_note": tree_note,
        "tree_text": tree.rules("text", alpha=settings.alpha) if tree_svg is None else "",
        "segments": _segment_rows(sheet, labels, experiment.binary, policy is not None),
        "missing_note": missing_note(tree.tree_, tree.schema_),
        "policy": policy_context,
        "balance": _balance_rows(balance, labels),
        "checks": checks,
        "n_warnings": sum(check.level == "warning" for check in checks),
        "n_failed": sum(check.level == "failed" for check in checks),
        "excluded": screen.excluded,
        "artifacts": [(name, description) for name, description in ARTIFACTS.items()
                      if name in files or name == "report.html"],
    }
    from .render import render_html

    html = out_dir / "report.html"
    context["elapsed"] = f"{time.perf_counter() - started:.0f} s"
    with progress("Writing report.html"):
        html.write_text(render_html(context), encoding="utf-8")
    files = {"report.html": html, **files}
    return Report(out_dir, html, files, tree, forest, baseline, scores, checks, screen)


def _arm_rows(experiment: Experiment, arms: list[Any], labels: list[str]) -> list[dict[str, Any]]:
    codes = arm_codes(experiment.treatment, tuple(arms))
    rows = []
    for code, label in enumerate(labels):
        y = experiment.y[codes == code]
        rows.append({"label": label, "role": "control" if code == 0 else "treatment", "n": f"{len(y):,}",
                     "share": f"{len(y) / experiment.n_rows:.1%}",
                     "outcome": format_outcome(float(y.mean()), experiment.binary)})
    return rows


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
