"""Synthetic uplift data for the speed benchmarks.

The issues time every library on causalml's ``make_uplift_classification`` with two arms
(``treatment_name=["control", "treatment1"]``, causalml's other defaults), which gives 13 features:
10 base-classification features (5 informative, 5 irrelevant), 2 uplift-increase features and 1 mix
feature. When causalml is importable that exact generator is used. Otherwise
:func:`make_uplift_classification_numpy` produces data with the same recipe, written with numpy only
(causalml 0.18.0, ``causalml/dataset/classification.py``, which draws its base features with
scikit-learn's ``make_classification``, Guyon 2003): same columns, same label mechanism, same sizes,
but not the same random numbers, so timings are comparable and rows are not identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BASE_FEATURES = 10
N_BASE_INFORMATIVE = 5
N_UPLIFT_INCREASE = 2
UPLIFT_INCREASE_DELTA = 0.02  # causalml's default delta_uplift_increase_dict["treatment1"]
POSITIVE_CLASS_PROPORTION = 0.5
FLIP_Y = 0.01  # make_classification's default label noise


@dataclass
class UpliftData:
    """Features, arm (0 = control, 1 = treatment) and binary outcome, with where they came from."""

    X: np.ndarray
    treatment: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    source: str


def _hypercube_vertices(n_vertices: int, dimension: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct random vertices of the {0, 1}^dimension hypercube, as floats."""
    codes = rng.choice(2**dimension, size=n_vertices, replace=False)
    return ((codes[:, None] >> np.arange(dimension)) & 1).astype(np.float64)


def make_classification_numpy(
    n_rows: int, n_features: int, n_informative: int, positive_weight: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two-class Guyon (Madelon) data as scikit-learn's ``make_classification`` draws it.

    One Gaussian cluster per class, centred on a hypercube vertex (class_sep 1), linearly mixed by a
    random matrix; the remaining features are pure noise; 1% of labels resampled; rows and columns
    shuffled.
    """
    n_positive = int(n_rows * positive_weight)
    cluster_sizes = [n_rows - n_positive, n_positive]
    centroids = 2.0 * _hypercube_vertices(2, n_informative, rng) - 1.0
    X = np.empty((n_rows, n_features))
    y = np.empty(n_rows, dtype=np.int64)
    X[:, :n_informative] = rng.standard_normal((n_rows, n_informative))
    stop = 0
    for label, (centroid, size) in enumerate(zip(centroids, cluster_sizes, strict=True)):
        start, stop = stop, stop + size
        mixing = 2.0 * rng.random((n_informative, n_informative)) - 1.0
        X[start:stop, :n_informative] = X[start:stop, :n_informative] @ mixing + centroid
        y[start:stop] = label
    X[:, n_informative:] = rng.standard_normal((n_rows, n_features - n_informative))
    flipped = rng.random(n_rows) < FLIP_Y
    y[flipped] = rng.integers(0, 2, size=int(flipped.sum()))
    row_order = rng.permutation(n_rows)
    column_order = rng.permutation(n_features)
    return X[row_order][:, column_order], y[row_order]


def make_uplift_classification_numpy(n_rows: int, seed: int = 20190101) -> UpliftData:
    """Two-arm uplift data following causalml's ``make_uplift_classification`` recipe (numpy only)."""
    rng = np.random.default_rng(seed)
    n_per_arm = n_rows // 2
    treatment = rng.permutation(np.repeat([0, 1], n_per_arm))
    n_all = len(treatment)
    X_base, y_base = make_classification_numpy(
        n_all, N_BASE_FEATURES, N_BASE_INFORMATIVE, POSITIVE_CLASS_PROPORTION, rng
    )
    increase_share = UPLIFT_INCREASE_DELTA / (1.0 - POSITIVE_CLASS_PROPORTION)
    X_increase, y_increase = make_classification_numpy(n_all, N_UPLIFT_INCREASE, N_UPLIFT_INCREASE, increase_share, rng)
    informative_column = X_base[:, rng.integers(N_BASE_INFORMATIVE)]
    increase_column = X_increase[:, rng.integers(N_UPLIFT_INCREASE)]
    mix = rng.uniform(-1, 1) * informative_column + rng.uniform(-1, 1) * increase_column
    X = np.column_stack([X_base, X_increase, mix])
    y = np.clip(y_base + y_increase * (treatment == 1), 0, 1)
    names = (
        [f"x{i + 1}_informative" for i in range(N_BASE_INFORMATIVE)]
        + [f"x{i + 1}_irrelevant" for i in range(N_BASE_INFORMATIVE, N_BASE_FEATURES)]
        + [f"x{i + 1}_uplift_increase" for i in range(N_BASE_FEATURES, N_BASE_FEATURES + N_UPLIFT_INCREASE)]
        + [f"x{N_BASE_FEATURES + N_UPLIFT_INCREASE + 1}_increase_mix"]
    )
    return UpliftData(
        X,
        treatment.astype(np.int64),
        y.astype(np.int64),
        names,
        "benchmarks/_data.py numpy port of make_uplift_classification",
    )


def make_uplift_data(n_rows: int, seed: int = 20190101) -> UpliftData:
    """``n_rows`` rows (half per arm) from causalml's generator, or the numpy port without causalml."""
    try:
        from causalml.dataset import make_uplift_classification
    except ImportError:
        return make_uplift_classification_numpy(n_rows, seed)
    frame, feature_names = make_uplift_classification(
        n_samples=n_rows // 2, treatment_name=["control", "treatment1"], random_seed=seed
    )
    treatment = (frame["treatment_group_key"].to_numpy() == "treatment1").astype(np.int64)
    return UpliftData(
        frame[feature_names].to_numpy(dtype=np.float64),
        treatment,
        frame["conversion"].to_numpy(dtype=np.int64),
        list(feature_names),
        "causalml.dataset.make_uplift_classification",
    )


DESIGN_CLUSTER_SIZE = 20  # rows per cluster of the design-fit timings


def stratified_design(data: UpliftData, cluster_size: int = DESIGN_CLUSTER_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A design to time fits with ``propensity=`` and ``cluster=`` on ``data``: the received arm's probability of
    a stratified allocation (60% treated where the first feature is above its median, 40% elsewhere) and
    clusters of ``cluster_size`` consecutive rows. Fit time depends on the weights' being per row, not on
    their values, so the data's own assignment is kept."""
    p_treated = np.where(data.X[:, 0] > np.median(data.X[:, 0]), 0.6, 0.4)
    received = np.where(data.treatment == 1, p_treated, 1.0 - p_treated)
    return received, np.arange(len(data.treatment)) // cluster_size
