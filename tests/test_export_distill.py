"""Distillation: a shallow tree imitating a model's predicted uplift, with fidelity and kept Qini, that exports
like any tree."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

import upliftree
from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier, UpliftTreeRegressor
from upliftree.export.distill import DistilledUpliftTree
from upliftree.metrics import one_vs_control, qini_auc_score


@pytest.fixture(scope="module")
def forest(binary_experiment):
    experiment = binary_experiment
    return UpliftRandomForestClassifier(n_estimators=10, max_depth=4, min_samples_leaf=100, control="control",
                                        random_state=0, verbose=0).fit(experiment.X, experiment.treatment,
                                                                       experiment.y)


def test_distilled_forest_imitates_the_forest(forest, binary_experiment) -> None:
    experiment = binary_experiment
    distilled = upliftree.distill(forest, experiment.X, experiment.treatment, experiment.y, max_depth=3)
    assert isinstance(distilled, DistilledUpliftTree)
    assert distilled.depth_ <= 3 and distilled.n_leaves_ >= 4
    # Each leaf predicts the mean of the forest's predicted outcomes over its rows.
    predicted = forest.predict_outcome(experiment.X)
    leaves = distilled.apply(experiment.X)
    for leaf in distilled.tree_.leaf_ids:
        np.testing.assert_allclose(distilled.tree_.value[leaf], predicted[leaves == leaf].mean(axis=0), rtol=1e-12)
    # Fidelity is the R^2 of the forest's uplift explained by the tree.
    target, fitted = forest.predict(experiment.X), distilled.predict(experiment.X)
    r2 = 1 - ((target - fitted) ** 2).sum() / ((target - target.mean()) ** 2).sum()
    assert distilled.fidelity_r2_ == pytest.approx(r2, rel=1e-9) and 0.2 < r2 <= 1
    qini = qini_auc_score(*one_vs_control(experiment.y, fitted, experiment.treatment, arm="email",
                                          control="control"))
    assert distilled.qini_distilled_ == pytest.approx(qini)
    assert distilled.qini_kept_ == pytest.approx(distilled.qini_distilled_ / distilled.qini_model_)
    # Node statistics are the experiment rows.
    np.testing.assert_array_equal(distilled.tree_.stats[0, :, 0], [np.sum(experiment.treatment == "control"),
                                                                    np.sum(experiment.treatment == "email")])


def test_deeper_trees_keep_more_of_the_forest(forest, binary_experiment) -> None:
    experiment = binary_experiment
    fidelity = [upliftree.distill(forest, experiment.X, experiment.treatment, experiment.y, max_depth=depth,
                                  min_samples_leaf=50).fidelity_r2_ for depth in (1, 2, 4)]
    assert fidelity[0] < fidelity[1] < fidelity[2]


@pytest.mark.parametrize("estimator_class", [UpliftTreeClassifier, UpliftTreeRegressor])
def test_a_tree_distils_into_itself(estimator_class, multi_treatment_experiment) -> None:
    """A tree's predictions are a step function the distilled tree can match exactly."""
    experiment = multi_treatment_experiment
    y = experiment.y if estimator_class is UpliftTreeClassifier else experiment.y * 3.0
    model = estimator_class(max_depth=3, min_samples_leaf=200, control="control", random_state=0).fit(
        experiment.X, experiment.treatment, y)
    distilled = upliftree.distill(model, experiment.X, experiment.treatment, y, max_depth=6, min_samples_leaf=1,
                                  min_samples_treatment=1)
    assert distilled.fidelity_r2_ == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(distilled.predict(experiment.X), model.predict(experiment.X), rtol=0, atol=1e-12)
    assert distilled.outcome_type_ == model.outcome_type_
    assert distilled.qini_kept_ == pytest.approx(1.0)


