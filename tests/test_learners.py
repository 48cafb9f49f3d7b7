"""Meta-learners (upliftree.learners): formulas against slow reference implementations, the fit/predict API,
cross-fitting folds, propensities and overlap, determinism, and bad input.

The reference implementations refit scikit-learn's linear models by hand, fold by fold and arm by arm, and
loop over rows for the scores; the learners must match them to rounding. Known-truth accuracy is in
tests/test_learners_truth.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

from upliftree.datasets import FEATURES, make_smooth_uplift_data, make_uplift_data
from upliftree.learners import (
    ClassTransformation,
    DRLearner,
    RLearner,
    SLearner,
    TLearner,
    XLearner,
    doubly_robust_scores,
)

SMOOTH_FEATURES = [f"x{index}" for index in range(6)]
LEARNERS = [SLearner, TLearner, XLearner, RLearner, DRLearner, ClassTransformation]
CROSS_FITTED = [RLearner, DRLearner, ClassTransformation]


def smooth(n_rows=400, n_treatments=1, outcome="continuous", confounding=0.5, seed=0):
    frame = make_smooth_uplift_data(n_rows, n_treatments=n_treatments, outcome=outcome, confounding=confounding,
                                    random_state=seed)
    return frame, frame[SMOOTH_FEATURES].to_numpy(), frame["treatment"].to_numpy(), frame["outcome"].to_numpy()


def linear(binary):
    return LogisticRegression() if binary else LinearRegression()


def mean_of(model, X, binary):
    return model.predict_proba(X)[:, 1] if binary else model.predict(X)


def linear_learner(cls, binary, **params):
    """``cls`` with linear base models in every role it has."""
    roles = {"outcome_model": linear(binary), "propensity_model": LogisticRegression(),
             "effect_model": LinearRegression(), "model": linear(binary)}
    names = cls().get_params()
    return cls(**{role: model for role, model in roles.items() if role in names}, **params)


def reference_propensity(X, arm, fold, clip):
    """Out-of-fold multinomial logistic propensities, clipped arm by arm."""
    probabilities = np.empty((len(arm), arm.max() + 1))
    for index in np.unique(fold):
        train, test = fold != index, fold == index
        probabilities[test] = LogisticRegression().fit(X[train], arm[train]).predict_proba(X[test])
    return np.clip(probabilities, clip, 1 - clip)


# -- formulas against reference implementations ------------------------------------------------------------------

@pytest.mark.parametrize("outcome", ["continuous", "binary"])
@pytest.mark.parametrize("n_treatments", [1, 2])
def test_t_and_s_learners_match_the_reference(outcome, n_treatments):
    frame, X, arm, y = smooth(n_treatments=n_treatments, outcome=outcome)
    binary = outcome == "binary"
    models = [linear(binary).fit(X[arm == code], y[arm == code]) for code in range(n_treatments + 1)]
    expected = np.column_stack([mean_of(model, X, binary) for model in models])
    t_learner = linear_learner(TLearner, binary).fit(X, arm, y)
    np.testing.assert_allclose(t_learner.predict_outcome(X), expected, rtol=1e-12, atol=1e-12)
    uplift = t_learner.predict(X)
    np.testing.assert_allclose(uplift.reshape(len(X), -1), expected[:, 1:] - expected[:, :1], atol=1e-12)

    indicators = (arm[:, None] == np.arange(1, n_treatments + 1)).astype(float)
    model = linear(binary).fit(np.column_stack([X, indicators]), y)
    expected = np.column_stack([
        mean_of(model, np.column_stack([X, np.tile(np.arange(1, n_treatments + 1) == code, (len(X), 1))]), binary)
        for code in range(n_treatments + 1)
    ])
    s_learner = linear_learner(SLearner, binary).fit(X, arm, y)
    np.testing.assert_allclose(s_learner.predict_outcome(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_treatments", [1, 2])
def test_x_learner_matches_the_reference(n_treatments):
    # Trees, not linear models: with least squares the two effect models would coincide (both mu_t - mu_0).
    frame, X, arm, y = smooth(n_treatments=n_treatments)

    def tree():
        return DecisionTreeRegressor(max_depth=3, random_state=0)

    outcome = [tree().fit(X[arm == code], y[arm == code]) for code in range(n_treatments + 1)]
    propensity = LogisticRegression().fit(X, arm).predict_proba(X)
    expected = np.empty((len(X), n_treatments))
    for code in range(1, n_treatments + 1):
        treated, control = arm == code, arm == 0
        tau_treated = tree().fit(X[treated], y[treated] - outcome[0].predict(X[treated])).predict(X)
        tau_control = tree().fit(X[control], outcome[code].predict(X[control]) - y[control]).predict(X)
        assert np.abs(tau_treated - tau_control).max() > 0.1
        g = propensity[:, code] / (propensity[:, 0] + propensity[:, code])
        expected[:, code - 1] = g * tau_control + (1 - g) * tau_treated
    learner = XLearner(outcome_model=tree(), effect_model=tree(), propensity_model=LogisticRegression()).fit(X, arm, y)
    np.testing.assert_allclose(learner.predict(X).reshape(len(X), -1), expected, rtol=1e-9, atol=1e-9)


def test_x_learner_uses_a_known_constant_propensity_as_given():
    frame, X, arm, y = smooth(confounding=0.0)
    tree = DecisionTreeRegressor(max_depth=3, random_state=0)
    learner = XLearner(outcome_model=tree, effect_model=tree).fit(X, arm, y, propensity=0.3)
    assert learner.propensity_model_ is None
    np.testing.assert_array_equal(learner.propensity_constant_, [0.7, 0.3])
    treated = learner.effect_treated_models_[0].predict(X)
    control = learner.effect_control_models_[0].predict(X)
    np.testing.assert_allclose(learner.predict(X), 0.3 * control + 0.7 * treated, rtol=1e-12)


@pytest.mark.parametrize("outcome", ["continuous", "binary"])
@pytest.mark.parametrize("n_treatments", [1, 2])
def test_dr_scores_match_the_reference(outcome, n_treatments):
    frame, X, arm, y = smooth(n_treatments=n_treatments, outcome=outcome)
    binary = outcome == "binary"
    learner = linear_learner(DRLearner, binary, cv=3, propensity_clip=0.05, random_state=0).fit(X, arm, y)
    scores = learner.dr_scores_
    n_arms = n_treatments + 1
    outcome_means = np.empty((len(y), n_arms))
    for index in range(3):
        train, test = scores.fold != index, scores.fold == index
        for code in range(n_arms):
            model = linear(binary).fit(X[train & (arm == code)], y[train & (arm == code)])
            outcome_means[test, code] = mean_of(model, X[test], binary)
    propensity = reference_propensity(X, arm, scores.fold, 0.05)
    expected = np.empty((len(y), n_treatments))
    for row in range(len(y)):
        for code in range(1, n_arms):
            value = outcome_means[row, code] - outcome_means[row, 0]
            if arm[row] == code:
                value += (y[row] - outcome_means[row, code]) / propensity[row, code]
            if arm[row] == 0:
                value -= (y[row] - outcome_means[row, 0]) / propensity[row, 0]
            expected[row, code - 1] = value
    np.testing.assert_allclose(scores.outcome, outcome_means, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(scores.propensity_by_arm, propensity, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(learner.pseudo_outcomes_, expected, rtol=1e-9, atol=1e-9)
    effects = np.column_stack([LinearRegression().fit(X, expected[:, index]).predict(X)
                               for index in range(n_treatments)])
    np.testing.assert_allclose(learner.predict(X).reshape(len(X), -1), effects, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(learner.ate_, expected.mean(axis=0), rtol=1e-9)


@pytest.mark.parametrize("n_treatments", [1, 2])
def test_r_learner_matches_the_reference(n_treatments):
    frame, X, arm, y = smooth(n_treatments=n_treatments)
    learner = linear_learner(RLearner, False, cv=4, random_state=1).fit(X, arm, y)
    fold = learner.fold_
    propensity = reference_propensity(X, arm, fold, 0.01)
    np.testing.assert_allclose(learner.propensity_, propensity, rtol=1e-9, atol=1e-9)
    for code in range(1, n_treatments + 1):
        pair = (arm == 0) | (arm == code)
        mean = np.empty(len(y))
        for index in range(4):
            train, test = (fold != index) & pair, fold == index
            mean[test] = LinearRegression().fit(X[train], y[train]).predict(X[test])
        share = propensity[:, code] / (propensity[:, 0] + propensity[:, code])
        residual_arm = (arm == code) - share
        effect = LinearRegression().fit(X[pair], ((y - mean) / residual_arm)[pair],
                                        sample_weight=(residual_arm**2)[pair])
        predicted = learner.predict(X).reshape(len(X), -1)[:, code - 1]
        np.testing.assert_allclose(predicted, effect.predict(X), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("known", [True, False])
def test_class_transformation_matches_the_reference(known):
    frame, X, arm, y = smooth(outcome="binary")
    propensity = frame["propensity"].to_numpy() if known else None
    learner = ClassTransformation(model=LogisticRegression(), propensity_model=LogisticRegression(), cv=3,
                                  random_state=2).fit(X, arm, y, propensity=propensity)
    if known:
        assert learner.fold_ is None
        received = propensity
    else:
        received = reference_propensity(X, arm, learner.fold_, 0.01)[np.arange(len(y)), arm]
    np.testing.assert_allclose(learner.propensity_, received, rtol=1e-9)
    responder_class = np.where(arm == 1, y, 1 - y)
    weight = (1 / received) / (1 / received).mean()
    model = LogisticRegression().fit(X, responder_class, sample_weight=weight)
    np.testing.assert_allclose(learner.predict(X), 2 * model.predict_proba(X)[:, 1] - 1, rtol=1e-8, atol=1e-8)


def test_transformed_outcome_matches_the_reference_with_several_treatments():
    frame, X, arm, y = smooth(n_treatments=2)
    received = frame["propensity"].to_numpy()
    learner = ClassTransformation(model=LinearRegression()).fit(X, arm, y, propensity=received)
    for code in (1, 2):
        transformed = np.where(arm == code, y / received, np.where(arm == 0, -y / received, 0.0))
        expected = LinearRegression().fit(X, transformed).predict(X)
        np.testing.assert_allclose(learner.predict(X)[:, code - 1], expected, rtol=1e-9, atol=1e-9)


def test_cross_fitted_outcome_predictions_never_come_from_a_model_that_saw_the_row():
    """A 1-nearest-neighbour model reproduces every training row's outcome exactly: cross-fitted, it cannot."""
    frame, X, arm, y = smooth(n_rows=600)
    memorizer = KNeighborsRegressor(n_neighbors=1)
    in_sample = np.column_stack([memorizer.fit(X[arm == code], y[arm == code]).predict(X) for code in (0, 1)])
    own_arm = np.arange(len(y)), arm
    assert (in_sample[own_arm] == y).all()  # what a learner without cross-fitting would plug in
    scores = doubly_robust_scores(X, arm, y, outcome_model=memorizer, propensity_model=KNeighborsClassifier(50),
                                  random_state=0)
    assert (scores.outcome[own_arm] == y).mean() == 0.0


