"""Plots draw what the metrics compute, return Axes, and save headless (no pyplot, no display)."""

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from upliftree import metrics, plot


@pytest.fixture(scope="module")
def experiment():
    rng = np.random.default_rng(0)
    n = 3000
    feature = rng.normal(size=n)
    treatment = (rng.random(n) < 0.5).astype(int)
    true_uplift = 0.1 * (feature > 0) - 0.05 * (feature < -1)
    y = (rng.random(n) < 0.15 + true_uplift * treatment).astype(int)
    score = true_uplift + rng.normal(scale=0.05, size=n)
    return y, score, treatment


def _line(ax, label_start):
    return next(line for line in ax.get_lines() if line.get_label().startswith(label_start))


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_qini_curve_plot_saves_headless(experiment, tmp_path, suffix):
    ax = plot.plot_qini_curve(*experiment, n_boot=50, random_state=0)
    assert isinstance(ax, Axes)
    path = tmp_path / f"qini.{suffix}"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
    x, values = metrics.qini_curve(*experiment)
    model = _line(ax, "model")
    np.testing.assert_array_equal(model.get_xdata(), x)
    np.testing.assert_array_equal(model.get_ydata(), values)
    assert f"{metrics.qini_auc_score(*experiment):.3f}" in model.get_label()
    np.testing.assert_array_equal(_line(ax, "perfect").get_ydata(), metrics.perfect_qini_curve(*experiment[::2])[1])
    np.testing.assert_array_equal(_line(ax, "random").get_ydata(), [0, values[-1]])
    assert any(isinstance(artist, PolyCollection) for artist in ax.collections)


def test_uplift_curve_plot_on_given_axes(experiment):
    figure = Figure()
    axes = figure.subplots(1, 2)
    returned = plot.plot_uplift_curve(*experiment, perfect=False, ax=axes[1])
    assert returned is axes[1]
    assert not axes[0].get_lines()
    labels = [line.get_label() for line in returned.get_lines()]
    assert not any(label.startswith("perfect") for label in labels)
    assert not returned.collections  # no bootstrap band unless asked


def test_uplift_curve_plot_with_continuous_outcome(experiment):
    y, score, treatment = experiment
    spend = y * np.random.default_rng(1).gamma(2.0, 20.0, len(y))
    ax = plot.plot_uplift_curve(spend, score, treatment, perfect=False)
    assert _line(ax, "model").get_label() == "model"
    with pytest.raises(ValueError, match="y_true must be binary"):
        plot.plot_uplift_curve(spend, score, treatment)


def test_uplift_by_percentile_plot(experiment, tmp_path):
    ax = plot.plot_uplift_by_percentile(*experiment, bins=5)
    table = metrics.uplift_by_percentile(*experiment, bins=5)
    heights = [patch.get_height() for patch in ax.patches]
    assert len(heights) == 15
    np.testing.assert_allclose(heights[:5], table["response_rate_treatment"])
    np.testing.assert_allclose(heights[10:], table["uplift"])
    assert [label.get_text() for label in ax.get_xticklabels()] == list(table.index)
    ax.figure.savefig(tmp_path / "deciles.png")


def test_calibration_plot(experiment, tmp_path):
    ax = plot.plot_calibration(*experiment, bins=8, alpha=0.1)
    table = metrics.calibration_table(*experiment, bins=8, alpha=0.1)
    points = ax.get_lines()[0]
    np.testing.assert_allclose(points.get_xdata(), table["predicted_uplift"])
    np.testing.assert_allclose(points.get_ydata(), table["observed_uplift"])
    assert any("90% intervals" in text.get_text() for text in ax.get_legend().get_texts())
    ax.figure.savefig(tmp_path / "calibration.svg")


def test_plots_reject_bad_arguments(experiment):
    with pytest.raises(ValueError, match="alpha"):
        plot.plot_uplift_by_percentile(*experiment, alpha=2)
    with pytest.raises(ValueError, match="same length"):
        plot.plot_qini_curve(experiment[0][:-1], experiment[1], experiment[2])
