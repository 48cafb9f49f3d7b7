"""A learner's training data: the user's input checked once and presented as scikit-learn models read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._params import check_choice
from .._validation import (
    FeatureSchema,
    Propensities,
    check_n_rows,
    encode_features,
    infer_schema,
    validate_cluster,
    validate_outcome,
    validate_propensity,
    validate_sample_weight,
    validate_treatment,
    without_design_columns,
)

OUTCOME_TYPES = ("auto", "binary", "continuous")


@dataclass(frozen=True)
class LearnerData:
    """Checked training rows.

    ``features`` is what base models see (:func:`model_features`); ``weight`` is None when no
    ``sample_weight`` was given, so base models without weight support still work; ``y`` is float64.
    """

    features: np.ndarray | pd.DataFrame
    arm: np.ndarray
    labels: tuple
    y: np.ndarray
    weight: np.ndarray | None
    binary: bool
    propensity: Propensities | None
    cluster: np.ndarray | None

    @property
    def n_rows(self) -> int:
        return len(self.arm)

    @property
    def n_arms(self) -> int:
        return len(self.labels)

    @property
    def row_weight(self) -> np.ndarray:
        """``sample_weight``, ones when none was given."""
        return np.ones(self.n_rows) if self.weight is None else self.weight


def model_features(X: Any, schema: FeatureSchema) -> np.ndarray | pd.DataFrame:
    """Features as scikit-learn models read them: a float64 matrix (NaN = missing) when every feature is numeric,
    else a DataFrame whose categorical columns are pandas categoricals of the schema's category codes.

    The codes come from :func:`upliftree._validation.encode_features`, as the trees read them (rare categories
    pooled, unseen categories missing), so a ``HistGradientBoosting*`` model with
    ``categorical_features="from_dtype"`` treats them as categories.
    """
    encoded = encode_features(X, schema)
    if not schema.is_categorical.any():
        return encoded
    columns = {}
    for index, (name, categories) in enumerate(zip(schema.names, schema.categories, strict=True)):
        values = encoded[:, index]
        if categories is None:
            columns[name] = values
        else:
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            columns[name] = pd.Categorical.from_codes(codes, categories=range(len(categories)))
    return pd.DataFrame(columns)


def take_rows(features: np.ndarray | pd.DataFrame, rows: np.ndarray) -> np.ndarray | pd.DataFrame:
    """The rows ``rows`` (indices or a boolean mask) of :func:`model_features`' output."""
    return features.iloc[rows] if isinstance(features, pd.DataFrame) else features[rows]


def _is_binary(y: np.ndarray) -> bool:
    return bool(((y == 0.0) | (y == 1.0)).all())


def prepare(X: Any, treatment: Any, y: Any, sample_weight: Any, propensity: Any, cluster: Any, *,
            control: Any, outcome: str) -> tuple[LearnerData, FeatureSchema]:
    """Check a learner's training input: the rows as base models read them, and the features' schema.

    ``outcome`` is ``"binary"`` (y must be 0/1), ``"continuous"`` or ``"auto"`` (binary when every value is 0
    or 1). Columns of ``X`` named by ``propensity`` or ``cluster`` describe the design and are not features.
    """
    check_choice(outcome, "outcome", OUTCOME_TYPES)
    n_rows = check_n_rows(X)
    features = without_design_columns(X, propensity, cluster)
    schema = infer_schema(features)
    arms = validate_treatment(treatment, control, n_rows)
    values = validate_outcome(y, n_rows, binary=outcome == "binary")
    binary = outcome == "binary" or (outcome == "auto" and _is_binary(values))
    weight = None if sample_weight is None else validate_sample_weight(sample_weight, n_rows)
    data = LearnerData(
        features=model_features(features, schema), arm=arms.codes, labels=arms.labels, y=values, weight=weight,
        binary=binary, propensity=validate_propensity(propensity, arms.labels, arms.codes, n_rows, X),
        cluster=validate_cluster(cluster, n_rows, X),
    )
    return data, schema
