"""Synthetic randomized experiments with known segments, for the demo, tests and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._base import spawn_generators
from ._params import check_choice, check_int, check_real

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
    check_choice(outcome, "outcome", ("binary", "continuous"))
    check_int(n_treatments, "n_treatments", 1, 3)
    check_real(missing_rate, "missing_rate", 0.0, 1.0, open_high=True)
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


# Smooth effects of up to three treatments on features in [0, 1] (the first from Nie & Wager 2021, setup A).
_SMOOTH_EFFECTS = (
    lambda x: (x[:, 0] + x[:, 1]) / 2.0,
    lambda x: 0.25 + x[:, 2] * x[:, 3],
    lambda x: (1.0 + np.sin(np.pi * x[:, 4])) / 4.0,
)


def make_smooth_uplift_data(n_samples: int = 5_000, n_features: int = 6, n_treatments: int = 1,
                            outcome: str = "continuous", confounding: float = 0.0, noise: float = 1.0,
                            random_state=None) -> pd.DataFrame:
    """An experiment whose effect varies smoothly with the features, randomized or confounded.

    Nie & Wager's (2021) setup A: features ``x0 .. x{d-1}`` uniform on [0, 1], a baseline that is harder to
    learn than the effect, ``b(x) = sin(pi x0 x1) + 2 (x2 - 0.5)^2 + x3 + 0.5 x4``, and the effect of the first
    treatment ``tau_1(x) = (x0 + x1) / 2``; further treatments have ``tau_2 = 0.25 + x2 x3`` and
    ``tau_3 = (1 + sin(pi x4)) / 4``. Continuous outcome: ``y = b(x) + tau_a(x) + noise * N(0, 1)``; binary:
    ``P(y = 1) = 0.1 + 0.2 b(x) + 0.2 tau_a(x)`` (in [0.1, 0.9]; the effects are then ``0.2 tau``).

    Assignment: with ``confounding = 0`` every arm is equally likely; otherwise the probability of being
    treated at all is ``e(x) = (1 - c) * share + c * clip(sin(pi x0 x1), 0.1, 0.9)`` (``share`` = treated share
    of a randomized design; ``c = 1`` is setup A's propensity), split evenly between the treatments. ``x0`` and
    ``x1`` drive both the baseline and the assignment, so comparing arms' raw means is biased.

    Parameters
    ----------
    n_samples : int
    n_features : int
        At least 5; features beyond ``x4`` are noise.
    n_treatments : int
        1, 2 or 3 treatments besides control; arms are labelled 0 (control), 1, 2, 3.
    outcome : {"continuous", "binary"}
    confounding : float in [0, 1]
    noise : float
        Standard deviation of the continuous outcome's noise.
    random_state : None, int or numpy Generator

    Returns
    -------
    DataFrame
        ``x0 .. x{d-1}``, ``treatment``, ``outcome``, ``propensity`` (the true probability of the row's arm),
        ``propensity_<arm>`` (every arm's), ``true_uplift`` (the row's own arm's effect, 0 for control) and
        ``true_uplift_<arm>`` for every treatment.
    """
    check_choice(outcome, "outcome", ("binary", "continuous"))
    check_int(n_treatments, "n_treatments", 1, len(_SMOOTH_EFFECTS))
    check_int(n_features, "n_features", 5)
    check_real(confounding, "confounding", 0.0, 1.0)
    check_real(noise, "noise", 0.0)
    feature_rng, arm_rng, outcome_rng = spawn_generators(random_state, 3)
    x = feature_rng.uniform(0.0, 1.0, (n_samples, n_features))
    baseline = np.sin(np.pi * x[:, 0] * x[:, 1]) + 2.0 * (x[:, 2] - 0.5) ** 2 + x[:, 3] + 0.5 * x[:, 4]
    effects = np.column_stack([effect(x) for effect in _SMOOTH_EFFECTS[:n_treatments]])
    randomized_share = n_treatments / (n_treatments + 1)
    treated = (1.0 - confounding) * randomized_share + confounding * np.clip(np.sin(np.pi * x[:, 0] * x[:, 1]),
                                                                             0.1, 0.9)
    by_arm = np.column_stack([1.0 - treated] + [treated / n_treatments] * n_treatments)
    arm = (arm_rng.random(n_samples)[:, None] > np.cumsum(by_arm, axis=1)[:, :-1]).sum(axis=1)
    rows = np.arange(n_samples)
    own_effect = np.where(arm > 0, effects[rows, np.maximum(arm - 1, 0)], 0.0)
    if outcome == "continuous":
        y = baseline + own_effect + noise * outcome_rng.standard_normal(n_samples)
        scale = 1.0
    else:
        scale = 0.2
        y = (outcome_rng.random(n_samples) < 0.1 + 0.2 * baseline + scale * own_effect).astype(np.int64)
    frame = pd.DataFrame(x, columns=[f"x{index}" for index in range(n_features)])
    frame["treatment"] = arm
    frame["outcome"] = y
    frame["propensity"] = by_arm[rows, arm]
    for code in range(n_treatments + 1):
        frame[f"propensity_{code}"] = by_arm[:, code]
    frame["true_uplift"] = own_effect * scale
    for code in range(1, n_treatments + 1):
        frame[f"true_uplift_{code}"] = effects[:, code - 1] * scale
    return frame