# -- the API -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", LEARNERS)
def test_predict_shapes_and_columns_follow_the_trees(cls):
    frame = make_uplift_data(3_000, n_treatments=2, random_state=3)
    learner = cls(control="control", random_state=0).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    assert list(learner.treatments_) == ["control", "discount", "email"]
    assert learner.predict(frame[FEATURES]).shape == (3_000, 2)
    assert learner.outcome_type_ == "binary"
    assert list(learner.feature_names_in_) == FEATURES and learner.n_features_in_ == 6
    one = cls(control="control", random_state=0).fit(frame[FEATURES][:2000], np.where(
        frame["treatment"][:2000] == "control", "control", "mail"), frame["outcome"][:2000])
    assert one.predict(frame[FEATURES]).shape == (3_000,)
    if cls in (SLearner, TLearner):
        assert learner.predict_outcome(frame[FEATURES]).shape == (3_000, 3)
    else:
        assert not hasattr(learner, "predict_outcome")


@pytest.mark.parametrize("cls", LEARNERS)
def test_params_clone_and_repr(cls):
    learner = cls(control="control", random_state=5)
    assert learner.get_params()["random_state"] == 5
    copy = clone(learner)
    assert copy.get_params() == learner.get_params() and copy is not learner
    assert "random_state=5" in repr(learner) and "control='control'" in repr(learner)
    assert learner.set_params(n_jobs=1).n_jobs == 1
    with pytest.raises(ValueError, match="Invalid parameter 'depth'"):
        learner.set_params(depth=3)
    frame, X, arm, y = smooth(n_rows=300)
    fitted = cls(random_state=0).fit(X, arm, y)
    assert not hasattr(clone(fitted), "treatments_")


