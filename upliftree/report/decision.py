"""Report stage 4: with a benefit, a policy on the tree: each segment's action, who gets which treatment
(the eligibility list of every row) and the policy's value on the held-out rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .fitting import FittedModels
from .settings import Progress, ReportSettings
from .split import SplitRows

__all__ = ["Decision", "decide"]


@dataclass(frozen=True)
class Decision:
    """A policy's actions and value.

    Attributes
    ----------
    policy : Policy
        On the report's tree, with the settings' benefit and cost.
    leaf_actions, leaf_values : dict
        Leaf id -> action label, and -> net value per row, as the rule sheets show them.
    eligibility : DataFrame
        :meth:`Policy.eligibility` of every row of the experiment.
    value : DataFrame
        ``comparison.table``: :func:`upliftree.policy.policy_value` on the held-out rows, the policy against
        treating nobody, everybody and at random, with each alternative's spend and feasibility.
    comparison : BaselineComparison
        :func:`upliftree.policy.compare_with_baselines`: whether the policy beats the best simple
        alternative, and the recommendation (the headline of the policy card).
    """

    policy: Any
    leaf_actions: dict
    leaf_values: dict
    eligibility: pd.DataFrame
    value: pd.DataFrame
    comparison: Any


def decide(split: SplitRows, models: FittedModels, settings: ReportSettings, ids: Any,
           progress: Progress) -> Decision | None:
    """The policy of ``settings.benefit`` / ``cost`` (and ``budget``, greedy): None without a benefit."""
    if settings.benefit is None:
        return None
    from ..policy import Policy, compare_with_baselines

    full, test = split.experiment, split.test
    with progress("Applying the policy: eligibility list and held-out policy value"):
        policy = Policy(models.tree, benefit=settings.benefit, cost=settings.cost)
        sheet = policy.segment_sheet()
        leaf_values = dict(zip(sheet["leaf_id"].astype(int), sheet["net_value"], strict=True))
        rule: dict[str, Any] = {"rule": "threshold"}
        if settings.budget is not None:
            rule = {"rule": "budget", "budget": settings.budget}
        # The rule text of every row's leaf would make the file ten times larger: rules.csv has it per leaf_id.
        eligibility = policy.eligibility(full.X, ids=ids, explore=settings.explore, random_state=settings.seed,
                                         rule_text=False, **rule)
        # A budget is for the whole table; on the held-out rows it scales with their share of the rows.
        test_rule = dict(rule)
        if settings.budget is not None:
            test_rule["budget"] = settings.budget * test.n_rows / full.n_rows
        comparison = compare_with_baselines(policy, test.X, test.treatment, test.y, propensity=test.propensity,
                                            cluster=test.cluster, n_boot=settings.n_boot, alpha=settings.alpha,
                                            random_state=settings.seed, **test_rule)
    return Decision(policy, policy.leaf_actions(), leaf_values, eligibility, comparison.table, comparison)
