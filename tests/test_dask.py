"""Distributed fits and scoring (``upliftree.dask``) on a local two-worker cluster, against the in-memory core."""

from __future__ import annotations

import os
import signal
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

import dask  # noqa: E402
import dask.dataframe as dd  # noqa: E402
from distributed import Client, LocalCluster, WorkerPlugin  # noqa: E402

import upliftree  # noqa: E402
import upliftree.dask as udask  # noqa: E402
from upliftree import (  # noqa: E402
    UpliftRandomForestClassifier,
    UpliftTreeClassifier,
    UpliftTreeRegressor,
    make_uplift_data,
)
from upliftree._grower import HistogramSource, grow_tree  # noqa: E402
from upliftree._tree_arrays import estimate_nodes  # noqa: E402
from upliftree.datasets import FEATURES  # noqa: E402
from upliftree.metrics import qini_auc_score  # noqa: E402
from upliftree.policy import Policy  # noqa: E402
from upliftree.tree import FittedInputs, FittedTree, growth_params  # noqa: E402

TREE_PARAMS = {"max_depth": 4, "min_samples_leaf": 60, "min_samples_treatment": 20, "control": "control"}
STRUCTURE_FIELDS = ("children_left", "children_right", "parent", "depth", "feature", "threshold", "is_categorical",
                    "category_bitset", "missing_left")


@pytest.fixture(scope="module")
def client():
    """Two single-threaded workers in this process, quick to start (the worker-kill test starts processes).

    Dashboards on free ports (":0"), so that clusters never compete for the default port.
    """
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster) as dask_client:
            yield dask_client


def as_dask(frame: pd.DataFrame, npartitions: int = 4) -> dd.DataFrame:
    return dd.from_pandas(frame, npartitions=npartitions, sort=False)


def assert_same_tree(distributed, in_memory) -> None:
    """Same splits and node numbering; statistics equal up to the order of floating-point sums."""
    for field in fields(in_memory.tree_):
        expected, actual = getattr(in_memory.tree_, field.name), getattr(distributed.tree_, field.name)
        assert expected.shape == actual.shape, field.name
        if field.name in STRUCTURE_FIELDS:
            np.testing.assert_array_equal(actual, expected, err_msg=field.name)
        else:
            np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-9, err_msg=field.name)
    assert distributed.n_splits_merged_ == in_memory.n_splits_merged_
    assert distributed.schema_ == in_memory.schema_
    assert list(distributed.treatments_) == list(in_memory.treatments_)
    np.testing.assert_allclose(distributed.feature_importances_, in_memory.feature_importances_, atol=1e-12)