@pytest.mark.parametrize("cls", LEARNERS)
def test_an_unfitted_learner_refuses_to_predict(cls):
    with pytest.raises(ValueError, match="not fitted yet"):
        cls().predict(np.zeros((3, 6)))


@pytest.mark.parametrize("cls", LEARNERS)
def test_results_do_not_depend_on_n_jobs(cls):
    frame = make_uplift_data(2_000, outcome="continuous", random_state=4)
    predictions = [cls(control="control", random_state=7, n_jobs=n_jobs)
                   .fit(frame[FEATURES], frame["treatment"], frame["outcome"]).predict(frame[FEATURES])
                   for n_jobs in (1, 2, -1)]
    np.testing.assert_array_equal(predictions[0], predictions[1])
    np.testing.assert_array_equal(predictions[0], predictions[2])


@pytest.mark.parametrize("cls", CROSS_FITTED)
def test_random_state_draws_the_folds(cls):
    frame, X, arm, y = smooth(n_rows=300)
    folds = [linear_learner(cls, False, random_state=seed).fit(X, arm, y) for seed in (0, 0, 1)]
    fold = [learner.dr_scores_.fold if cls is DRLearner else learner.fold_ for learner in folds]
    np.testing.assert_array_equal(fold[0], fold[1])
    assert (fold[0] != fold[2]).any()


