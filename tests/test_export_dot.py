"""Graphviz drawings: DOT source (golden file), diverging leaf colours, rendering and a missing ``dot`` program."""

from __future__ import annotations

import re

import pytest
from test_export_sheets import check_golden, golden_tree

from upliftree.export.dot import uplift_colour


@pytest.fixture(scope="module")
def small_tree():
    return golden_tree()[0]


def test_dot_golden(small_tree) -> None:
    check_golden("tree.dot", small_tree.to_dot())


def test_nodes_show_rule_share_arms_and_interval(small_tree) -> None:
    source = small_tree.to_dot()
    # One box per node, one edge per non-root node, and the legend.
    assert len(re.findall(r"^\t\d+ \[label=", source, flags=re.MULTILINE)) == small_tree.tree_.n_nodes
    assert len(re.findall(r"^\t\d+ -> \d+", source, flags=re.MULTILINE)) == small_tree.tree_.n_nodes - 1
    assert "legend [label=" in source and "uplift (95% CI in parentheses)" in source
    assert "plan | tier in {basic}" in source and "&lt;b&gt;team&lt;/b&gt;" in source  # HTML-escaped names
    assert "rate: control" in source and "of rows (control" in source
    assert re.search(r"uplift: [+-]\d+\.\d pp \([+-]\d+\.\d, [+-]\d+\.\d\)", source)


def test_leaf_colours_diverge_with_the_sign_of_uplift(small_tree) -> None:
    source = small_tree.to_dot()
    tree = small_tree.tree_
    for leaf in tree.leaf_ids:
        fill = re.search(rf"^\t{leaf} \[label=.*fillcolor=\"(#[0-9a-f]{{6}})\"", source, flags=re.MULTILINE).group(1)
        red, blue = int(fill[1:3], 16), int(fill[5:7], 16)
        assert (blue > red) if tree.uplift[leaf, 0] > 0 else (red > blue)
    assert uplift_colour(0.0, 1.0) == "#f7f7f7"
    assert uplift_colour(1.0, 1.0) == "#2166ac" and uplift_colour(-5.0, 1.0) == "#b2182b"
    assert uplift_colour(float("nan"), 1.0) == "#cccccc"


@pytest.mark.parametrize(("format", "magic"), [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_plot_renders_with_dot(small_tree, tmp_path, format, magic) -> None:
    path = small_tree.plot(tmp_path / f"tree.{format}", format=format)
    assert path.read_bytes().startswith(magic)


def test_without_graphviz_dot_source_still_works(small_tree, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert small_tree.to_dot().startswith("digraph")
    with pytest.raises(RuntimeError, match="Install Graphviz .*apt-get install graphviz"):
        small_tree.plot(tmp_path / "tree.svg")
    assert not (tmp_path / "tree.svg").exists()


def test_plot_format_is_checked(small_tree, tmp_path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        small_tree.plot(tmp_path / "tree.gif", format="gif")
