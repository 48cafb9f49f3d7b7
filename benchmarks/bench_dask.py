"""Distributed fit and predict throughput (issue 9): ``upliftree.dask`` on a local Dask cluster.

Data: ``upliftree.datasets.make_uplift_data`` (six features, two of them categorical, 5% missing income;
one treatment; binary outcome), generated partition by partition on the workers with ``dd.from_map`` and
persisted there: the rows never exist on the client. Timed, after a warm-up fit on a small frame (worker
imports and Numba cache loading excluded):

- generating and persisting the data (for scale);
- ``fit_tree``: ``UpliftTreeClassifier(criterion="kl", max_depth=--max-depth, min_samples_leaf=100)``;
- ``predict`` of that tree over the frame, results persisted on the workers;
- ``fit_forest``: ``UpliftRandomForestClassifier(n_estimators=--forest-trees, max_depth=--max-depth)``
  (skipped with ``--forest-trees 0``).

Client memory: the process's peak resident set size (``resource.getrusage``; the workers are separate
processes) and the peak of Python/numpy allocations traced by ``tracemalloc`` during each timed step.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import default_out, format_table, machine_info, print_header, write_json

COLUMNS_OUT = ("treatment", "outcome")
TREE_PARAMS = {"criterion": "kl", "min_samples_leaf": 100, "min_samples_treatment": 10, "control": "control"}


def make_partition(number: int, n_rows: int, seed: int):
    """One partition of the experiment, generated where it is computed (a worker)."""
    from upliftree.datasets import FEATURES, make_uplift_data

    return make_uplift_data(n_rows, random_state=seed + number)[[*FEATURES, *COLUMNS_OUT]]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(step: str, function, results: dict[str, Any]) -> Any:
    """Run ``function``, recording its wall-clock seconds and traced client allocations under ``step``."""
    tracemalloc.start()
    start = time.perf_counter()
    value = function()
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results[step] = {"seconds": seconds, "client_traced_peak_mib": traced_peak / 2**20,
                     "client_peak_rss_mib_so_far": peak_rss_mib()}
    print(f"{step}: {seconds:.2f} s", flush=True)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-rows", type=int, default=10_000_000, help="rows in total")
    parser.add_argument("--rows-per-partition", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--forest-trees", type=int, default=10, help="trees of the forest fit; 0 skips it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=default_out("dask"), help="JSON result path")
    args = parser.parse_args(argv)

    import dask.dataframe as dd
    from distributed import Client, LocalCluster, wait

    import upliftree.dask as udask
    from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier
    from upliftree.datasets import FEATURES

    info = machine_info()
    notes: list[str] = []
    print_header(f"upliftree.dask: {args.n_rows:,} rows, {args.workers} workers x {args.threads_per_worker} "
                 "thread(s)", info, notes)
    rss_before_cluster = peak_rss_mib()
    n_partitions = -(-args.n_rows // args.rows_per_partition)
    sizes = [min(args.rows_per_partition, args.n_rows - number * args.rows_per_partition)
             for number in range(n_partitions)]
    meta = make_partition(0, 10, args.seed).iloc[:0]
    results: dict[str, Any] = {}
    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        def persisted_experiment(partition_sizes: list[int]):
            """The experiment generated and kept on the workers, one ``make_partition`` call per partition."""
            data = dd.from_map(make_partition, range(len(partition_sizes)), partition_sizes,
                               [args.seed] * len(partition_sizes), meta=meta, enforce_metadata=False).persist()
            wait(data)
            return data

        def warm_up():
            small = persisted_experiment([20_000] * args.workers)
            model = udask.fit_tree(UpliftTreeClassifier(max_depth=2, **TREE_PARAMS), small, features=FEATURES)
            wait(udask.predict(model, small).persist())

        timed("warm_up", warm_up, results)
        data = timed("generate_and_persist", lambda: persisted_experiment(sizes), results)
        data_bytes = int(data.memory_usage(deep=True).sum().compute())
        tree = timed("fit_tree", lambda: udask.fit_tree(
            UpliftTreeClassifier(max_depth=args.max_depth, **TREE_PARAMS), data, features=FEATURES), results)

        def predict():
            scores = udask.predict(tree, data).persist()
            wait(scores)
            return scores

        scores = timed("predict_tree", predict, results)
        mean_uplift = float(scores.mean().compute())
        del scores
        forest = None
        if args.forest_trees:
            forest = timed("fit_forest", lambda: udask.fit_forest(UpliftRandomForestClassifier(
                n_estimators=args.forest_trees, max_depth=args.max_depth, verbose=0, random_state=args.seed,
                **TREE_PARAMS), data, features=FEATURES), results)
        worker_rss = client.run(lambda: __import__("psutil").Process().memory_info().rss / 2**20)

    for step, record in results.items():
        if step in ("fit_tree", "predict_tree", "fit_forest"):
            record["rows_per_second"] = args.n_rows / record["seconds"]
    header = ["step", "seconds", "rows/s", "client traced peak MiB", "client peak RSS MiB"]
    rows = [[step, round(record["seconds"], 2), record.get("rows_per_second"),
             round(record["client_traced_peak_mib"], 1), round(record["client_peak_rss_mib_so_far"])]
            for step, record in results.items()]
    print("\n" + format_table(header, rows))
    print(f"client peak RSS: {peak_rss_mib():.0f} MiB (before the cluster: {rss_before_cluster:.0f} MiB); "
          f"data persisted on the workers: {data_bytes / 2**20:.0f} MiB")
    write_json(args.out, {
        "benchmark": "dask",
        "machine": info,
        "notes": notes,
        "data": {"source": "upliftree.datasets.make_uplift_data", "n_rows": args.n_rows,
                 "n_partitions": n_partitions, "rows_per_partition": args.rows_per_partition,
                 "features": list(FEATURES), "persisted_bytes_on_workers": data_bytes, "seed": args.seed},
        "cluster": {"workers": args.workers, "threads_per_worker": args.threads_per_worker, "processes": True},
        "params": {"tree": {**TREE_PARAMS, "max_depth": args.max_depth},
                   "forest_trees": args.forest_trees},
        "results": {
            "steps": results,
            "tree": {"n_leaves": tree.n_leaves_, "depth": tree.depth_, "mean_predicted_uplift": mean_uplift},
            "forest": None if forest is None else {"n_trees": len(forest.estimators_)},
            "client_peak_rss_mib": peak_rss_mib(),
            "client_rss_before_cluster_mib": rss_before_cluster,
            "worker_rss_mib_at_end": worker_rss,
        },
        "tables": [{"title": f"{args.n_rows:,} rows in {n_partitions} partitions, {args.workers} worker processes x "
                             f"{args.threads_per_worker} thread(s); client peak RSS before the cluster "
                             f"{rss_before_cluster:.0f} MiB; data on the workers {data_bytes / 2**20:.0f} MiB",
                    "header": header, "rows": rows}],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
