"""One meaning and one error per parameter: upliftree._params, and every estimator and metric through it.

Before the shared module, ``n_jobs=None`` was one thread in forests but all cores in metrics, and a non-bool flag
raised ``ValueError`` in estimators but ``TypeError`` in metrics; the cross-module tests below fail on that code.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from upliftree import (
    UpliftRandomForestClassifier,
    UpliftRandomForestRegressor,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    make_uplift_data,
    metrics,
)
from upliftree import _params as params
from upliftree import forest as forest_module
from upliftree.datasets import FEATURES
from upliftree.learners import TLearner
from upliftree.learners import _crossfit as crossfit_module
from upliftree.metrics import bootstrap as bootstrap_module
from upliftree.plot import plot_calibration


def _raises_type_error(call, name):
    """A wrong type raises an error that is both a TypeError and a ValueError, naming the parameter."""
    with pytest.raises(TypeError, match=name) as caught:
        call()
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, params.ParameterTypeError)


def _raises_value_error(call, name):
    """A right-typed bad value raises a ValueError (and not a TypeError), naming the parameter."""
    with pytest.raises(ValueError, match=name) as caught:
        call()
    assert not isinstance(caught.value, TypeError)


@pytest.mark.parametrize("value", [1, 0, "yes", None, 1.0, np.array([True])])
def test_check_bool_refuses_everything_but_bools(value):
    _raises_type_error(lambda: params.check_bool(value, "flag"), "flag must be True or False")


def test_check_bool_accepts_python_and_numpy_bools():
    assert params.check_bool(np.True_, "flag") is True
    assert params.check_bool(False, "flag") is False


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: params.check_int(2.5, "bins", 1), "bins"),
        (lambda: params.check_int(True, "bins", 1), "bins"),
        (lambda: params.check_int("3", "bins", 1), "bins"),
        (lambda: params.check_real("0.5", "n_reg", 0.0), "n_reg"),
        (lambda: params.check_real(False, "n_reg", 0.0), "n_reg"),
        (lambda: params.check_alpha("0.05"), "alpha"),
        (lambda: params.check_alpha(True), "alpha"),
        (lambda: params.check_choice(3, "strategy", ("overall", "by_group")), "strategy"),
        (lambda: params.check_n_jobs(2.0), "n_jobs"),
        (lambda: params.check_n_jobs(True), "n_jobs"),
        (lambda: params.check_random_state("seed"), "random_state"),
        (lambda: params.check_random_state(1.0), "random_state"),
    ],
)
def test_wrong_types_raise_parameter_type_errors(call, name):
    _raises_type_error(call, name)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: params.check_int(0, "bins", 1), "bins must be an integer >= 1"),
        (lambda: params.check_real(-1.0, "n_reg", 0.0), "n_reg must be a number >= 0, got -1.0"),
        (lambda: params.check_real(float("nan"), "n_reg", 0.0), "n_reg must be a number >= 0, got nan"),
        (lambda: params.check_real(0.0, "fraction", 0.0, 1.0, open_low=True), r"fraction must be a number in \(0, 1\]"),
        (lambda: params.check_alpha(1.0), r"alpha must be a number in \(0, 1\)"),
        (lambda: params.check_alpha(0), r"alpha must be a number in \(0, 1\)"),
        (lambda: params.check_choice("first", "strategy", ("overall", "by_group")), "strategy must be one of"),
        (lambda: params.check_n_jobs(0), "n_jobs"),
        (lambda: params.check_random_state(-1), "random_state"),
    ],
)
def test_bad_values_raise_value_errors(call, name):
    _raises_value_error(call, name)


def test_checks_return_plain_python_values():
    assert type(params.check_int(np.int64(3), "n", 1)) is int
    assert type(params.check_real(np.float32(0.5), "x", 0.0)) is float
    assert params.check_alpha(np.float64(0.1)) == 0.1
    generator = np.random.default_rng(0)
    assert params.check_random_state(generator) is generator
    assert params.check_random_state(None) is None
    assert params.check_random_state(np.int64(4)) == 4


@given(st.integers(min_value=-64, max_value=64).filter(lambda value: value != 0), st.integers(1, 64))
def test_n_jobs_means_what_scikit_learn_means(n_jobs, cores):
    """None: 1; k > 0: k; -1: every core; -k: all but k - 1 cores, at least one."""
    original = params.available_cores
    params.available_cores = lambda: cores
    try:
        expected = n_jobs if n_jobs > 0 else max(cores + 1 + n_jobs, 1)
        assert params.check_n_jobs(n_jobs) == expected
        assert params.check_n_jobs(-1) == cores
        assert params.check_n_jobs(None) == 1
    finally:
        params.available_cores = original


def test_available_cores_counts_the_cores_this_process_may_use():
    assert 1 <= params.available_cores()
    if hasattr(__import__("os"), "sched_getaffinity"):
        assert params.available_cores() == len(__import__("os").sched_getaffinity(0))


# ---------------------------------------------------------------------------------------------------------
# The same meaning across the package


@pytest.fixture(scope="module")
def experiment():
    return make_uplift_data(3_000, random_state=2)


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    treatment = rng.integers(0, 2, 400)
    score = rng.normal(size=400)
    y = (rng.random(400) < 0.2 + 0.1 * treatment * (score > 0)).astype(float)
    return y, score, treatment


class _RecordingPool:
    """Stands in for ThreadPoolExecutor and records ``max_workers`` of every pool opened."""

    opened: list

    def __init__(self, max_workers):
        from concurrent.futures import ThreadPoolExecutor

        type(self).opened.append(max_workers)
        self._pool = ThreadPoolExecutor(max_workers=max_workers)

    def __enter__(self):
        return self._pool.__enter__()

    def __exit__(self, *exc):
        return self._pool.__exit__(*exc)


@pytest.mark.parametrize(("n_jobs", "expected"), [(None, []), (1, []), (2, [2]), (-1, [3]), (-2, [2]), (-3, [])])
def test_n_jobs_opens_the_same_threads_in_forests_and_metrics(monkeypatch, experiment, scored, n_jobs, expected):
    """With 3 cores: None and 1 are one thread (no pool), 2 and -2 two threads, -1 three, in both places."""
    monkeypatch.setattr(params, "available_cores", lambda: 3)
    _RecordingPool.opened = []
    monkeypatch.setattr(forest_module, "ThreadPoolExecutor", _RecordingPool)
    UpliftRandomForestClassifier(n_estimators=4, max_depth=2, control="control", n_jobs=n_jobs, random_state=0,
                                 verbose=0).fit(
        experiment[FEATURES], experiment["treatment"], experiment["outcome"])
    assert _RecordingPool.opened == expected
    _RecordingPool.opened = []
    monkeypatch.setattr(bootstrap_module, "ThreadPoolExecutor", _RecordingPool)
    # 128 resamples are 4 chunks, more than the threads asked for.
    metrics.bootstrap_ci("qini_auc_score", *scored, n_boot=128, random_state=0, n_jobs=n_jobs)
    metrics.bootstrap_curve_band(*scored, n_boot=128, random_state=0, n_jobs=n_jobs)
    assert _RecordingPool.opened == expected * 2
    # A learner's fits (two arms: two at a time) run on as many threads, at most.
    _RecordingPool.opened = []
    monkeypatch.setattr(crossfit_module, "ThreadPoolExecutor", _RecordingPool)
    TLearner(outcome_model=_logistic(), control="control", n_jobs=n_jobs).fit(
        experiment[["age", "tenure"]], experiment["treatment"], experiment["outcome"])
    assert bool(_RecordingPool.opened) == bool(expected)
    assert all(size <= expected[0] for size in _RecordingPool.opened)


@pytest.mark.parametrize("n_jobs", [0, 1.5, True, "2"])
def test_bad_n_jobs_is_refused_alike_everywhere(experiment, scored, n_jobs):
    X, t, y = experiment[FEATURES], experiment["treatment"], experiment["outcome"]
    calls = [
        lambda: UpliftRandomForestClassifier(n_estimators=2, n_jobs=n_jobs, verbose=0).fit(X, t, y),
        lambda: metrics.bootstrap_ci("qini_auc_score", *scored, n_boot=10, n_jobs=n_jobs),
        # A metric the kernel does not compute is still checked, although it runs on one thread.
        lambda: metrics.bootstrap_ci("uplift_at_k", *scored, n_boot=10, n_jobs=n_jobs),
        lambda: metrics.bootstrap_compare("qini_auc_score", scored[0], scored[1], scored[1], scored[2], n_boot=10,
                                          n_jobs=n_jobs),
        lambda: metrics.bootstrap_curve_band(*scored, n_boot=10, n_jobs=n_jobs),
        lambda: TLearner(outcome_model=_logistic(), control="control", n_jobs=n_jobs).fit(X[["age"]], t, y),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="n_jobs must be None, a positive int or -1") as caught:
            call()
        assert isinstance(caught.value, TypeError) == (n_jobs != 0)


def _fit(estimator, experiment):
    return lambda: estimator.fit(experiment[FEATURES], experiment["treatment"], experiment["outcome"])


@pytest.mark.parametrize("value", [1, "yes"])
def test_a_bad_flag_raises_the_same_error_in_estimators_metrics_and_plots(experiment, scored, value):
    y, score, treatment = scored
    experiment = experiment.assign(outcome=experiment["outcome"].astype(float))
    calls = {
        "normalize": _fit(UpliftTreeClassifier(normalize=value), experiment),
        "honest": _fit(UpliftTreeRegressor(honest=value), experiment),
        "bootstrap": _fit(UpliftRandomForestRegressor(n_estimators=2, bootstrap=value, verbose=0), experiment),
        "negative_effect": lambda: metrics.qini_auc_score(y, score, treatment, negative_effect=value),
        "std": lambda: metrics.uplift_by_percentile(y, score, treatment, std=value),
        "total": lambda: metrics.uplift_by_percentile(y, score, treatment, total=value),
        "string_percentiles": lambda: metrics.uplift_by_percentile(y, score, treatment, string_percentiles=value),
    }
    calls["negative_effect "] = lambda: metrics.perfect_qini_curve(y, treatment, negative_effect=value)
    for name, call in calls.items():
        _raises_type_error(call, f"{name.strip()} must be True or False")


def test_alpha_is_checked_alike_in_metrics_plots_and_intervals(scored):
    from upliftree.inference import diff_proportions_ci

    calls = [
        lambda alpha: metrics.calibration_table(*scored, alpha=alpha),
        lambda alpha: metrics.bootstrap_ci("qini_auc_score", *scored, n_boot=10, alpha=alpha),
        lambda alpha: plot_calibration(*scored, alpha=alpha),
        lambda alpha: diff_proportions_ci(10, 3, 10, 4, alpha=alpha),
    ]
    for call in calls:
        _raises_value_error(lambda call=call: call(1.5), r"alpha must be a number in \(0, 1\)")
        _raises_type_error(lambda call=call: call("0.05"), "alpha must be a number")


INF = np.inf


@pytest.mark.parametrize(("bounds", "text", "good", "bad"), [
    ((0.0, 1.0, True, True), "a number in (0, 1)", [0.5], [0.0, 1.0]),
    ((0.0, 0.5, False, True), "a number in [0, 0.5)", [0.0], [0.5, -0.1]),
    ((0.0, INF, False, False), "a number >= 0", [0.0, INF], [-1.0]),
    ((0.0, INF, True, False), "a number > 0", [1e-9, INF], [0.0]),
    ((0.0, INF, False, True), "a finite number >= 0", [0.0, 1e300], [INF, -1.0]),
    ((-INF, INF, True, True), "a finite number", [-1e300], [INF, -INF]),
    ((-INF, INF, False, True), "a number < inf", [-INF], [INF]),
    ((-INF, 3.0, False, False), "a number <= 3", [-INF, 3.0], [3.5]),
])
def test_real_ranges_read_as_what_they_accept(bounds, text, good, bad):
    minimum, maximum, open_low, open_high = bounds
    for value in good:
        assert params.check_real(value, "x", minimum, maximum, open_low=open_low, open_high=open_high) == value
    for value in [*bad, np.nan]:
        with pytest.raises(ValueError, match=rf"^x must be {re.escape(text)}, got {re.escape(repr(value))}$"):
            params.check_real(value, "x", minimum, maximum, open_low=open_low, open_high=open_high)


def test_count_or_share_is_an_int_count_or_a_float_share():
    assert params.check_count_or_share(np.int64(3), "k", 0) == 3 and type(params.check_count_or_share(3, "k", 0)) is int
    assert params.check_count_or_share(1.0, "k", 0) == 1.0 and type(params.check_count_or_share(1.0, "k", 0)) is float
    for bad in (-1, 0.0, 1.5, np.nan):
        _raises_value_error(lambda bad=bad: params.check_count_or_share(bad, "k", 0), r"k must be an integer >= 0 or")
    for bad in ("3", True, None):
        _raises_type_error(lambda bad=bad: params.check_count_or_share(bad, "k", 0), "k must be")
    _raises_value_error(lambda: params.check_count_or_share(0, "max_samples", 1, others=(None,)),
                        r"max_samples must be None, an integer >= 1 or a share in \(0, 1\], got 0")


# -- every entry point of a shared parameter refuses a bad value alike ----------------------------------------
@pytest.fixture(scope="module")
def fitted_tree(experiment):
    return UpliftTreeClassifier(max_depth=2, min_samples_leaf=200, control="control").fit(
        experiment[FEATURES], experiment["treatment"], experiment["outcome"])


def _same_error_everywhere(calls: dict, bad_values: list) -> None:
    """Each bad ``(value, error, message)`` raises, from every call, that error type with that message."""
    for value, error, message in bad_values:
        for name, call in calls.items():
            with pytest.raises(error) as caught:
                call(value)
            assert str(caught.value) == message, (name, value)
            assert isinstance(caught.value, params.ParameterTypeError) == (error is params.ParameterTypeError), name


def test_max_bins_means_the_same_in_trees_forests_distillation_and_bins(experiment, fitted_tree):
    from upliftree import distill
    from upliftree.binning import BinMapper

    X, t, y = experiment[FEATURES], experiment["treatment"], experiment["outcome"]
    schema, _, data = fitted_tree._prepare(X, t, y, None)
    calls = {
        "tree": lambda value: UpliftTreeClassifier(max_bins=value).fit(X, t, y),
        "forest": lambda value: UpliftRandomForestRegressor(n_estimators=2, max_bins=value, verbose=0).fit(X, t, y),
        "distill": lambda value: distill(fitted_tree, X, t, y, max_bins=value),
        "BinMapper": lambda value: BinMapper(value).fit(data.encoded, schema),
        "BinMapper.from_thresholds": lambda value: BinMapper.from_thresholds(schema, [None] * len(FEATURES), value),
    }
    _same_error_everywhere(calls, [
        (256, ValueError, "max_bins must be an integer in [2, 255], got 256"),
        (1, ValueError, "max_bins must be an integer in [2, 255], got 1"),
        (2.5, params.ParameterTypeError, "max_bins must be an integer in [2, 255], got 2.5"),
        (True, params.ParameterTypeError, "max_bins must be an integer in [2, 255], got True"),
    ])


def test_alpha_means_the_same_in_pruning_policy_values_learners_and_reports(experiment, fitted_tree):
    from upliftree.learners import doubly_robust_scores
    from upliftree.policy import policy_value
    from upliftree.report import ReportSettings

    X, t, y = experiment[FEATURES], experiment["treatment"], experiment["outcome"]
    scores = doubly_robust_scores(X[["age", "tenure"]].to_numpy(), t, y, outcome_model=_logistic(), propensity=0.5,
                                  control="control", random_state=0)
    assignments = np.where(X["age"] > 40, "email", "control")
    calls = {
        "prune": lambda alpha: fitted_tree.prune(X, t, y, alpha=alpha),
        "policy_value": lambda alpha: policy_value(assignments, X, t, y, control="control", alpha=alpha),
        "DRScores.interval": lambda alpha: scores.interval(alpha),
        "ReportSettings": lambda alpha: ReportSettings(alpha=alpha).check(),
        "calibration_table": lambda alpha: fitted_tree.calibration(X, t, y, alpha=alpha),
    }
    _same_error_everywhere(calls, [
        (1.5, ValueError, "alpha must be a number in (0, 1), got 1.5"),
        (0.0, ValueError, "alpha must be a number in (0, 1), got 0.0"),
        ("0.05", params.ParameterTypeError, "alpha must be a number in (0, 1), got '0.05'"),
    ])
    # A report also keeps its intervals at 50% coverage or more.
    _raises_value_error(lambda: ReportSettings(alpha=0.7).check(), r"alpha must be a number in \(0, 0.5\]")


def test_random_state_means_the_same_in_estimators_data_metrics_and_policies(experiment, fitted_tree, scored):
    from upliftree.binning import BinMapper
    from upliftree.policy import Policy, policy_value

    X, t, y = experiment[FEATURES], experiment["treatment"], experiment["outcome"]
    schema, _, data = fitted_tree._prepare(X, t, y, None)
    assignments = np.where(X["age"] > 40, "email", "control")
    calls = {
        "tree": lambda seed: UpliftTreeClassifier(max_depth=1, control="control", random_state=seed).fit(X, t, y),
        "forest": lambda seed: UpliftRandomForestClassifier(n_estimators=2, control="control", random_state=seed,
                                                            verbose=0).fit(X, t, y),
        "make_uplift_data": lambda seed: make_uplift_data(100, random_state=seed),
        "bootstrap_ci": lambda seed: metrics.bootstrap_ci("qini_auc_score", *scored, n_boot=10, random_state=seed),
        "policy_value": lambda seed: policy_value(assignments, X, t, y, control="control", n_boot=10,
                                                  random_state=seed),
        "eligibility": lambda seed: Policy(fitted_tree).eligibility(X, random_state=seed),
        "BinMapper": lambda seed: BinMapper(random_state=seed).fit(data.encoded, schema),
    }
    message = "random_state must be None, a non-negative int or a numpy Generator, got {}"
    _same_error_everywhere(calls, [
        (-1, ValueError, message.format(-1)),
        ("seed", params.ParameterTypeError, message.format("'seed'")),
        (1.5, params.ParameterTypeError, message.format(1.5)),
    ])


def test_policy_settings_mean_the_same_in_policies_and_reports(experiment, fitted_tree):
    from upliftree.policy import Policy
    from upliftree.report import ReportSettings

    X = experiment[FEATURES]
    policy = Policy(fitted_tree, benefit=10.0, cost=1.0)
    _same_error_everywhere({
        "Policy.eligibility": lambda explore: policy.eligibility(X, explore=explore),
        "ReportSettings": lambda explore: ReportSettings(explore=explore).check(),
    }, [
        (1.0, ValueError, "explore must be a number in [0, 1), got 1.0"),
        (-0.1, ValueError, "explore must be a number in [0, 1), got -0.1"),
        (True, params.ParameterTypeError, "explore must be a number in [0, 1), got True"),
    ])
    _same_error_everywhere({
        "Policy.decide": lambda budget: policy.decide(X, rule="budget", budget=budget),
        "ReportSettings": lambda budget: ReportSettings(benefit=10.0, budget=budget).check(),
    }, [
        (-5.0, ValueError, "budget must be a finite number >= 0, got -5.0"),
        (np.inf, ValueError, "budget must be a finite number >= 0, got inf"),
        ("5", params.ParameterTypeError, "budget must be a finite number >= 0, got '5'"),
    ])
    _same_error_everywhere({
        "Policy": lambda cost: Policy(fitted_tree, cost=cost),
        "ReportSettings": lambda cost: ReportSettings(benefit=10.0, cost=cost).check(),
    }, [
        (-1.0, ValueError, "cost must be a finite number >= 0, got -1.0"),
        (np.inf, ValueError, "cost must be a finite number >= 0, got inf"),
        (True, params.ParameterTypeError, "cost must be a finite number >= 0, got True"),  # a str is a column
    ])
    _same_error_everywhere({
        "Policy": lambda benefit: Policy(fitted_tree, benefit=benefit),
        "ReportSettings": lambda benefit: ReportSettings(benefit=benefit).check(),
    }, [
        (np.inf, ValueError, "benefit must be a finite number, got inf"),
        (np.nan, ValueError, "benefit must be a finite number, got nan"),
    ])


def _logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()
