"""Hostile model files: sizes are checked before anything is allocated, and every failure is ModelFormatError.

A JSON model declares sizes twice: ``n_nodes`` and the number of treatments, and the lengths of the arrays
that hold the numbers. The loader must compare them before allocating, so that a small file declaring a huge
table (131k nodes x 20k arms: 97.7 GiB from an 8 MB file, before this was fixed) fails at once with memory
proportional to the file, and the CLI prints one line.
"""

from __future__ import annotations

import copy
import functools
import json
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import upliftree
from upliftree.cli import EXIT_BAD_INPUT, app
from upliftree.datasets import FEATURES, make_uplift_data
from upliftree.export import ModelFormatError

# Parsing JSON makes Python objects of a few dozen bytes per character at worst (an empty list is 56 bytes
# for 3 characters); the loader may add a small multiple of that, never the sizes a document only declares.
BYTES_PER_CHARACTER = 64
FIXED_BYTES = 1 << 20


@functools.cache
def experiment():
    frame = make_uplift_data(3_000, n_treatments=2, random_state=5)
    return frame[FEATURES], frame["treatment"].to_numpy(), frame["outcome"].to_numpy()


@functools.cache
def documents() -> dict[str, dict]:
    """Documents of a tree, a forest and a distilled tree (categorical features, three arms)."""
    X, treatment, y = experiment()
    tree = upliftree.UpliftTreeClassifier(max_depth=3, min_samples_leaf=150, control="control",
                                          random_state=0).fit(X, treatment, y)
    forest = upliftree.UpliftRandomForestRegressor(n_estimators=3, max_depth=2, min_samples_leaf=150,
                                                   control="control", random_state=0, verbose=0).fit(X, treatment, y)
    distilled = upliftree.distill(forest, X, treatment, y, max_depth=2, min_samples_leaf=150)
    return {name: json.loads(model.to_json()) for name, model in
            (("tree", tree), ("forest", forest), ("distilled", distilled))}


