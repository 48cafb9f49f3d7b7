"""Amounts of money given per treatment, per row or per row and treatment, turned into checked arrays.

Two kinds of specification:

- per-treatment constants (``benefit``, ``harm_weight``, ``harm_cap``): a number for every
  treatment, a dict ``{treatment label: number}`` covering every treatment, or a sequence with one number
  per treatment in the order of ``treatments_[1:]``;
- per-row amounts (``cost``, ``risk_penalty``): a number, a column name of ``X``, a 1-D array with one value
  per row, a 2-D array ``(n_rows, n_treatments)``, or a dict ``{treatment label: number | column | 1-D
  array}`` covering every treatment.

Dict keys are matched to the model's arm labels exactly (``1`` and ``"1"`` are different labels); a key that
is not a treatment, or is the control label, is an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._params import check_amount
from .._validation import check_1d, labels_equal

# A per-row amount for one treatment: a number, a column name of X, or one value per row.
AmountColumn = float | str | np.ndarray | pd.Series


def treatment_index(label: Any, treatments: tuple, argument: str) -> int:
    """Position of ``label`` among the treatments (0 for the first treatment after control)."""
    if labels_equal(label, treatments[0]):
        raise ValueError(
            f"{argument}: {label!r} is the control arm; doing nothing has net value 0 by definition, "
            f"give values for the treatments {list(treatments[1:])}"
        )
    for index, treatment in enumerate(treatments[1:]):
        if labels_equal(label, treatment):
            return index
    raise ValueError(f"{argument}: {label!r} is not a treatment of the model; treatments: {list(treatments[1:])}")


def _per_treatment_dict(spec: dict, treatments: tuple, argument: str) -> list[Any]:
    values: list[Any] = [None] * (len(treatments) - 1)
    for label, value in spec.items():
        values[treatment_index(label, treatments, argument)] = value
    missing = [treatments[1 + index] for index, value in enumerate(values) if value is None]
    if missing:
        raise ValueError(f"{argument} has no value for the treatment(s) {missing}")
    return values


def per_treatment_constants(spec: Any, treatments: tuple, argument: str, minimum: float | None = None) -> np.ndarray:
    """One number per treatment, shape ``(n_treatments,)``, from a number, a dict or a sequence."""
    n_treatments = len(treatments) - 1
    if isinstance(spec, dict):
        values = _per_treatment_dict(spec, treatments, argument)
    elif isinstance(spec, str) or np.ndim(spec) not in (0, 1):
        raise TypeError(f"{argument} must be a number, a dict {{treatment: number}} or a sequence of "
                        f"{n_treatments} numbers, got {spec!r}")
    elif np.ndim(spec) == 0:
        return np.full(n_treatments, check_amount(spec, argument, minimum))
    else:
        values = list(spec)
        if len(values) != n_treatments:
            raise ValueError(f"{argument} has {len(values)} values; expected one per treatment "
                             f"{list(treatments[1:])}")
    return np.array([check_amount(value, f"{argument}[{treatments[1 + index]!r}]", minimum)
                     for index, value in enumerate(values)])


def _check_values(values: np.ndarray, argument: str, minimum: float | None) -> np.ndarray:
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise TypeError(f"{argument} must be numeric, got dtype {values.dtype}")
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{argument} contains {int((~np.isfinite(values)).sum())} NaN or infinite value(s)")
    if minimum is not None and (values < minimum).any():
        raise ValueError(f"{argument} must be >= {minimum}; found {values.min()!r}")
    return values


def _amount_column(value: Any, argument: str, minimum: float | None) -> AmountColumn:
    if isinstance(value, str):
        return value
    if np.ndim(value) == 0:
        return check_amount(value, argument, minimum)
    if np.ndim(value) != 1:
        raise ValueError(f"{argument} must be a number, a column name or 1-D per-row values, "
                         f"got shape {np.shape(value)}")
    values = _check_values(np.asarray(value), argument, minimum)
    # A Series keeps its index so it can be checked against the rows of X at scoring time.
    return pd.Series(values, index=value.index) if isinstance(value, pd.Series) else values


def per_row_columns(spec: Any, treatments: tuple, argument: str, minimum: float | None) -> list[AmountColumn]:
    """Check a per-row amount specification now; one entry per treatment, resolved later by ``resolve``."""
    n_treatments = len(treatments) - 1
    if isinstance(spec, dict):
        return [_amount_column(value, f"{argument}[{treatments[1 + index]!r}]", minimum)
                for index, value in enumerate(_per_treatment_dict(spec, treatments, argument))]
    if isinstance(spec, pd.DataFrame) or np.ndim(spec) == 2:
        matrix = _check_values(np.asarray(spec), argument, minimum)
        if matrix.shape[1] != n_treatments:
            raise ValueError(f"{argument} has {matrix.shape[1]} columns; a 2-D {argument} needs one column "
                             f"per treatment {list(treatments[1:])}")
        return list(matrix.T)
    return [_amount_column(spec, argument, minimum)] * n_treatments


def resolve(columns: list[AmountColumn], X: Any, n_rows: int, argument: str, minimum: float | None,
            per_row: bool = True) -> np.ndarray:
    """Per-row amounts ``(n_rows, n_treatments)`` for the rows of ``X``.

    With ``per_row=False`` (values per leaf, no data) only numbers are accepted.
    """
    resolved = np.empty((n_rows, len(columns)))
    for index, column in enumerate(columns):
        if isinstance(column, float):
            resolved[:, index] = column
        elif not per_row:
            raise ValueError(f"{argument} is given per row; pass X to average it over each leaf's rows")
        elif isinstance(column, str):
            resolved[:, index] = _check_values(frame_column(X, column, argument).to_numpy(), argument, minimum)
        else:
            resolved[:, index] = row_values(column, X, n_rows, argument)
    return resolved


def frame_column(X: Any, name: str, argument: str) -> pd.Series:
    """Column ``name`` of the DataFrame ``X``."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{argument}={name!r} names a column, so X must be a pandas DataFrame")
    if name not in X.columns:
        raise ValueError(f"{argument}={name!r} is not a column of X")
    if (X.columns == name).sum() > 1:
        raise ValueError(f"{argument}={name!r} names several columns of X; drop or rename the duplicates")
    return X[name]


