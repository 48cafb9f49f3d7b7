"""Which treatments a model is confident are worth giving: the lower confidence bound of their uplift is on the
good side of 0 (``Policy.decide(..., min_confidence=...)``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._base import BINARY, FOREST, TREE, UpliftModel, model_kind
from .._params import check_real


def uplift_bounds(model: Any, X: Any, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``1 - alpha`` bounds of every row's uplift, ``(n, k)`` each: a tree's honest leaf intervals
    (its segment table's ``ci_low``/``ci_high``; NaN where a leaf lacks an arm) or a forest's
    ``predict_interval``. Other models, and trees whose leaves were estimated on the rows that chose the
    splits, raise an error saying what to use."""
    kind = model_kind(model) if isinstance(model, UpliftModel) else None
    if kind == TREE:
        from ..segments import node_effects

        if not model.honest_estimates_:
            raise ValueError("min_confidence needs honest leaf intervals: fit the tree with honest=True (leaves "
                             "estimated on the rows that chose the splits give intervals that are too narrow)")
        effects = node_effects(model.tree_, model.outcome_type_ == BINARY, alpha)
        leaves = model.apply(X)
        return effects.ci_low[leaves], effects.ci_high[leaves]
    if kind == FOREST:
        lower, upper = model.predict_interval(X, alpha=alpha)
        return (lower[:, None], upper[:, None]) if lower.ndim == 1 else (lower, upper)
    raise TypeError(f"min_confidence needs an upliftree tree or forest (per-row uplift intervals), got "
                    f"{type(model).__name__}")


def confident_treatments(model: Any, X: Any, min_confidence: float, benefit: np.ndarray) -> np.ndarray:
    """``(n, k)`` mask of the treatments whose uplift is on the side ``benefit`` rewards with one-sided
    confidence ``min_confidence``: the lower bound of a two-sided ``1 - 2 (1 - min_confidence)`` interval above
    0 where ``benefit > 0``, its upper bound below 0 where ``benefit < 0``; never where ``benefit`` is 0 or
    the interval is undefined."""
    check_real(min_confidence, "min_confidence", 0.5, 1.0, open_high=True)
    lower, upper = uplift_bounds(model, X, 2.0 * (1.0 - min_confidence))
    # NaN bounds compare False: a leaf without both arms is never confident.
    return np.where(benefit > 0, lower > 0, np.where(benefit < 0, upper < 0, False))
