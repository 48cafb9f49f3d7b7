"""Fit and score uplift trees and forests on a Dask cluster (``pip install upliftree[dask]``).

One tree grows from a ``dask.dataframe`` by histogram aggregation, so the rows never meet in one place:

1. a summary pass over the partitions: arm labels and sizes, missing values, and a
   :class:`upliftree.binning.QuantileSketch` of each partition's numeric features (the sample keys of a
   partition's rows are seeded by its number); the summaries merge on the workers and the bins come from the
   merged sketch as the in-memory fit's come from its one-chunk sketch;
2. every partition is binned once and kept on its worker with the row indices of the nodes being split;
3. the in-memory ``TreeGrower`` grows the tree from a node source that hands it a level at a time: each
   partition builds the histograms the grower asks for with the compiled kernels of the in-memory grower,
   the histograms are summed on the workers (tree reduction), the client picks and records the splits, and
   the partitions move their rows to the children;
4. one more pass routes the estimation rows through the tree; the node statistics (and with ``propensity``
   or ``cluster`` the design moments of the clusters within one partition, and the per-node totals of the
   clusters spanning partitions, merged before they are squared) are summed and short leaves merged as
   :func:`upliftree._tree_arrays.estimate_nodes` does.

Forests grow on the workers: consecutive partitions form groups of about ``rows_per_group`` rows, and
each group, concatenated on one worker, grows the trees assigned to it by tree index. Scoring maps
the in-memory ``predict``/``apply``/``decide`` over partitions. See ``docs/dask.md``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

try:
    import dask
    import dask.dataframe as dd
    from distributed import Client, KilledWorker, get_client
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("upliftree.dask needs dask: pip install 'upliftree[dask]'") from error

from ._base import BINARY, CONTINUOUS, FOREST, UpliftModel, model_kind, spawn_generators
from ._grower import GrowthParams, HistogramSource, RowSplit, TreeGrower
from ._params import check_int, check_n_jobs
from ._tree_arrays import COUNT, N_STATS, WEIGHT, WEIGHTED_Y, TreeArrays, estimated, merge_short_leaves
from ._validation import (
    Arms,
    FeatureSchema,
    arm_codes,
    check_arm_sizes,
    check_arm_totals,
    check_statistic_totals,
    design_weights,
    encode_features,
    infer_schema,
    missing_per_feature,
    statistic_totals,
    validate_cluster,
    validate_outcome,
    validate_propensity,
    validate_sample_weight,
    validate_treatment,
)
from .binning import QUANTILE_SUBSAMPLE, BinMapper, QuantileSketch, thresholds_from_bin_edges
from .design import held_out_clusters, moments_of_unit_totals, unit_totals
from .forest import BaseUpliftForest, fitted_forest, grow_trees
from .tree import (
    BaseUpliftTree,
    ExperimentData,
    FittedInputs,
    FittedTree,
    growth_params,
    honest_holdout,
    max_row_draws,
)

FAN_IN = 8  # partial results combined per reduction task


# -- inputs ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Columns:
    features: tuple
    treatment: Any
    outcome: Any
    sample_weight: Any
    propensity: Any = None  # a number, a dict {arm: probability} or the column of the received arm's probability
    cluster: Any = None  # the column of the cluster ids

    @property
    def design(self) -> bool:
        """Whether the fit was given the design (``propensity`` or ``cluster``): trees carry design moments."""
        return self.propensity is not None or self.cluster is not None

    @property
    def propensity_column(self) -> Any:
        return self.propensity if isinstance(self.propensity, str) else None


@dataclass(frozen=True)
class _Context:
    """What a partition task needs to turn its rows into the core's arrays."""

    columns: _Columns
    schema: FeatureSchema
    binary: bool
    labels: tuple = ()
    bin_mapper: BinMapper | None = None
    holdout: tuple[int, float] | None = None  # seed and fraction of the honest split
    held_out_clusters: np.ndarray | None = None  # with cluster: ids of the clusters the honest split holds out
    spanning_clusters: np.ndarray | None = None  # ids of the clusters with rows in more than one partition


def _client(client: Any) -> Client:
    if client is None:
        try:
            return get_client()
        except ValueError:
            raise ValueError("no Dask client: pass client=distributed.Client(...) or create one first") from None
    if not isinstance(client, Client):
        raise TypeError(f"client must be a distributed.Client or None, got {type(client).__name__}")
    return client


def _columns(ddf: Any, treatment: Any, outcome: Any, features: Any, sample_weight: Any, propensity: Any,
             cluster: Any) -> _Columns:
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"ddf must be a dask.dataframe.DataFrame, got {type(ddf).__name__}")
    if isinstance(propensity, bool) or not (propensity is None or isinstance(propensity, (str, Real, dict))):
        raise TypeError(f"propensity must be a number, a dict {{arm: probability}} or the name of a column of ddf "
                        f"(arrays cannot follow its partitions), got {type(propensity).__name__}")
    if not (cluster is None or isinstance(cluster, str)):
        raise TypeError(f"cluster must be the name of a column of ddf (arrays cannot follow its partitions), got "
                        f"{type(cluster).__name__}")
    available = list(ddf.columns)
    roles = {"treatment": treatment, "outcome": outcome, "sample_weight": sample_weight,
             "propensity": propensity if isinstance(propensity, str) else None, "cluster": cluster}
    for argument, column in roles.items():
        if column is not None and column not in available:
            raise ValueError(f"{argument}={column!r} is not a column of ddf; columns: {available}")
    reserved = [column for column in roles.values() if column is not None]
    if features is None:
        features = [column for column in available if column not in reserved]
    else:
        features = list(features)
        unknown = [column for column in features if column not in available]
        if unknown:
            raise ValueError(f"features {unknown} are not columns of ddf; columns: {available}")
        overlap = [column for column in features if column in reserved]
        if overlap:
            raise ValueError(f"features must not include the treatment, outcome, sample_weight, propensity or "
                             f"cluster columns {overlap}")
    if not features:
        raise ValueError("ddf has no feature columns besides treatment, outcome, sample_weight, propensity and "
                         "cluster")
    return _Columns(tuple(features), treatment, outcome, sample_weight, propensity, cluster)


