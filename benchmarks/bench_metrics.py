"""Time bootstrap intervals of uplift metrics (issue 5): 1,000 Qini coefficients on 100,000 rows.

Data: ``--n-rows`` rows, 50% treated, binary outcome with a 10% base rate and +4pp uplift where the score is
positive; the score is continuous (every row its own tie group, the most work) or, for the "tree" rows, 64
distinct values (a tree's leaves). Each measure is the best of ``--repeats`` warm calls (a first call on small
data compiles or loads the Numba kernels; that time is reported separately):

- ``bootstrap_ci(qini_auc_score, n_boot=1000)`` with all cores and with ``n_jobs=1``;
- ``bootstrap_ci(uplift_auc_score)``, ``bootstrap_compare(qini_auc_score)`` of two models on the same
  resamples, and the Qini interval of the tree-like score;
- the Qini interval with known propensities (40% or 60% treated by a feature's sign: weighted sweeps and
  swept perfect curves), and with clusters of 20 rows as well (the cluster resampling kernel);
- as a peer, scikit-uplift 0.5.1's ``qini_auc_score`` called on ``--peer-resamples`` resamples, scaled to
  ``n_boot`` (what a plain loop over resamples would cost), when scikit-uplift is importable.

Target: the first measure in at most 5 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    default_out,
    format_table,
    machine_info,
    print_header,
    quiet_peer_warnings,
    time_call,
    try_import,
    write_json,
)

TARGET_SECONDS = 5.0


def make_data(n_rows: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n_rows)
    treatment = (rng.random(n_rows) < 0.5).astype(np.int64)
    y = (rng.random(n_rows) < 0.10 + 0.04 * treatment * (score > 0)).astype(np.int64)
    other_score = score + rng.normal(scale=2.0, size=n_rows)
    # 64 leaves: the score's quantile bins, each scored by its mean.
    leaf = np.searchsorted(np.quantile(score, np.linspace(0, 1, 65)[1:-1]), score)
    tree_score = np.bincount(leaf, weights=score) / np.bincount(leaf)
    # A design for the weighted measures: 40% or 60% chance of treatment by the sign of a feature.
    p_treated = np.where(rng.normal(size=n_rows) > 0, 0.6, 0.4)
    propensity = np.where(treatment == 1, p_treated, 1.0 - p_treated)
    return {"y": y, "score": score, "treatment": treatment, "other_score": other_score, "tree_score": tree_score[leaf],
            "propensity": propensity, "cluster": np.arange(n_rows) // 20}


def bench_upliftree(metrics: Any, data: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    y, score, treatment = data["y"], data["score"], data["treatment"]
    warmup_rows = slice(0, 2_000)
    start = time.perf_counter()
    for metric in (metrics.qini_auc_score, metrics.uplift_auc_score):
        metrics.bootstrap_ci(metric, y[warmup_rows], score[warmup_rows], treatment[warmup_rows], n_boot=40)
    metrics.bootstrap_compare(
        metrics.qini_auc_score,
        y[warmup_rows],
        score[warmup_rows],
        data["other_score"][warmup_rows],
        treatment[warmup_rows],
        n_boot=40,
    )
    for cluster in (None, data["cluster"][warmup_rows]):
        metrics.bootstrap_ci(metrics.qini_auc_score, y[warmup_rows], score[warmup_rows], treatment[warmup_rows],
                             n_boot=40, propensity=data["propensity"][warmup_rows], cluster=cluster)
    first_call_seconds = time.perf_counter() - start

    def bootstrap(metric: Any, model_score: np.ndarray, n_jobs: int = -1, **design: Any) -> Any:
        return lambda: metrics.bootstrap_ci(
            metric, y, model_score, treatment, n_boot=args.n_boot, random_state=args.seed, n_jobs=n_jobs, **design
        )

    measures = {
        "qini_ci": bootstrap(metrics.qini_auc_score, score),
        "qini_ci_one_thread": bootstrap(metrics.qini_auc_score, score, n_jobs=1),
        "uplift_auc_ci": bootstrap(metrics.uplift_auc_score, score),
        "qini_compare": lambda: metrics.bootstrap_compare(
            metrics.qini_auc_score, y, score, data["other_score"], treatment, n_boot=args.n_boot,
            random_state=args.seed, n_jobs=-1,
        ),
        "qini_ci_tree_score": bootstrap(metrics.qini_auc_score, data["tree_score"]),
        "qini_ci_propensity": bootstrap(metrics.qini_auc_score, score, propensity=data["propensity"]),
        "qini_ci_cluster": bootstrap(metrics.qini_auc_score, score, propensity=data["propensity"],
                                     cluster=data["cluster"]),
    }
    results: dict[str, Any] = {"first_call_seconds": first_call_seconds}
    for name, call in measures.items():
        # Process CPU time too: on a shared machine wall time includes waiting for a core.
        cpu_seconds: list[float] = []

        def measured(call: Any = call, cpu_seconds: list[float] = cpu_seconds) -> Any:
            start = time.process_time()
            result = call()
            cpu_seconds.append(time.process_time() - start)
            return result

        seconds, interval = time_call(measured, args.repeats)
        results[name] = {
            "seconds": seconds,
            "best": min(seconds),
            "cpu_seconds": cpu_seconds,
            "result": [float(value) for value in interval],
        }
        print(f"  {name}: best {min(seconds):.3f} s of {args.repeats} (CPU {min(cpu_seconds):.3f} s)")
    return results


def bench_sklift_loop(sklift_metrics: Any, data: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    """scikit-uplift's qini_auc_score on resamples drawn like upliftree's (arm sizes fixed)."""
    y, score, treatment = data["y"], data["score"], data["treatment"]
    rng = np.random.default_rng(args.seed)
    treated_rows, control_rows = np.flatnonzero(treatment == 1), np.flatnonzero(treatment == 0)

    def loop() -> None:
        for _ in range(args.peer_resamples):
            rows = np.r_[rng.choice(treated_rows, len(treated_rows)), rng.choice(control_rows, len(control_rows))]
            sklift_metrics.qini_auc_score(y[rows], score[rows], treatment[rows])

    seconds, _ = time_call(loop, 1)
    return {
        "resamples": args.peer_resamples,
        "seconds": seconds[0],
        "scaled_to_n_boot": seconds[0] * args.n_boot / args.peer_resamples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-rows", type=int, default=100_000, help="rows in total, half per arm")
    parser.add_argument("--n-boot", type=int, default=1_000, help="bootstrap resamples")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measure (best counts)")
    parser.add_argument("--peer-resamples", type=int, default=20, help="resamples timed for scikit-uplift")
    parser.add_argument("--seed", type=int, default=5, help="data and resampling seed")
    parser.add_argument("--out", type=Path, default=default_out("metrics"), help="JSON result path")
    args = parser.parse_args(argv)

    notes: list[str] = []
    quiet_peer_warnings()
    metrics = try_import("upliftree.metrics", notes)
    sklift_metrics = try_import("sklift.metrics", notes)
    info = machine_info()
    data = make_data(args.n_rows, args.seed)
    print_header(f"bench_metrics: {args.n_boot:,} bootstrap resamples of {args.n_rows:,} rows", info, notes)

    results: dict[str, Any] = {}
    if metrics is not None:
        results["upliftree"] = bench_upliftree(metrics, data, args)
    if sklift_metrics is not None:
        results["sklift_loop"] = bench_sklift_loop(sklift_metrics, data, args)
        print(f"  scikit-uplift loop: {results['sklift_loop']['scaled_to_n_boot']:.1f} s per {args.n_boot:,}")

    rows = []
    if "upliftree" in results:
        labels = {
            "qini_ci": "bootstrap_ci(qini_auc_score), all cores",
            "qini_ci_one_thread": "bootstrap_ci(qini_auc_score), n_jobs=1",
            "uplift_auc_ci": "bootstrap_ci(uplift_auc_score)",
            "qini_compare": "bootstrap_compare(qini_auc_score), 2 models",
            "qini_ci_tree_score": "bootstrap_ci(qini_auc_score), 64 tied scores",
            "qini_ci_propensity": "bootstrap_ci(qini_auc_score), propensity=",
            "qini_ci_cluster": "bootstrap_ci(qini_auc_score), propensity= and cluster= (20 rows)",
        }
        for name, label in labels.items():
            measure = results["upliftree"][name]
            rows.append(
                [label, measure["best"], min(measure["cpu_seconds"]), TARGET_SECONDS if name == "qini_ci" else None]
            )
        rows.append(
            ["first calls (Numba compile or cache load)", results["upliftree"]["first_call_seconds"], None, None]
        )
    if "sklift_loop" in results:
        rows.append(
            [
                f"scikit-uplift qini_auc_score loop (scaled from {args.peer_resamples})",
                results["sklift_loop"]["scaled_to_n_boot"],
                None,
                None,
            ]
        )
    table = {
        "title": f"Seconds for {args.n_boot:,} resamples of {args.n_rows:,} rows",
        "header": ["measure", "wall seconds (best)", "CPU seconds (best)", "target"],
        "rows": rows,
    }
    print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    write_json(
        args.out,
        {
            "benchmark": "metrics",
            "machine": info,
            "notes": notes,
            "data": {
                "n_rows": args.n_rows,
                "n_boot": args.n_boot,
                "seed": args.seed,
                "treated_share": float(data["treatment"].mean()),
                "outcome_rate": float(data["y"].mean()),
            },
            "targets": {"qini_ci_seconds_max": TARGET_SECONDS},
            "results": results,
            "tables": [table],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
