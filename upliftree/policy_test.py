"""Policy tests: a holdout on business as usual against a personalization group on the policy.

- :func:`assign`: stable assignment by hashing ids with a salt (holdout, personalization and, inside it, a
  randomized exploration bucket), with the logged probability of every row's arm.

See ``docs/policy.md``, "Policy tests".
"""

from __future__ import annotations

from .policy.assignment import assign

__all__ = ["assign"]