def _schema(ddf: Any, columns: _Columns, max_bins: int) -> FeatureSchema:
    """Feature kinds and category lists from the frame's dtypes: no data is read.

    Which features have missing values is not known from the dtypes; the summary pass over the partitions
    finds it (see :func:`_setup`).
    """
    meta = ddf._meta[list(columns.features)]
    for name, dtype in meta.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            if not ddf[name].cat.known:
                raise ValueError(f"Column {name!r} is categorical with unknown categories; call "
                                 f"ddf = ddf.categorize(columns=[{name!r}]) before fitting")
        elif not (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)):
            raise TypeError(f"Column {name!r} has dtype {dtype}; on a dask frame a categorical feature needs the "
                            f"category dtype with known categories: ddf = ddf.categorize(columns=[{name!r}])")
        if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) > max_bins:
            # Pooling keeps the most frequent categories, which the dtypes alone cannot tell.
            raise ValueError(f"Column {name!r} has {len(dtype.categories)} categories, more than max_bins={max_bins}; "
                             "pooling rare categories is not supported on Dask yet: pass fewer categories (group "
                             "the rare ones, e.g. into an 'other' value) or encode the column numerically")
    return infer_schema(meta, max_categories=max_bins)


def _outcome_and_weight(frame: pd.DataFrame, context: _Context) -> tuple[np.ndarray, np.ndarray]:
    columns = context.columns
    y = validate_outcome(frame[columns.outcome].to_numpy(), len(frame), context.binary, f"outcome={columns.outcome!r}")
    weight = None if columns.sample_weight is None else frame[columns.sample_weight].to_numpy()
    return y, validate_sample_weight(weight, len(frame), f"sample_weight={columns.sample_weight!r}")


def _factorized_labels(frame: pd.DataFrame, context: _Context) -> tuple[np.ndarray, np.ndarray]:
    """Treatment label codes of the rows and the labels they index (labels compared once each, not per row)."""
    codes, labels = pd.factorize(frame[context.columns.treatment], use_na_sentinel=False)
    return codes, np.array(labels.tolist(), dtype=object)


def _partition_data(frame: pd.DataFrame, context: _Context) -> ExperimentData:
    """One partition as the in-memory core sees its data: design weights ``sample_weight / p(received arm)``
    and, with ``cluster``, the codes of the partition's cluster ids (of its own rows only)."""
    columns = context.columns
    y, weight = _outcome_and_weight(frame, context)
    codes, labels = _factorized_labels(frame, context)
    arm = arm_codes(labels, context.labels)[codes]
    weight = design_weights(y, weight, columns.propensity, Arms(arm, context.labels), frame, 1,
                            f"outcome={columns.outcome!r}")
    return ExperimentData(encode_features(frame, context.schema), arm, y, weight,
                          validate_cluster(columns.cluster, len(frame), frame), columns.design)


def _held_out(frame: pd.DataFrame, data: ExperimentData, partition: int, context: _Context) -> np.ndarray:
    """Honest estimation rows of a partition: the same rows on every pass (seeded by partition number); with
    ``cluster``, the rows of the clusters chosen on the client over all partitions (:func:`_cluster_layout`)."""
    if context.holdout is None:
        return np.zeros(len(data.arm), dtype=np.bool_)
    if context.held_out_clusters is not None:
        return frame[context.columns.cluster].isin(context.held_out_clusters).to_numpy()
    seed, fraction = context.holdout
    return honest_holdout(data, context.binary, fraction, np.random.default_rng([seed, partition]))


def _cluster_arm_rows(frame: pd.DataFrame, context: _Context) -> pd.DataFrame | None:
    """Rows per cluster id (index) and treatment label (columns) of a partition; None without ``cluster``."""
    cluster = context.columns.cluster
    if cluster is None:
        return None
    validate_cluster(cluster, len(frame), frame)  # missing ids fail here, naming the argument
    id_codes, ids = pd.factorize(frame[cluster], use_na_sentinel=False)
    codes, labels = _factorized_labels(frame, context)
    rows = np.bincount(id_codes * len(labels) + codes, minlength=len(ids) * len(labels)).reshape(len(ids), -1)
    return pd.DataFrame(rows, index=pd.Index(np.array(ids.tolist(), dtype=object)),
                        columns=pd.Index(np.array(labels.tolist(), dtype=object)))


# -- summary pass: arms, missing values, the binning sketch ---------------------------------------------------
@dataclass
class _Summary:
    """Mergeable facts about some partitions' rows."""

    # label -> [count, weight, weighted outcome, *statistic_totals]: the totals bound the node statistics and are
    # checked once for all partitions. Weights are design weights when the propensity is a column; a number or a
    # dict divides each arm's sums on the client, once the arms are known (see _setup).
    arm_sums: dict
    sketch: QuantileSketch  # of the numeric features whose thresholds the fit must find
    has_missing: np.ndarray  # per feature: whether some row has a missing value (a NaN once encoded)
    has_zero_weight: bool  # some row weighs 0: trees then build every child's histograms (see TreeGrower)
    cluster_rows: pd.DataFrame | None  # rows per cluster id and treatment label (None without cluster)
    spanning: np.ndarray  # ids of the clusters found in more than one of the partitions merged