def test_folds_are_stratified_by_arm_and_outcome():
    frame, X, arm, y = smooth(n_rows=1_000, n_treatments=2, outcome="binary")
    fold = linear_learner(RLearner, True, cv=5, random_state=0).fit(X, arm, y).fold_
    for stratum in np.unique(arm * 2 + y):
        counts = np.bincount(fold[arm * 2 + y == stratum], minlength=5)
        assert counts.max() - counts.min() <= 1


def test_folds_keep_clusters_whole():
    frame, X, arm, y = smooth(n_rows=1_200)
    store = np.random.default_rng(0).integers(0, 60, len(y))
    for learner in (linear_learner(RLearner, False, random_state=0), linear_learner(DRLearner, False, random_state=0)):
        learner.fit(X, arm, y, cluster=store)
        fold = learner.dr_scores_.fold if isinstance(learner, DRLearner) else learner.fold_
        for cluster in np.unique(store):
            assert len(np.unique(fold[store == cluster])) == 1
        assert len(np.unique(fold)) == 5


def test_design_columns_are_not_features():
    frame, _, arm, y = smooth(n_rows=400)
    X = frame[SMOOTH_FEATURES + ["propensity"]].assign(store=np.arange(400) % 40)
    learner = linear_learner(DRLearner, False, random_state=0).fit(X, arm, y, propensity="propensity",
                                                                     cluster="store")
    assert list(learner.feature_names_in_) == SMOOTH_FEATURES
    np.testing.assert_array_equal(learner.dr_scores_.propensity, frame["propensity"])
    np.testing.assert_array_equal(learner.dr_scores_.cluster, np.arange(400) % 40)
    learner.predict(X)  # the extra columns are ignored when predicting


