"""Zero sample weights: an arm whose rows in a child all weigh 0 is absent from that child, exactly.

Histograms of a larger child obtained as parent minus sibling carry rounding residue (a weight of 1e-17
instead of 0): such an arm looked present to the split search and got a mean of residue over residue,
far outside the outcome's range. Trees grown with zero weights build both children directly.
"""

import numpy as np
import pandas as pd

from upliftree import UpliftTreeRegressor


def test_zero_weight_arms_never_get_made_up_means():
    n_checked = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n_rows = int(rng.integers(24, 80))
        X = pd.DataFrame({"f0": rng.normal(0, 3, n_rows).round(3), "f1": rng.normal(0, 3, n_rows).round(3),
                          "f2": rng.integers(0, 7, n_rows).astype(float)})
        treatment = rng.integers(0, 3, n_rows)
        y = rng.integers(-10, 42, n_rows) / 4
        weight = np.where(rng.random(n_rows) < 0.4, 0.0, rng.uniform(0.2, 3.0, n_rows))
        if any((weight[treatment == arm] > 0).sum() == 0 for arm in range(3)):
            continue
        model = UpliftTreeRegressor(criterion="ed", max_bins=3, max_depth=3, min_samples_leaf=1,
                                    min_samples_treatment=0, n_reg=0.0, normalize=False, control=0,
                                    random_state=0).fit(X, treatment, y, weight)
        # Admissible splits keep weight in every arm of both children, so no leaf needs merging, and every
        # node's mean is a weighted mean of outcomes.
        assert model.n_splits_merged_ == 0, seed
        assert y.min() <= model.tree_.value.min() and model.tree_.value.max() <= y.max(), seed
        n_checked += 1
    assert n_checked > 200
