"""Offline policy value: what a policy would have achieved, estimated on held-out randomized data.

Every estimate is a mean over rows of a per-row, per-arm pseudo-outcome ``G[i, a]`` whose expectation is the
row's expected outcome under arm ``a``:

- inverse propensity weighting (``"ipw"``, Horvitz-Thompson): ``G[i, a] = 1[A_i = a] Y_i / p_i``;
- doubly robust (``"dr"``): ``G[i, a] = m_a(x_i) + 1[A_i = a] (Y_i - m_a(x_i)) / p_i`` with an outcome
  model ``m`` (the uplift model's ``predict_outcome``, else the arm means of the evaluation rows).

``p_i`` is the probability of the arm row ``i`` received (given, or each arm's share of the rows: then the arms
must not depend on the features, which :mod:`.randomization` checks). Formulas and assumptions:
``docs/policy.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._base import spawn_generators
from .._format import p_value as format_p_value
from .._params import check_alpha, check_budget, check_choice, check_int
from .._validation import (
    arm_codes,
    as_pandas,
    check_1d,
    check_n_rows,
    labels_equal,
    validate_cluster,
    validate_outcome,
    validate_propensity,
    validate_treatment,
)
from .allocation import with_control
from .amounts import per_row_columns, per_treatment_constants, resolve
from .randomization import DEPENDENCE_ALPHA, arm_dependence
from .targeting import Policy

ESTIMATORS = ("ipw", "dr")


RESAMPLE_CELLS = 2_000_000  # resamples x rows held in memory at once


@dataclass(frozen=True)
class _Experiment:
    """Evaluation rows and what is needed to value any assignment of arms on them."""

    arm: np.ndarray  # observed arm codes
    y: np.ndarray
    propensity: np.ndarray | None  # probability of the observed arm; None: each arm's share of the rows
    outcome: np.ndarray | None  # model's expected outcome per arm (n, n_arms); None: arm means (DR) or 0 (IPW)
    doubly_robust: bool
    policy: np.ndarray  # arm code the evaluated policy gives each row
    benefit: np.ndarray  # (n, n_arms): value of one unit of outcome per row and arm, 0 for control
    cost: np.ndarray  # (n, n_arms), 0 for control

    @property
    def arm_indicator(self) -> np.ndarray:
        return (self.arm[:, None] == np.arange(self.cost.shape[1])).astype(np.float64)


@dataclass(frozen=True)
class _Valuation:
    """Point estimates ``(2, n_arms + 2)`` and bootstrap resamples ``(n_boot, 2, n_arms + 2)`` of
    :func:`_estimates` (mean outcome, net value; policy, each arm, random), and the data they come from."""

    point: np.ndarray
    resamples: np.ndarray
    data: _Experiment
    labels: tuple


def _weighted_means(weight: np.ndarray, values: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Per resample, the weighted mean of per-row ``values`` (shared by all resamples, or one row each)."""
    return np.einsum("bi,bi->b", weight, np.broadcast_to(values, weight.shape))[:, None] / total


def _estimates(data: _Experiment, weight: np.ndarray) -> np.ndarray:
    """Mean outcome and net value of the policy, each arm for all rows and random targeting.

    ``weight`` is ``(n_resamples, n_rows)``: how many copies of each row a resample holds (ones for the
    point estimate). Returns ``(n_resamples, 2, n_arms + 2)``; NaN for a resample that lacks some arm.
    """
    n_rows, n_arms = data.cost.shape
    rows = np.arange(n_rows)
    indicator = data.arm_indicator
    total = weight.sum(axis=1)[:, None]
    arm_weight = weight @ indicator
    has_every_arm = (arm_weight > 0).all(axis=1)
    arm_weight = np.where(arm_weight > 0, arm_weight, np.nan)
    propensity = (arm_weight / total)[:, data.arm] if data.propensity is None else data.propensity
    # G[i, a] = m[i, a] + 1[A_i = a] * residual_i: only the received arm's entry carries the outcome.
    if data.outcome is not None:
        arm_expected = weight @ data.outcome / total
        observed, chosen, control = (data.outcome[rows, data.arm], data.outcome[rows, data.policy],
                                     data.outcome[:, 0])
    else:
        arm_expected = (weight @ (indicator * data.y[:, None]) / arm_weight if data.doubly_robust
                        else np.zeros((len(weight), n_arms)))
        observed, chosen, control = arm_expected[:, data.arm], arm_expected[:, data.policy], arm_expected[:, :1]
    residual = (data.y - observed) / propensity
    arm_outcome = arm_expected + (weight * residual) @ indicator / total
    # Net value of arm a: mean_i benefit[i, a] (G[i, a] - G[i, control]) - cost[i, a]; benefit may vary by row.
    if data.outcome is not None:
        modelled_gain = weight @ (data.benefit * (data.outcome - data.outcome[:, :1])) / total
    else:
        modelled_gain = weight @ data.benefit / total * (arm_expected - arm_expected[:, :1])
    arm_net = (modelled_gain + (weight * residual) @ (data.benefit * (indicator - indicator[:, :1])) / total
               - weight @ data.cost / total)
    policy_outcome = chosen + (data.arm == data.policy) * residual
    control_outcome = control + (data.arm == 0) * residual
    policy_net = (data.benefit[rows, data.policy] * (policy_outcome - control_outcome)
                  - data.cost[rows, data.policy])
    shares = np.bincount(data.policy, minlength=n_arms) / n_rows
    estimates = np.stack([
        np.column_stack([_weighted_means(weight, policy_outcome, total), arm_outcome, arm_outcome @ shares]),
        np.column_stack([_weighted_means(weight, policy_net, total), arm_net, arm_net @ shares]),
    ], axis=1)
    estimates[~has_every_arm] = np.nan
    return estimates