def test_categorical_features_reach_the_base_models_as_categories():
    frame = make_uplift_data(2_000, random_state=5)
    learner = TLearner(control="control", random_state=0).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    categorical = learner.models_[0].is_categorical_
    assert categorical.tolist() == [False, False, False, False, True, True]
    unseen = frame[FEATURES].head(3).astype({"region": object})
    unseen.loc[:, "region"] = "atlantis"  # an unseen category is routed as missing, as in the trees
    assert np.isfinite(learner.predict(unseen)).all()


def test_zero_weights_drop_rows_from_every_fit():
    frame, X, arm, y = smooth(n_rows=500, n_treatments=2)
    weight = (np.arange(500) % 3 != 0).astype(float)
    kept = weight > 0
    for cls in (SLearner, TLearner, XLearner):
        weighted = linear_learner(cls, False).fit(X, arm, y, sample_weight=weight)
        dropped = linear_learner(cls, False).fit(X[kept], arm[kept], y[kept])
        np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-8, atol=1e-8)


# -- propensities and overlap ---------------------------------------------------------------------------------

def test_estimated_propensities_outside_the_bounds_are_clipped_and_reported():
    frame, X, _, y = smooth(n_rows=1_000)
    treated_probability = 1 / (1 + np.exp(-12 * (X[:, 0] - 0.5)))  # from 0.0025 to 0.9975
    arm = (np.random.default_rng(0).random(1_000) < treated_probability).astype(int)
    with pytest.warns(UserWarning, match=r"outside \[0.05, 0.95\] \(estimated; clipped to those bounds\)"):
        learner = linear_learner(DRLearner, False, propensity_clip=0.05, random_state=0).fit(X, arm, y)
    overlap = learner.overlap_
    assert overlap.estimated and overlap.n_outside > 0
    assert overlap.n_below[1] == overlap.n_above[0]  # two arms: e_0 = 1 - e_1
    assert overlap.minimum[1] < 0.05
    by_arm = learner.dr_scores_.propensity_by_arm
    assert by_arm.min() >= 0.05 and by_arm.max() <= 0.95
    table = overlap.to_frame()
    assert list(table.columns) == ["n_below", "n_above", "minimum", "maximum"] and list(table.index) == [0, 1]


def test_known_propensities_are_used_as_given_and_reported():
    frame, X, arm, y = smooth(n_rows=1_000, confounding=1.0)
    received = frame["propensity"].to_numpy()
    with pytest.warns(UserWarning, match=r"outside \[0.2, 0.8\] \(given; used as given"):
        learner = linear_learner(DRLearner, False, propensity_clip=0.2, random_state=0).fit(
            X, arm, y, propensity=received)
    np.testing.assert_array_equal(learner.dr_scores_.propensity, received)
    assert not learner.overlap_.estimated
    assert learner.overlap_.n_below[1] == int((frame["propensity_1"] < 0.2).sum())


