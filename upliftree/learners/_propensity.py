"""Propensities at the training rows: the known ones as given, or cross-fitted estimates clipped to
``[propensity_clip, 1 - propensity_clip]``; and the overlap report of either.

Clipping rule: each arm's estimated probability is clipped on its own (rows are not renormalized), which bounds
every inverse-probability weight by ``1 / propensity_clip``. Known probabilities are the design, so they are
never clipped (that would bias every estimate that divides by them); those outside the bounds are reported
all the same, and 0 or 1 (no overlap: the effect there is not identified) is refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._crossfit import CrossFit, Fit, cross_fit
from ._data import LearnerData
from ._nuisance import arm_probabilities


@dataclass(frozen=True)
class Overlap:
    """Propensities outside ``[clip, 1 - clip]``, per arm.

    Attributes
    ----------
    arms : tuple
        Arm labels, control first.
    clip : float
        The learner's ``propensity_clip``.
    estimated : bool
        Whether the propensities were estimated (then clipped to the bounds) or given (used as given).
    n_below, n_above : ndarray of int, one per arm
        Rows whose probability of the arm is below ``clip`` / above ``1 - clip`` (before clipping).
    minimum, maximum : ndarray of float, one per arm
        Smallest and largest probability of the arm (before clipping; NaN when unknown: a 1-D known propensity
        with more than two arms gives each arm's probability only on the rows that received it).
    """

    arms: tuple
    clip: float
    estimated: bool
    n_below: np.ndarray
    n_above: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray

    @property
    def n_outside(self) -> int:
        """Row-arm pairs outside the bounds."""
        return int(self.n_below.sum() + self.n_above.sum())

    def to_frame(self) -> pd.DataFrame:
        """One row per arm: ``n_below``, ``n_above``, ``minimum``, ``maximum``."""
        return pd.DataFrame({"n_below": self.n_below, "n_above": self.n_above, "minimum": self.minimum,
                             "maximum": self.maximum}, index=pd.Index(list(self.arms), name="arm"))


@dataclass(frozen=True)
class TrainingPropensity:
    """What the formulas divide by: ``received`` (n,), and ``by_arm`` (n, n_arms) when every arm's is known."""

    received: np.ndarray
    by_arm: np.ndarray | None
    overlap: Overlap


def propensity_nuisance(data: LearnerData, model: object) -> CrossFit:
    """The cross-fitted classifier of each row's arm (multinomial with more than two arms)."""
    everything = np.ones(data.n_rows, dtype=np.bool_)
    return CrossFit(Fit(model, everything, data.arm, "propensity_model"),
                    lambda fitted, features: arm_probabilities(fitted, features, data.n_arms), data.n_arms)


def _overlap(probabilities: np.ndarray, data: LearnerData, clip: float, estimated: bool) -> Overlap:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: an arm's probability unknown
        minimum, maximum = np.nanmin(probabilities, axis=0), np.nanmax(probabilities, axis=0)
    return Overlap(data.labels, clip, estimated, (probabilities < clip).sum(axis=0),
                   (probabilities > 1.0 - clip).sum(axis=0), minimum, maximum)


def _warn_overlap(overlap: Overlap) -> None:
    if overlap.n_outside:
        action = "clipped to those bounds" if overlap.estimated else "used as given (known propensities)"
        warnings.warn(
            f"propensity: {overlap.n_outside} row-arm probabilities are outside [{overlap.clip:g}, "
            f"{1 - overlap.clip:g}] ({'estimated' if overlap.estimated else 'given'}; {action}): little overlap "
            "there, so estimates rest on few rows of some arm; see the fitted overlap_ attribute",
            UserWarning, stacklevel=4,
        )


def training_propensity(data: LearnerData, estimated: np.ndarray | None, clip: float, purpose: str,
                        needs_by_arm: bool) -> TrainingPropensity:
    """The propensities a learner uses: ``data.propensity`` when given, else the clipped ``estimated`` ones.

    ``purpose`` names the learner in errors; ``needs_by_arm``: it needs every arm's probability.
    """
    rows = np.arange(data.n_rows)
    if data.propensity is None:
        clipped = np.clip(estimated, clip, 1.0 - clip)
        if ((clipped <= 0.0) | (clipped >= 1.0)).any():
            raise ValueError(f"{purpose}: the estimated propensities include 0 or 1 and propensity_clip=0 "
                             "leaves them so; set propensity_clip > 0")
        overlap = _overlap(estimated, data, clip, estimated=True)
        _warn_overlap(overlap)
        return TrainingPropensity(clipped[rows, data.arm], clipped, overlap)
    known = data.propensity
    certain = known.received >= 1.0
    if certain.any():
        raise ValueError(
            f"propensity: {int(certain.sum())} row(s) received their arm with probability 1, so the other arms "
            f"had probability 0 there: no overlap, and {purpose} cannot estimate an effect for them (it would "
            "only extrapolate); drop those rows, or describe the design they come from"
        )
    by_arm = known.require_by_arm(purpose) if needs_by_arm else known.by_arm
    if by_arm is None:
        probabilities = np.full((data.n_rows, data.n_arms), np.nan)
        probabilities[rows, data.arm] = known.received
    else:
        probabilities = by_arm
    overlap = _overlap(probabilities, data, clip, estimated=False)
    _warn_overlap(overlap)
    return TrainingPropensity(known.received, by_arm, overlap)


@dataclass(frozen=True)
class EstimatedPropensity:
    """Cross-fitted propensities of every row (:func:`cross_fitted_propensity`).

    Attributes
    ----------
    treatments : tuple
        Arm labels, control first.
    arm : ndarray of int (n,)
        Arm code of every row (position in ``treatments``).
    raw : ndarray (n, n_arms)
        Every arm's out-of-fold predicted probability, before clipping.
    by_arm : ndarray (n, n_arms)
        ``raw`` clipped to ``[clip, 1 - clip]`` (each arm on its own, as the learners clip).
    fold : ndarray of int (n,)
        Cross-fitting fold of every row.
    overlap : Overlap
        Probabilities of ``raw`` outside the bounds, per arm.
    """

    treatments: tuple
    arm: np.ndarray
    raw: np.ndarray
    by_arm: np.ndarray
    fold: np.ndarray
    overlap: Overlap

    @property
    def received(self) -> np.ndarray:
        """The clipped probability of the arm each row received, ``(n,)``: what ``propensity=`` takes."""
        return self.by_arm[np.arange(len(self.arm)), self.arm]


def estimated_propensity(data: LearnerData, model: object, fold: np.ndarray, cv: int, clip: float,
                         seed: int | None, workers: int) -> EstimatedPropensity:
    """The cross-fitted, clipped propensities of ``data``'s rows on the folds ``fold`` (the learners' rule)."""
    raw = cross_fit(data, [propensity_nuisance(data, model)], fold, cv, seed, workers)[0]
    clipped = training_propensity(data, raw, clip, "the propensity", needs_by_arm=True)
    return EstimatedPropensity(data.labels, data.arm, raw, clipped.by_arm, fold, clipped.overlap)