CASES = {
    "kl-binary": (UpliftTreeClassifier, {"criterion": "kl"}, {}),
    "ed-three-arms-weighted": (UpliftTreeClassifier, {"criterion": "ed"}, {"n_treatments": 2}),
    "tstat-continuous": (UpliftTreeRegressor, {"criterion": "tstat"}, {"outcome": "continuous"}),
    "ddp-continuous-three-arms": (UpliftTreeRegressor, {"criterion": "ddp"},
                                  {"outcome": "continuous", "n_treatments": 2, "missing_rate": 0.2}),
    # Feature sampling: 2 of 6 features builds only the tried features' histograms, 4 of 6 subtracts.
    "kl-binary-two-features": (UpliftTreeClassifier, {"criterion": "kl", "max_features": 2, "random_state": 1}, {}),
    "chi-binary-weighted-four-features": (UpliftTreeClassifier, {"criterion": "chi", "max_features": 4,
                                                                 "random_state": 2}, {}),
    "tstat-continuous-two-features": (UpliftTreeRegressor, {"criterion": "tstat", "max_features": 2,
                                                            "random_state": 3}, {"outcome": "continuous"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tree_is_identical_to_the_in_memory_fit(client, case):
    model_class, params, data_params = CASES[case]
    frame = make_uplift_data(5_000, random_state=sum(map(ord, case)), **data_params)
    weighted = "weighted" in case
    if weighted:
        frame["weight"] = np.random.default_rng(0).choice([0.5, 1.0, 2.0], len(frame))
    in_memory = model_class(**TREE_PARAMS, **params).fit(
        frame[FEATURES], frame["treatment"], frame["outcome"], frame["weight"] if weighted else None)
    distributed = udask.fit_tree(model_class(**TREE_PARAMS, **params), as_dask(frame), features=FEATURES,
                                 sample_weight="weight" if weighted else None)
    assert in_memory.n_leaves_ >= 6 and in_memory.tree_.is_categorical.any()  # the case exercises something
    if "max_features" in params:  # a different seed draws other features: the comparison can tell
        reseeded = model_class(**TREE_PARAMS, **{**params, "random_state": params["random_state"] + 10}).fit(
            frame[FEATURES], frame["treatment"], frame["outcome"], frame["weight"] if weighted else None)
        assert not np.array_equal(reseeded.tree_.feature, in_memory.tree_.feature)
    # income has NaNs and more than max_bins values: its quantile edges come from the distributed sample,
    # which holds every row of a small frame, as the in-memory fit's does.
    for expected, actual in zip(in_memory.bin_mapper_.bin_thresholds_, distributed.bin_mapper_.bin_thresholds_,
                                strict=True):
        np.testing.assert_array_equal(actual, expected)
    assert_same_tree(distributed, in_memory)


@pytest.mark.parametrize("npartitions", [1, 3, 9])
def test_bins_are_the_in_memory_bins_whatever_the_partitions(client, binary_experiment, npartitions):
    """Both fits read their thresholds off one QuantileSketch: merged from the partitions' or of all rows."""
    frame = binary_experiment.frame.iloc[:3_000].copy()
    # A rare value of a low-cardinality feature in the last partition only; income and tenure have more
    # values than max_bins (quantile edges), income with missing values.
    frame["visits"] = frame["visits"].clip(upper=3).astype(np.float64)
    frame.iloc[-3:, frame.columns.get_loc("visits")] = 40.0
    params = {**TREE_PARAMS, "max_depth": 2, "max_bins": 16}
    in_memory = UpliftTreeClassifier(**params).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    distributed = udask.fit_tree(UpliftTreeClassifier(**params), as_dask(frame, npartitions), features=FEATURES)
    expected, actual = in_memory.bin_mapper_, distributed.bin_mapper_
    assert len(expected.bin_thresholds_[FEATURES.index("income")]) == 15
    np.testing.assert_array_equal(expected.bin_thresholds_[FEATURES.index("visits")], [0.0, 1.0, 2.0, 3.0])
    for expected_edges, edges in zip(expected.bin_thresholds_, actual.bin_thresholds_, strict=True):
        np.testing.assert_array_equal(edges, expected_edges)
    np.testing.assert_array_equal(actual.n_bins_non_missing_, expected.n_bins_non_missing_)
    assert_same_tree(distributed, in_memory)


def test_given_bin_edges_are_the_bins_of_the_tree(client, binary_experiment):
    frame = binary_experiment.frame
    edges = {"income": [20.0, 35.0, 50.0, 80.0], "tenure": [10.0, 30.0, 60.0]}
    distributed = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), as_dask(frame), features=FEATURES,
                                 bin_edges=edges)
    mapper = distributed.bin_mapper_
    for name, thresholds in edges.items():
        np.testing.assert_array_equal(mapper.bin_thresholds_[FEATURES.index(name)], thresholds)
    # The in-memory core grown on the same bins.
    reference = UpliftTreeClassifier(**TREE_PARAMS)
    schema, arms, data = reference._prepare(frame[FEATURES], frame["treatment"], frame["outcome"], None)
    source = HistogramSource.of(mapper.transform(data.encoded), data.arm, data.weight, data.y, arms.n_arms,
                                mapper.missing_bin_ + 1, binary=True)
    params = growth_params(reference, schema.n_features, parallel=True)
    n_rows = len(data.arm)
    tree = grow_tree(source, mapper, np.arange(n_rows), np.ones(n_rows, dtype=np.int32), params,
                     np.random.default_rng(0))
    tree, n_merged = estimate_nodes(tree, data, reference.min_samples_treatment)
    reference.fitted_state_ = FittedTree(FittedInputs(schema, arms.labels, "binary", mapper), tree, n_merged, False)
    assert_same_tree(distributed, reference)
    # Another model's bin mapper is accepted as it is.
    again = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), as_dask(frame), features=FEATURES,
                           bin_edges=mapper)
    assert_same_tree(again, reference)


def test_honest_tree_estimates_on_held_out_rows_of_every_partition(client, binary_experiment):
    frame = binary_experiment.frame
    model = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS, honest=True, honest_fraction=0.4, random_state=1),
                           as_dask(frame), features=FEATURES)
    assert model.honest_estimates_ and model.n_leaves_ >= 3
    n_estimation = model.tree_.stats[0, :, 0].sum()
    assert abs(n_estimation - 0.4 * len(frame)) <= 4 * 4  # rounding per (partition, arm, outcome) stratum
    # Leaf statistics add up to the root's: every estimation row lands in exactly one leaf.
    np.testing.assert_allclose(model.tree_.stats[model.tree_.leaf_ids].sum(axis=0), model.tree_.stats[0])
    refit = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS, honest=True, honest_fraction=0.4, random_state=1),
                           as_dask(frame), features=FEATURES)
    assert_same_tree(refit, model)


