"""JSON model files: exact round trips, the documented schema, and clear refusals of malformed or hostile files."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

import upliftree
from upliftree import UpliftTreeClassifier, UpliftTreeRegressor
from upliftree.export import ModelFormatError


@pytest.fixture(scope="module")
def tree(binary_experiment) -> UpliftTreeClassifier:
    experiment = binary_experiment
    return UpliftTreeClassifier(max_depth=3, min_samples_leaf=200, control="control", random_state=0).fit(
        experiment.X, experiment.treatment, experiment.y)


@pytest.fixture()
def document(tree) -> dict:
    return json.loads(tree.to_json())


def load_document(document: dict):
    return upliftree.from_json(json.dumps(document))


def test_save_load_file_round_trip(tree, binary_experiment, tmp_path) -> None:
    path = tmp_path / "model.json"
    tree.save(path)
    loaded = upliftree.load(path)
    X = binary_experiment.X
    np.testing.assert_array_equal(loaded.predict(X), tree.predict(X))
    np.testing.assert_array_equal(loaded.apply(X), tree.apply(X))
    assert loaded.get_params() == tree.get_params()
    assert loaded.n_leaves_ == tree.n_leaves_ and loaded.depth_ == tree.depth_
    np.testing.assert_array_equal(loaded.feature_importances_, tree.feature_importances_)
    assert loaded.n_splits_merged_ == tree.n_splits_merged_
    assert loaded.honest_estimates_ == tree.honest_estimates_
    assert loaded.min_samples_leaf_ == tree.min_samples_leaf_ == 200
    # Everything downstream of a fitted tree works on the loaded one.
    pd.testing.assert_frame_equal(loaded.segments(), tree.segments())
    assert loaded.to_sql("t") == tree.to_sql("t")
    assert loaded.rules() == tree.rules()


def test_document_is_the_documented_schema(tree, document) -> None:
    assert document["format"] == "upliftree-model" and document["format_version"] == 4
    assert document["library_version"] == upliftree.__version__
    assert document["class"] == "UpliftTreeClassifier" and document["outcome"] == "binary"
    assert document["treatments"] == ["control", "email"]
    assert document["features"][0] == {"name": "age", "type": "numeric", "has_missing": False}
    assert document["features"][4] == {"name": "region", "type": "categorical",
                                       "categories": ["north", "south", "east", "west"], "pooled": None,
                                       "has_missing": False}
    # make_uplift_data leaves 5% of income missing.
    assert [feature["has_missing"] for feature in document["features"]] == list(tree.schema_.has_missing)
    assert {feature["name"] for feature in document["features"] if feature["has_missing"]} == {"income"}
    table = document["tree"]
    assert table["n_nodes"] == tree.tree_.n_nodes
    assert table["children_left"] == tree.tree_.children_left.tolist()
    assert table["stats"] == tree.tree_.stats.tolist()
    assert table["value"] == tree.tree_.value.tolist()
    # Leaves and categorical splits have no threshold: the JSON string "nan".
    assert all(threshold == "nan" for threshold, left in zip(table["threshold"], table["children_left"],
                                                                strict=True) if left < 0)
    assert document["params"]["max_depth"] == 3 and document["params"]["control"] == "control"


def test_labels_keep_their_json_types(binary_experiment) -> None:
    experiment = binary_experiment
    arms = np.where(experiment.treatment == "control", 0, 7)
    region = experiment.X.assign(region=experiment.X["region"].cat.rename_categories([10, 20, 30, 40]))
    model = UpliftTreeRegressor(max_depth=2, min_samples_leaf=300, control=0).fit(region, arms, experiment.y * 2.5)
    document = json.loads(model.to_json())
    assert document["treatments"] == [0, 7]
    assert document["features"][4]["categories"] == [10, 20, 30, 40]
    assert document["outcome"] == "continuous"
    loaded = upliftree.from_json(model.to_json())
    assert [type(label) for label in loaded.treatments_] == [int, int]
    assert loaded.schema_ == model.schema_
    np.testing.assert_array_equal(loaded.predict(region), model.predict(region))


def test_missing_versus_not_missing_split_writes_inf_threshold() -> None:
    rng = np.random.default_rng(0)
    n_rows = 4000
    arm = rng.integers(0, 2, n_rows)
    known = rng.random(n_rows) < 0.5
    X = pd.DataFrame({"score": np.where(known, 1.0, np.nan)})
    y = (rng.random(n_rows) < 0.1 + 0.3 * arm * known).astype(int)
    model = UpliftTreeClassifier(max_depth=1, min_samples_leaf=50).fit(X, arm, y)
    assert np.isinf(model.tree_.threshold[0])
    text = model.to_json()
    assert '"threshold": ["inf", "nan", "nan"]' in text
    loaded = upliftree.from_json(text)
    assert loaded.tree_.threshold[0] == np.inf
    probe = pd.DataFrame({"score": [np.nan, 1.0, -np.inf, np.inf, 0.0]})
    np.testing.assert_array_equal(loaded.apply(probe), model.apply(probe))


def test_generator_random_state_is_written_as_null(binary_experiment) -> None:
    experiment = binary_experiment
    model = UpliftTreeClassifier(max_depth=1, min_samples_leaf=300, control="control",
                                 random_state=np.random.default_rng(0)).fit(experiment.X, experiment.treatment,
                                                                            experiment.y)
    assert json.loads(model.to_json())["params"]["random_state"] is None


def test_version_1_documents_load_as_every_feature_having_missing_values(tree, document) -> None:
    old = copy.deepcopy(document)
    old["format_version"] = 1
    for feature in old["features"]:
        del feature["has_missing"]
        feature.pop("pooled", None)  # also new in version 2
    loaded = load_document(old)
    assert loaded.schema_.has_missing == (True,) * len(old["features"])
    np.testing.assert_array_equal(loaded.tree_.threshold, tree.tree_.threshold)
    # A version-1 document has no such field: it is refused there, as any unknown field.
    with pytest.raises(ModelFormatError, match="unknown field\\(s\\) \\['has_missing'\\]"):
        load_document(mutate(document, ("format_version",), 1))


def test_the_resolved_leaf_size_is_saved_and_older_files_load_without_it(binary_experiment) -> None:
    experiment = binary_experiment
    forest = upliftree.UpliftRandomForestClassifier(n_estimators=3, max_depth=2, control="control", random_state=0)
    for model in (UpliftTreeClassifier(max_depth=2, control="control", random_state=0), forest):
        model.fit(experiment.X, experiment.treatment, experiment.y)
        assert model.get_params()["min_samples_leaf"] == "auto" and model.min_samples_leaf_ > 1
        loaded = upliftree.from_json(model.to_json())
        assert loaded.min_samples_leaf_ == model.min_samples_leaf_
    document = json.loads(UpliftTreeClassifier(max_depth=2, control="control", random_state=0).fit(
        experiment.X, experiment.treatment, experiment.y).to_json())
    document["format_version"] = 3
    del document["tree"]["fitted"]["min_samples_leaf"]
    loaded = load_document(document)
    assert not hasattr(loaded, "min_samples_leaf_") and loaded.n_leaves_ >= 2


def test_unfitted_and_foreign_objects_are_refused() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        UpliftTreeClassifier().to_json()
    with pytest.raises(TypeError, match="upliftree tree, distilled tree or forest"):
        upliftree.export.to_json(object())
    with pytest.raises(TypeError, match="JSON string"):
        upliftree.from_json({"format": "upliftree-model"})


def mutate(document: dict, path: tuple, value) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


DELETE = object()
MALFORMED = [
    (("format",), "upliftree-tree", "this is not an upliftree model file"),
    (("format_version",), 5, "reads format_version 1 or 2 or 3 or 4, got 5"),
    (("format_version",), True, "format_version"),
    (("class",), "os.system", "unknown class 'os.system'"),
    (("class",), ["UpliftTreeClassifier"], "class: expected a string"),
    (("outcome",), "continuous", "outcome: expected one of \\['binary'\\]"),
    (("treatments",), ["control"], "at least one treatment"),
    (("treatments",), ["control", "control"], "treatments: duplicated values"),
    (("treatments", 1), {"label": 1}, "treatments\\[1\\]: expected a string, boolean, integer or finite number"),
    (("features",), [], "expected at least one feature"),
    (("features", 0, "type"), "date", "features\\[0\\].type: expected 'numeric', 'bool' or 'categorical'"),
    (("features", 4, "categories"), ["north", "north", "east", "west"], "duplicated values"),
    (("features", 4, "categories"), [f"c{i}" for i in range(300)], "at most 255 categories"),
    (("features", 0, "has_missing"), DELETE, "features\\[0\\]: missing field\\(s\\) \\['has_missing'\\]"),
    (("features", 0, "has_missing"), 1, "features\\[0\\].has_missing: expected true or false, got integer"),
    (("params", "criterion"), "gini", "criterion must be one of"),
    (("params", "max_depth"), [3], "params.max_depth: expected a string, number, boolean or null"),
    (("params", "n_jobs"), 2, "unknown field\\(s\\) \\['n_jobs'\\]"),
    (("params", "max_depth"), DELETE, "missing field\\(s\\) \\['max_depth'\\]"),
    (("stats_fields",), ["count"], "stats_fields"),
    (("tree", "n_nodes"), 10**30, "n_nodes: expected an integer in"),
    (("tree", "n_nodes"), "7", "n_nodes: expected an integer, got string"),
    (("tree", "children_left"), [1, 3], "children_left: expected .* entries, got 2"),
    (("tree", "children_left", 0), 99, "children_left\\[0\\]: expected an integer in"),
    (("tree", "children_left", 0), 1.0, "children_left\\[0\\]: expected an integer, got number"),
    (("tree", "children_left", 0), 0, "child id 0 must be larger than its parent's id"),
    (("tree", "children_left", 0), -1, "both be -1 or both be node ids"),
    (("tree", "parent", 1), 1, "parent"),
    (("tree", "depth", 1), 5, "depth: does not match"),
    (("tree", "feature", 0), 6, "feature\\[0\\]: expected an integer in \\[-1, 5\\]"),
    (("tree", "threshold", 0), "Infinity", 'expected a number or one of "inf", "-inf", "nan"'),
    (("tree", "threshold", 0), "nan", "a numeric split needs a threshold"),
    (("tree", "is_categorical", 0), 1, "is_categorical\\[0\\]: expected true or false, got integer"),
    (("tree", "missing_left"), None, "missing_left: expected an array, got null"),
    (("tree", "stats", 0, 0, 0), -1.0, "counts, weights and squared weights must be >= 0"),
    (("tree", "stats", 0, 0), [1.0, 2.0], "stats\\[0\\]\\[0\\]: expected 5 entries"),
    (("tree", "value", 0, 1), "inf", "value\\[0\\]\\[1\\]: expected a number, got string"),
    (("tree", "gain", 0), True, "gain\\[0\\]: expected a number, got boolean"),
    (("tree", "fitted", "n_splits_merged"), -3, "n_splits_merged: expected an integer in"),
    (("tree", "fitted", "honest_estimates"), "yes", "honest_estimates: expected true, false or null"),
    (("tree", "extra"), 1, "unknown field\\(s\\) \\['extra'\\]"),
    (("tree",), DELETE, "missing field\\(s\\) \\['tree'\\]"),
]


@pytest.mark.parametrize(("path", "value", "message"), MALFORMED)
def test_malformed_documents_are_refused(document, path, value, message) -> None:
    with pytest.raises(ModelFormatError, match=message):
        load_document(mutate(document, path, value))


def test_structure_errors_are_refused(document) -> None:
    table = document["tree"]
    first_leaf = table["children_left"].index(-1)
    internal = [node for node, left in enumerate(table["children_left"]) if left >= 0]
    # Two parents sharing a child.
    shared = copy.deepcopy(document)
    shared["tree"]["children_left"][internal[1]] = table["children_left"][internal[0]]
    with pytest.raises(ModelFormatError, match="is the child of two nodes|must be larger"):
        load_document(shared)
    # A leaf that carries a split.
    split_leaf = mutate(document, ("tree", "feature", first_leaf), 0)
    with pytest.raises(ModelFormatError, match="a leaf must have feature -1"):
        load_document(split_leaf)
    # A categorical split whose category code is out of range.
    categorical = table["is_categorical"].index(True) if True in table["is_categorical"] else None
    if categorical is not None:
        with pytest.raises(ModelFormatError, match="left_categories"):
            load_document(mutate(document, ("tree", "left_categories", categorical), [0, 99]))


@pytest.mark.parametrize(("text", "message"), [
    ('{"format": "upliftree-model", "format_version": 1, "class": "Upli', "not valid JSON .*truncated"),
    ("", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"format": "upliftree-model", "format": "x"}', "duplicated key"),
    ('{"format": NaN}', "NaN is not valid JSON"),
    ('{"format": "upliftree-model", "format_version": 1' + "0" * 5000 + "}", "unreadable JSON|format_version"),
    ("[" * 100_000 + "]" * 100_000, "unreadable JSON|expected a JSON object"),
])
def test_unreadable_text_is_refused(text, message) -> None:
    with pytest.raises(ModelFormatError, match=message):
        upliftree.from_json(text)


def with_raw_number(document: dict, path: tuple, raw: str) -> str:
    """The document's JSON text with the value at ``path`` written as the raw number text ``raw``."""
    return json.dumps(mutate(document, path, "PLACEHOLDER")).replace('"PLACEHOLDER"', raw)


