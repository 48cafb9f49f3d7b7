"""An experiment table's columns, by name, checked and turned into what the estimators take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .._params import check_choice
from .._validation import arm_codes, validate_cluster, validate_propensity
from .io import DataError, check_unique_names, require_columns

__all__ = ["ESTIMATE", "OUTCOME_TYPES", "Experiment", "as_label", "experiment_from_frame"]

OUTCOME_TYPES = ("auto", "binary", "continuous")
ESTIMATE = "estimate"  # design["propensity"] of observational data whose propensity the report estimates


@dataclass(frozen=True)
class Experiment:
    """Features, arm labels and outcome of a randomized experiment, with what they were called.

    Attributes
    ----------
    X : DataFrame
        Feature columns.
    treatment : ndarray
        Arm label of every row.
    y : ndarray of float
        Outcome.
    control : label
        The control arm's label, as found in the treatment column.
    binary : bool
        Whether the outcome is 0/1 (uplift trees are then classifiers).
    source, treatment_column, outcome_column : str
        Where the table came from and the names of its treatment and outcome columns.
    features_given : bool
        Whether the features were listed by name; if not, they are "every other column", and columns that
        look recorded after treatment are left out (:func:`upliftree.report.leakage.screen_experiment`).
    propensity : ndarray of float or None
        The known probability of the arm each row received (``docs/design.md``); None: not given.
    cluster : ndarray of int or None
        Codes of the unit of randomization (store, household); None: every row is randomized on its own.
    design : dict
        What the design was given as (``{"propensity": column name or number, "cluster": column name}``),
        for the report's text.
    """

    X: pd.DataFrame
    treatment: np.ndarray
    y: np.ndarray
    control: Any
    binary: bool
    source: str
    treatment_column: str
    outcome_column: str
    features_given: bool = False
    propensity: np.ndarray | None = None
    cluster: np.ndarray | None = None
    design: dict = field(default_factory=dict)

    @property
    def has_design(self) -> bool:
        """Whether a propensity or a cluster was given."""
        return self.propensity is not None or self.cluster is not None

    @property
    def observational(self) -> bool:
        """Whether the propensity is the report's estimate (``propensity="estimate"``): the arms were not
        randomized, so features differ between them by confounding (``upliftree.report.overlap``)."""
        return self.design.get("propensity") == ESTIMATE

    @property
    def arms(self) -> list[Any]:
        """Arm labels, control first and then the treatments sorted (the estimators' order)."""
        others = [label for label in pd.unique(self.treatment) if not _same(label, self.control)]
        try:
            others = sorted(others)
        except TypeError:
            others = sorted(others, key=str)
        return [self.control, *others]

    def arm_probabilities(self) -> np.ndarray | None:
        """Every arm's probability per row ``(n_rows, 2)``, control first, from the given propensity of a
        two-arm experiment; None without a propensity or with more arms (the received arm's alone does not
        give the others)."""
        if self.propensity is None or len(self.arms) != 2:
            return None
        treated = arm_codes(self.treatment, tuple(self.arms)) == 1
        return np.column_stack([np.where(treated, 1.0 - self.propensity, self.propensity),
                                np.where(treated, self.propensity, 1.0 - self.propensity)])

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def subset(self, rows: np.ndarray) -> Experiment:
        """The experiment restricted to ``rows`` (a boolean mask or row positions)."""
        return replace(self, X=self.X.iloc[rows].reset_index(drop=True), treatment=self.treatment[rows],
                       y=self.y[rows], propensity=None if self.propensity is None else self.propensity[rows],
                       cluster=None if self.cluster is None else self.cluster[rows])

    def without(self, columns: Sequence[str]) -> Experiment:
        """The experiment without the feature ``columns``; a :class:`DataError` when no feature would be left."""
        if not columns:
            return self
        kept = [name for name in self.X.columns if name not in set(columns)]
        if not kept:
            raise DataError(f"{self.source}: no feature left once {list(columns)} are left out")
        return replace(self, X=self.X[kept])


def _same(value: Any, label: Any) -> bool:
    return isinstance(value, str) == isinstance(label, str) and bool(value == label)


def as_label(values: np.ndarray, text: Any) -> Any:
    """The value in ``values`` that ``text`` names (command-line ``"1"`` names 1 and 1.0), or None."""
    for value in pd.unique(values):
        if _same(value, text) or str(value) == str(text):
            return value
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_):
            try:
                if float(text) == float(value):
                    return value
            except (TypeError, ValueError):
                continue
    return None


