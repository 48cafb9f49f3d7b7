"""metrics.qini_by_group: values equal the single-group metrics, and the intervals cover known truth (simulation,
the row-level intervals failing under store randomization)."""

from __future__ import annotations

import numpy as np
import pytest

from upliftree import metrics
from upliftree.metrics.groups import top_share_weights

# Per group g: effect A[g] + B[g] * x with x ~ U(0, 1); the score is x, so the true uplift among a group's top K
# rows is A + B * (1 - K / 2) and the true average effect A + B / 2.
A = np.array([0.3, 0.2, 0.0])
B = np.array([0.6, 0.3, 0.4])
K = 0.3
TRUE_AVERAGE = A + B / 2
TRUE_TOP = A + B * (1 - K / 2)


def store_experiment(rng: np.random.Generator, n_stores: int = 200, size: int = 10) -> tuple[np.ndarray, ...]:
    """Stores randomized whole, 70% treated in the north (baseline +1), 40% elsewhere; a store effect as large as
    the noise; rows fall in 3 groups (periods) at random."""
    store = np.repeat(np.arange(n_stores), size)
    north = np.arange(n_stores) % 3 == 0
    p_store = np.where(north, 0.7, 0.4)
    treated = (rng.uniform(size=n_stores) < p_store)[store].astype(np.int64)
    x = rng.uniform(size=len(store))
    group = rng.integers(0, 3, len(store))
    y = (1.0 * north[store] + rng.normal(0, 1, n_stores)[store] + (A[group] + B[group] * x) * treated
         + rng.normal(0, 1, len(store)))
    received = np.where(treated == 1, p_store[store], 1 - p_store[store])
    return y, x, treated, group, received, store


def test_values_match_the_metrics_of_each_group():
    y, x, treated, group, received, store = store_experiment(np.random.default_rng(1))
    x = np.round(x, 1)  # ties at the cut
    table = metrics.qini_by_group(y, x, treated, group, k=K, n_boot=20, random_state=0, propensity=received,
                                  cluster=store)
    assert list(table["group"]) == [0, 1, 2]
    for row in table.itertuples():
        rows = group == row.group
        design = {"propensity": received[rows]}
        assert row.uplift_at_k == pytest.approx(metrics.uplift_at_k(y[rows], x[rows], treated[rows], k=K, **design))
        assert row.average_effect == pytest.approx(
            metrics.weighted_average_uplift(y[rows], x[rows], treated[rows], bins=1, **design))
        assert row.qini == pytest.approx(metrics.qini_auc_score(y[rows], x[rows], treated[rows], **design))
        assert row.qini_low <= row.qini <= row.qini_high
        assert row.units_treatment + row.units_control <= len(np.unique(store[rows]))
    again = metrics.qini_by_group(y, x, treated, group, k=K, n_boot=20, random_state=0, propensity=received,
                                  cluster=store)
    assert again.equals(table)


def test_top_share_weights_count_the_cut_tie_group_pro_rata():
    weights = top_share_weights(np.array([3.0, 1.0, 2.0, 2.0, 0.0]), 0.4)  # top 2 rows: 3.0 and half of the 2.0s
    np.testing.assert_allclose(weights, [1.0, 0.0, 0.5, 0.5, 0.0])


def test_bad_groups_are_refused():
    y, x, treated, group, _, _ = store_experiment(np.random.default_rng(2), n_stores=30)
    with pytest.raises(ValueError, match="group has 1 missing"):
        metrics.qini_by_group(y, x, treated, np.where(np.arange(len(y)) == 0, np.nan, group), n_boot=0)
    with pytest.raises(ValueError, match="group must be 1-D with one value per row"):
        metrics.qini_by_group(y, x, treated, group[:-1], n_boot=0)
    with pytest.raises(ValueError, match="k must be"):
        metrics.qini_by_group(y, x, treated, group, k=1.0, n_boot=0)


def test_a_group_with_one_arm_is_nan_with_a_warning():
    y, x, treated, group, _, _ = store_experiment(np.random.default_rng(3), n_stores=60)
    treated = np.where(group == 2, 1, treated)
    with pytest.warns(metrics.UndefinedMetricWarning, match=r"group\(s\) \['2'\] have rows of one arm"):
        table = metrics.qini_by_group(y, x, treated, group, n_boot=0)
    assert table.loc[2, ["average_effect", "uplift_at_k", "qini"]].isna().all()
    assert table.loc[:1, "average_effect"].notna().all()


def _coverage(reps: int, cluster_aware: bool) -> np.ndarray:
    covered = np.zeros((2, 3))
    for rep in range(reps):
        y, x, treated, group, received, store = store_experiment(np.random.default_rng(rep))
        table = metrics.qini_by_group(y, x, treated, group, k=K, n_boot=0, propensity=received,
                                      cluster=store if cluster_aware else None)
        covered[0] += (table.average_effect_low <= TRUE_AVERAGE) & (TRUE_AVERAGE <= table.average_effect_high)
        covered[1] += (table.uplift_at_k_low <= TRUE_TOP) & (TRUE_TOP <= table.uplift_at_k_high)
    return covered / reps


def test_group_intervals_cover_and_row_level_ones_do_not():
    # 200 replications x 3 groups; measured: 94.5-96.0% cluster-robust, 76.5-90.5% row-level.
    robust = _coverage(200, True)
    assert robust.mean() == pytest.approx(0.95, abs=0.02) and robust.min() >= 0.92
    row_level = _coverage(200, False)
    assert row_level[0].max() < 0.85 and row_level.mean() < 0.88


def test_qini_intervals_cover_the_population_qini():
    # The population Qini coefficient of each group: one large sample (400,000 rows).
    y, x, treated, group, received, _ = store_experiment(np.random.default_rng(12345), n_stores=40_000)
    truth = np.array([metrics.qini_auc_score(y[group == g], x[group == g], treated[group == g],
                                             propensity=received[group == g]) for g in range(3)])
    covered = np.zeros(3)
    reps = 150
    for rep in range(reps):
        y, x, treated, group, received, store = store_experiment(np.random.default_rng(rep))
        table = metrics.qini_by_group(y, x, treated, group, k=K, n_boot=200, random_state=rep, propensity=received,
                                      cluster=store)
        covered += (table.qini_low <= truth) & (truth <= table.qini_high)
    # Measured: 92.7%, 93.3%, 96.7% (450 intervals: 94.2%, simulation standard error 1.1 pp).
    assert 0.91 <= covered.mean() / reps <= 0.98


def test_plot_metrics_by_group():
    from upliftree.plot import plot_metrics_by_group

    y, x, treated, group, received, store = store_experiment(np.random.default_rng(4))
    table = metrics.qini_by_group(y, x, treated, group, n_boot=20, random_state=0, propensity=received, cluster=store)
    axes = plot_metrics_by_group(table)
    assert [axis.get_title() for axis in axes] == ["Average effect", "Uplift among the top k", "Qini coefficient"]
    points = axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(points, table["average_effect"])
    with pytest.raises(ValueError, match="not one of"):
        plot_metrics_by_group(table, metrics_shown=("auuc",))
    with pytest.raises(ValueError, match="must be a qini_by_group table"):
        plot_metrics_by_group(table.drop(columns="qini_low"))
