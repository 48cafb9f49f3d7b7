"""Several treatments: the rows of one arm against control, and the rows that evaluate a multi-treatment
model's best-arm recommendation, ready for any metric of :mod:`upliftree.metrics`, with their design."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._validation import finite_float_array, label_mask, validate_treatment
from ._inputs import read_design
from ._names import resolve_metric


class ArmRows(tuple):
    """``(y_true, uplift, treatment)`` of selected rows, to unpack into any metric, and their design.

    Attributes
    ----------
    propensity : ndarray or None
        Probability of the arm each selected row received (the 1-D form every metric takes), when a
        propensity was given.
    cluster : ndarray or None
        Cluster codes of the selected rows, when clusters were given.
    design : dict
        ``{"propensity": ..., "cluster": ...}``: ``metric(*rows, **rows.design)`` evaluates the rows with
        their design.
    """

    def __new__(cls, y_true: np.ndarray, uplift: np.ndarray, treatment: np.ndarray,
                propensity: np.ndarray | None = None, cluster: np.ndarray | None = None) -> ArmRows:
        rows = super().__new__(cls, (y_true, uplift, treatment))
        rows.propensity = propensity
        rows.cluster = cluster
        return rows

    @property
    def design(self) -> dict[str, np.ndarray | None]:
        return {"propensity": self.propensity, "cluster": self.cluster}


def _design(labels: np.ndarray, control: Any, propensity: Any, cluster: Any) -> tuple[np.ndarray | None, ...]:
    """Every row's probability of the arm it received, and its cluster code (None where not given).

    A 2-D propensity has one column per arm label in the order of a model's ``treatments_``: control first,
    then the other labels sorted.
    """

    def arms() -> tuple[tuple, np.ndarray]:
        coded = validate_treatment(labels, control, len(labels))
        return coded.labels, coded.codes

    return read_design(propensity, cluster, arms, len(labels))


def _selected(keep: np.ndarray, design: tuple[np.ndarray | None, ...]) -> tuple[np.ndarray | None, ...]:
    return tuple(None if values is None else values[keep] for values in design)


def _arm_mask(labels: np.ndarray, label: Any, argument: str) -> np.ndarray:
    mask = label_mask(labels, label)
    if not mask.any():
        found = pd.unique(labels)[:10].tolist()
        raise ValueError(f"{argument}={label!r} has no rows in treatment; labels found: {found}")
    return mask


def _uplift_columns(uplift: ArrayLike, arms: Sequence[Any] | None, n_rows: int) -> np.ndarray:
    matrix = np.asarray(uplift)
    if matrix.ndim != 2:
        raise ValueError(f"uplift must be 2-D (one column per treatment arm), got shape {matrix.shape}")
    if arms is None or len(arms) != matrix.shape[1]:
        raise ValueError(
            f"arms must name the {matrix.shape[1]} columns of uplift (treatment labels, in column order), "
            f"got {arms!r}"
        )
    if matrix.shape[0] != n_rows:
        raise ValueError(f"uplift has {matrix.shape[0]} rows but treatment has {n_rows}")
    return finite_float_array(matrix, "uplift")


def one_vs_control(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, arm: Any, control: Any = 0,
    arms: Sequence[Any] | None = None, *, propensity: Any = None, cluster: Any = None,
) -> ArmRows:
    """Rows of one treatment arm and of control, ready for any metric here.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    uplift : array-like of shape (n_samples,) or (n_samples, n_arms)
        The arm's predicted uplift vs control, or a matrix with one column per treatment arm.
    treatment : array-like of shape (n_samples,)
        Arm labels (numbers or strings).
    arm, control : labels
        The treatment arm to evaluate and the control label.
    arms : sequence of labels, optional
        Column labels of a 2-D ``uplift``.
    propensity : None, dict or array-like, optional
        Known probabilities of assignment of all rows: a dict ``{label: probability}`` of every arm, a 1-D
        array of the probability of the arm each row received, a 2-D array ``(n_samples, n_arms)`` whose
        columns are the arms in ``treatments_`` order (control first, then the other labels sorted), or a
        number (two arms only).
    cluster : None or array-like of shape (n_samples,), optional
        Ids of the unit of randomization of all rows.

    Returns
    -------
    ArmRows
        ``(y_true, uplift, treatment)``: the rows whose arm is ``arm`` or ``control``, with ``treatment`` coded
        1/0; ``.design`` holds the selected rows' received-arm probabilities and clusters. Example:
        ``rows = one_vs_control(y, scores, t, arm="email", control="control", arms=names, propensity=p)``, then
        ``qini_auc_score(*rows, **rows.design)``.
    """
    labels = np.asarray(treatment)
    if labels.ndim != 1:
        raise ValueError(f"treatment must be 1-D, got shape {labels.shape}")
    if np.ndim(uplift) == 2:
        matrix = _uplift_columns(uplift, arms, len(labels))
        if arm not in list(arms):
            raise ValueError(f"arm={arm!r} is not one of the columns named by arms={list(arms)!r}")
        scores = matrix[:, list(arms).index(arm)]
    else:
        scores = np.asarray(uplift)
    is_arm = _arm_mask(labels, arm, "arm")
    keep = is_arm | _arm_mask(labels, control, "control")
    y = np.asarray(y_true)
    for name, values in (("y_true", y), ("uplift", scores)):
        if len(values) != len(labels):
            raise ValueError(f"{name} has {len(values)} rows but treatment has {len(labels)}")
    design = _selected(keep, _design(labels, control, propensity, cluster))
    return ArmRows(y[keep], scores[keep], is_arm[keep].astype(np.int64), *design)


def best_arm_rows(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, arms: Sequence[Any], control: Any = 0, *,
    propensity: Any = None, cluster: Any = None,
) -> ArmRows:
    """Rows that evaluate a multi-treatment model's best-arm recommendation.

    Each row's recommended arm is the column with the largest predicted uplift (the first on ties) and
    its score is that uplift. Kept are the rows whose actual arm is their recommended arm (coded 1) and
    all control rows (coded 0), as in the multiple-treatment evaluation of Rzepakowski & Jaroszewicz
    (2012), "Decision trees for uplift modeling with single and multiple treatments", Knowledge and
    Information Systems 32, 303-327. A curve on these rows shows the incremental outcome of treating
    the top-scored rows with their recommended arms.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    uplift : array-like of shape (n_samples, n_arms)
        Predicted uplift of each treatment arm vs control.
    treatment : array-like of shape (n_samples,)
        Actual arm labels.
    arms : sequence of labels
        Treatment label of each column of ``uplift``.
    control : label
        The control label.
    propensity, cluster : optional
        The design of all rows, as in :func:`one_vs_control`. Each kept row's probability is that of the arm
        it received (its recommended arm, or control): weighting by its inverse is the inverse-probability
        estimate of the recommendation's value.

    Returns
    -------
    ArmRows
        ``(y_true, uplift, treatment)``: the kept rows, their best predicted uplift, and 1/0 for recommended
        arm/control; ``.design`` as in :func:`one_vs_control`.
    """
    labels = np.asarray(treatment)
    if labels.ndim != 1:
        raise ValueError(f"treatment must be 1-D, got shape {labels.shape}")
    matrix = _uplift_columns(uplift, arms, len(labels))
    y = np.asarray(y_true)
    if len(y) != len(labels):
        raise ValueError(f"y_true has {len(y)} rows but treatment has {len(labels)}")
    best = np.argmax(matrix, axis=1)
    is_control = _arm_mask(labels, control, "control")
    got_recommended = np.zeros(len(labels), dtype=bool)
    for column, arm in enumerate(arms):
        got_recommended |= (best == column) & label_mask(labels, arm)
    keep = got_recommended | is_control
    design = _selected(keep, _design(labels, control, propensity, cluster))
    return ArmRows(y[keep], matrix[keep, :][np.arange(keep.sum()), best[keep]], got_recommended[keep].astype(np.int64),
                   *design)


def best_arm_score(
    y_true: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, arms: Sequence[Any], control: Any = 0,
    metric: Callable[..., float] | str = "qini_auc_score", *, propensity: Any = None, cluster: Any = None,
    **metric_kwargs: Any,
) -> float:
    """``metric`` on the rows of :func:`best_arm_rows` (default: the Qini coefficient).

    ``metric`` is a function ``(y_true, uplift, treatment, **metric_kwargs) -> float`` or the name of one
    in this module. With ``propensity`` or ``cluster`` (as in :func:`best_arm_rows`) it is also given the kept
    rows' ``propensity=`` and ``cluster=``.
    """
    function = resolve_metric(metric)
    rows = best_arm_rows(y_true, uplift, treatment, arms, control, propensity=propensity, cluster=cluster)
    design = {name: values for name, values in rows.design.items() if values is not None}
    return function(*rows, **design, **metric_kwargs)