def _summarize_partition(frame: pd.DataFrame, partition: int, context: _Context, sketched: np.ndarray,
                         max_bins: int, seed: int) -> _Summary:
    columns = context.columns
    y, weight = _outcome_and_weight(frame, context)
    codes, labels = _factorized_labels(frame, context)
    if columns.propensity_column is not None:
        # The received arm's probability needs no arm order: the partition's own labels do.
        weight = design_weights(y, weight, columns.propensity_column, Arms(codes, tuple(labels)), frame, 1,
                                f"outcome={columns.outcome!r}")
    sums = [np.bincount(codes, weights=values, minlength=len(labels)) for values in (None, weight, weight * y)]
    arm_sums = {label: np.array([*(column[code] for column in sums),
                                 *statistic_totals(y[codes == code], weight[codes == code])])
                for code, label in enumerate(labels)}
    encoded = encode_features(frame, context.schema)
    # Sample keys seeded by partition number: the same on every pass, whichever worker runs it.
    keys = np.random.default_rng([seed, partition]).random(len(frame))
    sketch = QuantileSketch.of_rows(encoded, sketched, keys, max_bins, QUANTILE_SUBSAMPLE)
    return _Summary(arm_sums, sketch, np.array(missing_per_feature(encoded), dtype=np.bool_),
                    bool((weight == 0.0).any()), _cluster_arm_rows(frame, context), np.zeros(0, dtype=object))


def _merge_cluster_rows(summaries: list[_Summary]) -> tuple[pd.DataFrame | None, np.ndarray]:
    """The summaries' rows per cluster and label added up, and the ids found in more than one partition."""
    spanning = [summary.spanning for summary in summaries]
    if summaries[0].cluster_rows is None:
        return None, np.zeros(0, dtype=object)
    stacked = pd.concat([summary.cluster_rows for summary in summaries]).fillna(0)
    spanning.append(np.array(stacked.index[stacked.index.duplicated()].unique().tolist(), dtype=object))
    merged = stacked.groupby(level=0, sort=False).sum().astype(np.int64)
    return merged, np.array(pd.unique(np.concatenate(spanning)).tolist(), dtype=object)


def _merge_summaries(summaries: list[_Summary]) -> _Summary:
    arm_sums: dict = defaultdict(lambda: 0.0)
    for summary in summaries:
        for label, sums in summary.arm_sums.items():
            arm_sums[label] = arm_sums[label] + sums
    has_missing = np.logical_or.reduce([summary.has_missing for summary in summaries])
    return _Summary(dict(arm_sums), QuantileSketch.merge([summary.sketch for summary in summaries]), has_missing,
                    any(summary.has_zero_weight for summary in summaries), *_merge_cluster_rows(summaries))


def _sum_arrays(arrays: list[np.ndarray]) -> np.ndarray:
    total = arrays[0].copy()
    for array in arrays[1:]:
        total += array
    return total


def _tree_reduce(client: Client, futures: list, combine, *args) -> Any:
    """``combine`` applied over ``futures`` in a tree of tasks on the workers; the result on the client."""
    while len(futures) > 1:
        futures = [client.submit(combine, futures[start:start + FAN_IN], *args)
                   for start in range(0, len(futures), FAN_IN)]
    return futures[0].result()


def _map_partitions(client: Client, ddf: Any, function, *args) -> list:
    """Futures of ``function(partition, partition_number, *args)``, one per partition, on the workers."""
    tasks = [dask.delayed(function)(part, number, *args) for number, part in enumerate(ddf.to_delayed())]
    return client.compute(tasks)


@dataclass(frozen=True)
class _Setup:
    client: Client
    context: _Context
    n_rows: int
    arm_sums: np.ndarray  # (n_arms, 4): count, design weight, weighted outcome, weighted squared outcome
    has_zero_weight: bool
    clusters: _ClusterLayout | None = None


@dataclass(frozen=True)
class _ClusterLayout:
    """Every cluster over all partitions: ids in the order of their codes (sorted ids, as the in-memory fit
    codes them), rows per arm (arms in the estimator's order), and the ids found in more than one partition."""

    ids: np.ndarray
    rows_by_arm: np.ndarray
    spanning: np.ndarray


def _cluster_layout(rows: pd.DataFrame, spanning: np.ndarray, labels: tuple) -> _ClusterLayout:
    codes = validate_cluster(rows.index.to_numpy(), len(rows))
    ids = np.empty(len(rows), dtype=object)
    ids[codes] = rows.index.to_numpy()
    by_label = rows.reindex(columns=pd.Index(np.array(list(labels), dtype=object)), fill_value=0).to_numpy()
    rows_by_arm = np.zeros_like(by_label)
    rows_by_arm[codes] = by_label
    return _ClusterLayout(ids, rows_by_arm, spanning)


def _check_estimator(estimator: Any, kind: type, names: str) -> None:
    if not isinstance(estimator, kind):
        raise TypeError(f"estimator must be an {names}, got {type(estimator).__name__}")