def test_no_warning_when_every_propensity_is_inside_the_bounds():
    frame, X, arm, y = smooth(n_rows=400, confounding=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner = linear_learner(RLearner, False, random_state=0).fit(X, arm, y, propensity=0.5)
    assert learner.overlap_.n_outside == 0
    np.testing.assert_array_equal(learner.propensity_, np.full((400, 2), 0.5))


def test_received_arm_probabilities_with_more_arms():
    """DR, X and the class transformation need only each row's own arm; the R-learner needs every arm's."""
    frame, X, arm, y = smooth(n_rows=600, n_treatments=2)
    received = frame["propensity"].to_numpy()
    for cls in (DRLearner, ClassTransformation, XLearner):
        assert linear_learner(cls, False, random_state=0).fit(X, arm, y, propensity=received).predict(X).shape == \
            (600, 2)
    with pytest.raises(ValueError, match="the R-learner needs the probability of every arm for every row"):
        linear_learner(RLearner, False).fit(X, arm, y, propensity=received)
    by_arm = frame[["propensity_0", "propensity_1", "propensity_2"]].to_numpy()
    learner = linear_learner(RLearner, False, random_state=0).fit(X, arm, y, propensity=by_arm)
    np.testing.assert_array_equal(learner.propensity_, by_arm)


@pytest.mark.parametrize("cls", [RLearner, DRLearner, ClassTransformation])
def test_certain_assignment_is_refused(cls):
    frame, X, arm, y = smooth(n_rows=300)
    received = np.where(np.arange(300) < 5, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"5 row\(s\) received their arm with probability 1.*no overlap"):
        linear_learner(cls, False).fit(X, arm, y, propensity=received)
    with pytest.raises(ValueError, match=r"propensity holds 1 value\(s\) outside \(0, 1\]"):
        linear_learner(cls, False).fit(X, arm, y, propensity=np.where(np.arange(300) == 0, 0.0, 0.5))


# -- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cls", "role"), [
    (TLearner, "outcome_model"), (SLearner, "outcome_model"), (XLearner, "outcome_model"),
    (DRLearner, "outcome_model"), (RLearner, "outcome_model"), (ClassTransformation, "model"),
    (DRLearner, "propensity_model"), (RLearner, "propensity_model"), (XLearner, "propensity_model"),
    (ClassTransformation, "propensity_model"),
])
def test_models_without_predict_proba_are_refused_where_probabilities_are_needed(cls, role):
    frame, X, arm, y = smooth(n_rows=300, outcome="binary")
    with pytest.raises(TypeError, match=f"{role} must be a classifier with predict_proba.*LinearRegression"):
        cls(**{role: LinearRegression()}).fit(X, arm, y)


@pytest.mark.parametrize("cls", [XLearner, RLearner, DRLearner])
def test_a_classifier_as_effect_model_is_refused(cls):
    frame, X, arm, y = smooth(n_rows=300)
    with pytest.raises(TypeError, match="effect_model must be a regressor.*LogisticRegression"):
        cls(effect_model=LogisticRegression()).fit(X, arm, y)


def test_a_classifier_for_a_continuous_outcome_is_refused():
    frame, X, arm, y = smooth(n_rows=300)
    with pytest.raises(TypeError, match="outcome_model must be a regressor"):
        TLearner(outcome_model=LogisticRegression()).fit(X, arm, y)
    with pytest.raises(TypeError, match="must be a scikit-learn estimator"):
        TLearner(outcome_model="hgb").fit(X, arm, y)


@pytest.mark.parametrize("cls", CROSS_FITTED)
@pytest.mark.parametrize("cv", [1, 0, 2.5, True, "5", None])
def test_cv_below_2_is_refused(cls, cv):
    frame, X, arm, y = smooth(n_rows=300)
    with pytest.raises(ValueError, match=f"cv must be an integer >= 2, got {cv!r}"):
        cls(cv=cv).fit(X, arm, y)


@pytest.mark.parametrize("cls", CROSS_FITTED)
def test_arms_too_small_for_the_folds_are_refused(cls):
    frame, X, arm, y = smooth(n_rows=300)
    arm = np.where(np.arange(300) < 3, 2, arm)
    with pytest.raises(ValueError, match="arm 2 has 3 rows, fewer than cv=5: cross-fitting needs"):
        cls().fit(X, arm, y)
    frame, X, arm, y = smooth(n_rows=300, outcome="binary")
    responders = np.flatnonzero((arm == 1) & (y == 1))
    y = y.copy()
    y[responders[2:]] = 0
    with pytest.raises(ValueError, match="arm 1 has 2 rows with outcome 1, fewer than cv=5"):
        cls().fit(X, arm, y)


