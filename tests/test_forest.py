"""Uplift random forests: determinism, shapes, fallbacks, errors."""

import numpy as np
import pandas as pd
import pytest

from upliftree import (
    UpliftRandomForestClassifier,
    UpliftRandomForestRegressor,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    make_uplift_data,
)
from upliftree.datasets import FEATURES


@pytest.fixture(scope="module")
def experiment():
    return make_uplift_data(6_000, n_treatments=2, random_state=3)


def _forest(**params):
    defaults = dict(n_estimators=8, min_samples_leaf=50, control="control", random_state=7, verbose=0)
    defaults.update(params)
    return UpliftRandomForestClassifier(**defaults)


def test_same_forest_for_any_number_of_threads(experiment):
    X, t, y = experiment[FEATURES], experiment["treatment"], experiment["outcome"]
    one = _forest(n_jobs=1).fit(X, t, y)
    two = _forest(n_jobs=2).fit(X, t, y)
    for tree_one, tree_two in zip(one.estimators_, two.estimators_, strict=True):
        np.testing.assert_array_equal(tree_one.tree_.feature, tree_two.tree_.feature)
        np.testing.assert_array_equal(tree_one.tree_.threshold, tree_two.tree_.threshold)
        np.testing.assert_array_equal(tree_one.tree_.value, tree_two.tree_.value)
    np.testing.assert_array_equal(one.predict(X), two.predict(X))


def test_shapes_and_mean_of_trees(experiment):
    X, t, y = experiment[FEATURES], experiment["treatment"], experiment["outcome"]
    forest = _forest().fit(X, t, y)
    assert list(forest.treatments_) == ["control", "discount", "email"]
    assert forest.predict(X).shape == (len(X), 2)
    assert forest.predict_outcome(X).shape == (len(X), 3)
    leaves = forest.apply(X)
    assert leaves.shape == (len(X), 8)
    # The forest's values are the plain mean of its trees' leaf values.
    expected = np.mean([tree.tree_.value[leaves[:, i]] for i, tree in enumerate(forest.estimators_)], axis=0)
    np.testing.assert_allclose(forest.predict_outcome(X), expected, rtol=0, atol=1e-12)
    for i, tree in enumerate(forest.estimators_):
        assert isinstance(tree, UpliftTreeClassifier)
        np.testing.assert_array_equal(tree.apply(X), leaves[:, i])
    segments = forest.estimators_[0].segments()
    assert segments["leaf_id"].isin(forest.estimators_[0].tree_.leaf_ids).all()
    assert forest.feature_importances_.shape == (len(FEATURES),)
    assert forest.feature_importances_.sum() == pytest.approx(1.0)


def test_forest_ranks_planted_segments():
    data = make_uplift_data(30_000, random_state=5)
    forest = _forest(n_estimators=20, criterion="ed", max_features=None, min_samples_leaf=200).fit(
        data[FEATURES], data["treatment"], data["outcome"])
    uplift = forest.predict(data[FEATURES])
    persuadable = (data["segment"] == "persuadables").to_numpy()
    sleeping = (data["segment"] == "sleeping dogs").to_numpy()
    assert uplift[persuadable].mean() > uplift[~persuadable].mean() + 0.02
    assert uplift[sleeping].mean() < 0 < uplift[persuadable].mean()


def test_tiny_arm_never_gives_nan():
    rng = np.random.default_rng(0)
    n = 3_000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 4, n)})
    treatment = np.zeros(n, dtype=np.int64)
    treatment[: n // 2] = 1
    treatment[:3] = 2  # an arm with three rows: most trees' nodes lack it
    y = rng.random(n) < 0.2
    for honest in (False, True):
        forest = UpliftRandomForestClassifier(n_estimators=6, min_samples_leaf=20, min_samples_treatment=0,
                                              honest=honest, random_state=1, verbose=0).fit(X, treatment, y)
        prediction = forest.predict(X)
        assert prediction.shape == (n, 2)
        assert np.isfinite(prediction).all()
        assert np.isfinite(forest.predict_outcome(X)).all()


def test_honest_forest_and_subsampling(experiment):
    X, t, y = experiment[FEATURES], experiment["treatment"], experiment["outcome"]
    forest = _forest(honest=True, bootstrap=False, max_samples=0.5).fit(X, t, y)
    # Each honest tree's root holds its estimation half of a half-sample.
    root_counts = np.array([tree.tree_.stats[0, :, 0].sum() for tree in forest.estimators_])
    np.testing.assert_allclose(root_counts, len(X) * 0.25, rtol=0.01)
    assert np.isfinite(forest.predict(X)).all()


def test_regressor_forest():
    data = make_uplift_data(5_000, outcome="continuous", random_state=2)
    forest = UpliftRandomForestRegressor(n_estimators=6, min_samples_leaf=50, control="control", random_state=0,
                                         verbose=0).fit(data[FEATURES], data["treatment"], data["outcome"])
    assert isinstance(forest.estimators_[0], UpliftTreeRegressor)
    assert forest.predict(data[FEATURES]).shape == (len(data),)
    with pytest.raises(ValueError, match="criterion"):
        UpliftRandomForestRegressor(criterion="kl", verbose=0).fit(data[FEATURES], data["treatment"], data["outcome"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(n_estimators=0), "n_estimators"),
        (dict(n_jobs=0), "n_jobs"),
        (dict(max_samples=1.5), "max_samples"),
        (dict(max_samples=10**9, bootstrap=False), "max_samples"),
        (dict(bootstrap="yes"), "bootstrap"),
        (dict(verbose=-1), "verbose"),
    ],
)
def test_bad_parameters(experiment, params, message):
    with pytest.raises(ValueError, match=message):
        _forest(**params).fit(experiment[FEATURES], experiment["treatment"], experiment["outcome"])


def test_unfitted_forest_raises():
    with pytest.raises(ValueError, match="not fitted"):
        UpliftRandomForestClassifier().predict(np.zeros((2, 2)))


def test_progress_bar_silent_with_verbose_zero(experiment, capsys):
    _forest(verbose=0).fit(experiment[FEATURES], experiment["treatment"], experiment["outcome"])
    captured = capsys.readouterr()
    assert "growing trees" not in captured.err + captured.out