def _setup(estimator: UpliftModel, ddf: Any, client: Client | None, treatment: Any, outcome: Any, features: Any,
           sample_weight: Any, propensity: Any, cluster: Any, bin_edges: Any,
           binning_rng: np.random.Generator) -> _Setup:
    """Client, schema, arm labels and bins of a distributed fit (one pass over the data)."""
    client = _client(client)
    columns = _columns(ddf, treatment, outcome, features, sample_weight, propensity, cluster)
    max_bins = estimator.max_bins
    schema = _schema(ddf, columns, max_bins)
    thresholds = thresholds_from_bin_edges(bin_edges, schema, max_bins)
    sketched = np.array([index for index, (edges, cats) in enumerate(zip(thresholds, schema.categories, strict=True))
                         if edges is None and cats is None], dtype=np.int64)
    context = _Context(columns, schema, estimator.outcome_type == BINARY)
    seed = int(binning_rng.integers(2**63 - 1))
    summaries = _map_partitions(client, ddf, _summarize_partition, context, sketched, max_bins, seed)
    summary = _tree_reduce(client, summaries, _merge_summaries)
    n_rows = summary.sketch.n_rows
    if n_rows == 0:
        raise ValueError("ddf has no rows")
    arms = validate_treatment(np.array(list(summary.arm_sums), dtype=object), estimator.control,
                              len(summary.arm_sums))
    arm_sums = np.array([summary.arm_sums[label] for label in arms.labels])
    if columns.propensity is not None and columns.propensity_column is None:
        # A number or a dict: each arm's probability, checked as in memory (one "row" per arm).
        n_arms = len(arms.labels)
        arm_probability = validate_propensity(columns.propensity, arms.labels, np.arange(n_arms), n_arms).received
        # Sums of w, w y, w, w|y|, w y^2 scale by 1/p and the sum of w^2 by 1/p^2; counts do not.
        arm_sums[:, 1:-1] /= arm_probability[:, None]
        arm_sums[:, -1] /= arm_probability * arm_probability
    weight_name = None if columns.sample_weight is None else f"sample_weight={columns.sample_weight!r}"
    if columns.propensity is not None:
        weight_name = "sample_weight / propensity"
    check_statistic_totals(arm_sums[:, 3:].sum(axis=0), max_row_draws(estimator, n_rows),
                           f"outcome={columns.outcome!r}", weight_name)
    arm_sums = arm_sums[:, [0, 1, 2, 5]]  # count, w, w y and w y^2: the node statistics' first four columns
    check_arm_totals(arms.labels, arm_sums[:, COUNT], arm_sums[:, WEIGHT], estimator.min_samples_treatment,
                     "treatment")
    for feature, edges in zip(sketched, summary.sketch.thresholds(), strict=True):
        thresholds[feature] = edges
    # Missing values per feature over all partitions, from the same pass (the dtypes cannot tell).
    schema = schema.with_missing(summary.has_missing)
    bin_mapper = BinMapper.from_thresholds(schema, thresholds, max_bins)
    context = replace(context, schema=schema, labels=arms.labels, bin_mapper=bin_mapper)
    clusters = None
    if summary.cluster_rows is not None:
        clusters = _cluster_layout(summary.cluster_rows, summary.spanning, arms.labels)
        context = replace(context, spanning_clusters=clusters.spanning if len(clusters.spanning) else None)
    return _Setup(client, context, n_rows, arm_sums, summary.has_zero_weight, clusters)


def _fitted_inputs(context: _Context) -> FittedInputs:
    return FittedInputs(context.schema, context.labels, BINARY if context.binary else CONTINUOUS, context.bin_mapper)


def _fit_failed(name: str, error: Exception) -> RuntimeError:
    return RuntimeError(f"{name} failed: Dask workers died while running its tasks ({error}). The estimator was "
                        "left unchanged; check the workers' memory and logs, then fit again")


# -- one tree ----------------------------------------------------------------------------------------------
ROOT_KEY = 0  # key of the root's sample in every partition


@dataclass(frozen=True)
class _GrowingPartition:
    """A partition's binned rows, kept on its worker while the tree grows, and each open node's sample
    (rows and their counts, all 1 here) by key."""

    source: HistogramSource
    node_samples: dict


def _bin_partition(frame: pd.DataFrame, partition: int, context: _Context) -> _GrowingPartition:
    data = _partition_data(frame, context)
    structure_rows = np.flatnonzero(~_held_out(frame, data, partition, context))
    source = HistogramSource.of(context.bin_mapper.transform(data.encoded), data.arm, data.weight, data.y,
                                len(context.labels), context.bin_mapper.missing_bin_ + 1, context.binary)
    return _GrowingPartition(source, {ROOT_KEY: (structure_rows, np.ones(len(structure_rows), dtype=np.int32))})


def _move_rows(part: _GrowingPartition, routes: list) -> _GrowingPartition:
    """Rows of the split nodes moved to their children ``[(key, feature, left_bins, left key, right key)]``;
    the other nodes' samples are dropped."""
    node_samples = {}
    for key, feature, left_bins, left_key, right_key in routes:
        node_samples[left_key], node_samples[right_key] = part.source.partition(part.node_samples[key], feature,
                                                                                left_bins)
    return replace(part, node_samples=node_samples)


def _node_histograms(part: _GrowingPartition, requests: list) -> np.ndarray:
    """The partition's histograms of every ``(key, features)`` request, stacked."""
    return np.stack(part.source.histograms([(part.node_samples[key], features) for key, features in requests],
                                           parallel=False))