def _outcome(column: pd.Series, name: str, outcome_type: str, source: str) -> tuple[np.ndarray, bool]:
    if pd.api.types.is_bool_dtype(column.dtype) and not column.hasnans:
        return column.to_numpy(dtype=np.float64), outcome_type != "continuous"
    if not pd.api.types.is_numeric_dtype(column.dtype):
        examples = pd.unique(column.dropna())[:3].tolist()
        raise DataError(f"{source}: outcome column {name!r} must be numeric (0/1 for a conversion), found values "
                        f"such as {examples}")
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    n_missing = int(np.isnan(values).sum())
    if n_missing:
        raise DataError(f"{source}: outcome column {name!r} has {n_missing} missing value(s); drop or impute "
                        "those rows first")
    zero_one = bool(np.isin(values, (0.0, 1.0)).all())
    if outcome_type == "binary" and not zero_one:
        found = np.unique(values[~np.isin(values, (0.0, 1.0))])[:5].tolist()
        raise DataError(f"{source}: outcome column {name!r} is not binary (found values {found}); a binary "
                        "outcome must be 0/1, or use a continuous outcome type")
    return values, zero_one if outcome_type == "auto" else outcome_type == "binary"


def experiment_from_frame(frame: pd.DataFrame, *, treatment: str, control: Any, outcome: str,
                          features: Sequence[str] | None = None, exclude: Sequence[str] = (),
                          outcome_type: str = "auto", source: str = "data", propensity: str | float | None = None,
                          cluster: str | None = None) -> Experiment:
    """Check a randomized experiment's table and pick its columns.

    Parameters
    ----------
    frame : DataFrame
        One row per unit.
    treatment, outcome : str
        Names of the arm-label column and the outcome column.
    control : label
        The control arm; a string such as ``"0"`` also matches a numeric label 0.
    features : sequence of str, optional
        Feature columns; by default every column but treatment, outcome and ``exclude`` (the report then
        leaves out columns that look recorded after treatment, see ``docs/cli.md``).
    exclude : sequence of str
        Columns that are not features (ids, post-treatment data).
    outcome_type : {"auto", "binary", "continuous"}
        ``"auto"``: binary when every outcome is 0 or 1.
    source : str
        Name of the table, for error messages.
    propensity : str, float or None
        The known probability of assignment: the name of a column holding the probability of the arm each row
        received, or (two arms) one number, the probability of treatment (``docs/design.md``).
    cluster : str or None
        The column of the unit of randomization (store, household) when whole units were randomized.
        Design columns are not features.

    Raises
    ------
    DataError
        Missing or repeated columns, an unknown control label, a single arm, a missing or non-numeric outcome, a
        non-binary outcome with ``outcome_type="binary"``, a design column that is missing, also a feature, or
        not valid probabilities / cluster ids.
    """
    check_choice(outcome_type, "outcome_type", OUTCOME_TYPES)
    columns = [str(column) for column in frame.columns]
    check_unique_names(columns, source)
    design_columns = [name for name in (propensity, cluster) if isinstance(name, str)]
    require_columns(columns, [treatment, outcome, *(features or ()), *exclude, *design_columns], source)
    if treatment == outcome:
        raise DataError(f"{source}: the treatment and outcome columns must differ, both are {treatment!r}")
    features_given = features is not None
    if features is None:
        features = [column for column in columns if column not in {treatment, outcome, *exclude, *design_columns}]
    features = list(dict.fromkeys(features))
    overlap = sorted({treatment, outcome, *design_columns} & set(features))
    if overlap:
        raise DataError(f"{source}: column(s) {overlap} cannot be both a feature and the treatment, outcome, "
                        "propensity or cluster")
    if not features:
        raise DataError(f"{source}: no feature columns left besides {treatment!r} and {outcome!r}")

    labels = frame[treatment].to_numpy()
    n_missing = int(pd.isna(labels).sum())
    if n_missing:
        raise DataError(f"{source}: treatment column {treatment!r} has {n_missing} missing value(s); every row "
                        "needs an arm")
    control_label = as_label(labels, control)
    if control_label is None:
        found = [value.item() if isinstance(value, np.generic) else value for value in pd.unique(labels)[:10]]
        raise DataError(f"{source}: control label {control!r} is not a value of the treatment column "
                        f"{treatment!r}; values found: {found}")
    if all(_same(value, control_label) for value in pd.unique(labels)):
        raise DataError(f"{source}: treatment column {treatment!r} holds only the control arm {control!r}; an "
                        "uplift model needs a treated arm")
    y, binary = _outcome(frame[outcome], outcome, outcome_type, source)
    X = frame[features].reset_index(drop=True)
    experiment = Experiment(X, labels, y, control_label, binary, source, treatment, outcome, features_given)
    return _with_design(experiment, frame.reset_index(drop=True), propensity, cluster)


def _with_design(experiment: Experiment, frame: pd.DataFrame, propensity: str | float | None,
                 cluster: str | None) -> Experiment:
    """The experiment with its design read by the estimators' validators (errors name the column)."""
    if propensity is None and cluster is None:
        return experiment
    arms = tuple(experiment.arms)
    try:
        given = validate_propensity(propensity, arms, arm_codes(experiment.treatment, arms), experiment.n_rows, frame)
        codes = validate_cluster(cluster, experiment.n_rows, frame)
    except (TypeError, ValueError) as error:
        raise DataError(f"{experiment.source}: {error}") from None
    design = {name: value for name, value in (("propensity", propensity), ("cluster", cluster)) if value is not None}
    return replace(experiment, propensity=None if given is None else given.received, cluster=codes, design=design)