FOREST_PARAMS = {"max_depth": 4, "min_samples_leaf": 200, "max_features": None, "control": "control", "verbose": 0}


def test_forest_of_one_group_is_the_in_memory_forest(client, binary_experiment):
    frame = binary_experiment.frame
    params = {**FOREST_PARAMS, "n_estimators": 8, "min_samples_leaf": 100, "max_features": "sqrt", "honest": True,
              "random_state": 3}
    in_memory = UpliftRandomForestClassifier(**params).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    distributed = udask.fit_forest(UpliftRandomForestClassifier(**params), as_dask(frame, npartitions=3),
                                   features=FEATURES)
    # Fewer rows than rows_per_group: one group, its partitions concatenated in order, holds every row, so
    # with the same bins and per-tree seeds the trees are the in-memory ones.
    assert type(distributed) is UpliftRandomForestClassifier and distributed.schema_ == in_memory.schema_
    for distributed_tree, in_memory_tree in zip(distributed.estimators_, in_memory.estimators_, strict=True):
        assert distributed_tree.random_state == in_memory_tree.random_state
        assert_same_tree(distributed_tree, in_memory_tree)
    np.testing.assert_allclose(distributed.feature_importances_, in_memory.feature_importances_)


@pytest.mark.parametrize(("rows_per_part", "rows_per_group", "bounds"), [
    ([5, 5, 5, 5, 5], 10, [0, 2, 5]),  # a short remainder joins the last group
    ([5, 5, 5, 5], 10, [0, 2, 4]),
    ([0, 12, 0, 3, 9, 0], 10, [0, 2, 6]),  # empty partitions go with their neighbours
    ([3, 4], 10, [0, 2]),  # fewer rows than rows_per_group: one group
    ([30, 1, 30], 10, [0, 1, 3]),
])
def test_groups_are_consecutive_partitions_of_at_least_rows_per_group_rows(rows_per_part, rows_per_group, bounds):
    np.testing.assert_array_equal(udask._group_bounds(rows_per_part, rows_per_group), bounds)


def tree_arrays_equal(forest, other) -> bool:
    return len(forest.estimators_) == len(other.estimators_) and all(
        np.array_equal(getattr(tree.tree_, field.name), getattr(other_tree.tree_, field.name), equal_nan=True)
        for tree, other_tree in zip(forest.estimators_, other.estimators_, strict=True) for field in fields(tree.tree_))


def test_forest_depends_on_the_partitions_and_seed_not_on_the_workers(client, binary_experiment):
    frame = binary_experiment.frame
    ddf = as_dask(frame, npartitions=6)  # 1,000 rows each: 3 groups of 2 partitions
    params = {**FOREST_PARAMS, "n_estimators": 6, "max_depth": 3, "max_features": "sqrt", "honest": True,
              "random_state": 5}

    def fit(dask_client, data=ddf):
        return udask.fit_forest(UpliftRandomForestClassifier(**params), data, features=FEATURES, client=dask_client,
                                rows_per_group=2_000)

    spread = fit(client)
    assert [int(tree.tree_.stats[0, :, 0].sum()) for tree in spread.estimators_] == [1000] * 6  # honest: half
    # Every partition held by the first worker: the groups' rows move to wherever their trees grow.
    first_worker = sorted(client.scheduler_info()["workers"])[0]
    assert tree_arrays_equal(fit(client, client.persist(ddf, workers=[first_worker])), spread)
    assert tree_arrays_equal(fit(client), spread)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as one_worker:
        assert tree_arrays_equal(fit(one_worker), spread)
    # The test can tell forests apart: another seed gives another forest.
    params["random_state"] = 6
    assert not tree_arrays_equal(fit(client), spread)