class _PartitionSamples:
    """The :class:`~upliftree._grower.TreeGrower`'s node source on Dask: every open node of a level at once.

    The samples stay on the workers (``_GrowingPartition``, named by key); a level's histograms are built
    on every partition and summed in a tree of tasks, and the client gets one array per level.
    """

    level_wise = True

    def __init__(self, client: Client, parts: list, n_features: int, n_arms: int, has_zero_weight: bool) -> None:
        self.client = client
        self.parts = parts
        self.n_features = n_features
        self.n_arms = n_arms
        self.has_zero_weight = has_zero_weight
        self._n_keys = ROOT_KEY + 1

    def histograms(self, requests: list, parallel: bool) -> list[np.ndarray]:
        partial = [self.client.submit(_node_histograms, part, requests) for part in self.parts]
        return list(_tree_reduce(self.client, partial, _sum_arrays))

    def split(self, splits: list[RowSplit]) -> list[tuple[int, int, int, int]]:
        # Every row of a partition is one entry of count 1: a child's entries are the rows drawn into it.
        keys = [(self._n_keys + 2 * index, self._n_keys + 2 * index + 1) for index in range(len(splits))]
        self._n_keys += 2 * len(splits)
        routes = [(split.sample, split.feature, split.left_bins, *pair)
                  for split, pair in zip(splits, keys, strict=True)]
        self.parts = [self.client.submit(_move_rows, part, routes) for part in self.parts]
        return [(*pair, *split.rows_drawn) for split, pair in zip(splits, keys, strict=True)]


def _grow(client: Client, parts: list, bin_mapper: BinMapper, n_arms: int, params: GrowthParams,
          rng: np.random.Generator, has_zero_weight: bool) -> TreeArrays:
    """The tree grown by the in-memory grower from the partitions' histograms."""
    source = _PartitionSamples(client, parts, len(bin_mapper.n_bins_non_missing_), n_arms, has_zero_weight)
    return TreeGrower.uplift(source, bin_mapper, params, rng).grow(ROOT_KEY)


def _estimation_statistics(frame: pd.DataFrame, partition: int, context: _Context,
                           tree: TreeArrays) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Node statistics of a partition's estimation rows (the held-out rows when honest, else all), and with a
    design their design moments after them on the last axis; with clusters spanning partitions, those clusters'
    per-(node, cluster) totals instead of their moments (see :func:`_merge_estimates`).

    Moments are sums over units of squared unit totals: those of rows, and of clusters within this partition,
    add up over partitions as the statistics do; a spanning cluster's totals must be complete first.
    """
    data = _partition_data(frame, context)
    held_out = _held_out(frame, data, partition, context)
    rows = np.flatnonzero(held_out) if context.holdout is not None else np.arange(len(data.arm))
    if context.spanning_clusters is None:
        estimates = estimated(tree, data, rows)
        return np.concatenate([estimates.stats, estimates.design_moments], axis=2), None
    ids = frame[context.columns.cluster].to_numpy()[rows]
    spans = pd.Index(ids).isin(context.spanning_clusters)
    local, shared = rows[~spans], rows[spans]
    estimates = estimated(tree, data, local)
    leaves = tree.apply(data.encoded[shared])
    shared_stats = tree.leaf_statistics(leaves, shared, data.arm, data.weight, data.y)
    id_codes, shared_ids = pd.factorize(ids[spans], use_na_sentinel=False)
    node, unit, *totals = unit_totals(tree.parent, leaves, data.arm[shared], data.weight[shared], data.y[shared],
                                      id_codes, tree.n_arms)
    statistics = np.concatenate([estimates.stats + shared_stats, estimates.design_moments], axis=2)
    return statistics, _totals_frame(node, np.array(shared_ids.tolist(), dtype=object)[unit], totals)


def _totals_frame(node: np.ndarray, ids: np.ndarray, totals: list[np.ndarray]) -> pd.DataFrame:
    """Per-(node, cluster id) totals (``rows``, ``weight``, ``weighted_y``, one column per arm) as a frame."""
    n_arms = totals[0].shape[1]
    columns = {f"{name}_{arm}": values[:, arm] for name, values in zip(("rows", "weight", "weighted_y"), totals,
                                                                        strict=True) for arm in range(n_arms)}
    return pd.DataFrame({"node": node, "id": ids, **columns})


def _merge_estimates(parts: list[tuple[np.ndarray, pd.DataFrame | None]]) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Statistics and moments summed; spanning clusters' totals added up per (node, cluster id)."""
    statistics = _sum_arrays([part[0] for part in parts])
    frames = [part[1] for part in parts if part[1] is not None]
    if not frames:
        return statistics, None
    return statistics, pd.concat(frames).groupby(["node", "id"], sort=False, as_index=False).sum()


