"""The plots take the experiment's design (issue 16) and draw the design-aware metrics' numbers."""

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer

from upliftree import metrics, plot


@pytest.fixture(scope="module")
def stratified():
    """80/20 treated in the north (baseline 25 points higher), 50/50 elsewhere; stores of 10 rows."""
    rng = np.random.default_rng(16)
    n_stores, size = 300, 10
    cluster = np.repeat(np.arange(n_stores), size)
    north = np.repeat(rng.random(n_stores) < 0.3, size)
    p_treated = np.where(north, 0.8, 0.5)
    treatment = (rng.random(len(cluster)) < p_treated).astype(int)
    true_uplift = np.where(north, 0.01, 0.04)
    y = (rng.random(len(cluster)) < 0.1 + 0.25 * north + true_uplift * treatment).astype(int)
    score = true_uplift + rng.normal(scale=0.02, size=len(y))
    design = {"propensity": np.where(treatment == 1, p_treated, 1 - p_treated), "cluster": cluster}
    return (y, score, treatment), design


def _line(ax, label_start):
    return next(line for line in ax.get_lines() if line.get_label().startswith(label_start))


def _band(ax):
    band = next(artist for artist in ax.collections if isinstance(artist, PolyCollection))
    vertices = band.get_paths()[0].vertices
    return vertices[:, 1]


@pytest.mark.parametrize("curve", ["qini", "uplift"])
def test_curve_plots_draw_the_weighted_curve_score_perfect_curve_and_cluster_band(stratified, curve):
    rows, design = stratified
    draw = plot.plot_qini_curve if curve == "qini" else plot.plot_uplift_curve
    ax = draw(*rows, n_boot=30, random_state=5, **design)
    x, values = getattr(metrics, f"{curve}_curve")(*rows, **design)
    model = _line(ax, "model")
    np.testing.assert_array_equal(model.get_xdata(), x)
    np.testing.assert_array_equal(model.get_ydata(), values)
    score = (metrics.qini_auc_score if curve == "qini" else metrics.uplift_auc_score)(*rows, **design)
    assert f"{score:.3f}" in model.get_label()
    perfect = (metrics.perfect_qini_curve(rows[0], rows[2], **design) if curve == "qini"
               else metrics.perfect_uplift_curve(rows[0], rows[2], **design))
    np.testing.assert_array_equal(_line(ax, "perfect").get_ydata(), perfect[1])
    _, low, high = metrics.bootstrap_curve_band(*rows, curve=curve, n_boot=30, random_state=5, n_jobs=-1, **design)
    drawn = _band(ax)
    assert np.isin(low, drawn).all() and np.isin(high, drawn).all()
    # The design changes what is drawn: the unweighted curve and the row bootstrap's band are other numbers.
    unweighted = draw(*rows, n_boot=30, random_state=5)
    assert not np.allclose(_line(unweighted, "model").get_ydata(), values)
    _, row_low, _ = metrics.bootstrap_curve_band(*rows, curve=curve, n_boot=30, random_state=5, n_jobs=-1,
                                                 propensity=design["propensity"])
    assert not np.isin(row_low[1:-1], drawn).all()


def test_decile_plot_draws_the_weighted_rates_and_design_based_error_bars(stratified):
    rows, design = stratified
    ax = plot.plot_uplift_by_percentile(*rows, bins=5, **design)
    table = metrics.uplift_by_percentile(*rows, bins=5, std=True, **design)
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights[:5], table["response_rate_treatment"])
    np.testing.assert_allclose(heights[10:], table["uplift"])
    # The uplift bars' error bars are z * the cluster-robust std_uplift.
    uplift_bars = [container for container in ax.containers if isinstance(container, ErrorbarContainer)][2]
    segments = uplift_bars.lines[2][0].get_segments()
    half_widths = np.array([(segment[1, 1] - segment[0, 1]) / 2 for segment in segments])
    np.testing.assert_allclose(half_widths, 1.959963984540054 * table["std_uplift"], rtol=1e-9)
    unweighted = metrics.uplift_by_percentile(*rows, bins=5, std=True)
    assert not np.allclose(heights[10:], unweighted["uplift"])
    row_level = metrics.uplift_by_percentile(*rows, bins=5, std=True, propensity=design["propensity"])
    assert not np.allclose(half_widths, 1.959963984540054 * row_level["std_uplift"], rtol=1e-3)


def test_calibration_plot_draws_the_design_based_table(stratified):
    rows, design = stratified
    ax = plot.plot_calibration(*rows, bins=5, **design)
    table = metrics.calibration_table(*rows, bins=5, **design)
    points = ax.get_lines()[0]
    np.testing.assert_allclose(points.get_xdata(), table["predicted_uplift"])
    np.testing.assert_allclose(points.get_ydata(), table["observed_uplift"])
    unweighted = metrics.calibration_table(*rows, bins=5)
    assert not np.allclose(points.get_ydata(), unweighted["observed_uplift"])


def test_a_bad_design_is_refused_by_the_plot_as_by_the_metric(stratified):
    rows, design = stratified
    with pytest.raises(ValueError, match="propensity"):
        plot.plot_qini_curve(*rows, propensity=np.full(len(rows[0]), 1.5))
    with pytest.raises(TypeError, match="column name"):
        plot.plot_calibration(*rows, cluster="store")