def test_distilled_tree_exports_like_a_tree(forest, binary_experiment, multi_treatment_experiment) -> None:
    experiment = binary_experiment
    distilled = upliftree.distill(forest, experiment.X, experiment.treatment, experiment.y, max_depth=2)
    loaded = upliftree.from_json(distilled.to_json())
    assert type(loaded) is DistilledUpliftTree and loaded.outcome_type_ == "binary"
    np.testing.assert_array_equal(loaded.predict(experiment.X), distilled.predict(experiment.X))
    assert loaded.fidelity_r2_ == distilled.fidelity_r2_ and loaded.qini_kept_ == distilled.qini_kept_
    frame = experiment.X  # noqa: F841  (DuckDB reads the local variable by name)
    scored = duckdb.sql(distilled.to_sql("frame", "duckdb")).df()
    np.testing.assert_array_equal(scored["leaf_id"], distilled.apply(experiment.X))
    np.testing.assert_array_equal(scored["uplift"], distilled.predict(experiment.X))
    assert distilled.rules("markdown").startswith("| segment | rule |")
    assert distilled.to_dot().startswith("digraph")
    assert len(distilled.segments()) == distilled.n_leaves_


def test_several_treatments_use_the_best_arm_qini(multi_treatment_experiment) -> None:
    experiment = multi_treatment_experiment
    forest = UpliftRandomForestClassifier(n_estimators=5, max_depth=3, min_samples_leaf=200, control="control",
                                          random_state=1, verbose=0).fit(experiment.X, experiment.treatment,
                                                                         experiment.y)
    distilled = upliftree.distill(forest, experiment.X, experiment.treatment, experiment.y, max_depth=2)
    assert distilled.predict(experiment.X).shape == (len(experiment.y), 2)
    assert np.isfinite([distilled.fidelity_r2_, distilled.qini_model_, distilled.qini_distilled_]).all()


def test_argument_errors(forest, binary_experiment) -> None:
    experiment = binary_experiment
    with pytest.raises(ValueError, match="not fitted"):
        upliftree.distill(UpliftTreeClassifier(), experiment.X, experiment.treatment, experiment.y)
    with pytest.raises(TypeError, match="model must be an upliftree tree, distilled tree or forest, got object"):
        upliftree.distill(object(), experiment.X, experiment.treatment, experiment.y)
    with pytest.raises(ValueError, match="treatment must be 1-D with one label per row"):
        upliftree.distill(forest, experiment.X, experiment.treatment[:10], experiment.y)
    with pytest.raises(ValueError, match="max_depth must be an integer >= 0"):
        upliftree.distill(forest, experiment.X, experiment.treatment, experiment.y, max_depth=-1)
    with pytest.raises(ValueError, match="not fitted on"):
        upliftree.distill(forest, experiment.X, np.where(experiment.treatment == "email", "sms", "control"),
                          experiment.y)


def test_distilled_tree_is_an_ordinary_estimator(forest, binary_experiment) -> None:
    """``DistilledUpliftTree(model).fit(X, treatment, y)`` is what ``distill`` does; the model is a parameter that a
    model file does not hold, and only the methods that apply to imitated leaves are there."""
    experiment = binary_experiment
    estimator = DistilledUpliftTree(forest, max_depth=2, random_state=0)
    assert estimator.get_params()["model"] is forest and not hasattr(estimator, "tree_")
    fitted = estimator.fit(experiment.X, experiment.treatment, experiment.y)
    assert fitted is estimator
    by_function = upliftree.distill(forest, experiment.X, experiment.treatment, experiment.y, max_depth=2,
                                    random_state=0)
    assert fitted.to_json() == by_function.to_json()
    assert '"model"' not in fitted.to_json()
    loaded = upliftree.from_json(fitted.to_json())
    assert loaded.model is None and loaded.to_json() == fitted.to_json()
    assert not hasattr(fitted, "prune") and not hasattr(fitted, "calibration") and not hasattr(fitted, "honest")
    predicted = fitted.predict(experiment.X)
    fitted.set_params(model=None)
    np.testing.assert_array_equal(fitted.predict(experiment.X), predicted)
    with pytest.raises(TypeError, match="model must be an upliftree tree, distilled tree or forest, got NoneType"):
        fitted.fit(experiment.X, experiment.treatment, experiment.y)