def fit_tree(estimator: BaseUpliftTree, ddf: Any, treatment: Any = "treatment", outcome: Any = "outcome",
             features: Any = None, sample_weight: Any = None, client: Client | None = None,
             bin_edges: Any = None, *, propensity: Any = None, cluster: Any = None) -> BaseUpliftTree:
    """Fit ``estimator`` (an unfitted ``UpliftTreeClassifier``/``Regressor``) on a dask DataFrame.

    Parameters
    ----------
    estimator : UpliftTreeClassifier or UpliftTreeRegressor
        Its parameters are used; it is fitted in place and returned, an ordinary fitted estimator.
    ddf : dask.dataframe.DataFrame
        Categorical features need the ``category`` dtype with known categories (``ddf.categorize()``).
    treatment, outcome : column names
        Arm labels (``estimator.control`` is the control label) and outcome.
    features : list of column names, optional
        Default: every other column.
    sample_weight : column name, optional
    client : distributed.Client, optional
        Default: the current client.
    bin_edges : BinMapper or dict, optional
        A fitted ``BinMapper`` (e.g. another model's ``bin_mapper_``) or ``{numeric feature: thresholds}``;
        other numeric features get exact bins (at most ``max_bins`` distinct values) or quantile edges of a
        uniform sample of ``QUANTILE_SUBSAMPLE`` rows, like the in-memory fit.
    propensity : number, dict or column name, optional
        The known probability of assignment, as in the in-memory ``fit``: a number (the treatment's, two
        arms), a dict ``{arm: probability}``, or a column holding the probability of the arm each row
        received. Rows weigh ``sample_weight / p``.
    cluster : column name, optional
        The unit of randomization. The honest split then holds out whole clusters (chosen on the client over
        all partitions, as the in-memory fit chooses them). A cluster may have rows in several partitions: its
        per-node totals are then gathered and merged before its moments are formed, so partitioning by cluster
        (``ddf.shuffle(on=cluster)``) only saves that traffic.

    With ``honest=True`` each partition holds out ``honest_fraction`` of its rows (stratified as in memory) for
    estimation; with ``cluster``, ``honest_fraction`` of all clusters of every arm are held out. With
    ``propensity`` or ``cluster`` the node table carries design moments, summed over partitions. On the same
    bins and rows the tree equals the
    in-memory fit's (feature sampling included: a node's features are drawn from its path, whatever the order
    nodes grow in); the design columns are not features.
    """
    _check_estimator(estimator, BaseUpliftTree, "UpliftTreeClassifier or UpliftTreeRegressor")
    estimator.check_params()
    split_rng, binning_rng, growth_rng = spawn_generators(estimator.random_state, 3)
    try:
        setup = _setup(estimator, ddf, client, treatment, outcome, features, sample_weight, propensity, cluster,
                       bin_edges, binning_rng)
        client, context = setup.client, setup.context
        if estimator.honest:
            if setup.clusters is not None:
                # Whole clusters over all partitions, drawn as the in-memory fit draws them (split_rng first).
                held = held_out_clusters(setup.clusters.rows_by_arm, estimator.honest_fraction, split_rng)
                context = replace(context, held_out_clusters=setup.clusters.ids[held])
            context = replace(context, holdout=(int(split_rng.integers(2**63 - 1)), estimator.honest_fraction))
        parts = _map_partitions(client, ddf, _bin_partition, context)
        n_growing = (1.0 - estimator.honest_fraction) * setup.n_rows if estimator.honest else setup.n_rows
        min_samples_leaf = estimator.resolve_min_samples_leaf(setup.arm_sums, n_growing, bool(estimator.honest))
        params = growth_params(estimator, context.schema.n_features, False, min_samples_leaf)
        tree = _grow(client, parts, context.bin_mapper, len(context.labels), params, growth_rng,
                     setup.has_zero_weight)
        structure_totals = tree.stats[0]
        del parts  # release the binned partitions on the workers
        statistics, spanning_totals = _tree_reduce(
            client, _map_partitions(client, ddf, _estimation_statistics, context, tree), _merge_estimates)
        moments = statistics[..., N_STATS:]
        if spanning_totals is not None:
            columns = [[f"{name}_{arm}" for arm in range(len(context.labels))]
                       for name in ("rows", "weight", "weighted_y")]
            moments = moments + moments_of_unit_totals(spanning_totals["node"].to_numpy(),
                                                       *(spanning_totals[names].to_numpy(np.float64)
                                                         for names in columns), tree.n_nodes)
        tree = tree.with_stats(statistics[..., :N_STATS], None, moments)
    except KilledWorker as error:
        raise _fit_failed("fit_tree", error) from error
    n_structure, n_estimation = int(structure_totals[:, COUNT].sum()), int(tree.stats[0, :, COUNT].sum())
    if not (n_structure + n_estimation == setup.n_rows if estimator.honest
            else n_structure == n_estimation == setup.n_rows):
        raise RuntimeError(f"ddf gave {setup.n_rows} rows on one pass but {n_structure} structure and "
                           f"{n_estimation} estimation rows on others; its partitions must be deterministic "
                           "(persist it, or seed its random generation)")
    if estimator.honest:
        for part, totals in (("structure", structure_totals), ("estimation", tree.stats[0])):
            check_arm_totals(context.labels, totals[:, COUNT], totals[:, WEIGHT], estimator.min_samples_treatment,
                             f"treatment ({part} rows of the honest split)")
    tree, n_merged = merge_short_leaves(tree, estimator.min_samples_treatment)
    estimator.fitted_state_ = FittedTree(_fitted_inputs(context), tree, n_merged, bool(estimator.honest),
                                         min_samples_leaf=min_samples_leaf)
    return estimator


# -- forests -----------------------------------------------------------------------------------------------
ROWS_PER_GROUP = 1_000_000  # default rows_per_group of fit_forest


def _group_bounds(rows_per_part: list[int], rows_per_group: int) -> np.ndarray:
    """Partition numbers where the groups of ``fit_forest`` start, and the number of partitions last.

    A group of consecutive partitions closes at the first partition that brings it to ``rows_per_group``
    rows; partitions left over with fewer rows join the last group (or form the only one).
    """
    bounds, n_rows = [0], 0
    for number, n_part_rows in enumerate(rows_per_part, start=1):
        n_rows += n_part_rows
        if n_rows >= rows_per_group:
            bounds.append(number)
            n_rows = 0
    if bounds[-1] < len(rows_per_part):
        if len(bounds) > 1:
            bounds.pop()
        bounds.append(len(rows_per_part))
    return np.array(bounds)