def test_forest_qini_is_within_noise_of_the_in_memory_forest(client):
    train, test = make_uplift_data(40_000, random_state=21), make_uplift_data(40_000, random_state=22)
    treated = (test["treatment"] != "control").to_numpy().astype(int)
    params = {**FOREST_PARAMS, "n_estimators": 30, "random_state": 2}
    in_memory = UpliftRandomForestClassifier(**params).fit(train[FEATURES], train["treatment"], train["outcome"])
    ddf = as_dask(train, npartitions=3)
    distributed = udask.fit_forest(UpliftRandomForestClassifier(**params), ddf, features=FEATURES,
                                   rows_per_group=10_000)
    assert len(distributed.estimators_) == 30
    qini_in_memory = qini_auc_score(test["outcome"], in_memory.predict(test[FEATURES]), treated)
    qini_distributed = qini_auc_score(test["outcome"], distributed.predict(test[FEATURES]), treated)
    # Here the true uplift scores 0.042; over seeds 0-4 the in-memory forest scores 0.030-0.046 and the
    # distributed one 0.026-0.039 (each group's trees see only its rows).
    assert qini_in_memory > 0.025
    assert abs(qini_distributed - qini_in_memory) < 0.02
    # Each partition of about 13,333 rows is a group and grows 10 trees, each drawing (with replacement) as
    # many rows as the group holds.
    rows_per_part = ddf.map_partitions(len).compute().tolist()
    draw_sizes = [int(tree.tree_.stats[0, :, 0].sum()) for tree in distributed.estimators_]
    expected = [n_rows for n_rows in rows_per_part for _ in range(10)]
    np.testing.assert_allclose(draw_sizes, expected, atol=1)


def test_scoring_equals_in_memory_row_by_row(client, multi_treatment_experiment):
    frame = multi_treatment_experiment.frame
    ddf = as_dask(frame, npartitions=3)
    tree = UpliftTreeClassifier(**TREE_PARAMS).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    forest = UpliftRandomForestClassifier(n_estimators=5, max_depth=3, control="control", verbose=0,
                                          random_state=0).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    for model in (tree, forest):
        uplift = udask.predict(model, ddf)
        assert list(uplift.columns) == ["discount", "email"]
        np.testing.assert_array_equal(uplift.compute().to_numpy(), model.predict(frame[FEATURES]))
        leaves = udask.apply(model, ddf).compute()
        np.testing.assert_array_equal(np.asarray(leaves).reshape(model.apply(frame[FEATURES]).shape),
                                      model.apply(frame[FEATURES]))
    # Results keep the frame's index and partitions, so they can be assigned as columns.
    scored = ddf.assign(leaf=udask.apply(tree, ddf)).compute()
    np.testing.assert_array_equal(scored["leaf"], tree.apply(frame[FEATURES]))
    policy = Policy(tree, benefit=25.0, cost={"email": 0.1, "discount": "visits"})
    decisions = udask.decide(policy, ddf, threshold=0.5, eligible="tenure >= 3").compute()
    expected = policy.decide(frame, threshold=0.5, eligible="tenure >= 3")
    assert len(set(expected)) >= 2
    np.testing.assert_array_equal(decisions.to_numpy(), expected)
    with pytest.raises(ValueError, match="rule='threshold'"):
        udask.decide(policy, ddf, rule="top_k", k=10)
    with pytest.raises(ValueError, match="column name"):
        udask.decide(policy, ddf, eligible=np.ones(len(frame), dtype=bool))


def test_empty_partitions_score_and_fit(client, binary_experiment):
    frame = binary_experiment.frame
    pieces = [frame.iloc[:2000], frame.iloc[:0], frame.iloc[2000:]]
    ddf = dd.from_delayed([dask.delayed(piece) for piece in pieces], meta=frame.iloc[:0], verify_meta=False)
    model = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), ddf, features=FEATURES)
    in_memory = UpliftTreeClassifier(**TREE_PARAMS).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    assert_same_tree(model, in_memory)
    np.testing.assert_array_equal(udask.predict(model, ddf).compute().to_numpy(), in_memory.predict(frame[FEATURES]))


def test_distributed_fit_is_an_ordinary_estimator(client, binary_experiment):
    frame = binary_experiment.frame
    model = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), as_dask(frame), features=FEATURES)
    restored = upliftree.from_json(model.to_json())
    np.testing.assert_array_equal(restored.predict(frame[FEATURES]), model.predict(frame[FEATURES]))
    assert "SELECT" in model.to_sql("customers").upper()
    assert len(model.segments()) == model.n_leaves_


