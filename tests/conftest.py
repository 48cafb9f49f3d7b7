"""Hypothesis profiles, and shared fixtures: small synthetic experiments with known segments (fixed seeds)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from upliftree.datasets import FEATURES, make_uplift_data

# Hypothesis profiles: "ci" replays the same examples on every run (derandomized, no example database), so a red
# build is a regression, never an unlucky draw; "dev" draws new examples on every run to find new bugs. Both print
# the blob that reproduces a failure, have no deadline (the first examples of a test compile kernels, and a shared
# machine is slow at times) and skip the too_slow health check (timing would decide the outcome otherwise).
# Selected by HYPOTHESIS_PROFILE; otherwise "ci" where the CI variable is set, "dev" elsewhere. `make test` and
# .ci/run select "ci"; `HYPOTHESIS_PROFILE=dev make test` runs the randomized profile.
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", derandomize=False, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


def hypothesis_profile(environ) -> str:
    """The Hypothesis profile these environment variables select."""
    return environ.get("HYPOTHESIS_PROFILE") or ("ci" if environ.get("CI") else "dev")


settings.load_profile(hypothesis_profile(os.environ))

# No one-time compile message inside tests that read stderr (a first run on an empty cache would print it).
os.environ.setdefault("UPLIFTREE_QUIET", "1")


@dataclass(frozen=True)
class Experiment:
    """Features, arm labels and outcome of a synthetic experiment (``control="control"``)."""

    X: pd.DataFrame
    treatment: np.ndarray
    y: np.ndarray
    frame: pd.DataFrame


def experiment_from_frame(frame: pd.DataFrame) -> Experiment:
    return Experiment(frame[FEATURES], frame["treatment"].to_numpy(), frame["outcome"].to_numpy(), frame)


@pytest.fixture(scope="session")
def binary_experiment() -> Experiment:
    """6,000 rows, one treatment, binary outcome, 5% missing income."""
    return experiment_from_frame(make_uplift_data(6_000, random_state=11))


@pytest.fixture(scope="session")
def continuous_experiment() -> Experiment:
    """6,000 rows, one treatment, continuous (spend) outcome."""
    return experiment_from_frame(make_uplift_data(6_000, outcome="continuous", random_state=12))


@pytest.fixture(scope="session")
def multi_treatment_experiment() -> Experiment:
    """6,000 rows, two treatments ("email", "discount") besides control, binary outcome."""
    return experiment_from_frame(make_uplift_data(6_000, n_treatments=2, random_state=13))


@pytest.fixture(scope="module")
def one_numba_thread():
    """Run a module's compiled kernels on one thread, then restore the thread count.

    For simulations that fit hundreds of tiny trees: thread hand-offs cost more than they save there, and
    far more on a busy machine. Use with ``pytestmark = pytest.mark.usefixtures("one_numba_thread")``.
    """
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(threads)