def _grow_group_trees(forest: BaseUpliftForest, parts: list, first_partition: int, context: _Context,
                      tree_rngs: list, arm_mean: np.ndarray) -> list:
    """Grow trees on the rows of a group of partitions, exactly as the in-memory forest grows its trees."""
    data = ExperimentData(*(np.concatenate([getattr(part.data, name) for part in parts])
                            for name in ("encoded", "arm", "y", "weight")))
    if context.columns.cluster is not None:
        # Codes of the sorted ids of the group, as the in-memory fit codes all rows' ids.
        ids = np.concatenate([part.cluster_ids for part in parts])
        data = replace(data, cluster=validate_cluster(ids, len(ids)))
    last_partition = first_partition + len(parts) - 1
    check_arm_sizes(Arms(data.arm, context.labels), data.weight, forest.min_samples_treatment,
                    f"treatment (the rows of partitions {first_partition}-{last_partition}, one group of "
                    "fit_forest; shuffle ddf so every group holds every arm, or raise rows_per_group)")
    return grow_trees(forest, tree_rngs, data, context.bin_mapper, arm_mean, check_n_jobs(forest.n_jobs), verbose=0)


def _n_rows(part: _ForestPartition) -> int:
    return len(part.data.arm)


def fit_forest(estimator: BaseUpliftForest, ddf: Any, treatment: Any = "treatment", outcome: Any = "outcome",
               features: Any = None, sample_weight: Any = None, client: Client | None = None,
               bin_edges: Any = None, rows_per_group: int = ROWS_PER_GROUP, *, propensity: Any = None,
               cluster: Any = None) -> BaseUpliftForest:
    """Fit an ``UpliftRandomForestClassifier``/``Regressor`` on a dask DataFrame, growing trees on the workers.

    Trees grow on groups of consecutive partitions: going through the partitions in order, a group closes
    at the first partition that brings it to ``rows_per_group`` rows, and partitions left over with fewer
    rows join the last group. Trees go to groups in proportion to their rows, by tree index: group ``g``
    grows trees ``round(n_estimators * R_g / n)`` to ``round(n_estimators * R_{g+1} / n) - 1``, where
    ``R_g`` is the number of rows in the groups before ``g`` and ``n`` of all rows. A group's partitions are
    concatenated on one worker, which grows its trees as the in-memory forest does: each on its own sample
    of the group's rows (``bootstrap``, ``max_samples`` and ``honest`` apply to them), on bins shared by all
    trees, tree ``i`` drawing from the ``i``-th generator spawned from ``random_state``. The forest
    therefore depends only on the partitions' order and row counts, ``rows_per_group`` and
    ``random_state``, not on the number of workers, their threads or where the data is; with one group
    (at most ``rows_per_group`` rows) it is the in-memory forest on the same bins.

    Rows move between workers but never to the client; only the trees travel to it. Arguments as in
    :func:`fit_tree`, plus ``rows_per_group`` (int >= 1); ``n_jobs`` is the number of threads growing one
    group's trees. ``propensity`` weighs the rows by ``sample_weight / p``; with ``cluster`` honest trees hold
    out whole clusters of their group's rows (a cluster with rows in two groups is split between them: keep
    clusters within groups, e.g. ``ddf.shuffle(on=cluster)``, for whole clusters). Little bags
    (``ci_group_size >= 2``, for ``predict_interval``) are refused: fit those forests in memory. See
    ``docs/dask.md``.
    """
    _check_estimator(estimator, BaseUpliftForest, "UpliftRandomForestClassifier or UpliftRandomForestRegressor")
    estimator.check_params()
    if estimator.ci_group_size > 1:
        # A group of trees shares a half-sample of all rows; the trees grow on groups of partitions instead.
        raise ValueError(f"ci_group_size={estimator.ci_group_size}: fit_forest does not grow little bags (each "
                         "group of trees needs a half-sample of all the rows, and trees grow on groups of "
                         "partitions); fit the forest in memory for predict_interval, or set ci_group_size=1")
    rows_per_group = check_int(rows_per_group, "rows_per_group", 1)
    binning_rng, *tree_rngs = spawn_generators(estimator.random_state, 1 + estimator.n_estimators)
    try:
        setup = _setup(estimator, ddf, client, treatment, outcome, features, sample_weight, propensity, cluster,
                       bin_edges, binning_rng)
        client, context = setup.client, setup.context
        arm_mean = setup.arm_sums[:, WEIGHTED_Y] / setup.arm_sums[:, WEIGHT]
        parts = _map_partitions(client, ddf, _forest_partition, context)
        rows_per_part = client.gather(client.map(_n_rows, parts))
        group_bounds = _group_bounds(rows_per_part, rows_per_group)
        rows_before = np.concatenate([[0], np.cumsum(rows_per_part)])[group_bounds]
        tree_bounds = np.round(rows_before / max(rows_before[-1], 1) * estimator.n_estimators).astype(np.int64)
        n_draw = estimator.rows_per_tree(setup.n_rows)
        min_samples_leaf = estimator.resolve_min_samples_leaf(
            setup.arm_sums, (1.0 - estimator.honest_fraction) * n_draw if estimator.honest else n_draw,
            bool(estimator.honest))
        # Ships parameters (the leaf size resolved on all rows, as in memory), not an earlier fit.
        template = type(estimator)(**{**estimator.get_params(), "min_samples_leaf": min_samples_leaf})
        # The scheduler runs each group where most of its rows already are.
        grown = [client.submit(_grow_group_trees, template, parts[first:stop], int(first), context,
                               tree_rngs[first_tree:stop_tree], arm_mean)
                 for first, stop, first_tree, stop_tree in zip(group_bounds[:-1], group_bounds[1:], tree_bounds[:-1],
                                                               tree_bounds[1:], strict=True)
                 if stop_tree > first_tree]
        results = [result for group_results in client.gather(grown) for result in group_results]
    except KilledWorker as error:
        raise _fit_failed("fit_forest", error) from error
    if sum(rows_per_part) != setup.n_rows or len(results) != estimator.n_estimators:
        raise RuntimeError(f"fit_forest got {sum(rows_per_part)} rows and {len(results)} trees for {setup.n_rows} "
                           f"rows and {estimator.n_estimators} trees; ddf's partitions must be deterministic")
    estimator.fitted_state_ = fitted_forest(estimator, _fitted_inputs(context), results, min_samples_leaf)
    return estimator


