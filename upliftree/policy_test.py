"""Policy tests: a holdout on business as usual against a personalization group on the policy.

- :func:`assign`: stable assignment by hashing ids with a salt (holdout, personalization and, inside it, a
  randomized exploration bucket), with the logged probability of every row's arm.
- :func:`analyze`: from the logged outcomes, the incremental value of personalization over the holdout with a
  (cluster-robust) interval and a verdict, the policy's value inside the personalization group from the
  exploration bucket, a per-segment breakdown, and an HTML page (:meth:`PolicyTestResult.to_html`).

See ``docs/policy.md``, "Policy tests".
"""

from __future__ import annotations

from .policy.analysis import PolicyTestResult, analyze
from .policy.assignment import assign

__all__ = ["PolicyTestResult", "analyze", "assign"]
