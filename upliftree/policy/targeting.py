"""``Policy``: turn predicted uplift into net value, decisions, eligibility lists and a per-leaf action sheet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._base import TREE, NotFittedError, UpliftModel, model_kind, spawn_generators
from .._params import check_budget, check_choice, check_count_or_share, check_explore, check_int, check_real
from .._tree_arrays import COUNT
from .._validation import as_pandas, check_n_rows, labels_equal
from .allocation import assign_with_limits, assign_within_budget, best_arms, of_arm, with_control
from .amounts import (
    frame_column,
    per_row_columns,
    per_treatment_constants,
    resolve,
    row_values,
    treatment_index,
)
from .confidence import confident_treatments

RULES = ("threshold", "top_k", "budget")


def model_treatments(model: Any, argument: str) -> tuple:
    """Arm labels of a fitted uplift model, control first."""
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"{argument} must be a fitted upliftree model with predict(X), got {type(model).__name__}")
    if not hasattr(model, "treatments_"):
        raise NotFittedError(f"{argument} is not fitted yet; call fit(X, treatment, y) first")
    treatments = tuple(model.treatments_)
    if len(treatments) < 2:
        raise ValueError(f"{argument} has arms {list(treatments)}; a policy needs at least one treatment")
    return treatments


def predicted_uplift(model: Any, X: Any, n_rows: int, n_treatments: int, argument: str) -> np.ndarray:
    """``model.predict(X)`` as a checked ``(n_rows, n_treatments)`` matrix."""
    uplift = np.asarray(model.predict(X), dtype=np.float64)
    if uplift.ndim == 1:
        uplift = uplift[:, None]
    if uplift.shape != (n_rows, n_treatments):
        raise ValueError(f"{argument}.predict(X) returned shape {uplift.shape}; expected ({n_rows}, {n_treatments})")
    if not np.isfinite(uplift).all():
        raise ValueError(f"{argument}.predict(X) returned NaN or infinite uplift")
    return uplift


def is_tree(model: Any) -> bool:
    """Whether ``model`` is a fitted upliftree tree (segments, leaf ids and rules apply), not a forest or
    another model with ``predict``."""
    return isinstance(model, UpliftModel) and model_kind(model) == TREE


def leaf_rules(model: Any, leaves: np.ndarray) -> list[str]:
    """Readable rule of each leaf of a fitted tree (see :mod:`upliftree.rules`)."""
    from ..rules import format_rule, leaf_conditions

    return [format_rule(leaf_conditions(model.tree_, model.schema_, int(leaf))) for leaf in leaves]


@dataclass(frozen=True)
class Inputs:
    """What net values are made of, per row (or per leaf) and treatment."""

    uplift: np.ndarray
    cost: np.ndarray
    risk: np.ndarray
    harm_uplift: np.ndarray | None


@dataclass(frozen=True)
class Scores:
    """Net values and the treatments the harm cap permits, per row and treatment."""

    inputs: Inputs
    value: np.ndarray
    harm_ok: np.ndarray


@dataclass(frozen=True)
class Plan:
    """A decision: the scores, the treatments each row may receive at all, and the chosen arm codes."""

    scores: Scores
    permitted: np.ndarray
    codes: np.ndarray


class Policy:
    """Targeting by expected net value: treat when ``uplift * benefit - cost - penalties`` is worth it.

    For row ``i`` and treatment ``j`` the net value, against doing nothing (worth 0), is::

        V[i, j] = uplift[i, j] * benefit[j] - cost[i, j] - risk_penalty[i, j] - harm_weight[j] * harm_uplift[i, j]

    Parameters
    ----------
    model : fitted uplift model
        Anything with ``predict(X)`` (uplift, ``(n,)`` or ``(n, k)``) and ``treatments_`` (control first):
        upliftree trees and forests. Trees also give leaf ids, rules and the per-leaf sheet.
    benefit : number, dict or sequence
        Value of one unit of outcome (e.g. 25.0 dollars per conversion), the same for every treatment, or
        per treatment as ``{label: value}`` or one value per treatment in ``treatments_[1:]`` order. May be
        negative when the outcome is bad (churn).
    cost : number, str, array or dict, >= 0
        Cost of treating one row: a number; a column name of ``X``; per-row values ``(n,)``; per row and
        treatment ``(n, k)``; or ``{label: number | column | per-row values}``. Per-row arrays (and
        Series, checked against ``X``'s index) only fit the ``X`` they were made for.
    risk_penalty : number, str, array or dict, >= 0
        Further amount subtracted from every treatment's value (same forms as ``cost``), e.g. a price on
        complaint risk. It is not spent money, so it does not count against a budget.
    harm_model : fitted uplift model, optional
        Uplift model of a harm outcome (e.g. churn; larger = worse) with the same control and treatments.
    harm_weight : number, dict or sequence, >= 0, optional
        Value lost per unit of harm uplift; needs ``harm_model``.
    harm_cap : number, dict or sequence, optional
        A treatment is only permitted where the predicted harm uplift is below this cap; needs
        ``harm_model``. Give ``harm_weight``, ``harm_cap`` or both with a ``harm_model``.

    See ``docs/policy.md``.
    """

    def __init__(self, model: Any, benefit: Any = 1.0, cost: Any = 0.0, risk_penalty: Any = 0.0,
                 harm_model: Any = None, harm_weight: Any = None, harm_cap: Any = None):
        self.model = model
        self.benefit = benefit
        self.cost = cost
        self.risk_penalty = risk_penalty
        self.harm_model = harm_model
        self.harm_weight = harm_weight
        self.harm_cap = harm_cap
        treatments = model_treatments(model, "model")
        self._treatments = treatments
        self._benefit = per_treatment_constants(benefit, treatments, "benefit")
        self._cost = per_row_columns(cost, treatments, "cost", 0.0)
        self._risk = per_row_columns(risk_penalty, treatments, "risk_penalty", 0.0)
        self._check_harm(treatments)

    def _check_harm(self, treatments: tuple) -> None:
        if self.harm_model is None:
            if self.harm_weight is not None or self.harm_cap is not None:
                raise ValueError("harm_weight and harm_cap need a harm_model (an uplift model of the harm outcome)")
            return
        if self.harm_weight is None and self.harm_cap is None:
            raise ValueError("harm_model is given without harm_weight or harm_cap; give either or both")
        harm_treatments = model_treatments(self.harm_model, "harm_model")
        if not labels_equal(harm_treatments[0], treatments[0]):
            raise ValueError(f"harm_model's control {harm_treatments[0]!r} differs from model's {treatments[0]!r}")
        self._harm_columns = np.array([treatment_index(label, harm_treatments, "harm_model treatments")
                                       for label in treatments[1:]])
        self._n_harm_treatments = len(harm_treatments) - 1
        self._harm_weight = per_treatment_constants(
            0.0 if self.harm_weight is None else self.harm_weight, treatments, "harm_weight", 0.0)
        self._harm_cap = (None if self.harm_cap is None
                          else per_treatment_constants(self.harm_cap, treatments, "harm_cap"))

    # -- net value -------------------------------------------------------------------------------------
    @property
    def treatments_(self) -> np.ndarray:
        """Arm labels, control first (the model's)."""
        return np.asarray(self._treatments, dtype=object)

    @property
    def treatment_benefit(self) -> np.ndarray:
        """Benefit per unit of outcome of each treatment, ``(k,)`` in ``treatments_[1:]`` order."""
        return self._benefit.copy()

    def treatment_cost(self, X: Any) -> np.ndarray:
        """Cost of each treatment for each row of ``X``, ``(n, k)``."""
        X = as_pandas(X, "X")
        return resolve(self._cost, X, check_n_rows(X), "cost", 0.0)

    def _inputs(self, X: Any) -> Inputs:
        n_rows = check_n_rows(X)
        n_treatments = len(self._treatments) - 1
        harm_uplift = None
        if self.harm_model is not None:
            harm_uplift = predicted_uplift(self.harm_model, X, n_rows, self._n_harm_treatments,
                                           "harm_model")[:, self._harm_columns]
        return Inputs(
            predicted_uplift(self.model, X, n_rows, n_treatments, "model"),
            self.treatment_cost(X), resolve(self._risk, X, n_rows, "risk_penalty", 0.0), harm_uplift,
        )

    def _score(self, inputs: Inputs) -> Scores:
        value = inputs.uplift * self._benefit - inputs.cost - inputs.risk
        harm_ok = np.ones(value.shape, dtype=np.bool_)
        if inputs.harm_uplift is not None:
            value = value - self._harm_weight * inputs.harm_uplift
            if self._harm_cap is not None:
                harm_ok = inputs.harm_uplift < self._harm_cap
        return Scores(inputs, value, harm_ok)

    def net_value(self, X: Any) -> pd.DataFrame:
        """Expected net value of every option for every row: one column per arm label, control (0) first.

        The index is ``X``'s index for a DataFrame. ``.to_numpy()`` gives the ``(n, k + 1)`` array.
        """
        X = as_pandas(X, "X")
        value = self._score(self._inputs(X)).value
        index = X.index if isinstance(X, pd.DataFrame) else None
        columns = pd.Index(list(self._treatments), dtype=object)
        return pd.DataFrame(with_control(value), index=index, columns=columns)

    # -- decisions -------------------------------------------------------------------------------------
    def decide(self, X: Any, rule: str = "threshold", *, threshold: float = 0.0, k: Any = None,
               budget: float | None = None, capacity: Any = None, eligible: Any = None, contacts: Any = None,
               max_contacts: float | None = None, min_confidence: float | None = None) -> np.ndarray:
        """Arm label per row of ``X``; the control label means "do nothing".

        Parameters
        ----------
        rule : {"threshold", "top_k", "budget"}
            ``"threshold"``: every row gets its best option; ``"top_k"``: at most ``k`` rows are treated, those
            with the largest net value; ``"budget"``: the largest total net value whose total cost is at most
            ``budget`` (greedy by marginal value per marginal cost, see ``docs/policy.md``).
        threshold : float
            A treatment is an option only where its net value exceeds ``threshold`` (all rules). Use
            ``-inf`` for ``top_k`` to fill all ``k`` places even at a loss.
        k : int or float
            ``top_k`` only: number of rows (int >= 0) or share of the rows of ``X`` (float in (0, 1]).
        budget : float >= 0
            ``budget`` only: the most the treatments may cost in total.
        capacity : int or dict
            Most rows each treatment may receive: ``{label: int}`` (treatments not named are unlimited), or an
            int when the model has one treatment. Works with every rule.
        eligible : bool array, str or dict
            Rows that may be treated: a boolean array (or Series aligned with ``X``), a boolean column name, or
            a pandas query string evaluated with ``X.eval`` (e.g. ``"tenure >= 3 and region != 'north'"``); a
            dict ``{label: one of those}`` restricts single treatments.
        contacts, max_contacts : column name or per-row values, and a number
            Frequency cap: rows with ``contacts >= max_contacts`` are not treated.
        min_confidence : float in [0.5, 1), optional
            A treatment is an option only where the model is this confident that its uplift helps: the lower
            one-sided ``min_confidence`` bound of the uplift is above 0 (below 0 for a negative ``benefit``).
            Trees use their honest leaf intervals, forests ``predict_interval`` (grown with ``ci_group_size``;
            see ``docs/policy.md``). Works with every rule.
        """
        X = as_pandas(X, "X")
        plan = self._plan(X, rule, threshold, k, budget, capacity, eligible, contacts, max_contacts,
                          min_confidence)
        return self.treatments_[plan.codes]

    def _plan(self, X: Any, rule: str = "threshold", threshold: float = 0.0, k: Any = None,
              budget: float | None = None, capacity: Any = None, eligible: Any = None, contacts: Any = None,
              max_contacts: float | None = None, min_confidence: float | None = None) -> Plan:
        check_choice(rule, "rule", RULES)
        _check_threshold(threshold)
        if k is not None and rule != "top_k":
            raise ValueError(f"k is used only with rule='top_k', not rule={rule!r}")
        if budget is not None and rule != "budget":
            raise ValueError(f"budget is used only with rule='budget', not rule={rule!r}")
        n_rows = check_n_rows(X)
        total_budget = _check_budget(budget) if rule == "budget" else None
        head_count = _head_count(k, n_rows) if rule == "top_k" else None
        limits = self._capacity(capacity)
        permitted = (self._eligible_mask(eligible, X, n_rows)
                     & self._under_frequency_cap(contacts, max_contacts, X, n_rows)[:, None])
        scores = self._score(self._inputs(X))
        permitted &= scores.harm_ok
        if min_confidence is not None:
            permitted &= confident_treatments(self.model, X, min_confidence, self._benefit)
        allowed = permitted & (scores.value > threshold)
        if total_budget is not None:
            codes = assign_within_budget(scores.value, scores.inputs.cost, allowed, limits, total_budget)
        elif head_count is not None:
            codes = assign_with_limits(scores.value, allowed, limits, head_count)
        elif np.isfinite(limits).any():
            codes = assign_with_limits(scores.value, allowed, limits, np.inf)
        else:
            codes = best_arms(scores.value, allowed)
        return Plan(scores, permitted, codes)

    def _capacity(self, capacity: Any) -> np.ndarray:
        n_treatments = len(self._treatments) - 1
        limits = np.full(n_treatments, np.inf)
        if capacity is None:
            return limits
        if isinstance(capacity, dict):
            named = capacity.items()
        elif n_treatments == 1:
            named = [(self._treatments[1], capacity)]
        else:
            raise TypeError(f"capacity must be a dict {{treatment: int}} when there are several treatments, "
                            f"got {capacity!r}")
        for label, limit in named:
            limit = check_int(limit, f"capacity[{label!r}]", 0)
            limits[treatment_index(label, self._treatments, "capacity")] = float(limit)
        return limits

    def _eligible_mask(self, eligible: Any, X: Any, n_rows: int) -> np.ndarray:
        mask = np.ones((n_rows, len(self._treatments) - 1), dtype=np.bool_)
        if eligible is None:
            return mask
        if isinstance(eligible, dict):
            for label, spec in eligible.items():
                column = treatment_index(label, self._treatments, "eligible")
                mask[:, column] = _row_mask(spec, X, n_rows, f"eligible[{label!r}]")
            return mask
        return mask & _row_mask(eligible, X, n_rows, "eligible")[:, None]

    @staticmethod
    def _under_frequency_cap(contacts: Any, max_contacts: Any, X: Any, n_rows: int) -> np.ndarray:
        if contacts is None and max_contacts is None:
            return np.ones(n_rows, dtype=np.bool_)
        if contacts is None or max_contacts is None:
            raise ValueError("contacts and max_contacts go together: past contacts per row and the cap")
        check_real(max_contacts, "max_contacts", 0.0)
        counts = frame_column(X, contacts, "contacts") if isinstance(contacts, str) else contacts
        counts = row_values(counts, X, n_rows, "contacts")
        if not np.issubdtype(counts.dtype, np.number) or np.isnan(counts.astype(np.float64)).any():
            raise ValueError("contacts must be numeric with no missing values")
        return counts < max_contacts

    # -- eligibility list ------------------------------------------------------------------------------
    def eligibility(self, X: Any, ids: Any = None, explore: float = 0.05, random_state: Any = None,
                    rule_text: bool = True, **decide_kwargs: Any) -> pd.DataFrame:
        """The list to act on: one row per row of ``X`` with its arm, and a small randomized bucket.

        Every row is independently put in the exploration bucket with probability ``explore`` (rows that may
        receive no treatment at all, through ``eligible``, the frequency cap or the harm cap, never are);
        a bucket row gets an arm drawn uniformly from the ``m`` options it may receive (control and its
        permitted treatments), the others get the policy's arm. ``assignment_probability`` is the exact
        probability, under this procedure, of the arm the row got: ``(1 - explore) * [arm == policy arm]
        + explore / m``. Pass it as ``propensity`` to :func:`policy_value` to evaluate other policies on the
        outcomes. Exploration rows come on top of ``budget`` / ``capacity`` (those bind the policy's arms);
        the ``cost`` column shows what each row's arm costs.

        Parameters
        ----------
        ids : None, str or array
            Row identifiers: ``X``'s index (default), a column name of ``X``, or one value per row.
        explore : float in [0, 1)
            Probability of a row being in the exploration bucket.
        random_state : None, int or numpy Generator
        rule_text : bool
            For a tree, add the ``rule`` column: the text of the row's segment (a categorical column, one
            copy of each text in memory and in parquet files). A CSV file repeats the text on every row; for
            large lists pass False and join on ``leaf_id`` with :meth:`segment_sheet`.
        **decide_kwargs
            The rule and its limits, as for :meth:`decide`.

        Returns
        -------
        DataFrame
            ``id``, ``assigned``, ``policy_arm``, ``exploration``, ``assignment_probability``,
            ``expected_uplift`` and ``net_value`` of the assigned arm (0 for control), ``cost`` of it, then
            ``harm_uplift`` (with a harm model) and ``leaf_id``, ``rule`` (for a tree, see ``rule_text``). Write
            it with
            ``to_csv`` / ``to_parquet``.
        """
        check_explore(explore)
        X = as_pandas(X, "X")
        plan = self._plan(X, **decide_kwargs)
        n_rows = len(plan.codes)
        options = with_control(plan.permitted, control=True)  # doing nothing is always an option
        n_options = options.sum(axis=1)
        bucket_draw, arm_draw = spawn_generators(random_state, 2)
        exploration = (bucket_draw.random(n_rows) < explore) & (n_options > 1)
        pick = np.minimum((arm_draw.random(n_rows) * n_options).astype(np.int64), n_options - 1)
        random_arm = np.argmax(np.cumsum(options, axis=1) > pick[:, None], axis=1)
        assigned = np.where(exploration, random_arm, plan.codes)
        probability = (1.0 - explore) * (assigned == plan.codes) + explore / n_options

        inputs = plan.scores.inputs
        frame = pd.DataFrame({
            "id": self._ids(ids, X, n_rows),
            "assigned": self.treatments_[assigned],
            "policy_arm": self.treatments_[plan.codes],
            "exploration": exploration,
            "assignment_probability": probability,
            "expected_uplift": of_arm(inputs.uplift, assigned),
            "net_value": of_arm(plan.scores.value, assigned),
            "cost": of_arm(inputs.cost, assigned),
        })
        if inputs.harm_uplift is not None:
            frame["harm_uplift"] = of_arm(inputs.harm_uplift, assigned)
        if is_tree(self.model):
            leaf = self.model.apply(X)
            frame["leaf_id"] = leaf
            if rule_text:
                leaves, position = np.unique(leaf, return_inverse=True)
                texts = np.asarray(leaf_rules(self.model, leaves), dtype=object)
                frame["rule"] = pd.Categorical(texts[position])
        return frame

    @staticmethod
    def _ids(ids: Any, X: Any, n_rows: int) -> np.ndarray:
        if ids is None:
            return X.index.to_numpy() if isinstance(X, pd.DataFrame) else np.arange(n_rows)
        if isinstance(ids, str):
            return frame_column(X, ids, "ids").to_numpy()
        return row_values(ids, X, n_rows, "ids")

    # -- per-leaf sheet --------------------------------------------------------------------------------
    def segment_sheet(self, X: Any = None, threshold: float = 0.0) -> pd.DataFrame:
        """One row per leaf of a tree model: rule, size, uplift, net value of every treatment and the action.

        The action is the leaf's best treatment when its net value exceeds ``threshold`` (and the harm cap
        permits it), else control: the threshold rule applied to whole segments, as a rule sheet or SQL
        scores them. Without ``X`` the leaf's own uplift and counts (its estimation rows) are used, so costs
        and penalties must be numbers; with ``X`` per-row amounts and harm uplift are averaged over each
        leaf's rows of ``X`` (a leaf with no row in ``X`` gets NaN values and the control action).
        Eligibility, budgets and capacities act on rows, not leaves, so they are not applied here.

        Returns
        -------
        DataFrame
            ``leaf_id``, ``rule``, ``n_rows``, ``share``, ``uplift`` (or ``uplift_<label>`` per treatment),
            ``net_value_<label>`` per treatment, ``action`` and ``net_value`` (of the action, 0 for control),
            best net value first.
        """
        _check_threshold(threshold)
        X = as_pandas(X, "X")
        if not is_tree(self.model):
            raise TypeError(f"segment_sheet needs a single uplift tree, got {type(self.model).__name__}; "
                            "distill a forest into a tree first")
        tree = self.model.tree_
        leaves = tree.leaf_ids
        if X is None:
            n_rows = tree.stats[leaves][:, :, COUNT].sum(axis=1)
            amounts = [resolve(columns, None, len(leaves), name, 0.0, per_row=False)
                       for columns, name in ((self._cost, "cost"), (self._risk, "risk_penalty"))]
            if self.harm_model is not None:
                raise ValueError("a harm_model's uplift is per row; pass X to average it over each leaf's rows")
            inputs = Inputs(tree.uplift[leaves], *amounts, None)
        else:
            row_inputs = self._inputs(X)
            position = np.searchsorted(leaves, self.model.apply(X))
            n_rows = np.bincount(position, minlength=len(leaves))
            inputs = Inputs(tree.uplift[leaves], *(
                None if matrix is None else _group_means(matrix, position, n_rows)
                for matrix in (row_inputs.cost, row_inputs.risk, row_inputs.harm_uplift)
            ))
        scores = self._score(inputs)
        codes = best_arms(scores.value, scores.harm_ok & (scores.value > threshold))
        labels = [str(label) for label in self._treatments[1:]]
        sheet = pd.DataFrame({"leaf_id": leaves, "rule": leaf_rules(self.model, leaves),
                              "n_rows": n_rows.astype(np.int64), "share": n_rows / max(n_rows.sum(), 1)})
        for column, label in enumerate(labels):
            sheet["uplift" if len(labels) == 1 else f"uplift_{label}"] = inputs.uplift[:, column]
        for column, label in enumerate(labels):
            sheet[f"net_value_{label}"] = scores.value[:, column]
        sheet["action"] = self.treatments_[codes]
        sheet["net_value"] = of_arm(scores.value, codes)
        return sheet.sort_values("net_value", ascending=False, kind="stable", ignore_index=True)

    def leaf_actions(self, X: Any = None, threshold: float = 0.0) -> dict[int, Any]:
        """``{leaf_id: action label}`` of :meth:`segment_sheet`: the ``leaf_actions`` of the rule-sheet and
        SQL exporters."""
        return self._per_leaf(self.segment_sheet(X, threshold), "action")

    def leaf_net_values(self, X: Any = None, threshold: float = 0.0) -> dict[int, float]:
        """``{leaf_id: net value of the action}`` of :meth:`segment_sheet` (the exporters' ``leaf_values``)."""
        return self._per_leaf(self.segment_sheet(X, threshold), "net_value")

    @staticmethod
    def _per_leaf(sheet: pd.DataFrame, column: str) -> dict[int, Any]:
        return {int(leaf): value for leaf, value in zip(sheet["leaf_id"], sheet[column], strict=True)}


def _group_means(matrix: np.ndarray, group: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    sums = np.stack([np.bincount(group, weights=column, minlength=len(group_sizes)) for column in matrix.T], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / group_sizes[:, None]


def _row_mask(spec: Any, X: Any, n_rows: int, argument: str) -> np.ndarray:
    """A boolean per row from an array, a column name or a query string evaluated on ``X``."""
    if isinstance(spec, str):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{argument}={spec!r} needs X as a pandas DataFrame")
        if spec in X.columns:
            spec = X[spec]
        else:
            try:
                spec = X.eval(spec)
            except Exception as error:  # pandas raises many types for a bad expression; say which argument
                raise ValueError(f"{argument}={spec!r} is neither a column of X nor a query pandas can "
                                 f"evaluate on X: {error}") from error
            if not isinstance(spec, pd.Series):
                raise ValueError(f"{argument}: the query must give one boolean per row, got {spec!r}")
    if isinstance(spec, pd.Series) and pd.api.types.is_bool_dtype(spec.dtype) and not spec.hasnans:
        spec = spec.astype(np.bool_)
    mask = row_values(spec, X, n_rows, argument)
    if mask.dtype != np.bool_:
        raise TypeError(f"{argument} must be boolean (True/False, no missing values), got dtype {mask.dtype}")
    return mask


def _check_threshold(threshold: Any) -> None:
    check_real(threshold, "threshold", -np.inf, np.inf, open_high=True)


def _check_budget(budget: Any) -> float:
    if budget is None:
        raise ValueError("rule='budget' needs budget=<the most the treatments may cost in total>")
    return check_budget(budget)


def _head_count(k: Any, n_rows: int) -> float:
    if k is None:
        raise ValueError("rule='top_k' needs k=<number of rows (int) or share of rows (float in (0, 1])>")
    count_or_share = check_count_or_share(k, "k", 0)
    if isinstance(count_or_share, int):
        return float(min(count_or_share, n_rows))
    return float(np.floor(count_or_share * n_rows))
