"""Fitted state: node tables that are checked and read-only, and one fitted-state object published at once.

A cycle written into ``tree_`` used to make ``predict`` loop forever inside compiled code, and a refit while
another thread predicted raised IndexError (the new schema with the old tree). Now every node table is
validated when it is built, fitted arrays cannot be written, and ``predict`` reads one fitted-state object
that a fit replaces in one assignment.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import pickle
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import upliftree
from upliftree._base import NotFittedError
from upliftree._tree_arrays import BITSET_WORDS, InvalidTreeError, TreeArrays, category_bitset_of
from upliftree.datasets import FEATURES, make_uplift_data
from upliftree.tree import FittedInputs, FittedTree

pytestmark = pytest.mark.usefixtures("one_numba_thread")  # many tiny fits (see conftest)


# -- random valid node tables ---------------------------------------------------------------------------------
@st.composite
def node_tables(draw) -> tuple[dict, np.ndarray]:
    """The arrays of a random valid tree and its features' category counts (-1: numeric feature).

    Nodes are numbered as they are created, two children at a time, so children follow their parent and
    are adjacent.
    """
    n_categories = np.array(draw(st.lists(st.sampled_from([-1, -1, 1, 2, 5, 64, 65, 200, 255]), min_size=1,
                                          max_size=5)), dtype=np.int64)
    n_arms = draw(st.integers(2, 4))
    max_nodes = draw(st.integers(1, 41))
    parent, depth, splits = [-1], [0], {}
    node = 0
    while node < len(parent):
        if len(parent) + 2 <= max_nodes and draw(st.booleans()):
            feature = draw(st.integers(0, len(n_categories) - 1))
            if n_categories[feature] < 0:
                test = draw(st.floats(allow_nan=False) | st.just(np.inf))
            else:
                test = draw(st.sets(st.integers(0, int(n_categories[feature]) - 1), max_size=8))
            splits[node] = (feature, test, draw(st.booleans()), len(parent))
            parent += [node, node]
            depth += [depth[node] + 1] * 2
        node += 1
    n_nodes = len(parent)
    arrays = {
        "children_left": np.full(n_nodes, -1), "children_right": np.full(n_nodes, -1),
        "parent": np.array(parent, dtype=np.int64), "depth": np.array(depth, dtype=np.int64),
        "feature": np.full(n_nodes, -1), "threshold": np.full(n_nodes, np.nan),
        "is_categorical": np.zeros(n_nodes, dtype=bool),
        "category_bitset": np.zeros((n_nodes, BITSET_WORDS), dtype=np.uint64),
        "missing_left": np.zeros(n_nodes, dtype=bool), "gain": np.zeros(n_nodes), "raw_gain": np.zeros(n_nodes),
    }
    for node, (feature, test, missing_left, left) in splits.items():
        arrays["children_left"][node], arrays["children_right"][node] = left, left + 1
        arrays["feature"][node] = feature
        arrays["missing_left"][node] = missing_left
        arrays["gain"][node] = draw(st.floats(0, 10))
        arrays["raw_gain"][node] = draw(st.floats(0, 10))
        if isinstance(test, float):
            arrays["threshold"][node] = test
        else:
            arrays["is_categorical"][node] = True
            arrays["category_bitset"][node] = category_bitset_of(np.array(sorted(test), dtype=np.int64))
    # Statistics of rows with weights up to 10 and outcomes in [0, 1): sums and means as a fit gives them.
    count, weight, mean = (np.array(draw(st.lists(st.floats(0, high), min_size=n_nodes * n_arms,
                                                  max_size=n_nodes * n_arms))).reshape(n_nodes, n_arms)
                           for high in (1e6, 1e7, 0.999))
    arrays["stats"] = np.stack([count, weight, weight * mean, weight * mean, weight * 10], axis=2)
    arrays["value"] = mean
    return arrays, n_categories


# -- corruptions: each returns False when the table has nothing to corrupt that way -------------------------------
def _splits(arrays: dict) -> np.ndarray:
    return np.flatnonzero(arrays["children_left"] >= 0)


def _leaves(arrays: dict) -> np.ndarray:
    return np.flatnonzero(arrays["children_left"] < 0)


def _pick(data, nodes: np.ndarray) -> int | None:
    return None if len(nodes) == 0 else int(data.draw(st.sampled_from(list(nodes))))


def child_out_of_range(arrays, n_categories, data) -> bool:
    node = _pick(data, _splits(arrays))
    if node is None:
        return False
    side = data.draw(st.sampled_from(["children_left", "children_right"]))
    arrays[side][node] = data.draw(st.sampled_from([len(arrays["parent"]), 2**40, -2, -(2**40)]))
    return True


def cycle(arrays, n_categories, data) -> bool:
    """A split pointing back to itself or an ancestor: a traversal would never reach a leaf."""
    node = _pick(data, _splits(arrays))
    if node is None:
        return False
    ancestors = [node]
    while arrays["parent"][ancestors[-1]] >= 0:
        ancestors.append(int(arrays["parent"][ancestors[-1]]))
    target = data.draw(st.sampled_from(ancestors))
    arrays["children_left"][node], arrays["children_right"][node] = target, target + 1
    return True


def one_child(arrays, n_categories, data) -> bool:
    node = _pick(data, _splits(arrays))
    if node is None:
        return False
    arrays[data.draw(st.sampled_from(["children_left", "children_right"]))][node] = -1
    return True


def children_apart(arrays, n_categories, data) -> bool:
    node = _pick(data, [s for s in _splits(arrays) if arrays["children_left"][s] + 2 < len(arrays["parent"])])
    if node is None:
        return False
    arrays["children_right"][node] = arrays["children_left"][node] + data.draw(
        st.integers(2, len(arrays["parent"]) - 1 - arrays["children_left"][node]))
    return True


def shared_children(arrays, n_categories, data) -> bool:
    """A second node claims a split's children (a node with two parents)."""
    pairs = [(leaf, split) for leaf in _leaves(arrays) for split in _splits(arrays)
             if arrays["children_left"][split] > leaf]
    if not pairs:
        return False
    leaf, split = data.draw(st.sampled_from(pairs))
    arrays["children_left"][leaf] = arrays["children_left"][split]
    arrays["children_right"][leaf] = arrays["children_right"][split]
    return True