def test_bad_input_is_refused_with_clear_errors(client, binary_experiment):
    frame = binary_experiment.frame
    ddf = as_dask(frame)
    with pytest.raises(TypeError, match="UpliftTreeClassifier"):
        udask.fit_tree(UpliftRandomForestClassifier(), ddf, features=FEATURES)
    with pytest.raises(TypeError, match="dask.dataframe"):
        udask.fit_tree(UpliftTreeClassifier(), frame, features=FEATURES)
    with pytest.raises(ValueError, match="outcome='converted' is not a column"):
        udask.fit_tree(UpliftTreeClassifier(), ddf, outcome="converted", features=FEATURES)
    with pytest.raises(TypeError, match="categorize"):
        udask.fit_tree(UpliftTreeClassifier(), ddf.assign(region=ddf["region"].astype(str)), features=FEATURES)
    unknown = ddf.assign(region=ddf["region"].astype(str).astype("category"))
    with pytest.raises(ValueError, match="unknown categories"):
        udask.fit_tree(UpliftTreeClassifier(), unknown, features=FEATURES)
    with pytest.raises(ValueError, match="control='none' is not a label"):
        udask.fit_tree(UpliftTreeClassifier(control="none"), ddf, features=FEATURES)
    with pytest.raises(ValueError, match="outcome=.true_uplift. must be binary"):
        udask.fit_tree(UpliftTreeClassifier(control="control"), ddf, outcome="true_uplift", features=FEATURES)
    with pytest.raises(ValueError, match="strictly increasing"):
        udask.fit_tree(UpliftTreeClassifier(control="control"), ddf, features=FEATURES,
                       bin_edges={"income": [3.0, 1.0]})
    with pytest.raises(ValueError, match="not a numeric feature"):
        udask.fit_tree(UpliftTreeClassifier(control="control"), ddf, features=FEATURES, bin_edges={"region": [1.0]})


def test_fit_forest_refuses_little_bags_before_any_work(client, binary_experiment):
    forest = UpliftRandomForestClassifier(control="control", n_estimators=4, honest=True, bootstrap=False,
                                          max_samples=0.5, ci_group_size=2)
    with pytest.raises(ValueError, match="ci_group_size=2: fit_forest does not grow little bags"):
        udask.fit_forest(forest, as_dask(binary_experiment.frame), features=FEATURES)
    assert not hasattr(forest, "fitted_state_")


def _changing_partition(number: int) -> pd.DataFrame:
    """A partition whose row count changes on every read (an unseeded generator)."""
    return make_uplift_data(int(np.random.default_rng().integers(400, 800)), random_state=number)


def test_partitions_that_change_between_passes_fail_loudly(client):
    meta = make_uplift_data(10, random_state=0).iloc[:0]
    ddf = dd.from_map(_changing_partition, range(3), meta=meta)
    with pytest.raises(RuntimeError, match="deterministic"):
        udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), ddf, features=FEATURES)