def paths(value, prefix: tuple = ()) -> list[tuple]:
    """Every position in a parsed document (keys of objects, indexes of arrays), the root excluded."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((*prefix, key))
        found += paths(item, (*prefix, key))
    return found


def load_measured(text: str):
    """``from_json(text)`` and the peak of memory traced while it ran; the error if it raised."""
    tracemalloc.start()
    try:
        try:
            result = upliftree.from_json(text)
        except Exception as error:  # noqa: BLE001 - the caller checks the kind of error
            result = error
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def assert_loaded_or_refused(text: str):
    """The document loads, or fails with ModelFormatError; either way in memory proportional to its size."""
    result, peak = load_measured(text)
    assert peak <= BYTES_PER_CHARACTER * len(text) + FIXED_BYTES, (peak, len(text))
    assert not isinstance(result, Exception) or isinstance(result, ModelFormatError), repr(result)
    if not isinstance(result, Exception):
        # A model that loads is a working model: prediction ends, with a value or a clear input error.
        X = experiment()[0].iloc[:200]
        try:
            assert np.isfinite(result.predict(X)).all()
        except (ValueError, TypeError) as error:
            assert str(error)
    return result


def complete_tree(n_levels: int, n_features: int) -> dict:
    """The node fields of a valid complete binary tree (numeric splits on feature 0, NaN at leaves)."""
    n_nodes = 2 ** (n_levels + 1) - 1
    n_splits = n_nodes // 2
    left = [2 * node + 1 if node < n_splits else -1 for node in range(n_nodes)]
    return {
        "n_nodes": n_nodes,
        "children_left": left,
        "children_right": [child + 1 if child > 0 else -1 for child in left],
        "parent": [-1] + [(node - 1) // 2 for node in range(1, n_nodes)],
        "depth": [int(np.log2(node + 1)) for node in range(n_nodes)],
        "feature": [0 if node < n_splits else -1 for node in range(n_nodes)],
        "threshold": [float(node) if node < n_splits else "nan" for node in range(n_nodes)],
        "is_categorical": [False] * n_nodes,
        "left_categories": [[] for _ in range(n_nodes)],
        "missing_left": [False] * n_nodes,
        "gain": [0.0] * n_nodes,
        "raw_gain": [0.0] * n_nodes,
    }


def test_the_reported_file_fails_at_once_in_little_memory(tmp_path) -> None:
    """The reported case at 1/16 of its node count: a valid structure of 8k nodes and 20k arms declared."""
    document = copy.deepcopy(documents()["tree"])
    document["treatments"] = ["control"] + [f"arm {index}" for index in range(20_000)]
    document["tree"].update(complete_tree(12, len(FEATURES)))
    text = json.dumps(document)
    result, peak = load_measured(text)
    assert isinstance(result, ModelFormatError), repr(result)
    assert "tree.stats: expected 8191 entries" in str(result)
    assert peak <= BYTES_PER_CHARACTER * len(text) + FIXED_BYTES  # 6.5 GB were allocated before the fix
    path = tmp_path / "huge.json"
    path.write_text(text)
    outcome = CliRunner().invoke(app, ["rules", str(path)])
    assert outcome.exit_code == EXIT_BAD_INPUT
    assert outcome.stderr.strip().splitlines() == [f"Error: {result}"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["tree", "forest", "distilled"]), n_levels=st.integers(0, 11),
       n_arms=st.integers(2, 3_000), tree_index=st.integers(0, 2), keep_stats=st.booleans())
def test_inflated_sizes_are_refused_before_allocation(name, n_levels, n_arms, tree_index, keep_stats) -> None:
    """More nodes, more arms, or both than the arrays hold: ModelFormatError in proportional memory."""
    document = copy.deepcopy(documents()[name])
    tables = document["trees"] if name == "forest" else [document["tree"]]
    table = tables[tree_index % len(tables)]
    grown = complete_tree(n_levels, len(FEATURES))
    inflated_nodes = grown["n_nodes"] != table["n_nodes"]
    table.update(grown)
    if keep_stats:  # statistics sized for the old arms (and nodes), the rest declared larger
        document["treatments"] = document["treatments"] + [f"extra {index}" for index in range(n_arms)]
    elif not inflated_nodes:
        table["stats"] = table["stats"][:-1]
    result = assert_loaded_or_refused(json.dumps(document))
    assert isinstance(result, ModelFormatError), repr(result)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.sampled_from([-1, 0, 1, 2**31 - 1, 2**31, 10**9])
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(["inf", "-inf", "nan", "", "x"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=6,
)


def _at(document: dict, path: tuple):
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    return parent, path[-1]


@st.composite
def mutated_texts(draw) -> str:
    """A model document after one of: a value replaced, a field removed, an array cut short or repeated (its
    items again and again: inflated), or the text cut anywhere."""
    document = copy.deepcopy(documents()[draw(st.sampled_from(["tree", "forest", "distilled"]))])
    kind = draw(st.sampled_from(["replace", "remove", "cut", "repeat", "truncate"]))
    if kind == "truncate":
        text = json.dumps(document)
        return text[:draw(st.integers(0, len(text) - 1))]
    if kind in ("cut", "repeat"):
        arrays = [path for path in paths(document) if isinstance(_at(document, path)[0][path[-1]], list)]
        parent, key = _at(document, draw(st.sampled_from(arrays)))
        items = parent[key]
        if kind == "cut":
            parent[key] = items[:draw(st.integers(0, max(len(items) - 1, 0)))]
        else:
            parent[key] = items * draw(st.integers(2, 300))
        return json.dumps(document)
    parent, key = _at(document, draw(st.sampled_from(paths(document))))
    if kind == "remove":
        del parent[key]
    else:
        parent[key] = draw(JSON_VALUES)
    return json.dumps(document)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=mutated_texts())
def test_mutated_documents_load_or_fail_with_model_format_error(text) -> None:
    assert_loaded_or_refused(text)


@pytest.mark.parametrize("name", ["tree", "forest", "distilled"])
def test_valid_documents_load_in_proportional_memory(name) -> None:
    text = json.dumps(documents()[name])
    model = assert_loaded_or_refused(text)
    assert not isinstance(model, Exception)
    assert model.to_json() == upliftree.from_json(text).to_json()
