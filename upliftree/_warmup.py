"""Compile every kernel for this machine ahead of time: ``upliftree.warmup()`` and ``upliftree warmup``.

Numba compiles a kernel the first time it runs and caches the machine code on disk (``docs/performance.md``),
so a first run on a fresh machine waits for compilation. Warm-up runs every mode of the public API once on
small synthetic data — trees and forests for binary and continuous outcomes, numeric, missing and categorical
features, with and without weights, one and several treatments, every criterion, honest and not, bootstrap
and not, prediction, exports, metrics with bootstrap intervals, policies — so that everything later runs from
the cache. It drives the public API rather than naming kernels, so it follows the kernels as they change;
``tests/test_coldstart.py`` checks that a fresh process doing the common operations compiles nothing after it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba.core import event

from ._kernels import cache_directory, compile_message_silenced, compiles_upliftree_function

# Small data for the many modes; one larger sample for what changes with size (parallel histograms and
# traversal start at 50,000 rows today): still a fraction of a second of work per call.
SMALL_ROWS = 1_500
LARGE_ROWS = 120_000
NUMERIC_FEATURES = ["age", "tenure", "visits"]
MISSING_FEATURES = [*NUMERIC_FEATURES, "income"]
BINARY_CRITERIA = ("kl", "ed", "chi", "ddp")
CONTINUOUS_CRITERIA = ("ed", "ddp", "tstat")
FIT_OPTIONS = {"max_depth": 3, "min_samples_leaf": 20, "min_samples_treatment": 5, "random_state": 0}
FOREST_OPTIONS = {**FIT_OPTIONS, "n_estimators": 3, "n_jobs": 2, "verbose": 0}


@dataclass(frozen=True)
class WarmupSummary:
    """What a warm-up did: wall seconds, kernels compiled (0 when all came from the cache), cache directory."""

    seconds: float
    n_compiled: int
    cache_directory: str


def warmup() -> WarmupSummary:
    """Compile (or load from Numba's on-disk cache) every upliftree kernel for this machine.

    Run it once where the cache lives — a Docker image build (``RUN upliftree warmup``), a CI job before the
    tests — and later processes start without compiling. It takes as long as compilation (tens of seconds on
    a fresh machine) and a few seconds when everything is cached already. The one-time compile message is
    silenced: this is the compilation.
    """
    compiled = _UpliftreeCompilations()
    start = time.perf_counter()
    with event.install_listener("numba:compile", compiled), compile_message_silenced(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny data makes some estimates undefined; the warnings mean nothing here
        for exercise in (_trees, _forests, _metrics, _policies):
            exercise()
    return WarmupSummary(time.perf_counter() - start, compiled.count, cache_directory())


class _UpliftreeCompilations(event.Listener):
    """Counts compilations of upliftree's own functions (not of Numba's helpers)."""

    def __init__(self) -> None:
        self.count = 0

    def on_start(self, ev: event.Event) -> None:
        self.count += compiles_upliftree_function(ev)

    def on_end(self, ev: event.Event) -> None:
        pass


def _experiment(n_rows: int, n_treatments: int, outcome: str, seed: int) -> Any:
    """Synthetic experiment with missing income, and missing and rare categories (pooled by a small max_bins)."""
    from .datasets import make_uplift_data

    frame = make_uplift_data(n_rows, n_treatments=n_treatments, outcome=outcome, random_state=seed)
    region = frame["region"].astype(object)
    region[::37] = np.nan
    region[::101] = "island"  # rare
    frame["region"] = region.astype("category")
    return frame


def _feature_sets(frame: Any) -> Iterator[Any]:
    """The same rows as the inputs the estimators take: arrays (numeric; with missing values), frames (numeric
    with missing values; with categories)."""
    yield frame[NUMERIC_FEATURES].to_numpy(dtype=np.float64)
    yield frame[MISSING_FEATURES].to_numpy(dtype=np.float64)
    yield frame[MISSING_FEATURES]
    yield frame.drop(columns=["treatment", "outcome"]).filter(items=[*MISSING_FEATURES, "region", "channel"])


def _array_layouts(frame: Any) -> Iterator[np.ndarray]:
    """A numeric array in each memory layout users pass: C and F order, writable and read-only (pandas hands
    out read-only arrays under copy-on-write)."""
    values = frame[MISSING_FEATURES].to_numpy(dtype=np.float64)
    for array in (np.ascontiguousarray(values), np.asfortranarray(values)):
        yield array
        read_only = array.copy(order="K")
        read_only.flags.writeable = False
        yield read_only


def _weight_options(n_rows: int) -> Iterator[np.ndarray | None]:
    rng = np.random.default_rng(0)
    yield None
    weights = rng.uniform(0.5, 2.0, n_rows)
    yield weights
    with_zeros = weights.copy()
    with_zeros[::7] = 0.0
    yield with_zeros


def _rows(X: Any, rows: slice) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _estimators() -> Iterator[tuple[type, type, str, tuple[str, ...]]]:
    from .forest import UpliftRandomForestClassifier, UpliftRandomForestRegressor
    from .tree import UpliftTreeClassifier, UpliftTreeRegressor

    yield UpliftTreeClassifier, UpliftRandomForestClassifier, "binary", BINARY_CRITERIA
    yield UpliftTreeRegressor, UpliftRandomForestRegressor, "continuous", CONTINUOUS_CRITERIA


def _use_tree(model: Any, X: Any, frame: Any) -> None:
    """Everything done with a fitted tree: prediction, tables, exports, pruning, calibration."""
    from .export.model_json import from_json

    model.predict(X)
    model.apply(X)
    model.segments()
    model.rules("frame")
    model.to_sql("t")
    from_json(model.to_json()).predict(X)
    half = slice(len(frame) // 2, None)
    treated_arm = model.treatments_[1]
    model.calibration(_rows(X, half), frame["treatment"].to_numpy()[half], frame["outcome"].to_numpy()[half],
                      arm=treated_arm)
    model.prune(_rows(X, half), frame["treatment"].to_numpy()[half], frame["outcome"].to_numpy()[half])


def _trees() -> None:
    for tree_class, _, outcome, criteria in _estimators():
        for n_treatments in (1, 2):
            frame = _experiment(SMALL_ROWS, n_treatments, outcome, seed=n_treatments)
            treatment, y = frame["treatment"].to_numpy(), frame["outcome"].to_numpy()
            fits = 0
            for X in _feature_sets(frame):
                for weights in _weight_options(len(frame)):
                    model = tree_class(criterion=criteria[fits % len(criteria)], control="control",
                                       honest=fits % 2 == 1, max_bins=8 if fits % 3 == 1 else 255, **FIT_OPTIONS)
                    model.fit(X, treatment, y, sample_weight=weights)
                    fits += 1
                _use_tree(model, X, frame)
                tree_class(criterion=criteria[0], control="control", max_features=1, **FIT_OPTIONS).fit(
                    X, treatment, y).predict(X)
            for X in _array_layouts(frame):
                model = tree_class(control="control", **FIT_OPTIONS).fit(X, treatment, y)
                model.predict(X)
                model.predict(X[::2])  # a strided view
            # Every criterion, normalized and not, counting classes (unit weights) and summing weights.
            for criterion in criteria:
                for normalize in (True, False):
                    for weights in (None, np.full(len(frame), 2.0)):
                        tree_class(criterion=criterion, normalize=normalize, control="control", **FIT_OPTIONS).fit(
                            X, treatment, y, sample_weight=weights)
            half = slice(len(frame) // 2, None)
            tree_class(control="control", **FIT_OPTIONS).fit(
                X, treatment, y, X_est=_rows(X, half), treatment_est=treatment[half], y_est=y[half]).predict(X)
            # The experiment's design (docs/design.md): the design-moment kernels, rows and clusters as units.
            designs = [{"cluster": np.arange(len(frame)) // 10}, *([{"propensity": 0.5}] if n_treatments == 1 else [])]
            for design in designs:
                tree_class(control="control", **FIT_OPTIONS).fit(X, treatment, y, **design)
        large = _experiment(LARGE_ROWS, 1, outcome, seed=3)
        for weights in (None, np.random.default_rng(1).uniform(0.5, 2.0, len(large))):
            model = tree_class(control="control", honest=True, **FIT_OPTIONS)
            model.fit(large[MISSING_FEATURES + ["region"]], large["treatment"], large["outcome"], sample_weight=weights)
            model.predict(large[MISSING_FEATURES + ["region"]])


def _forests() -> None:
    import upliftree

    for _, forest_class, outcome, criteria in _estimators():
        for n_treatments in (1, 2):
            frame = _experiment(SMALL_ROWS, n_treatments, outcome, seed=10 + n_treatments)
            treatment, y = frame["treatment"].to_numpy(), frame["outcome"].to_numpy()
            for index, X in enumerate(_feature_sets(frame)):
                for bootstrap, honest in ((True, False), (False, True)):
                    forest = forest_class(criterion=criteria[index % len(criteria)], control="control",
                                          bootstrap=bootstrap, honest=honest, max_features="sqrt",
                                          max_samples=0.5 if bootstrap else None, **FOREST_OPTIONS)
                    forest.fit(X, treatment, y, sample_weight=None if bootstrap else np.linspace(0.5, 2.0, len(frame)))
                    forest.predict(X)
                    forest.apply(X)
                upliftree.from_json(forest.to_json()).predict(X)
                upliftree.distill(forest, X, treatment, y, max_depth=2, min_samples_leaf=20).predict(X)
            # Little bags: per-row and per-group intervals.
            bags = forest_class(control="control", honest=True, bootstrap=False, max_samples=0.5, ci_group_size=2,
                                **{**FOREST_OPTIONS, "n_estimators": 4}).fit(X, treatment, y)
            bags.predict_interval(X)
            bags.predict_group_interval(X, np.arange(len(frame)) % 3)
            for X in _array_layouts(frame):
                forest.fit(X, treatment, y).predict(X)
                forest.predict(X[::2])
        large = _experiment(LARGE_ROWS, 1, outcome, seed=20)
        forest = forest_class(control="control", max_samples=0.05, **FOREST_OPTIONS)
        forest.fit(large[MISSING_FEATURES + ["region"]], large["treatment"], large["outcome"])
        forest.predict(large[MISSING_FEATURES + ["region"]])


def _metric_calls(metrics: Any, y: np.ndarray, score: np.ndarray, other: np.ndarray,
                  treated: np.ndarray) -> Iterator[Callable[[], Any]]:
    """Every metric on these arrays (the uplift-curve ones, which need a 0/1 outcome, only when binary)."""
    binary = bool(np.all((y == 0) | (y == 1)))
    yield lambda: metrics.qini_curve(y, score, treated)
    yield lambda: metrics.uplift_curve(y, score, treated)
    yield lambda: metrics.perfect_qini_curve(y, treated)
    yield lambda: metrics.qini_auc_score(y, score, treated)
    for strategy in ("overall", "by_group"):
        yield lambda strategy=strategy: metrics.uplift_at_k(y, score, treated, strategy=strategy, k=0.3)
        yield lambda strategy=strategy: metrics.uplift_by_percentile(y, score, treated, strategy=strategy,
                                                                     std=True, total=True)
        yield lambda strategy=strategy: metrics.weighted_average_uplift(y, score, treated, strategy=strategy)
    yield lambda: metrics.response_rate_by_percentile(y, score, treated, group="treatment")
    yield lambda: metrics.treatment_balance_curve(score, treated, winsize=50)
    yield lambda: metrics.calibration_table(y, score, treated)
    bootstrapped: list[Any] = ["qini_auc_score", metrics.uplift_at_k]
    curves = ["qini"]
    if binary:
        yield lambda: metrics.qini_auc_score(y, score, treated, negative_effect=False)
        yield lambda: metrics.perfect_uplift_curve(y, treated)
        yield lambda: metrics.uplift_auc_score(y, score, treated)
        bootstrapped.append("uplift_auc_score")
        curves.append("uplift")
    for n_jobs in (1, 2):
        for metric in bootstrapped:
            yield lambda metric=metric, n_jobs=n_jobs: metrics.bootstrap_ci(metric, y, score, treated, n_boot=20,
                                                                            random_state=0, n_jobs=n_jobs)
        yield lambda n_jobs=n_jobs: metrics.bootstrap_compare("qini_auc_score", y, score, other, treated, n_boot=20,
                                                              random_state=0, n_jobs=n_jobs)
        for curve in curves:
            yield lambda curve=curve, n_jobs=n_jobs: metrics.bootstrap_curve_band(
                y, score, treated, curve=curve, n_points=11, n_boot=20, random_state=0, n_jobs=n_jobs)
    # Known propensities and clusters (docs/design.md): the cluster resampling kernels.
    design = {"propensity": np.where(treated == 1, 0.4, 0.6), "cluster": np.arange(len(y)) // 5}
    for metric in bootstrapped:
        yield lambda metric=metric: metrics.bootstrap_ci(metric, y, score, treated, n_boot=20, random_state=0, **design)
    for curve in curves:
        yield lambda curve=curve: metrics.bootstrap_curve_band(y, score, treated, curve=curve, n_points=11, n_boot=20,
                                                               random_state=0, **design)


def _metrics() -> None:
    from . import metrics
    from .tree import UpliftTreeClassifier

    rng = np.random.default_rng(0)
    n_rows = SMALL_ROWS
    treated = (rng.random(n_rows) < 0.5).astype(np.int64)
    continuous_score = rng.normal(size=n_rows)
    tied_score = np.round(continuous_score, 1)  # a tree's few distinct values
    for y in ((rng.random(n_rows) < 0.1 + 0.05 * treated).astype(np.int64), rng.gamma(2.0, size=n_rows)):
        for score in (continuous_score, tied_score):
            for call in _metric_calls(metrics, y, score, -score, treated):
                call()
    frame = _experiment(SMALL_ROWS, 2, "binary", seed=30)
    model = UpliftTreeClassifier(control="control", **FIT_OPTIONS).fit(frame[MISSING_FEATURES], frame["treatment"],
                                                                       frame["outcome"])
    uplift = model.predict(frame[MISSING_FEATURES])
    arms = list(model.treatments_[1:])
    metrics.one_vs_control(frame["outcome"], uplift, frame["treatment"], arm=arms[0], control="control", arms=arms)
    metrics.best_arm_rows(frame["outcome"], uplift, frame["treatment"], arms=arms, control="control")
    metrics.best_arm_score(frame["outcome"], uplift, frame["treatment"], arms=arms, control="control")


def _policies() -> None:
    from .forest import UpliftRandomForestClassifier
    from .policy import Policy, policy_value
    from .tree import UpliftTreeClassifier

    for n_treatments in (1, 2):
        frame = _experiment(SMALL_ROWS, n_treatments, "binary", seed=40 + n_treatments)
        X = frame[[*MISSING_FEATURES, "region", "channel"]]
        for model_class in (UpliftTreeClassifier, UpliftRandomForestClassifier):
            options = FOREST_OPTIONS if model_class is UpliftRandomForestClassifier else FIT_OPTIONS
            model = model_class(control="control", **options).fit(X, frame["treatment"], frame["outcome"])
            treatments = list(model.treatments_[1:])
            policy = Policy(model, benefit=25.0, cost={label: 0.5 for label in treatments})
            policy.net_value(X)
            policy.decide(X)
            policy.decide(X, "top_k", k=0.2)
            policy.decide(X, "budget", budget=50.0, capacity={treatments[0]: 100})
            policy.decide(X, capacity={label: 100 for label in treatments}, eligible="tenure >= 3")
            policy.eligibility(X, explore=0.1, random_state=0, rule="budget", budget=50.0)
            if model_class is UpliftTreeClassifier:
                policy.segment_sheet()
            policy_value(policy, X, frame["treatment"], frame["outcome"], n_boot=20, random_state=0)