def _bootstrap(data: _Experiment, n_boot: int, generator: np.random.Generator,
               cluster: np.ndarray | None) -> np.ndarray:
    """Estimates on ``n_boot`` resamples of the rows, or of whole clusters (cluster codes ``cluster``), drawn
    with replacement, in memory-sized blocks."""
    n_rows = len(data.arm)
    n_units = n_rows if cluster is None else int(cluster.max()) + 1
    block = max(1, RESAMPLE_CELLS // n_rows)
    draws = []
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        drawn = generator.integers(0, n_units, (size, n_units)) + n_units * np.arange(size)[:, None]
        copies = np.bincount(drawn.ravel(), minlength=size * n_units).reshape(size, n_units)
        draws.append(_estimates(data, (copies if cluster is None else copies[:, cluster]).astype(np.float64)))
    return np.concatenate(draws)


def policy_value(policy_or_assignments: Any, X: Any, treatment: Any, y: Any, *, propensity: Any = None,
                 cluster: Any = None, estimator: str = "dr", n_boot: int = 1000, alpha: float = 0.05,
                 benefit: Any = None, cost: Any = None, control: Any = None, outcome_model: Any = None,
                 random_state: Any = None, **decide_kwargs: Any) -> pd.DataFrame:
    """Estimate, on held-out randomized rows, the mean outcome and net value a policy would achieve.

    The policy is compared with treating nobody, treating everyone with each treatment, and random
    targeting with the policy's arm shares; intervals come from a bootstrap over rows, or over clusters with
    ``cluster`` (outcome models fitted elsewhere stay fixed; arm shares and arm means are re-estimated in
    every resample).

    Without ``propensity`` the arms must have been randomized with fixed probabilities: when a chi-squared
    test finds that the arm shares clearly depend on a feature of ``X`` or on the policy's assignments
    (:mod:`upliftree.policy.randomization`), as they do in data a policy logged, the call is refused with a
    ``ValueError`` rather than returning a biased value.

    Parameters
    ----------
    policy_or_assignments : Policy or array of arm labels
        A :class:`Policy` (decided on ``X`` with ``**decide_kwargs``; its benefit and costs give the net value)
        or the arm label each row of ``X`` would get.
    X : DataFrame or 2-D array
        Features of the evaluation rows.
    treatment, y : array-like
        The arm each row actually received (randomized) and its outcome.
    propensity : None, number, dict, 1-D or 2-D array, or column name of ``X``
        Known assignment probabilities, in the forms (and with the checks) of every estimator's ``fit``:
        ``None`` (each arm's share of the rows, for a randomized experiment with fixed probabilities), the
        probability of treatment (two arms), ``{label: probability}`` for every arm, one value per row for its
        received arm (e.g. ``assignment_probability`` of :meth:`Policy.eligibility`), or ``(n, n_arms)``.
    cluster : None, array-like or column name of ``X``
        Ids of the unit of randomization (store, household): the bootstrap resamples whole clusters.
    estimator : {"dr", "ipw"}
        Doubly robust or inverse propensity weighting (module docstring).
    n_boot : int
        Bootstrap resamples.
    alpha : float
        Intervals have coverage ``1 - alpha`` (percentile bootstrap).
    benefit, cost, control
        With an array of assignments only: value per unit of outcome (default 1), cost per treated row (as
        in :class:`Policy`, default 0) and the control label (required).
    outcome_model : fitted model with ``predict_outcome``, optional
        Outcome model for ``"dr"``; by default a Policy's model when it has ``predict_outcome``, else arm means.
        It must not have been fitted on these rows.
    random_state : None, int or numpy Generator
        Seeds the bootstrap.

    Returns
    -------
    DataFrame
        Index ``policy``, ``treat none``, ``treat all: <label>`` per treatment, ``random (same shares)``;
        columns ``treated_share``, ``outcome`` (mean outcome per row), ``net_value`` (mean net value per row
        against treating nobody: ``benefit * (outcome under the arm - outcome under control) - cost``),
        ``policy_gain`` (the policy's net value minus the row's), each estimate with ``_low`` / ``_high``
        interval bounds. ``attrs`` holds the estimator, alpha, n_boot and n_rows.
    """
    valuation = _valuation(policy_or_assignments, X, treatment, y, propensity, cluster, estimator, n_boot, alpha,
                           benefit, cost, control, outcome_model, random_state, decide_kwargs)
    return _value_table(valuation, alpha, estimator, n_boot)


def _valuation(policy_or_assignments: Any, X: Any, treatment: Any, y: Any, propensity: Any, cluster: Any,
               estimator: str, n_boot: int, alpha: float, benefit: Any, cost: Any, control: Any,
               outcome_model: Any, random_state: Any, decide_kwargs: dict) -> _Valuation:
    """Checked inputs -> the point estimates and bootstrap resamples of :func:`_estimates`."""
    check_choice(estimator, "estimator", ESTIMATORS)
    n_boot = check_int(n_boot, "n_boot", 1)
    check_alpha(alpha)
    X = as_pandas(X, "X")
    n_rows = check_n_rows(X)
    if isinstance(policy_or_assignments, Policy):
        given = [name for name, value in (("benefit", benefit), ("cost", cost), ("control", control))
                 if value is not None]
        if given:
            raise ValueError(f"{given} come from the Policy; pass them only with an array of assignments")
        policy = policy_or_assignments
        labels = tuple(policy.treatments_)
        arm = arm_codes(check_1d(treatment, "treatment", n_rows), labels)
        assigned = arm_codes(policy.decide(X, **decide_kwargs), labels)
        benefit_per_arm = policy.row_benefit(X)
        cost_per_arm = policy.treatment_cost(X)
        if outcome_model is None and callable(getattr(policy.model, "predict_outcome", None)):
            outcome_model = policy.model
    else:
        if decide_kwargs:
            raise ValueError(f"{sorted(decide_kwargs)} are decision arguments; they need a Policy")
        if control is None:
            raise ValueError("control=<label of the control arm> is required with an array of assignments")
        arms = validate_treatment(treatment, control, n_rows)
        labels, arm = arms.labels, arms.codes
        assignments = check_1d(policy_or_assignments, "policy_or_assignments", n_rows)
        unknown = sorted({str(label) for label in pd.unique(assignments)
                          if not any(labels_equal(label, known) for known in labels)})
        if unknown:
            raise ValueError(f"policy_or_assignments has arm labels {unknown[:10]} not received by any row of "
                             f"treatment {list(labels)}; their value cannot be estimated")
        assigned = arm_codes(assignments, labels)
        benefit_per_arm = np.broadcast_to(
            per_treatment_constants(1.0 if benefit is None else benefit, labels, "benefit"),
            (n_rows, len(labels) - 1))
        cost_per_arm = resolve(per_row_columns(0.0 if cost is None else cost, labels, "cost", 0.0), X, n_rows,
                               "cost", 0.0)
    missing_arms = [label for code, label in enumerate(labels) if not (arm == code).any()]
    if missing_arms:
        raise ValueError(f"treatment has no row of arm(s) {missing_arms}; their value cannot be estimated")
    cluster_codes = validate_cluster(cluster, n_rows, X)
    if propensity is None:
        decided_on = None
        if isinstance(policy_or_assignments, Policy):
            decided_on = getattr(policy_or_assignments.model, "feature_names_in_", None)
        _require_randomized(X, arm, assigned, cluster_codes, labels, decided_on, (treatment, y))

    # The forms and checks of every estimator's fit (so an eligibility list's logged probability feeds back).
    known = validate_propensity(propensity, labels, arm, n_rows, X)
    data = _Experiment(
        arm=arm, y=validate_outcome(y, n_rows, binary=False),
        propensity=None if known is None else known.received,
        outcome=(_outcome_per_arm(outcome_model, X, n_rows, labels)
                 if estimator == "dr" and outcome_model is not None else None),
        doubly_robust=estimator == "dr", policy=assigned,
        benefit=with_control(benefit_per_arm), cost=with_control(cost_per_arm),
    )
    point = _estimates(data, np.ones((1, n_rows)))[0]
    resamples = _bootstrap(data, n_boot, spawn_generators(random_state, 1)[0], cluster_codes)
    return _Valuation(point, resamples, data, labels)




def _require_randomized(X: Any, arm: np.ndarray, assigned: np.ndarray, cluster: np.ndarray | None,
                        labels: tuple, decided_on: Any, design: tuple) -> None:
    """Refuse to estimate propensities by arm shares when the arms clearly depend on the features.

    The columns tested are the policy's assignments and the features: a model's own features when the policy
    has a model (``decided_on``), else every column of ``X`` but those that are the ``design`` arrays
    themselves (the treatment or outcome passed in ``X`` as well).
    """
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    names = [str(name) for name in frame.columns]
    if decided_on is not None:
        wanted = {str(name) for name in decided_on}
        positions = [position for position, name in enumerate(names) if name in wanted]
    else:
        given = [np.asarray(values) for values in design if isinstance(values, pd.Series | np.ndarray | list)]
        positions = [position for position in range(len(names))
                     if not any(_same_values(frame.iloc[:, position].to_numpy(), values) for values in given)]
    columns = {names[position]: frame.iloc[:, position].to_numpy() for position in positions}
    columns["the policy's assignments"] = assigned
    found = arm_dependence(columns, arm, cluster)
    if found.clear:
        raise ValueError(
            f"propensity=None, but the arms {list(labels)} are not randomized with fixed probabilities: their shares "
            f"depend on {found.column!r} (chi-squared test of independence: {format_p_value(found.p_value)}, "
            f"{format_p_value(found.adjusted_p_value)} after Bonferroni over {found.n_tests} tests, below "
            f"{DEPENDENCE_ALPHA:g}), as in data logged by a policy, so arm shares would give a biased value. Pass "
            "propensity=<the logged probability of each row's arm> (e.g. assignment_probability of "
            "Policy.eligibility), or {arm: probability} for a design with fixed probabilities; if that column was "
            "recorded after treatment, leave it out of X"
        )


def _same_values(column: np.ndarray, values: np.ndarray) -> bool:
    return column.shape == values.shape and bool(pd.Series(column).equals(pd.Series(values)))


def _value_table(valuation: _Valuation, alpha: float, estimator: str, n_boot: int,
                 names: list[str] | None = None) -> pd.DataFrame:
    point, resamples, data, labels = valuation.point, valuation.resamples, valuation.data, valuation.labels
    standard = ["policy", "treat none", *(f"treat all: {label}" for label in labels[1:]), "random (same shares)"]
    names = standard if names is None else names
    treated_share = float((data.policy != 0).mean())
    table = pd.DataFrame(index=pd.Index(names, name="policy"))
    table["treated_share"] = [treated_share, 0.0, *[1.0] * (len(labels) - 1), treated_share,
                              *[np.nan] * (len(names) - len(standard))]
    gain = point[1, :1] - point[1]
    resampled_gain = resamples[:, 1, :1] - resamples[:, 1]
    for name, estimate, draws in (("outcome", point[0], resamples[:, 0]), ("net_value", point[1], resamples[:, 1]),
                                  ("policy_gain", gain, resampled_gain)):
        low, high = np.nanquantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
        table[name], table[f"{name}_low"], table[f"{name}_high"] = estimate, low, high
    table.attrs.update(estimator=estimator, alpha=alpha, n_boot=n_boot, n_rows=len(data.arm))
    return table


def _outcome_per_arm(model: Any, X: Any, n_rows: int, labels: tuple) -> np.ndarray:
    """``model.predict_outcome(X)`` with columns in the order of ``labels``."""
    if not callable(getattr(model, "predict_outcome", None)) or not hasattr(model, "treatments_"):
        raise TypeError("outcome_model must be a fitted model with predict_outcome(X) and treatments_")
    model_labels = tuple(model.treatments_)
    columns = []
    for label in labels:
        matches = [code for code, known in enumerate(model_labels) if labels_equal(label, known)]
        if not matches:
            raise ValueError(f"outcome_model has no arm {label!r}; its arms: {list(model_labels)}")
        columns.append(matches[0])
    outcome = np.asarray(model.predict_outcome(X), dtype=np.float64)
    if outcome.shape != (n_rows, len(model_labels)) or not np.isfinite(outcome).all():
        raise ValueError(f"outcome_model.predict_outcome(X) must return finite values of shape "
                         f"({n_rows}, {len(model_labels)}), got shape {outcome.shape}")
    return outcome[:, columns]


# -- the honest headline: the policy against the simple alternatives ------------------------------------------
SPEND_TOLERANCE = 1e-9  # relative: an alternative spending the budget up to rounding is within it


@dataclass(frozen=True)
class BaselineComparison:
    """A policy against the simple alternatives that need no model, and what to do.

    Attributes
    ----------
    table : DataFrame
        :func:`policy_value`'s table with the columns ``spend`` (modelled cost per row) and ``feasible``
        (within the budget), and, under a budget, a row ``random: <label> (same spend)`` for each treatment
        whose treat-all spend is over it: that treatment for a random share of rows that spends what the
        policy spends.
    best : str
        The feasible simple alternative of largest estimated net value (index of ``table``).
    verdict : {"wins", "loses", "ties"}
        ``"wins"``: the policy's gain interval is above 0 over every feasible simple alternative;
        ``"loses"``: its gain interval over ``best`` is below 0; else ``"ties"``.
    recommendation : str
        ``"policy"`` when the policy wins, else ``best``: as good or better, and it needs no model.
    alpha : float
    """

    table: pd.DataFrame
    best: str
    verdict: str
    recommendation: str
    alpha: float

    @property
    def alternatives(self) -> pd.DataFrame:
        """The feasible simple alternatives' rows of ``table``."""
        return self.table.drop(index="policy").loc[lambda frame: frame["feasible"]]

    @property
    def gain(self) -> pd.Series:
        """``policy_gain`` (with ``_low`` / ``_high``) over ``best``."""
        return self.table.loc[self.best, ["policy_gain", "policy_gain_low", "policy_gain_high"]]

    def headline(self, decimals: int | None = None) -> str:
        """The verdict in one sentence, with the numbers (``decimals`` decimals, by default 3 significant)."""
        from .._format import decimals_for, fixed, interval

        table = self.table
        if decimals is None:
            decimals = decimals_for(table[["net_value", "policy_gain"]].to_numpy().ravel(), 3)
        gain = self.gain
        level = f"{100 * (1 - self.alpha):g}% CI"
        numbers = (f"{fixed(table.loc['policy', 'net_value'], decimals, True)} net value per row against "
                   f"{fixed(table.loc[self.best, 'net_value'], decimals, True)} for {describe_alternative(self.best)}"
                   f": a gain of {fixed(gain['policy_gain'], decimals, True)} per row, {level} "
                   f"{interval(gain['policy_gain_low'], gain['policy_gain_high'], decimals, True)}")
        best = describe_alternative(self.best)
        if self.verdict == "wins":
            return (f"The policy wins: {numbers}. It beats every simple alternative (treating no one, everyone "
                    "with each treatment, random targeting) on the held-out rows.")
        if self.verdict == "loses":
            return (f"The policy does not beat the best simple alternative: {best} is better. The policy: {numbers}. "
                    f"Recommended: {best}.")
        return (f"The policy does not beat the best simple alternative: {best} is as good or better and needs no "
                f"model. The policy: {numbers}, not distinguishable from 0. Recommended: {best}.")


def describe_alternative(name: str) -> str:
    """Words for a row name of :func:`policy_value`'s table: ``"treat all: email"`` -> ``"treating everyone
    with email"``."""
    if name == "treat none":
        return "treating no one"
    if name.startswith("treat all: "):
        return f"treating everyone with {name[len('treat all: '):]}"
    if name == "random (same shares)":
        return "random targeting with the policy's shares"
    if name.startswith("random: ") and name.endswith(" (same spend)"):
        return f"{name[len('random: '):-len(' (same spend)')]} for a random share of rows at the same spend"
    return name


def compare_with_baselines(policy_or_assignments: Any, X: Any, treatment: Any, y: Any, *, propensity: Any = None,
                           cluster: Any = None, estimator: str = "dr", n_boot: int = 1000, alpha: float = 0.05,
                           benefit: Any = None, cost: Any = None, control: Any = None, outcome_model: Any = None,
                           random_state: Any = None, **decide_kwargs: Any) -> BaselineComparison:
    """Whether a policy beats the simple alternatives on held-out randomized rows, and what to do.

    The alternatives need no model: treating no one, treating everyone with each treatment, random
    targeting with the policy's arm shares, and under a budget, for each treatment that would cost more than
    the budget for everyone, that treatment for a random share of rows spending what the policy spends.
    Each is valued as in :func:`policy_value` (same arguments, the same design: ``propensity`` and
    ``cluster``), on the same bootstrap resamples, so each gain interval is that of a paired difference.
    Alternatives whose modelled spend exceeds the budget are not feasible and are not compared.

    The policy **wins** when its gain interval is above 0 over *every* feasible alternative (an
    intersection-union test: the claim "beats them all" is wrong with probability at most ``alpha``);
    otherwise the recommendation is the best feasible alternative (largest estimated net value), which is
    as good or better and needs no model.

    Parameters
    ----------
    policy_or_assignments, X, treatment, y, propensity, cluster, estimator, n_boot, alpha, benefit, cost, control,
    outcome_model, random_state
        As in :func:`policy_value`.
    **decide_kwargs
        With a Policy, the decision (``rule``, ``budget``, ...) as in :func:`policy_value`. With an array of
        assignments only ``budget``: the total budget the assignments were made under (it makes the
        alternatives that would spend more infeasible).

    Returns
    -------
    BaselineComparison
    """
    budget = decide_kwargs.get("budget")
    if not isinstance(policy_or_assignments, Policy):
        decide_kwargs = dict(decide_kwargs)
        budget = decide_kwargs.pop("budget", None)
    if budget is not None:
        budget = check_budget(budget)
    alpha = check_alpha(alpha)
    valuation = _valuation(policy_or_assignments, X, treatment, y, propensity, cluster, estimator,
                           check_int(n_boot, "n_boot", 1), alpha, benefit, cost, control, outcome_model,
                           random_state, decide_kwargs)
    data, labels = valuation.data, valuation.labels
    n_rows, n_arms = data.cost.shape
    mean_cost = data.cost.mean(axis=0)
    shares = np.bincount(data.policy, minlength=n_arms) / n_rows
    policy_spend = float(data.cost[np.arange(n_rows), data.policy].mean())
    spend = np.concatenate([[policy_spend], mean_cost, [shares @ mean_cost]])
    point, resamples = valuation.point, valuation.resamples
    names = ["policy", "treat none", *(f"treat all: {label}" for label in labels[1:]), "random (same shares)"]
    limit = None if budget is None else budget / n_rows * (1.0 + SPEND_TOLERANCE)
    if limit is not None:
        # Arm j for a random share f of the rows: f times treating everyone with j, in value and in spend.
        extra_point, extra_draws, extra_shares = [], [], []
        for code in range(1, n_arms):
            share = min(1.0, policy_spend / mean_cost[code]) if mean_cost[code] > 0 else 1.0
            same_shares = np.allclose(shares[1:], share * (np.arange(1, n_arms) == code))  # a duplicate row
            if mean_cost[code] > limit and not same_shares:
                names.append(f"random: {labels[code]} (same spend)")
                spend = np.append(spend, share * mean_cost[code])
                extra_shares.append(share)
                # Outcome: the share's outcome under the arm, the others' under control; net value: share x.
                mix = np.array([[share, 1.0 - share], [share, 0.0]])
                extra_point.append((mix * point[:, [1 + code, 1]]).sum(axis=1))
                extra_draws.append((mix * resamples[:, :, [1 + code, 1]]).sum(axis=2))
        if extra_point:
            point = np.column_stack([point, *extra_point])
            resamples = np.concatenate([resamples, np.stack(extra_draws, axis=2)], axis=2)
    extended = _Valuation(point, resamples, data, labels)
    table = _value_table(extended, alpha, estimator, int(n_boot), names)
    table.insert(1, "spend", spend)
    table.insert(2, "feasible", True if limit is None else spend <= limit)
    table.loc["policy", "feasible"] = True
    if limit is not None and extra_shares:
        table.loc[names[len(labels) + 2:], "treated_share"] = extra_shares
    alternatives = table.drop(index="policy").loc[lambda frame: frame["feasible"]]
    best = str(alternatives["net_value"].idxmax())
    if (alternatives["policy_gain_low"] > 0).all():
        verdict = "wins"
    elif table.loc[best, "policy_gain_high"] < 0:
        verdict = "loses"
    else:
        verdict = "ties"
    return BaselineComparison(table, best, verdict, "policy" if verdict == "wins" else best, alpha)

