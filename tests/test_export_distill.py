"""Distillation: a shallow tree imitating a model's predicted uplift, with fidelity and kept Qini, that exports
like any tree."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from test_splitter_reference import experiments, split_at
from test_squared_error_split import check_kernel_choice

import upliftree
from upliftree import (
    UpliftRandomForestClassifier,
    UpliftRandomForestRegressor,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
)
from upliftree._tree_arrays import categories_in_bitset
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


@pytest.mark.filterwarnings("ignore:qini_auc_score is NaN")  # tiny random experiments without responders
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_distilled_tree_is_the_reference_greedy_tree(data):
    """The distilled tree is the greedy squared-error tree of the model's predicted uplift: the slow grower of
    ``reference.py`` over raw rows (squared-error rule) gives the same node table, with the experiment rows'
    statistics and the mean predicted outcomes as values. On near-ties (sums taken in another order) the
    reference follows the kernel's choice once it is checked to be a best candidate."""
    experiment = data.draw(experiments(min_rows=40, max_rows=120))
    max_depth = data.draw(st.integers(1, 4))
    min_samples_leaf = data.draw(st.sampled_from((1, 2, 5, 12)))
    min_samples_treatment = data.draw(st.sampled_from((0, 1, 2, 4)))
    settings_ = dict(min_samples_leaf=5, min_samples_treatment=1, control=experiment.control, random_state=0)
    if data.draw(st.booleans()):  # a forest's smooth predictions, or a tree's steps (exact ties between bins)
        model_class = UpliftRandomForestClassifier if experiment.binary else UpliftRandomForestRegressor
        model = model_class(n_estimators=3, max_depth=3, verbose=0, **settings_)
    else:
        model = (UpliftTreeClassifier if experiment.binary else UpliftTreeRegressor)(max_depth=3, **settings_)
    model.fit(experiment.X, experiment.treatment, experiment.y, experiment.sample_weight)
    distilled = upliftree.distill(model, experiment.X, experiment.treatment, experiment.y, max_depth=max_depth,
                                  min_samples_leaf=min_samples_leaf, min_samples_treatment=min_samples_treatment,
                                  max_bins=experiment.max_bins, sample_weight=experiment.sample_weight,
                                  random_state=0)
    tree, mapper = distilled.tree_, distilled.bin_mapper_
    encoded = distilled.fitted_state_.inputs.encode(experiment.X)
    predicted = model.predict_outcome(experiment.X)
    rows_data = ref.Rows(mapper.transform(encoded), experiment.arm, experiment.weight, experiment.y,
                         experiment.n_arms, mapper.n_bins_non_missing_, mapper.is_categorical_, mapper.missing_bin_,
                         predicted[:, 1:] - predicted[:, :1])
    params = ref.Params(ref.SQUARED_ERROR, binary=False, normalize=False, min_samples_leaf=min_samples_leaf,
                        min_samples_treatment=min_samples_treatment, max_depth=max_depth)

    def follow_kernel_on_ties(path, rows, candidates, best):
        node, feature, goes_left = split_at(tree, path, encoded, rows)
        return check_kernel_choice(rows_data, rows, candidates, best, feature, tree.gain[node], goes_left)

    expected = ref.grow_tree(rows_data, mapper.bin_thresholds_, params, follow_kernel_on_ties)
    assert tree.n_nodes == len(expected.children_left)
    for name in ("children_left", "children_right", "parent", "depth", "feature", "is_categorical",
                 "missing_left", "threshold"):
        np.testing.assert_array_equal(getattr(tree, name), getattr(expected, name), err_msg=name)
    for node in range(tree.n_nodes):
        n_categories = mapper.n_bins_non_missing_[max(tree.feature[node], 0)]
        assert categories_in_bitset(tree.category_bitset[node], n_categories).tolist() == \
            expected.left_categories[node], f"category set of node {node}"
    assert distilled.n_splits_merged_ == 0  # every child keeps min_samples_treatment rows of every arm
    np.testing.assert_allclose(tree.raw_gain, expected.raw_gain, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(tree.stats, expected.stats, rtol=1e-12, atol=1e-12)
    mean_predicted = [np.average(predicted[rows], axis=0, weights=experiment.weight[rows])
                      for rows in expected.node_rows]
    np.testing.assert_allclose(tree.value, mean_predicted, rtol=1e-9, atol=1e-12)