class KillOnce(WorkerPlugin):
    """SIGKILL the worker's process (no clean-up) once it has built its third set of node histograms.

    That is during the growth levels, when the binned partitions and row assignments live on the workers. A
    flag file makes it happen once in the whole cluster, the restarted worker included.
    """

    def __init__(self, flag: str):
        self.flag = flag
        self.n_built = 0

    def transition(self, key, start, finish, **kwargs):
        if finish != "memory" or not str(key).startswith("_node_histograms-"):
            return
        self.n_built += 1
        if self.n_built == 3:
            try:
                os.close(os.open(self.flag, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            os.kill(os.getpid(), signal.SIGKILL)


def _kill_own_worker(number: int) -> pd.DataFrame:
    """A partition whose reading kills the worker process reading it."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_fit_never_yields_a_partial_model(binary_experiment, tmp_path):
    frame = binary_experiment.frame
    in_memory = UpliftTreeClassifier(**TREE_PARAMS).fit(frame[FEATURES], frame["treatment"], frame["outcome"])
    flag = tmp_path / "killed"
    # Worker processes (behind nannies that restart them), so that one can really be killed.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as process_client:
        process_client.register_plugin(KillOnce(str(flag)), name="kill-once")
        # One death is within Dask's allowed failures: what the worker held is recomputed from its lineage.
        model = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), as_dask(frame), features=FEATURES,
                               client=process_client)
        assert flag.exists(), "no worker was killed: the test did not test anything"
        assert_same_tree(model, in_memory)
        # When Dask gives up on a task whose worker died, the fit fails clearly and the estimator stays unfitted.
        process_client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", 0))
        estimator = UpliftTreeClassifier(**TREE_PARAMS)
        deadly = dd.from_map(_kill_own_worker, range(1), meta=frame.iloc[:0])
        with pytest.raises(RuntimeError, match="workers died"):
            udask.fit_tree(estimator, deadly, features=FEATURES, client=process_client)
        assert not hasattr(estimator, "tree_") and not hasattr(estimator, "schema_")


# -- the design: propensity and cluster (issue 16) ----------------------------------------------------------
DESIGN_COLUMNS = [*FEATURES, "treatment", "outcome", "p", "store"]


def design_frame(n_rows: int, seed: int, cluster_randomized: bool = False) -> pd.DataFrame:
    """A stratified design: 80/20 treated in the first region, 50/50 elsewhere, ``p`` the probability of the
    arm each row received; stores of 20 consecutive rows (randomized as a whole when ``cluster_randomized``)."""
    frame = make_uplift_data(n_rows, random_state=seed)
    rng = np.random.default_rng(seed)
    store = np.arange(n_rows) // 20
    probability = np.where(frame["region"] == frame["region"].cat.categories[0], 0.8, 0.5)
    draw = rng.random(n_rows // 20)[store] if cluster_randomized else rng.random(n_rows)
    treated = draw < (0.5 if cluster_randomized else probability)
    frame["treatment"] = np.where(treated, "email", "control")
    frame["p"] = 0.5 if cluster_randomized else np.where(treated, probability, 1.0 - probability)
    frame["store"] = store
    return frame[DESIGN_COLUMNS]


def assert_same_segments(distributed, in_memory) -> None:
    expected, actual = in_memory.segments(), distributed.segments()
    for column in ("uplift", "ci_low", "ci_high", "p_value"):
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-9, atol=1e-12, err_msg=column)


def held_out_rows(model, ddf, frame, propensity, cluster) -> tuple[np.ndarray, tuple]:
    """The documented Dask holdout: each partition holds out its share with a generator seeded by the split
    seed and the partition number (whole clusters with ``cluster``); and the data as the core sees it."""
    split_rng = upliftree._base.spawn_generators(model.random_state, 3)[0]
    seed = int(split_rng.integers(2**63 - 1))
    schema, arms, data = model._prepare(frame.drop(columns=["treatment", "outcome"]), frame["treatment"],
                                        frame["outcome"], None, propensity=propensity, cluster=cluster)
    bounds = np.concatenate([[0], np.cumsum(ddf.map_partitions(len).compute().to_numpy())])
    held_out = np.zeros(len(frame), dtype=bool)
    for number, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        rows = slice(start, stop)
        part = upliftree.tree.ExperimentData(data.encoded[rows], data.arm[rows], data.y[rows], data.weight[rows],
                                             None if data.cluster is None else data.cluster[rows], data.design)
        held_out[rows] = upliftree.tree.honest_holdout(part, True, model.honest_fraction,
                                                       np.random.default_rng([seed, number]))
    return held_out, (schema, arms, data)


def core_reference(model, mapper, held_out, prepared):
    """The in-memory core on ``mapper``'s bins: grown on the rows not held out, estimated on the held-out ones."""
    schema, arms, data = prepared
    growth_rng = upliftree._base.spawn_generators(model.random_state, 3)[2]
    source = HistogramSource.of(mapper.transform(data.encoded), data.arm, data.weight, data.y, arms.n_arms,
                                mapper.missing_bin_ + 1, binary=True)
    structure = np.flatnonzero(~held_out)
    tree = grow_tree(source, mapper, structure, np.ones(len(structure), dtype=np.int32),
                     growth_params(model, schema.n_features, parallel=True), growth_rng)
    tree, n_merged = estimate_nodes(tree, data, model.min_samples_treatment, np.flatnonzero(held_out))
    model.fitted_state_ = FittedTree(FittedInputs(schema, arms.labels, "binary", mapper), tree, n_merged, True)
    return model


@pytest.mark.parametrize("propensity", ["p", 0.3, {"control": 0.6, "email": 0.4}])
def test_tree_with_propensity_is_the_in_memory_fit(client, propensity):
    frame = design_frame(4_800, 31).drop(columns=["store"] if propensity == "p" else ["store", "p"])
    # The design column is not a feature on either side.
    in_memory = UpliftTreeClassifier(**TREE_PARAMS).fit(frame.drop(columns=["treatment", "outcome"]),
                                                        frame["treatment"], frame["outcome"], propensity=propensity)
    distributed = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), as_dask(frame), propensity=propensity)
    assert distributed.tree_.has_design and in_memory.n_leaves_ >= 4
    assert list(distributed.feature_names_in_) == FEATURES
    assert_same_tree(distributed, in_memory)
    assert_same_segments(distributed, in_memory)
    if propensity == "p":  # the comparison can tell: without the weights the fit is another
        plain = udask.fit_tree(UpliftTreeClassifier(**TREE_PARAMS), as_dask(frame), features=FEATURES)
        with pytest.raises(AssertionError):
            assert_same_tree(plain, in_memory)


