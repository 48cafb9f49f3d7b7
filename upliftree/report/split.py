"""Report stage 1: screen the features, then split the rows into training and held-out parts: at random
(stratified by arm, whole clusters with a cluster), or by time, training on the earlier rows and evaluating on
the later ones (:func:`time_holdout`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base import spawn_generators
from .._validation import arm_codes
from ..design import cluster_holdout
from ..tree import stratified_holdout
from .checks import Check, design_check
from .experiment import Experiment
from .io import DataError
from .leakage import Screen, screen_experiment
from .settings import Progress, ReportSettings

__all__ = ["SplitRows", "held_out_periods", "split_rows", "time_holdout", "time_values"]


@dataclass(frozen=True)
class SplitRows:
    """The experiment after the feature screen, its training and held-out rows, and the design check of
    every column given as a feature (before the screen, which may leave a stratum out)."""

    experiment: Experiment
    screen: Screen
    train: Experiment
    test: Experiment
    design: Check
    # With a time split: the held-out rows' period labels and the first held-out time, as text.
    test_periods: np.ndarray | None = None
    time_cut: str | None = None
    held_out: np.ndarray | None = None  # which rows of ``experiment`` are ``test`` (boolean mask)

    @property
    def labels(self) -> list[str]:
        """Arm labels as text, control first."""
        return [str(label) for label in self.experiment.arms]


def time_values(values: pd.Series, name: str) -> np.ndarray:
    """A time column as sortable numbers: numbers as they are, dates and times (or ISO 8601 text) in nanoseconds.
    A :class:`DataError` naming the column for missing values or text that is not a date."""
    n_missing = int(values.isna().sum())
    if n_missing:
        raise DataError(f"time column {name!r} has {n_missing} missing value(s); every row needs a time")
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError(f"time column {name!r} holds booleans; expected numbers (a period index) or dates")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64)
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        try:
            values = pd.to_datetime(values, format="ISO8601")
        except (TypeError, ValueError):
            examples = pd.unique(values)[:3].tolist()
            raise DataError(f"time column {name!r} must hold numbers or dates (ISO 8601 text such as 2024-03-31), "
                            f"found values such as {examples}") from None
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)


def time_holdout(time: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the rows held out by time: the rows at or after a cut time ``c``.

    ``c`` is the distinct time whose held-out share ``mean(time >= c)`` is nearest ``fraction`` (on a tie, the
    later one), among the times that leave rows on both sides; rows of one time are never split, so the share
    can differ from ``fraction`` when few times hold many rows.
    """
    distinct = np.unique(time)
    if len(distinct) < 2:
        raise ValueError(f"the time column has a single value {distinct[0]!r}: a time split needs rows of at "
                         "least two times")
    ordered = np.sort(time)
    held_out_share = 1.0 - np.searchsorted(ordered, distinct[1:], side="left") / len(time)
    gap = np.abs(held_out_share - fraction)
    cut = distinct[1:][len(gap) - 1 - np.argmin(gap[::-1])]  # the later cut on a tie
    return time >= cut


def held_out_periods(time: np.ndarray, labels: np.ndarray, n_periods: int) -> np.ndarray:
    """Each row's period: up to ``n_periods`` consecutive groups of whole times with about equal rows, named
    by their first and last time (``labels`` holds each row's time as text)."""
    distinct, code = np.unique(time, return_inverse=True)
    counts = np.bincount(code)
    # A time's group: where its rows' middle falls among n_periods equal shares of the rows.
    middle = (np.cumsum(counts) - counts / 2) / len(time)
    group = np.minimum((middle * n_periods).astype(np.int64), n_periods - 1)
    _, group = np.unique(group, return_inverse=True)
    first_text = {g: labels[code == np.flatnonzero(group == g)[0]][0] for g in np.unique(group)}
    last_text = {g: labels[code == np.flatnonzero(group == g)[-1]][0] for g in np.unique(group)}
    names = np.array([first_text[g] if first_text[g] == last_text[g] else f"{first_text[g]} to {last_text[g]}"
                      for g in np.unique(group)], dtype=object)
    # Names sort like the periods: prefix the period number.
    width = len(str(len(names)))
    names = np.array([f"{number + 1:0{width}d}: {name}" for number, name in enumerate(names)], dtype=object)
    return names[group[code]]


def split_rows(experiment: Experiment, settings: ReportSettings, progress: Progress) -> SplitRows:
    """Leave out features that look recorded after treatment (unless listed by name), then hold out
    ``settings.test_size`` of the rows, stratified by arm (and outcome when binary); with clusters, that share
    of the clusters of every arm, whole clusters only (:func:`upliftree.design.cluster_holdout`). With
    ``settings.time`` (a column of ``experiment.X``, then not a feature), the rows from the cut time on
    (:func:`time_holdout`) instead, split into up to ``settings.time_periods`` periods."""
    time = labels = None
    if settings.time is not None:
        if settings.time not in experiment.X.columns:
            raise DataError(f"{experiment.source}: time column {settings.time!r} is not among the experiment's "
                            f"columns {list(experiment.X.columns)[:10]}")
        column = experiment.X[settings.time]
        time = time_values(column, settings.time)
        labels = column.astype(str).to_numpy()
        experiment = experiment.without([settings.time])
    with progress("Checking the design and screening the features for columns recorded after treatment"):
        screened, screen = screen_experiment(experiment)
        # Columns that look like another outcome say nothing about the design; a stratum "differs by arm" too.
        design = design_check(experiment.without([name for name in screen.outcome_like if name in experiment.X]))
        experiment = screened
    with progress("Splitting rows into training and held-out parts"):
        if time is not None:
            held_out = time_holdout(time, settings.test_size)
            periods = held_out_periods(time[held_out], labels[held_out], settings.time_periods)
            cut = labels[held_out][np.argmin(time[held_out])]
            return SplitRows(experiment, screen, experiment.subset(~held_out), experiment.subset(held_out), design,
                             held_out=held_out, test_periods=periods, time_cut=str(cut))
        arm = arm_codes(experiment.treatment, tuple(experiment.arms))
        split_rng, = spawn_generators(settings.seed, 1)
        if experiment.cluster is None:
            held_out = stratified_holdout(arm, experiment.y, experiment.binary, settings.test_size, split_rng)
        else:
            held_out = cluster_holdout(experiment.cluster, arm, settings.test_size, split_rng)
    return SplitRows(experiment, screen, experiment.subset(~held_out), experiment.subset(held_out), design,
                     held_out=held_out)
