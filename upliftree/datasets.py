"""Synthetic randomized experiments with known segments, for the demo, tests and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import spawn_generators

SEGMENTS = ("persuadables", "sleeping dogs", "sure things", "lost causes")
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("web", "store", "app")


def make_uplift_data(n_samples: int = 20_000, n_treatments: int = 1, outcome: str = "binary",
                     missing_rate: float = 0.05, random_state=None) -> pd.DataFrame:
    """A randomized experiment with four planted segments.

    Segments (assigned in this order of precedence):

    - **persuadables**: ``age < 35`` and ``visits >= 3`` — treatment lifts conversion by +8pp (+6pp for the
      second treatment);
    - **sleeping dogs**: ``tenure >= 60`` and ``region == "north"`` — treatment lowers conversion by 5pp;
    - **sure things**: ``income > 80`` (thousands) — converts at 60% whatever happens;
    - **lost causes**: everyone else — converts at 3%, treatment does nothing.

    Parameters
    ----------
    n_samples : int
        Number of customers.
    n_treatments : int
        Number of treatment arms besides control (labels ``"control"``, ``"email"``, ``"discount"``, ...).
    outcome : {"binary", "continuous"}
        ``"binary"``: conversion 0/1; ``"continuous"``: spend, conversion times a gamma-distributed basket.
    missing_rate : float
        Share of ``income`` values set missing (income is then unknown; the segment stays as generated).
    random_state : None, int or numpy Generator

    Returns
    -------
    DataFrame
        Features ``age, tenure, visits, income, region, channel``, then ``treatment``, ``outcome``,
        ``true_uplift`` (expected uplift of the row's own treatment, 0 for control rows: see
        ``true_uplift_<arm>`` columns for every arm) and ``segment``.
    """
    if outcome not in ("binary", "continuous"):
        raise ValueError(f"outcome must be 'binary' or 'continuous', got {outcome!r}")
    if not 1 <= n_treatments <= 3:
        raise ValueError(f"n_treatments must be 1, 2 or 3, got {n_treatments!r}")
    if not 0.0 <= missing_rate < 1.0:
        raise ValueError(f"missing_rate must be in [0, 1), got {missing_rate!r}")
    feature_rng, arm_rng, outcome_rng = spawn_generators(random_state, 3)
    age = np.round(feature_rng.uniform(18, 75, n_samples))
    tenure = np.round(feature_rng.exponential(30, n_samples))
    visits = feature_rng.poisson(2.0, n_samples).astype(np.int64)
    income = np.round(feature_rng.lognormal(np.log(45), 0.45, n_samples), 1)
    region = feature_rng.choice(REGIONS, n_samples)
    channel = feature_rng.choice(CHANNELS, n_samples, p=[0.5, 0.3, 0.2])

    persuadable = (age < 35) & (visits >= 3)
    sleeping_dog = ~persuadable & (tenure >= 60) & (region == "north")
    sure_thing = ~persuadable & ~sleeping_dog & (income > 80)
    segment = np.select([persuadable, sleeping_dog, sure_thing], list(SEGMENTS[:3]), default=SEGMENTS[3])
    base_rate = np.select([persuadable, sleeping_dog, sure_thing], [0.10, 0.30, 0.60], default=0.03)

    arm_labels = ["control", "email", "discount", "sms"][: n_treatments + 1]
    # Effects per treatment arm: persuadables respond less to later arms, sleeping dogs dislike all of them.
    arm_uplift = {
        label: np.select([persuadable, sleeping_dog], [0.08 - 0.02 * k, -0.05], default=0.0)
        for k, label in enumerate(arm_labels[1:])
    }
    arm = arm_rng.integers(0, len(arm_labels), n_samples)
    treatment = np.asarray(arm_labels, dtype=object)[arm]
    own_uplift = np.zeros(n_samples)
    for k, label in enumerate(arm_labels[1:], start=1):
        own_uplift[arm == k] = arm_uplift[label][arm == k]
    converted = outcome_rng.random(n_samples) < base_rate + own_uplift
    if outcome == "binary":
        y = converted.astype(np.int64)
        scale = 1.0
    else:
        basket = outcome_rng.gamma(shape=4.0, scale=12.5, size=n_samples)  # mean 50
        y = np.round(converted * basket, 2)
        scale = 50.0

    observed_income = income.copy()
    observed_income[outcome_rng.random(n_samples) < missing_rate] = np.nan
    frame = pd.DataFrame({
        "age": age,
        "tenure": tenure,
        "visits": visits,
        "income": observed_income,
        "region": pd.Categorical(region, categories=list(REGIONS)),
        "channel": pd.Categorical(channel, categories=list(CHANNELS)),
        "treatment": treatment,
        "outcome": y,
        "true_uplift": own_uplift * scale,
        "segment": segment,
    })
    for label in arm_labels[1:]:
        frame[f"true_uplift_{label}"] = arm_uplift[label] * scale
    return frame


FEATURES = ["age", "tenure", "visits", "income", "region", "channel"]