def test_honest_tree_with_propensity_is_the_core_on_the_partitions_holdout(client):
    frame = design_frame(4_800, 32).drop(columns=["store"])
    ddf = as_dask(frame, npartitions=3)
    params = {**TREE_PARAMS, "honest": True, "honest_fraction": 0.4, "random_state": 4}
    distributed = udask.fit_tree(UpliftTreeClassifier(**params), ddf, propensity="p")
    reference = UpliftTreeClassifier(**params)
    held_out, prepared = held_out_rows(reference, ddf, frame, "p", None)
    core_reference(reference, distributed.bin_mapper_, held_out, prepared)
    assert distributed.n_leaves_ >= 3 and distributed.tree_.has_design
    assert_same_tree(distributed, reference)
    assert_same_segments(distributed, reference)


def test_cluster_fit_is_the_in_memory_fit_and_holds_out_whole_clusters(client):
    frame = design_frame(4_800, 33, cluster_randomized=True)
    ddf = as_dask(frame)  # 1,200 rows a partition: 60 whole stores each
    params = {**TREE_PARAMS, "max_depth": 2, "min_samples_leaf": 400}
    in_memory = UpliftTreeClassifier(**params).fit(frame.drop(columns=["treatment", "outcome"]), frame["treatment"],
                                                   frame["outcome"], propensity="p", cluster="store")
    distributed = udask.fit_tree(UpliftTreeClassifier(**params), ddf, propensity="p", cluster="store")
    assert in_memory.n_leaves_ >= 2
    assert_same_tree(distributed, in_memory)
    assert_same_segments(distributed, in_memory)
    # Units are stores, not rows: 240 of them at the root.
    assert distributed.tree_.design_moments[0, :, 0].sum() == 240
    honest = {**params, "honest": True, "honest_fraction": 0.5, "random_state": 2}
    frame = frame.drop(columns=["p"])
    ddf = as_dask(frame)
    distributed = udask.fit_tree(UpliftTreeClassifier(**honest), ddf, cluster="store")
    reference = UpliftTreeClassifier(**honest)
    held_out, prepared = cluster_held_out_rows(reference, frame, None)
    by_store = pd.Series(held_out).groupby(frame["store"].to_numpy()).agg(["min", "max"])
    assert (by_store["min"] == by_store["max"]).all()  # whole stores
    assert abs(by_store["min"].sum() - 120) <= 1  # half the stores of every arm
    core_reference(reference, distributed.bin_mapper_, held_out, prepared)
    assert_same_tree(distributed, reference)
    assert distributed.tree_.design_moments[0, :, 0].sum() == by_store["min"].sum()


def cluster_held_out_rows(model, frame, propensity) -> tuple[np.ndarray, tuple]:
    """The documented Dask holdout with ``cluster="store"``: the in-memory fit's whole clusters (over all rows,
    drawn with the split generator); and the data as the core sees it."""
    split_rng = upliftree._base.spawn_generators(model.random_state, 3)[0]
    prepared = model._prepare(frame.drop(columns=["treatment", "outcome"]), frame["treatment"], frame["outcome"],
                              None, propensity=propensity, cluster="store")
    data = prepared[2]
    return upliftree.design.cluster_holdout(data.cluster, data.arm, model.honest_fraction, split_rng), prepared