@dataclass(frozen=True)
class _ForestPartition:
    """A partition's rows for the forest, and their cluster ids (coded per group, see _grow_group_trees)."""

    data: ExperimentData
    cluster_ids: np.ndarray | None


def _forest_partition(frame: pd.DataFrame, partition: int, context: _Context) -> _ForestPartition:
    """A partition's rows for the forest (each tree draws its own rows, so the partition number is unused)."""
    # The trees' own intervals are not the forest's: no per-tree design moments, as in memory.
    data = replace(_partition_data(frame, context), cluster=None, design=False)
    cluster = context.columns.cluster
    return _ForestPartition(data, None if cluster is None else frame[cluster].to_numpy())


# -- scoring -----------------------------------------------------------------------------------------------
def _score_partition(frame: pd.DataFrame, scorer: Any, method: str, meta: pd.Series | pd.DataFrame,
                     kwargs: dict) -> pd.Series | pd.DataFrame:
    if len(frame) == 0:
        return meta.set_axis(frame.index)
    values = getattr(scorer, method)(frame, **kwargs)
    if isinstance(meta, pd.Series):
        return pd.Series(values, index=frame.index, name=meta.name, dtype=meta.dtype)
    return pd.DataFrame(np.asarray(values).reshape(len(frame), -1), index=frame.index,
                        columns=meta.columns).astype(meta.dtypes)


def _map_scorer(ddf: Any, scorer: Any, method: str, meta: pd.Series | pd.DataFrame, **kwargs: Any) -> Any:
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"ddf must be a dask.dataframe.DataFrame, got {type(ddf).__name__}")
    meta = meta.set_axis(ddf._meta.index)
    return ddf.map_partitions(_score_partition, dask.delayed(scorer), method, meta, kwargs, meta=meta)




def predict(model: UpliftModel, ddf: Any) -> Any:
    """Uplift per row as a dask Series ``"uplift"`` (one treatment) or DataFrame (a column per treatment
    label, as text), aligned with ``ddf``'s partitions and index."""
    model_kind(model)
    treatments = model.treatments_[1:]
    if len(treatments) == 1:
        meta = pd.Series([], dtype=np.float64, name="uplift")
    else:
        meta = pd.DataFrame({str(label): pd.Series([], dtype=np.float64) for label in treatments})
    return _map_scorer(ddf, model, "predict", meta)


def apply(model: UpliftModel, ddf: Any) -> Any:
    """Leaf ids: a dask Series ``"leaf"`` for a tree, a DataFrame ``tree_0, tree_1, ...`` for a forest."""
    if model_kind(model) == FOREST:
        meta = pd.DataFrame({f"tree_{index}": pd.Series([], dtype=np.int64)
                             for index in range(len(model.estimators_))})
    else:
        meta = pd.Series([], dtype=np.int64, name="leaf")
    return _map_scorer(ddf, model, "apply", meta)


def decide(policy: Any, ddf: Any, **kwargs: Any) -> Any:
    """``policy.decide(partition, **kwargs)`` over the partitions: a dask Series ``"decision"`` of arm labels.

    Only row-wise rules apply (``rule="threshold"``, no ``capacity``); per-row inputs (``eligible``,
    ``contacts``, per-row costs of the policy) must be column names or query strings, not arrays.
    """
    if not callable(getattr(policy, "decide", None)) or not hasattr(policy, "treatments_"):
        raise TypeError(f"policy must be an upliftree.policy.Policy, got {type(policy).__name__}")
    if kwargs.get("rule", "threshold") != "threshold" or kwargs.get("capacity") is not None:
        raise ValueError("decide over a dask frame supports rule='threshold' without capacity, where each row's "
                         "decision depends on that row only; top_k, budget and capacity compare rows across "
                         "partitions")
    for name in ("eligible", "contacts"):
        values = kwargs.get(name)
        nested = values.values() if isinstance(values, dict) else [values]
        if any(value is not None and not isinstance(value, str) for value in nested):
            raise ValueError(f"{name} must be a column name or query string on a dask frame (arrays cannot "
                             "follow its partitions)")
    return _map_scorer(ddf, policy, "decide", pd.Series([], dtype=object, name="decision"), **kwargs)