def test_huge_numbers_and_invalid_utf8_are_refused(document, tmp_path) -> None:
    with pytest.raises(ModelFormatError, match="unreadable JSON"):
        upliftree.from_json(with_raw_number(document, ("tree", "n_nodes"), "9" * 5000))
    with pytest.raises(ModelFormatError, match=r"tree.threshold\[0\]: number inf is not finite"):
        upliftree.from_json(with_raw_number(document, ("tree", "threshold", 0), "1e400"))
    with pytest.raises(ModelFormatError, match=r"tree.stats\[0\]\[0\]\[1\]: number -inf is not finite"):
        upliftree.from_json(with_raw_number(document, ("tree", "stats", 0, 0, 1), "-1e999"))
    with pytest.raises(ModelFormatError, match=r"tree.gain\[0\]: number 1000.*\.\.\. is too large"):
        upliftree.from_json(with_raw_number(document, ("tree", "gain", 0), "1" + "0" * 400))
    with pytest.raises(ModelFormatError, match=r"tree.feature\[0\]: expected an integer in \[-1, 5\], got 10.*\.\.\.$"):
        upliftree.from_json(with_raw_number(document, ("tree", "feature", 0), "1" + "0" * 400))
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ModelFormatError, match="not UTF-8|not valid JSON"):
        upliftree.load(path)


