"""Leaf rules: merged per-feature conditions, their text, and a mask that reproduces ``apply`` exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor
from upliftree._tree_arrays import TreeArrays, category_bitset_of, empty_stats, node_values
from upliftree._validation import FeatureSchema
from upliftree.rules import Condition, conditions_mask, format_condition, format_rule, leaf_conditions

pytestmark = pytest.mark.usefixtures("one_numba_thread")  # many tiny fits (see conftest)

SCHEMA = FeatureSchema(("age", "region", "income"), (None, ("north", "south", "east", "west"), None))


def hand_tree(splits: list[tuple]) -> TreeArrays:
    """A node table from ``(node, feature, threshold or left categories, missing_left)`` splits, in id order.

    Each split adds two children, numbered in order of creation like the grower does.
    """
    n_nodes = 1 + 2 * len(splits)
    arrays = {
        "children_left": np.full(n_nodes, -1), "children_right": np.full(n_nodes, -1),
        "parent": np.full(n_nodes, -1), "depth": np.zeros(n_nodes, dtype=np.int64),
        "feature": np.full(n_nodes, -1), "threshold": np.full(n_nodes, np.nan),
        "is_categorical": np.zeros(n_nodes, dtype=bool), "category_bitset": np.zeros((n_nodes, 4), dtype=np.uint64),
        "missing_left": np.zeros(n_nodes, dtype=bool), "gain": np.zeros(n_nodes), "raw_gain": np.zeros(n_nodes),
    }
    next_id = 1
    for node, feature, test, missing_left in splits:
        left, right = next_id, next_id + 1
        next_id += 2
        arrays["children_left"][node], arrays["children_right"][node] = left, right
        arrays["parent"][[left, right]] = node
        arrays["depth"][[left, right]] = arrays["depth"][node] + 1
        arrays["feature"][node] = feature
        arrays["missing_left"][node] = missing_left
        if isinstance(test, float):
            arrays["threshold"][node] = test
        else:
            arrays["is_categorical"][node] = True
            arrays["category_bitset"][node] = category_bitset_of(np.asarray(test))
    stats = empty_stats(n_nodes, 2)
    return TreeArrays(**arrays, stats=stats, value=node_values(stats, arrays["parent"]))


# Node ids: 0 splits age at 60 -> 1 (<= 60, missing left), 2; 1 splits age at 35 -> 3 (missing left), 4;
# 4 splits region {north, south} vs rest -> 5, 6; 5 splits region {south, east} -> 7, 8 (north only);
# 6 splits income "not missing" -> 9 (not missing), 10 (missing only).
TREE = hand_tree([
    (0, 0, 60.0, True),
    (1, 0, 35.0, True),
    (4, 1, [0, 1], True),
    (5, 1, [1, 2], False),
    (6, 2, np.inf, False),
])


def test_conditions_on_one_feature_merge_into_an_interval():
    conditions = leaf_conditions(TREE, SCHEMA, 4)
    assert conditions == [Condition("age", 0, low=35.0, high=60.0, missing=False)]
    assert format_rule(conditions) == "35 < age <= 60"
    assert format_rule(leaf_conditions(TREE, SCHEMA, 3)) == "age is missing or age <= 35"
    assert format_rule(leaf_conditions(TREE, SCHEMA, 2)) == "age > 60"


def test_category_sets_intersect_and_print_by_name():
    conditions = leaf_conditions(TREE, SCHEMA, 8)
    assert [condition.feature for condition in conditions] == ["age", "region"]
    region = conditions[1]
    assert region.categories == ("north",)
    assert region.known_categories == SCHEMA.categories[1]
    assert region.missing  # missing went left at node 4, then right at node 5 whose missing goes right
    assert format_rule(conditions) == "35 < age <= 60 and (region is missing or region in {north})"
    assert format_rule(leaf_conditions(TREE, SCHEMA, 7)) == "35 < age <= 60 and region in {south}"


def test_missing_only_and_not_missing_branches():
    assert format_rule(leaf_conditions(TREE, SCHEMA, 9)).endswith("region in {east, west} and income is not missing")
    missing_only = leaf_conditions(TREE, SCHEMA, 10)[-1]
    assert not missing_only.allows_values and missing_only.missing
    assert format_condition(missing_only) == "income is missing"
    assert format_rule(leaf_conditions(TREE, SCHEMA, 0)) == "all rows"


def test_mask_follows_the_tree_on_every_kind_of_value():
    X = pd.DataFrame({
        "age": [20, 35, 35.5, 60, 61, np.nan, 50, 50, 50, 50, 50],
        "region": ["north", "north", "north", "north", "west", "east", "south", "east", "mars", None, "west"],
        "income": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, np.nan],
    })
    expected = [3, 3, 8, 8, 2, 3, 7, 9, 8, 8, 10]
    for leaf in TREE.leaf_ids:
        np.testing.assert_array_equal(conditions_mask(leaf_conditions(TREE, SCHEMA, leaf), X),
                                      np.asarray(expected) == leaf, err_msg=f"leaf {leaf}")


def test_infinite_thresholds_are_bounds_like_any_other():
    """A feature holding -inf (log(0)) can be split at -inf; inf is the "missing or not" split."""
    # 0 splits x at -inf -> 1 (x = -inf), 2; 2 splits "missing or not" -> 3 (not missing), 4 (missing only);
    # 3 splits x at 0 -> 5, 6 (inf included).
    tree = hand_tree([(0, 0, -np.inf, False), (2, 0, np.inf, False), (3, 0, 0.0, True)])
    schema = FeatureSchema(("x",), (None,))
    texts = {leaf: format_rule(leaf_conditions(tree, schema, leaf)) for leaf in tree.leaf_ids}
    assert texts == {1: "x = -inf", 4: "x is missing", 5: "-inf < x <= 0", 6: "x > 0"}
    assert format_condition(leaf_conditions(tree, schema, 2)[0]) == "x is missing or x > -inf"
    values = np.array([-np.inf, -1.7976931348623157e308, -1.0, -0.0, 0.0, 5e-324, 1.0, 1.7976931348623157e308,
                       np.inf, np.nan])
    leaves = tree.apply(values.reshape(-1, 1))
    assert leaves.tolist() == [1, 5, 5, 5, 5, 6, 6, 6, 6, 4]
    for leaf in tree.leaf_ids:
        mask = conditions_mask(leaf_conditions(tree, schema, leaf), values.reshape(-1, 1))
        np.testing.assert_array_equal(mask, leaves == leaf, err_msg=texts[leaf])


def test_infinite_bounds_count_unless_left_out():
    assert Condition("x", 0).low_inclusive and not Condition("x", 0, low=5.0).low_inclusive
    assert not Condition("x", 0, missing=False).restricts_values
    assert format_condition(Condition("x", 0, high=-np.inf, missing=False)) == "x = -inf"
    assert format_condition(Condition("x", 0, low=-np.inf, low_inclusive=False)) == "x is missing or x > -inf"
    assert format_condition(Condition("x", 0, high=np.inf, high_inclusive=False, missing=False)) == "x < inf"
    empty = Condition("x", 0, low=np.inf, missing=False)
    assert not empty.allows_values and format_condition(empty) == "x is never satisfied"


def test_thresholds_print_with_chosen_precision():
    tree = hand_tree([(0, 0, 0.123456789, False)])
    schema = FeatureSchema(("x",), (None,))
    assert format_rule(leaf_conditions(tree, schema, 1)) == "x <= 0.123457"
    assert format_rule(leaf_conditions(tree, schema, 1), precision=3) == "x <= 0.123"
    assert format_rule(leaf_conditions(tree, schema, 2), precision=None) == "x is missing or x > 0.123456789"
    with pytest.raises(ValueError, match="precision"):
        format_rule(leaf_conditions(tree, schema, 1), precision=0)
    with pytest.raises(ValueError, match="node"):
        leaf_conditions(tree, schema, 3)


def test_numpy_input_uses_feature_positions():
    tree = hand_tree([(0, 1, 0.5, False)])
    schema = FeatureSchema(("x0", "x1"), (None, None))
    X = np.array([[9.0, 0.2], [9.0, 0.7], [9.0, np.nan]])
    np.testing.assert_array_equal(conditions_mask(leaf_conditions(tree, schema, 2), X), [False, True, True])


@st.composite
def experiments(draw):
    """Small experiments with NaNs in numeric and categorical features and an integer-valued feature."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = 600
    X = pd.DataFrame({
        "score": np.where(rng.random(n) < draw(st.floats(0, 0.3)), np.nan, rng.normal(size=n)),
        "count": rng.integers(0, 6, n),
        "color": pd.Series(rng.choice(["red", "green", "blue", "grey"], n)).where(rng.random(n) > 0.1, None),
    })
    treatment = rng.integers(0, 2, n)
    uplift = 0.3 * (X["score"].fillna(0) > 0) + 0.2 * (X["color"] == "red")
    y = (rng.random(n) < 0.3 + treatment * uplift).astype(int)
    return X, treatment, y, draw(st.booleans()), draw(st.integers(1, 4))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(experiments())
def test_rules_select_exactly_the_rows_apply_puts_in_each_leaf(experiment):
    X, treatment, y, regressor, depth = experiment
    model_class = UpliftTreeRegressor if regressor else UpliftTreeClassifier
    model = model_class(max_depth=depth, min_samples_leaf=20, min_samples_treatment=5, n_reg=1).fit(X, treatment, y)
    # Scoring data with values the model never saw: unseen and missing categories, out-of-range numbers.
    scoring = pd.concat([X, pd.DataFrame({"score": [np.nan, 1e9, -1e9], "count": [-1, 99, 3],
                                          "color": ["purple", None, "red"]})], ignore_index=True)
    leaves = model.apply(scoring)
    for leaf in model.tree_.leaf_ids:
        conditions = leaf_conditions(model.tree_, model.schema_, leaf)
        np.testing.assert_array_equal(conditions_mask(conditions, scoring), leaves == leaf,
                                      err_msg=format_rule(conditions))