def unreached_subtree(arrays, n_categories, data) -> bool:
    """A split turned into a leaf without dropping its children."""
    node = _pick(data, _splits(arrays))
    if node is None:
        return False
    arrays["children_left"][node] = arrays["children_right"][node] = -1
    return True


def wrong_parent(arrays, n_categories, data) -> bool:
    n_nodes = len(arrays["parent"])
    node = data.draw(st.integers(0, n_nodes - 1))
    others = [other for other in range(-1, n_nodes + 1) if other != arrays["parent"][node]]
    arrays["parent"][node] = data.draw(st.sampled_from(others))
    return True


def wrong_depth(arrays, n_categories, data) -> bool:
    node = data.draw(st.integers(0, len(arrays["depth"]) - 1))
    arrays["depth"][node] += data.draw(st.sampled_from([-1, 1, 7]))
    return True


def leaf_with_split_field(arrays, n_categories, data) -> bool:
    leaf = _pick(data, _leaves(arrays))
    name = data.draw(st.sampled_from(["feature", "threshold", "is_categorical", "missing_left", "category_bitset",
                                      "gain", "raw_gain"]))
    arrays[name][leaf] = {"feature": 0, "threshold": 0.5, "is_categorical": True, "missing_left": True,
                          "category_bitset": 1, "gain": 0.25, "raw_gain": -1.0}[name]
    return True


def split_without_feature(arrays, n_categories, data) -> bool:
    node = _pick(data, _splits(arrays))
    if node is None:
        return False
    arrays["feature"][node] = data.draw(st.sampled_from([-1, -5]))
    return True


def nan_threshold(arrays, n_categories, data) -> bool:
    node = _pick(data, [s for s in _splits(arrays) if not arrays["is_categorical"][s]])
    if node is None:
        return False
    arrays["threshold"][node] = np.nan
    return True


def categorical_threshold(arrays, n_categories, data) -> bool:
    node = _pick(data, [s for s in _splits(arrays) if arrays["is_categorical"][s]])
    if node is None:
        return False
    arrays["threshold"][node] = data.draw(st.sampled_from([0.5, np.inf]))
    return True


def not_finite(arrays, n_categories, data) -> bool:
    name = data.draw(st.sampled_from(["gain", "raw_gain", "stats", "value"]))
    if name in ("gain", "raw_gain"):
        node = _pick(data, _splits(arrays))
        if node is None:
            return False
    else:
        node = data.draw(st.integers(0, len(arrays["parent"]) - 1))
    arrays[name][node] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return True


