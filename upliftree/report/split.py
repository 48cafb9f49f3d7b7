"""Report stage 1: screen the features, then split the rows into training and held-out parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._base import spawn_generators
from .._validation import arm_codes
from ..design import cluster_holdout
from ..tree import stratified_holdout
from .checks import Check, design_check
from .experiment import Experiment
from .leakage import Screen, screen_experiment
from .settings import Progress, ReportSettings

__all__ = ["SplitRows", "split_rows"]


@dataclass(frozen=True)
class SplitRows:
    """The experiment after the feature screen, its training and held-out rows, and the design check of
    every column given as a feature (before the screen, which may leave a stratum out)."""

    experiment: Experiment
    screen: Screen
    train: Experiment
    test: Experiment
    design: Check
    held_out: np.ndarray | None = None  # which rows of ``experiment`` are ``test`` (boolean mask)

    @property
    def labels(self) -> list[str]:
        """Arm labels as text, control first."""
        return [str(label) for label in self.experiment.arms]


def split_rows(experiment: Experiment, settings: ReportSettings, progress: Progress) -> SplitRows:
    """Leave out features that look recorded after treatment (unless listed by name), then hold out
    ``settings.test_size`` of the rows, stratified by arm (and outcome when binary); with clusters, that share
    of the clusters of every arm, whole clusters only (:func:`upliftree.design.cluster_holdout`)."""
    with progress("Checking the design and screening the features for columns recorded after treatment"):
        screened, screen = screen_experiment(experiment)
        # Columns that look like another outcome say nothing about the design; a stratum "differs by arm" too.
        design = design_check(experiment.without([name for name in screen.outcome_like if name in experiment.X]))
        experiment = screened
    with progress("Splitting rows into training and held-out parts"):
        arm = arm_codes(experiment.treatment, tuple(experiment.arms))
        split_rng, = spawn_generators(settings.seed, 1)
        if experiment.cluster is None:
            held_out = stratified_holdout(arm, experiment.y, experiment.binary, settings.test_size, split_rng)
        else:
            held_out = cluster_holdout(experiment.cluster, arm, settings.test_size, split_rng)
    return SplitRows(experiment, screen, experiment.subset(~held_out), experiment.subset(held_out), design, held_out)
