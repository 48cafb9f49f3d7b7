"""Tree drawings: DOT source (golden file), diverging leaf colours, rendering with Graphviz, and with matplotlib
when the ``dot`` program is missing."""

from __future__ import annotations

import re

import pytest
from test_export_sheets import check_golden, golden_tree

from upliftree import UpliftTreeClassifier
from upliftree.datasets import FEATURES, make_uplift_data
from upliftree.export.dot import plot, uplift_colour
from upliftree.export.drawing import tree_drawing
from upliftree.export.tree_figure import FONT_SIZE, tree_figure


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


def test_without_graphviz_matplotlib_draws_the_tree(small_tree, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program
    assert small_tree.to_dot().startswith("digraph")
    with pytest.raises(RuntimeError, match="Install Graphviz .*apt-get install graphviz"):
        small_tree.plot(tmp_path / "tree.svg", renderer="graphviz")
    assert not (tmp_path / "tree.svg").exists()
    with pytest.warns(UserWarning, match="drawn with matplotlib"):
        path = small_tree.plot(tmp_path / "tree.svg")
    assert path.read_text().lstrip().startswith("<?xml") and "<svg" in path.read_text()
    for format, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        drawn = plot(small_tree, tmp_path / f"tree.{format}", format=format, renderer="matplotlib", rankdir="LR")
        assert drawn.read_bytes().startswith(magic)


def _box_extents(figure):
    """Every node box of a matplotlib tree figure, in display coordinates, and the texts."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import FancyBboxPatch

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = figure.axes[0]
    boxes = [patch.get_window_extent(renderer) for patch in ax.patches if isinstance(patch, FancyBboxPatch)]
    return boxes, ax.texts, renderer


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
@pytest.mark.parametrize("n_treatments", [1, 2])
def test_matplotlib_drawing_is_readable_and_boxes_do_not_overlap(rankdir, n_treatments) -> None:
    """Text stays at FONT_SIZE (the figure grows instead), every line fits its box, and no two boxes overlap."""
    frame = make_uplift_data(6_000, n_treatments=n_treatments, random_state=n_treatments)
    model = UpliftTreeClassifier(max_depth=4, min_samples_leaf=80, control="control", random_state=0).fit(
        frame[FEATURES], frame["treatment"], frame["outcome"])
    drawing = tree_drawing(model)
    figure = tree_figure(drawing, rankdir)
    boxes, texts, renderer = _box_extents(figure)
    assert len(boxes) == model.tree_.n_nodes
    for first in range(len(boxes)):
        for second in range(first + 1, len(boxes)):
            a, b = boxes[first], boxes[second]
            assert a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0, (first, second)
    assert all(text.get_fontsize() == FONT_SIZE for text in texts)
    shown = {text.get_text() for text in texts}
    for drawn in drawing.nodes:
        assert drawn.title in shown and set(drawn.lines) <= shown
    # Every node text lies inside one box.
    node_texts = [text for text in texts if text.get_text() not in {drawing.legend_title, drawing.note}
                  and text.get_text() not in {label for label, _, _ in drawing.legend}]
    for text in node_texts:
        extent = text.get_window_extent(renderer)
        assert any(box.x0 <= extent.x0 + 0.5 and extent.x1 <= box.x1 + 0.5 and box.y0 <= extent.y0 + 0.5
                   and extent.y1 <= box.y1 + 0.5 for box in boxes), text.get_text()


def test_plot_format_is_checked(small_tree, tmp_path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        small_tree.plot(tmp_path / "tree.gif", format="gif")
    with pytest.raises(ValueError, match="renderer must be one of"):
        plot(small_tree, tmp_path / "tree.svg", renderer="tikz")
    with pytest.raises(ValueError, match="rankdir"):
        plot(small_tree, tmp_path / "tree.svg", renderer="matplotlib", rankdir="BT")