def test_pruned_honest_tree_keeps_its_fitted_attributes(binary_experiment) -> None:
    experiment = binary_experiment
    half = len(experiment.y) // 2
    model = UpliftTreeClassifier(max_depth=4, min_samples_leaf=100, control="control", honest=True,
                                 random_state=1).fit(experiment.X[:half], experiment.treatment[:half],
                                                     experiment.y[:half])
    model.prune(experiment.X[half:], experiment.treatment[half:], experiment.y[half:])
    loaded = upliftree.from_json(model.to_json())
    assert loaded.n_splits_pruned_ == model.n_splits_pruned_
    assert loaded.honest_estimates_ is True
    np.testing.assert_array_equal(loaded.predict(experiment.X), model.predict(experiment.X))


def test_malformed_forest_documents_are_refused(binary_experiment) -> None:
    experiment = binary_experiment
    forest = upliftree.UpliftRandomForestClassifier(n_estimators=2, max_depth=2, min_samples_leaf=300,
                                                    control="control", random_state=0, verbose=0)
    document = json.loads(forest.fit(experiment.X, experiment.treatment, experiment.y).to_json())
    assert [tree["params"]["random_state"] for tree in document["trees"]] == [
        tree.random_state for tree in forest.estimators_]
    with pytest.raises(ModelFormatError, match="trees: expected at least one tree"):
        load_document(mutate(document, ("trees",), []))
    with pytest.raises(ModelFormatError, match="trees\\[1\\]: missing field\\(s\\) \\['params'\\]"):
        load_document(mutate(document, ("trees", 1, "params"), DELETE))
    with pytest.raises(ModelFormatError, match="trees\\[0\\].params: unknown field\\(s\\) \\['n_estimators'\\]"):
        load_document(mutate(document, ("trees", 0, "params", "n_estimators"), 3))
    with pytest.raises(ModelFormatError, match="unknown field\\(s\\) \\['tree'\\]"):
        load_document(mutate(document, ("tree",), document["trees"][0]))
