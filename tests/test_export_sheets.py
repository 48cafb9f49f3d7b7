"""Rule sheets: text tree, Markdown (golden file), CSV, DataFrame and pandas query strings."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from upliftree import UpliftTreeClassifier, UpliftTreeRegressor
from upliftree.segments import node_effects

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPLIFTREE_UPDATE_GOLDEN") == "1"


def golden_tree() -> tuple[UpliftTreeClassifier, pd.DataFrame]:
    """A fixed small tree whose names need escaping: a '|' in a column, '*' and '<b>' in categories."""
    rng = np.random.default_rng(2024)
    n_rows = 4000
    plan = rng.choice(np.array(["basic", "pro*", "<b>team</b>"], dtype=object), n_rows)
    age = np.round(rng.uniform(18, 70, n_rows))
    age[rng.random(n_rows) < 0.05] = np.nan
    arm = rng.choice(np.array(["control", "email"], dtype=object), n_rows)
    lift = np.where(plan == "basic", 0.15, -0.05) * (np.nan_to_num(age, nan=50) < 40)
    y = (rng.random(n_rows) < 0.1 + (arm == "email") * lift).astype(int)
    X = pd.DataFrame({"plan | tier": plan, "age": age})
    model = UpliftTreeClassifier(criterion="kl", max_depth=2, min_samples_leaf=200, control="control", random_state=0)
    return model.fit(X, arm, y), X


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; review it and regenerate with " \
                                                      "UPLIFTREE_UPDATE_GOLDEN=1"


@pytest.fixture(scope="module")
def small_tree():
    return golden_tree()


def test_markdown_sheet_golden(small_tree) -> None:
    model, _ = small_tree
    actions = {int(leaf): ("email" if model.tree_.uplift[leaf, 0] > 0 else "nothing") for leaf in model.tree_.leaf_ids}
    values = {int(leaf): round(float(model.tree_.uplift[leaf, 0]) * 40 - 0.5, 6) for leaf in model.tree_.leaf_ids}
    check_golden("sheet.md", model.rules("markdown", leaf_actions=actions, leaf_values=values))


def test_text_tree_golden(small_tree) -> None:
    model, _ = small_tree
    text = model.rules("text")
    check_golden("tree.txt", text)
    lines = text.splitlines()
    # One line per node, then the note on plan | tier, which had no missing values to write in the rules.
    assert len(lines) == model.tree_.n_nodes + 1
    assert lines[-1].startswith("Missing values and new categories of plan | tier (none in the training data)")
    assert lines[0].startswith("all rows: 100.0% of rows")
    assert sum("[leaf " in line for line in lines) == model.n_leaves_


def test_frame_numbers_come_from_the_node_statistics(small_tree) -> None:
    model, _ = small_tree
    frame = model.rules("frame")
    effects = node_effects(model.tree_, True, 0.05)
    leaves = frame["leaf_id"].to_numpy()
    assert list(frame.columns) == ["leaf_id", "rule", "share", "n_control", "n_email", "rate_control", "rate_email",
                                   "uplift", "ci_low", "ci_high"]
    assert sorted(leaves.tolist()) == model.tree_.leaf_ids.tolist()
    assert frame["share"].sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(frame["n_email"], effects.count[leaves, 1])
    np.testing.assert_array_equal(frame["uplift"], effects.uplift[leaves, 0])
    np.testing.assert_array_equal(frame["ci_low"], effects.ci_low[leaves, 0])
    assert frame["uplift"].is_monotonic_decreasing
    assert (frame["ci_low"] <= frame["uplift"]).all() and (frame["uplift"] <= frame["ci_high"]).all()


def test_csv_reads_back_as_the_frame(small_tree) -> None:
    model, _ = small_tree
    frame = model.rules("frame")
    parsed = pd.read_csv(io.StringIO(model.rules("csv")), keep_default_na=False)
    assert list(parsed.columns) == list(frame.columns)
    assert parsed["rule"].tolist() == frame["rule"].tolist()
    np.testing.assert_array_equal(parsed["uplift"].to_numpy(), frame["uplift"].to_numpy())


def test_several_treatments_and_continuous_outcome(multi_treatment_experiment, continuous_experiment) -> None:
    experiment = multi_treatment_experiment
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=300, control="control").fit(
        experiment.X, experiment.treatment, experiment.y)
    frame = model.rules("frame")
    for label in ("discount", "email"):
        assert {f"uplift_{label}", f"ci_low_{label}", f"ci_high_{label}", f"rate_{label}"} <= set(frame.columns)
    assert "uplift discount (95% CI)" in model.rules("markdown")
    experiment = continuous_experiment
    regressor = UpliftTreeRegressor(max_depth=2, min_samples_leaf=300, control="control").fit(
        experiment.X, experiment.treatment, experiment.y)
    assert "mean_control" in regressor.rules("frame").columns
    markdown = regressor.rules("markdown", alpha=0.1)
    assert " pp" not in markdown and "90% CI" in markdown


def test_actions_and_values_must_cover_every_leaf(small_tree) -> None:
    model, _ = small_tree
    leaves = model.tree_.leaf_ids
    with pytest.raises(ValueError, match="missing \\[" + str(leaves[0])):
        model.rules("frame", leaf_actions={int(leaf): "a" for leaf in leaves[1:]})
    with pytest.raises(ValueError, match="not leaves \\[0\\]"):
        model.rules("frame", leaf_values={**{int(leaf): 1.0 for leaf in leaves}, 0: 2.0})
    with pytest.raises(TypeError, match="leaf_actions must map leaf ids"):
        model.rules("frame", leaf_actions=["a"] * len(leaves))
    with pytest.raises(ValueError, match="format must be one of"):
        model.rules("html")


def test_query_strings_select_each_leaf(small_tree) -> None:
    model, X = small_tree
    scoring = X.copy()
    scoring.loc[scoring.index[::5], "plan | tier"] = "enterprise"  # unseen: follows the missing direction
    scoring.loc[scoring.index[::7], "plan | tier"] = None
    queries = model.rules("query")
    leaves = model.apply(scoring)
    assert set(queries) == set(model.tree_.leaf_ids.tolist())
    for leaf, query in queries.items():
        assert "`plan | tier`" in query or "`age`" in query
        np.testing.assert_array_equal(scoring.query(query, engine="python").index.to_numpy(),
                                      scoring.index[leaves == leaf].to_numpy())


def test_query_strings_refuse_names_pandas_cannot_read(binary_experiment) -> None:
    experiment = binary_experiment
    X = experiment.X.rename(columns={"age": "age\tin years"})
    model = UpliftTreeClassifier(max_depth=2, min_samples_leaf=300, control="control").fit(
        X, experiment.treatment, experiment.y)
    assert "age\tin years" in model.feature_names_in_[model.tree_.feature[~model.tree_.is_leaf]]
    with pytest.raises(ValueError, match="pandas query strings cannot refer to the column 'age\\\\tin years'"):
        model.rules("query")


def test_stump_sheet_and_query(binary_experiment) -> None:
    experiment = binary_experiment
    stump = UpliftTreeClassifier(max_depth=0, control="control").fit(experiment.X, experiment.treatment,
                                                                      experiment.y)
    assert stump.rules("frame")["rule"].tolist() == ["all rows"]
    assert len(experiment.X.query(stump.rules("query")[0], engine="python")) == len(experiment.X)
    assert stump.rules("text").count("\n") == 1