@pytest.mark.parametrize("honest", [False, True])
def test_a_cluster_spanning_partitions_gives_the_in_memory_fit(client, honest):
    """Every store has rows in every partition: the stores' per-node totals are merged before they are squared,
    so the design moments (and intervals) are those of the in-memory fit, and of the fit partitioned by store."""
    frame = design_frame(4_800, 34, cluster_randomized=True)
    frame["store"] = np.arange(len(frame)) % 200
    treated_store = np.random.default_rng(34).random(200) < 0.5
    frame["treatment"] = np.where(treated_store[frame["store"]], "email", "control")
    params = {**TREE_PARAMS, "max_depth": 2, "min_samples_leaf": 400, "honest": honest, "random_state": 5}
    ddf = as_dask(frame, npartitions=3)
    distributed = udask.fit_tree(UpliftTreeClassifier(**params), ddf, propensity="p", cluster="store")
    assert distributed.tree_.has_design and distributed.n_leaves_ >= 2
    if honest:
        reference = UpliftTreeClassifier(**params)
        held_out, prepared = cluster_held_out_rows(reference, frame, "p")
        core_reference(reference, distributed.bin_mapper_, held_out, prepared)
    else:
        reference = UpliftTreeClassifier(**params).fit(frame.drop(columns=["treatment", "outcome"]),
                                                       frame["treatment"], frame["outcome"], propensity="p",
                                                       cluster="store")
        assert distributed.tree_.design_moments[0, :, 0].sum() == 200  # stores, not rows or partitions' parts
    assert_same_tree(distributed, reference)
    assert_same_segments(distributed, reference)
    shuffled = udask.fit_tree(UpliftTreeClassifier(**params), ddf.shuffle(on="store"), propensity="p",
                              cluster="store")
    np.testing.assert_allclose(shuffled.tree_.design_moments, distributed.tree_.design_moments, rtol=1e-9)
    # Summing each partition's own moments instead (a store's parts as separate units) would differ.
    if not honest:
        parts = np.zeros_like(distributed.tree_.design_moments)
        data = reference._prepare(frame.drop(columns=["treatment", "outcome"]), frame["treatment"], frame["outcome"],
                                  None, propensity="p", cluster="store")[2]
        leaves = distributed.tree_.apply(data.encoded)
        for rows in np.array_split(np.arange(len(frame)), 3):
            parts += upliftree.design.design_moments(distributed.tree_.parent, leaves[rows], data.arm[rows],
                                                     data.weight[rows], data.y[rows], data.cluster[rows], 2)
        assert not np.allclose(parts, distributed.tree_.design_moments)


def test_forest_with_a_design_is_the_in_memory_forest(client):
    frame = design_frame(4_800, 35, cluster_randomized=True)
    frame["p"] = design_frame(4_800, 35)["p"].to_numpy()  # any probabilities: the fits must agree on them
    params = {**FOREST_PARAMS, "n_estimators": 4, "min_samples_leaf": 100, "max_features": "sqrt", "honest": True,
              "random_state": 3}
    features = frame.drop(columns=["treatment", "outcome"])
    for design in ({"propensity": "p"}, {"propensity": "p", "cluster": "store"}):
        in_memory = UpliftRandomForestClassifier(**params).fit(features, frame["treatment"], frame["outcome"],
                                                               **design)
        distributed = udask.fit_forest(UpliftRandomForestClassifier(**params), as_dask(frame, npartitions=3),
                                       **design)
        for distributed_tree, in_memory_tree in zip(distributed.estimators_, in_memory.estimators_, strict=True):
            assert_same_tree(distributed_tree, in_memory_tree)
    # Whole stores held out: the cluster fit's estimation rows differ from the row-wise fit's.
    plain = udask.fit_forest(UpliftRandomForestClassifier(**params), as_dask(frame, npartitions=3), propensity="p")
    assert not tree_arrays_equal(plain, distributed)


def test_bad_designs_are_refused_naming_the_argument(client):
    frame = design_frame(2_400, 36)
    ddf = as_dask(frame)
    model = UpliftTreeClassifier(**TREE_PARAMS)
    with pytest.raises(TypeError, match="propensity must be a number, a dict .* or the name of a column"):
        udask.fit_tree(model, ddf, propensity=frame["p"].to_numpy())
    with pytest.raises(TypeError, match="cluster must be the name of a column"):
        udask.fit_tree(model, ddf, cluster=frame["store"].to_numpy())
    with pytest.raises(ValueError, match="propensity='q' is not a column"):
        udask.fit_tree(model, ddf, propensity="q")
    with pytest.raises(ValueError, match="cluster='shop' is not a column"):
        udask.fit_tree(model, ddf, cluster="shop")
    with pytest.raises(ValueError, match=r"propensity column 'p' holds 1 value\(s\) outside \(0, 1\]"):
        udask.fit_tree(model, as_dask(frame.assign(p=np.where(np.arange(2_400) == 7, 1.5, frame["p"]))),
                       propensity="p")
    with pytest.raises(ValueError, match="propensity=1.2 must be in"):
        udask.fit_tree(model, ddf, propensity=1.2)
    with pytest.raises(ValueError, match=r"propensity has no probability for arm\(s\) \['email'\]"):
        udask.fit_tree(model, ddf, propensity={"control": 0.5})
    with pytest.raises(ValueError, match="cluster has 1 missing id"):
        udask.fit_tree(model, as_dask(frame.assign(store=frame["store"].where(np.arange(2_400) != 3))),
                       cluster="store")
    with pytest.raises(ValueError, match="features must not include"):
        udask.fit_tree(model, ddf, features=[*FEATURES, "p"], propensity="p")