def row_values(values: Any, X: Any, n_rows: int, argument: str) -> np.ndarray:
    """One value per row of ``X``; a Series must carry the same index as a DataFrame ``X``."""
    if isinstance(values, pd.Series) and isinstance(X, pd.DataFrame) and not values.index.equals(X.index):
        raise ValueError(f"{argument} is a Series whose index differs from X's index; align it with X "
                         "(or pass a numpy array in X's row order)")
    return check_1d(values.to_numpy() if isinstance(values, pd.Series) else values, argument, n_rows)


class RedemptionCost:
    """A cost model: the expected cost of a coupon is its face value times the probability it is redeemed.

    ``expected_cost(X, treatments)[i, j] = face_value[j] * P(redeem | treated with j, x_i)``, where the
    probability comes from ``model``:

    - an upliftree model of the redemption outcome (``predict_outcome(X)``: per-arm probabilities, with the
      same treatment labels; control's column is not used, a row that gets no coupon redeems none), or
    - a scikit-learn classifier fitted on treated rows (``predict_proba(X)[:, 1]`` = P(redeem | treated, x)),
      the same for every treatment, or a dict ``{treatment label: classifier}``.

    Parameters
    ----------
    model : fitted model or dict
    face_value : number, dict or sequence, >= 0
        Cost of one redemption per treatment, as ``Policy``'s ``benefit``.
    """

    def __init__(self, model: Any, face_value: Any):
        self.model = model
        self.face_value = face_value

    def expected_cost(self, X: Any, treatments: tuple) -> np.ndarray:
        """``(n_rows, n_treatments)`` expected cost of each treatment for each row of ``X``."""
        face = per_treatment_constants(self.face_value, treatments, "RedemptionCost.face_value", 0.0)
        probability = np.column_stack([self._probability(X, label, treatments) for label in treatments[1:]])
        if probability.ndim != 2 or not np.isfinite(probability).all() or (probability < 0).any() \
                or (probability > 1).any():
            raise ValueError("RedemptionCost: the model's redemption probabilities must be finite and in [0, 1]")
        return face * probability

    def _probability(self, X: Any, label: Any, treatments: tuple) -> np.ndarray:
        model = self.model
        if isinstance(model, dict):
            model = model[_dict_key(model, label, treatments)]
        if callable(getattr(model, "predict_outcome", None)) and hasattr(model, "treatments_"):
            columns = [code for code, known in enumerate(model.treatments_) if labels_equal(known, label)]
            if not columns:
                raise ValueError(f"RedemptionCost: the redemption model has no arm {label!r}; its arms: "
                                 f"{list(model.treatments_)}")
            return np.asarray(model.predict_outcome(X), dtype=np.float64)[:, columns[0]]
        if callable(getattr(model, "predict_proba", None)):
            return np.asarray(model.predict_proba(X), dtype=np.float64)[:, 1]
        raise TypeError("RedemptionCost.model must be a fitted upliftree model with predict_outcome, a classifier "
                        f"with predict_proba, or a dict of them per treatment; got {type(model).__name__}")


def _dict_key(spec: dict, label: Any, treatments: tuple) -> Any:
    for key in spec:
        if labels_equal(key, label):
            return key
    raise ValueError(f"no entry for the treatment {label!r}; treatments: {list(treatments[1:])}")


def check_cost_model(cost_model: Any) -> None:
    """A cost model has ``expected_cost(X, treatments)`` (e.g. :class:`RedemptionCost`)."""
    if cost_model is not None and not callable(getattr(cost_model, "expected_cost", None)):
        raise TypeError("cost_model must have expected_cost(X, treatments) -> (n_rows, n_treatments), e.g. "
                        f"RedemptionCost(model, face_value); got {type(cost_model).__name__}")