def negative_amount(arrays, n_categories, data) -> bool:
    node = data.draw(st.integers(0, len(arrays["parent"]) - 1))
    arrays["stats"][node, data.draw(st.integers(0, arrays["stats"].shape[1] - 1)),
                    data.draw(st.sampled_from([0, 1, 4]))] = -data.draw(st.floats(1e-300, 1e300))
    return True


def wrong_shape(arrays, n_categories, data) -> bool:
    """One node more in one array, or one arm more in stats or value than in the other."""
    name = data.draw(st.sampled_from(["parent", "threshold", "stats", "value", "category_bitset"]))
    axis = 1 if name in ("stats", "value") and data.draw(st.booleans()) else 0
    arrays[name] = np.concatenate([arrays[name], np.take(arrays[name], [0], axis=axis)], axis=axis)
    return True


def wrong_dtype(arrays, n_categories, data) -> bool:
    name = data.draw(st.sampled_from(["children_left", "feature", "threshold", "is_categorical", "stats"]))
    arrays[name] = arrays[name].astype({"children_left": np.int32, "feature": np.float64, "threshold": np.float32,
                                        "is_categorical": np.int64, "stats": np.float32}[name])
    return True


def feature_out_of_range(arrays, n_categories, data) -> bool:
    node = _pick(data, [s for s in _splits(arrays) if not arrays["is_categorical"][s]])
    if node is None:
        return False
    arrays["feature"][node] = len(n_categories) + data.draw(st.integers(0, 3))
    return True


def feature_of_other_kind(arrays, n_categories, data) -> bool:
    node = _pick(data, [s for s in _splits(arrays) if not arrays["is_categorical"][s]])
    categorical = np.flatnonzero(n_categories >= 0)
    if node is None or len(categorical) == 0:
        return False
    arrays["feature"][node] = data.draw(st.sampled_from(list(categorical)))
    return True


def code_beyond_categories(arrays, n_categories, data) -> bool:
    node = _pick(data, [s for s in _splits(arrays) if arrays["is_categorical"][s]
                        and n_categories[arrays["feature"][s]] < 64 * BITSET_WORDS])
    if node is None:
        return False
    code = data.draw(st.integers(int(n_categories[arrays["feature"][node]]), 64 * BITSET_WORDS - 1))
    arrays["category_bitset"][node] |= category_bitset_of(np.array([code]))
    return True


CORRUPTIONS = [
    (child_out_of_range, r"children_(left|right)\[\d+\]: -?\d+ is not -1 or a node id"),
    (cycle, r"node \d+: child id \d+ must be larger than its parent's id"),
    (one_child, r"node \d+: children_left and children_right must both be -1 or both be node ids"),
    (children_apart, r"node \d+: a split's children must be adjacent"),
    (shared_children, r"node \d+ is the child of two nodes"),
    (unreached_subtree, r"node \d+ is not reached from the root"),
    (wrong_parent, r"parent: does not match children_left / children_right \(parent\[\d+\] is -?\d+"),
    (wrong_depth, r"depth: does not match the tree structure \(depth\[\d+\] is -?\d+"),
    (leaf_with_split_field, r"node \d+: a leaf must have feature -1, threshold nan"),
    (split_without_feature, r"feature\[\d+\]: a split node needs a feature index"),
    (nan_threshold, r"node \d+: a numeric split needs a threshold \(not nan\)"),
    (categorical_threshold, r"threshold\[\d+\]: a categorical split must have threshold nan"),
    (not_finite, r"(gain|raw_gain|stats|value)\[\d+\]: not finite"),
    (negative_amount, r"stats\[\d+\]: counts, weights and squared weights must be >= 0"),
    (wrong_shape, r"must have shape"),
    (wrong_dtype, r"must be a \d-dimensional (int64|float64|bool) array, got"),
    (feature_out_of_range, r"feature\[\d+\]: \d+ is not a feature index"),
    (feature_of_other_kind, r"is_categorical\[\d+\]: does not match the type of feature \d+"),
    (code_beyond_categories, r"category_bitset\[\d+\]: holds codes beyond the \d+ categories of feature \d+"),
]


@settings(max_examples=100, deadline=None)
@given(table=node_tables())
def test_random_valid_tables_pass(table) -> None:
    arrays, n_categories = table
    TreeArrays(**arrays).validate(n_categories)


