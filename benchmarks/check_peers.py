"""Check that every benchmark peer imports and fits a tiny model.

Run with the peers venv's interpreter (``benchmarks/setup_peers.sh`` calls it last). Exits non-zero
when a peer fails, printing which one and why.
"""

from __future__ import annotations

import sys
import traceback

import numpy as np
from _common import version_of


def _tiny_data(n_rows: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 4))
    treatment = rng.integers(0, 2, size=n_rows)
    p_outcome = 0.3 + 0.1 * treatment * (X[:, 0] > 0)
    y = (rng.random(n_rows) < p_outcome).astype(int)
    return X, treatment, y


def check_causalml(X, treatment, y) -> None:
    from causalml.dataset import make_uplift_classification
    from causalml.inference.tree import UpliftRandomForestClassifier, UpliftTreeClassifier

    make_uplift_classification(n_samples=200, treatment_name=["control", "treatment1"], random_seed=0)
    arm = np.where(treatment == 1, "treatment1", "control")
    tree = UpliftTreeClassifier(max_depth=3, min_samples_leaf=50, control_name="control")
    tree.fit(X, treatment=arm, y=y)
    forest = UpliftRandomForestClassifier(
        n_estimators=3, max_depth=3, min_samples_leaf=50, control_name="control", n_jobs=1, random_state=0
    )
    forest.fit(X, treatment=arm, y=y)
    assert forest.predict(X).shape[0] == len(X)


def check_sklift(X, treatment, y) -> None:
    from lightgbm import LGBMClassifier
    from sklift.metrics import qini_auc_score
    from sklift.models import TwoModels

    model = TwoModels(
        estimator_trmnt=LGBMClassifier(n_estimators=5, verbose=-1),
        estimator_ctrl=LGBMClassifier(n_estimators=5, verbose=-1),
        method="vanilla",
    )
    model.fit(X, y, treatment)
    assert np.isfinite(qini_auc_score(y, model.predict(X), treatment))


def check_econml(X, treatment, y) -> None:
    from econml.dml import CausalForestDML

    model = CausalForestDML(discrete_treatment=True, n_estimators=8, cv=2, random_state=0)
    model.fit(y, treatment, X=X)
    assert model.effect(X).shape[0] == len(X)


def check_lightgbm(X, treatment, y) -> None:
    import lightgbm

    params = {
        "objective": "binary",
        "boosting": "rf",
        "bagging_fraction": 0.632,
        "bagging_freq": 1,
        "max_depth": 3,
        "num_leaves": 8,
        "verbose": -1,
    }
    booster = lightgbm.train(params, lightgbm.Dataset(X, label=y), num_boost_round=2)
    assert booster.predict(X).shape[0] == len(X)


def check_upliftree(X, treatment, y) -> None:
    from upliftree import UpliftTreeClassifier

    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=50).fit(X, treatment, y)
    assert model.predict(X).shape == (len(X),)


def main() -> int:
    X, treatment, y = _tiny_data()
    checks = {
        "causalml": check_causalml,
        "sklift": check_sklift,
        "econml": check_econml,
        "lightgbm": check_lightgbm,
        "upliftree": check_upliftree,
    }
    failed = []
    for name, check in checks.items():
        try:
            check(X, treatment, y)
        except Exception:  # report every peer, not just the first broken one
            failed.append(name)
            print(f"FAIL {name}:\n{traceback.format_exc()}")
        else:
            print(f"ok   {name} {version_of(name)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