def test_too_few_clusters_for_the_folds_are_refused():
    frame, X, arm, y = smooth(n_rows=300)
    with pytest.raises(ValueError, match="cluster has 3 cluster"):
        DRLearner().fit(X, arm, y, cluster=np.arange(300) % 3)
    # Clusters that hold a whole arm leave a fold's training part without that arm.
    clustered_arm = np.where(np.arange(300) < 100, 1, 0)
    with pytest.raises(ValueError, match="has no rows of positive weight in the training part of cross-fitting fold"):
        linear_learner(DRLearner, False, cv=2, random_state=0).fit(X, clustered_arm, y,
                                                                   cluster=np.where(np.arange(300) < 100, 0, 1))


@pytest.mark.parametrize("cls", [TLearner, XLearner])
def test_an_arm_without_both_outcomes_is_refused(cls):
    frame, X, arm, y = smooth(n_rows=300, outcome="binary")
    y = np.where(arm == 1, 0, y)
    with pytest.raises(ValueError, match="y: arm 1 has no rows with outcome 1, so its outcome model cannot"):
        cls().fit(X, arm, y)


def test_sample_weight_needs_models_that_accept_it():
    frame, X, arm, y = smooth(n_rows=300)
    with pytest.raises(TypeError, match=r"sample_weight was given, but outcome_model \(KNeighborsRegressor\)"):
        TLearner(outcome_model=KNeighborsRegressor()).fit(X, arm, y, sample_weight=np.ones(300))
    # The R-learner always weights its effect model.
    with pytest.raises(TypeError, match=r"effect_model \(KNeighborsRegressor\) does not accept sample_weight"):
        linear_learner(RLearner, False).set_params(effect_model=KNeighborsRegressor()).fit(X, arm, y)


@pytest.mark.parametrize(("params", "message"), [
    ({"propensity_clip": 0.5}, r"propensity_clip must be a number in \[0, 0.5\)"),
    ({"propensity_clip": -0.1}, r"propensity_clip must be a number in \[0, 0.5\)"),
    ({"propensity_clip": "0.1"}, "propensity_clip must be a number"),
    ({"n_jobs": 0}, "n_jobs must be None, a positive int or -1"),
    ({"n_jobs": 1.5}, "n_jobs must be None, a positive int or -1"),
    ({"outcome": "count"}, r"outcome must be one of \['auto', 'binary', 'continuous'\]"),
    ({"random_state": -1}, "random_state must be None"),
])
def test_bad_parameters_are_refused(params, message):
    frame, X, arm, y = smooth(n_rows=300)
    with pytest.raises(ValueError, match=message):
        DRLearner(**params).fit(X, arm, y)


def test_a_binary_outcome_must_be_0_or_1():
    frame, X, arm, y = smooth(n_rows=300)
    with pytest.raises(ValueError, match="y must be binary"):
        DRLearner(outcome="binary").fit(X, arm, y)
    # outcome="continuous" models a 0/1 outcome with regressors.
    frame, X, arm, y = smooth(n_rows=300, outcome="binary")
    assert DRLearner(outcome="continuous", random_state=0).fit(X, arm, y).outcome_type_ == "continuous"


def test_a_failed_fit_leaves_nothing_behind():
    frame, X, arm, y = smooth(n_rows=300)
    learner = DRLearner(effect_model=LogisticRegression())
    with pytest.raises(TypeError):
        learner.fit(X, arm, y)
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(learner))


def test_dr_score_intervals_check_their_arguments():
    frame, X, arm, y = smooth(n_rows=300)
    scores = doubly_robust_scores(X, arm, y, outcome_model=LinearRegression(), propensity=0.5, random_state=0)
    with pytest.raises(ValueError, match="alpha must be a number in"):
        scores.interval(1.5)
    with pytest.raises(ValueError, match="rows is a mask of"):
        scores.mean(np.ones(3, dtype=bool))
    mask = np.arange(300) < 100
    np.testing.assert_allclose(scores.mean(mask), scores.mean(np.flatnonzero(mask)))
    assert np.isnan(scores.standard_error([0])).all()
    assert isinstance(pd.DataFrame(scores.interval()), pd.DataFrame)