@pytest.mark.parametrize(("corrupt", "message"), CORRUPTIONS, ids=[corrupt.__name__ for corrupt, _ in CORRUPTIONS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(table=node_tables(), data=st.data())
def test_every_corruption_is_refused_with_its_message(corrupt, message, table, data) -> None:
    arrays, n_categories = table
    arrays = {name: array.copy() for name, array in arrays.items()}
    assume(corrupt(arrays, n_categories, data))
    with pytest.raises(InvalidTreeError, match=message):
        TreeArrays(**arrays).validate(n_categories)


@settings(max_examples=40, deadline=None)
@given(table=node_tables(), data=st.data())
def test_a_valid_table_cannot_be_rebuilt_corrupt(table, data) -> None:
    """Every way to a new table (``dataclasses.replace``, ``with_stats``) is checked like the constructor."""
    arrays, n_categories = table
    valid = TreeArrays(**arrays)
    corrupted = {name: array.copy() for name, array in arrays.items()}
    assume(cycle(corrupted, n_categories, data))
    with pytest.raises(InvalidTreeError, match="must be larger than its parent"):
        dataclasses.replace(valid, children_left=corrupted["children_left"],
                            children_right=corrupted["children_right"])
    stats = valid.stats.copy()
    stats[0, 0, 1] = -1.0
    with pytest.raises(InvalidTreeError, match="counts, weights and squared weights must be >= 0"):
        valid.with_stats(stats)


# -- fitted arrays are read-only ---------------------------------------------------------------------------------
@functools.cache
def experiment():
    frame = make_uplift_data(3_000, n_treatments=2, random_state=21)
    return frame[FEATURES], frame["treatment"].to_numpy(), frame["outcome"].to_numpy()


@functools.cache
def fitted_models() -> dict:
    X, treatment, y = experiment()
    tree = upliftree.UpliftTreeClassifier(max_depth=3, min_samples_leaf=100, control="control",
                                          random_state=0).fit(X, treatment, y)
    forest = upliftree.UpliftRandomForestClassifier(n_estimators=4, max_depth=3, min_samples_leaf=100,
                                                    control="control", random_state=0, verbose=0).fit(X, treatment, y)
    return {"tree": tree, "forest": forest, "distilled": upliftree.distill(forest, X, treatment, y, max_depth=2),
            "loaded tree": upliftree.from_json(tree.to_json()), "loaded forest": upliftree.from_json(forest.to_json())}


def fitted_arrays(model) -> dict[str, np.ndarray]:
    """Every array a fitted model holds, by a readable name."""
    arrays = {"treatments_": model.treatments_, "feature_names_in_": model.feature_names_in_,
              "feature_importances_": model.feature_importances_}
    if hasattr(model, "bin_mapper_"):
        mapper = model.bin_mapper_
        arrays.update({"bin_mapper_.n_bins_non_missing_": mapper.n_bins_non_missing_,
                       "bin_mapper_.is_categorical_": mapper.is_categorical_})
        arrays.update({f"bin_mapper_.bin_thresholds_[{index}]": thresholds
                       for index, thresholds in enumerate(mapper.bin_thresholds_)})
    trees = model.estimators_ if hasattr(model, "estimators_") else [model]
    for index, tree in enumerate(trees):
        arrays.update({f"tree {index}: tree_.{field.name}": getattr(tree.tree_, field.name)
                       for field in dataclasses.fields(tree.tree_)})
    if hasattr(model, "estimators_"):
        model.predict(experiment()[0].iloc[:10])  # builds the stacked forest
        stacked = model.fitted_state_.stacked
        arrays.update({"stacked.value": stacked.value, "stacked.columns": stacked.columns,
                       "stacked.tree_roots": stacked.tree_roots, "stacked.tree_depths": stacked.tree_depths})
        arrays.update({f"stacked.routing[{index}]": item for index, item in enumerate(stacked.routing)
                       if isinstance(item, np.ndarray)})
    return arrays


@pytest.mark.parametrize("name", ["tree", "forest", "distilled", "loaded tree", "loaded forest"])
def test_fitted_arrays_cannot_be_written(name) -> None:
    model = fitted_models()[name]
    X = experiment()[0]
    before = model.predict(X)
    for label, array in fitted_arrays(model).items():
        assert not array.flags.writeable, label
        if array.size:
            with pytest.raises(ValueError, match="read-only"):
                array.flat[0] = array.flat[-1]
    trees = model.estimators_ if hasattr(model, "estimators_") else [model]
    for tree in trees:
        # The reported hang: a cycle written into the node table.
        with pytest.raises(ValueError, match="read-only"):
            tree.tree_.children_left[1:] = 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            tree.tree_.children_left = np.zeros(tree.tree_.n_nodes, dtype=np.int64)
    for attribute in ("tree_", "schema_", "treatments_", "feature_importances_", "estimators_", "n_leaves_"):
        if hasattr(model, attribute):
            with pytest.raises(AttributeError, match="fitted attribute"):
                setattr(model, attribute, getattr(model, attribute))
    np.testing.assert_array_equal(model.predict(X), before)


@pytest.mark.parametrize("name", ["tree", "forest", "distilled"])
def test_copied_and_unpickled_models_stay_read_only(name) -> None:
    """Dask ships models to its workers by pickle; copies must not come back writable (nor unchecked)."""
    model = fitted_models()[name]
    X = experiment()[0]
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert [label for label, array in fitted_arrays(twin).items() if array.flags.writeable] == []
        np.testing.assert_array_equal(twin.predict(X), model.predict(X))


def test_tables_built_from_callers_arrays_do_not_share_them() -> None:
    """The caller's arrays stay writable and writing into them does not reach the table."""
    tree = fitted_models()["tree"].tree_
    children_left = tree.children_left.copy()
    copy = dataclasses.replace(tree, children_left=children_left)
    children_left[:] = 0
    np.testing.assert_array_equal(copy.children_left, tree.children_left)
    # Tables derived from a table share its (read-only) arrays instead of copying them.
    assert dataclasses.replace(tree, gain=tree.gain).children_left is tree.children_left


def test_fitted_state_is_checked_against_the_model() -> None:
    model = fitted_models()["tree"]
    state = model.fitted_state_
    split = int(np.flatnonzero(~state.tree.is_leaf & ~state.tree.is_categorical)[0])
    feature = state.tree.feature.copy()
    feature[split] = model.n_features_in_
    with pytest.raises(InvalidTreeError, match=rf"feature\[{split}\]: {model.n_features_in_} is not a feature index"):
        FittedTree(state.inputs, dataclasses.replace(state.tree, feature=feature))
    two_arms = FittedInputs(state.inputs.schema, tuple(state.inputs.treatments[:2]), "binary")
    with pytest.raises(InvalidTreeError, match="value has 3 arms, the model 2 treatments"):
        FittedTree(two_arms, state.tree)
    with pytest.raises(TypeError, match="fitted_state_ of a UpliftTreeClassifier must be a FittedTree"):
        upliftree.UpliftTreeClassifier().fitted_state_ = fitted_models()["forest"].fitted_state_


@pytest.mark.parametrize("name", ["tree", "forest", "distilled", "loaded tree", "loaded forest"])
def test_every_fitted_model_names_its_outcome_type(name) -> None:
    model = fitted_models()[name]
    assert model.outcome_type_ == "binary"
    X, treatment, y = experiment()
    regressor = upliftree.UpliftTreeRegressor(max_depth=2, control="control").fit(X, treatment, y * 2.5)
    assert regressor.outcome_type_ == "continuous" == type(regressor).outcome_type
    distilled = upliftree.distill(regressor, X, treatment, y * 2.5, max_depth=1)
    assert distilled.outcome_type_ == "continuous" == upliftree.from_json(distilled.to_json()).outcome_type_
    assert not hasattr(upliftree.UpliftTreeRegressor(), "outcome_type_")
    with pytest.raises(ValueError, match="a UpliftTreeClassifier fits a binary outcome; the fitted state is of a "
                                         "continuous one"):
        upliftree.UpliftTreeClassifier().fitted_state_ = regressor.fitted_state_


def test_not_fitted_is_one_error_that_hasattr_understands() -> None:
    model = upliftree.UpliftRandomForestRegressor()
    assert not hasattr(model, "estimators_") and not hasattr(model, "fitted_state_")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(experiment()[0])
    assert isinstance(NotFittedError("x"), ValueError) and isinstance(NotFittedError("x"), AttributeError)


def test_functions_taking_a_model_recognize_it_by_one_protocol() -> None:
    """Every function that takes a model: an unfitted one raises NotFittedError, another object a TypeError naming
    the argument, and a forest where one tree is needed a TypeError."""
    from upliftree.export import rules, to_dot, to_json, to_sql
    from upliftree.monitor import drift_report, training_profile
    from upliftree.policy import Policy
    from upliftree.segments import segment_table

    X, treatment, y = experiment()
    forest = fitted_models()["forest"]
    takes_any_model = [to_json, lambda model: to_sql(model, "t"), lambda model: training_profile(model, X),
                       lambda model: drift_report(model, X, {}),
                       lambda model: upliftree.distill(model, X, treatment, y)]
    takes_a_tree = [segment_table, rules, to_dot]
    for function in takes_any_model + takes_a_tree:
        with pytest.raises(NotFittedError, match="UpliftTreeClassifier instance is not fitted yet"):
            function(upliftree.UpliftTreeClassifier())
        with pytest.raises(TypeError, match="model must be an upliftree tree, distilled tree or forest, got dict"):
            function({})
    for function in takes_a_tree:
        with pytest.raises(TypeError, match="model must be a single tree, got a forest"):
            function(forest)
    with pytest.raises(NotFittedError, match="model is not fitted yet"):
        Policy(upliftree.UpliftRandomForestClassifier())
    assert [model.model_kind for model in fitted_models().values()] == ["tree", "forest", "tree", "tree", "forest"]


def test_a_failed_fit_keeps_the_previous_model() -> None:
    X, treatment, y = experiment()
    model = upliftree.UpliftTreeClassifier(max_depth=2, min_samples_leaf=100, control="control").fit(X, treatment, y)
    before = model.to_json()
    with pytest.raises(ValueError):
        model.fit(X.iloc[:, :3], treatment, np.full(len(y), 2.0))  # not a binary outcome
    assert model.to_json() == before


def test_prune_publishes_a_new_state_and_drops_the_stale_profile() -> None:
    from upliftree.monitor import record_training_profile

    X, treatment, y = experiment()
    model = upliftree.UpliftTreeClassifier(max_depth=4, min_samples_leaf=50, control="control",
                                           honest=True, random_state=1).fit(X, treatment, y)
    record_training_profile(model, X)
    fitted = model.fitted_state_
    assert fitted.training_profile is not None
    model.prune(X, treatment, y, alpha=0.5)
    assert model.fitted_state_ is not fitted and fitted.tree is not model.tree_
    assert not hasattr(model, "training_profile_") and model.n_splits_pruned_ >= 0
    assert json.loads(model.to_json())["tree"]["fitted"]["n_splits_pruned"] == model.n_splits_pruned_


# -- refitting while other threads predict ---------------------------------------------------------------------
def _datasets():
    """Two experiments with other arms and features: a refit changes the number of arms and of features."""
    frame = make_uplift_data(2_000, n_treatments=2, random_state=31)
    one_arm = frame[frame["treatment"] != "discount"]
    return [
        (one_arm[FEATURES[:3]], one_arm["treatment"].to_numpy(), one_arm["outcome"].to_numpy()),
        (frame[FEATURES], frame["treatment"].to_numpy(), frame["outcome"].to_numpy()),
    ], frame[FEATURES]


def _refit_while_predicting(make_model, n_refits: int, also_prune: bool = False) -> None:
    datasets, X = _datasets()
    X = X.iloc[:500]
    expected = []  # every prediction a reader may see: of each fit (and its pruned tree)
    for data in datasets:
        model = make_model().fit(*data)
        expected.append(model.predict(X))
        if also_prune:
            expected.append(model.prune(*data, alpha=0.2).predict(X))
    model = make_model().fit(*datasets[0])
    stop, problems, seen = threading.Event(), [], set()

    def predict_repeatedly() -> None:
        while not stop.is_set():
            try:
                result = model.predict(X)
            except Exception as error:  # noqa: BLE001 - any error is the failure this test looks for
                problems.append(repr(error))
                return
            matches = [index for index, value in enumerate(expected)
                       if result.shape == value.shape and np.array_equal(result, value)]
            if not matches:
                problems.append(f"a prediction of shape {result.shape} equal to no fitted model's")
                return
            seen.add(matches[0])

    readers = [threading.Thread(target=predict_repeatedly) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for refit in range(n_refits):
            data = datasets[refit % 2]
            model.fit(*data)
            if also_prune:
                model.prune(*data, alpha=0.2)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert not problems, problems
    assert len(seen) >= 2  # the readers did see the model change


def test_refitting_a_tree_while_other_threads_predict() -> None:
    _refit_while_predicting(lambda: upliftree.UpliftTreeClassifier(max_depth=3, min_samples_leaf=50,
                                                                   control="control", random_state=0),
                            n_refits=30, also_prune=True)


def test_refitting_a_forest_while_other_threads_predict() -> None:
    _refit_while_predicting(lambda: upliftree.UpliftRandomForestClassifier(
        n_estimators=3, max_depth=3, min_samples_leaf=50, control="control", random_state=0, verbose=0),
        n_refits=20)
