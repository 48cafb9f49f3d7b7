"""Policies: from predicted uplift to who gets which treatment, and what that is worth.

- :class:`Policy`: expected net value per row and treatment, decisions (threshold, top k, budget, with
  capacities, eligibility and frequency caps), eligibility lists with a randomized exploration bucket and
  logged assignment probabilities, and a per-leaf action sheet for trees.
- :func:`policy_value`: offline value of a policy on held-out randomized data (IPW and doubly robust), with
  bootstrap intervals, against treating nobody, everyone and at random.

See ``docs/policy.md``.
"""

from .amounts import RedemptionCost
from .evaluation import BaselineComparison, compare_with_baselines, policy_value
from .targeting import Policy

__all__ = ["BaselineComparison", "Policy", "RedemptionCost", "compare_with_baselines", "policy_value"]
