"""DRUpliftTree on a million rows (issue 17): what the tree and its leaf estimates add to the nuisance fits.

``DRUpliftTree.fit`` is ``upliftree.learners.doubly_robust_scores`` (the cross-fitted nuisances: one outcome
model per arm and, unless the propensity is known, a propensity model, each fitted ``cv`` times) followed by
``fit_scores`` (honest split, binning, growth with the squared-error rule on the pseudo-outcomes, and the leaf
estimates with their design moments). This script times the two stages separately on the same rows.

Data: ``make_smooth_uplift_data(n, confounding=1.0)``, Nie & Wager's setup A (the propensity
``clip(sin(pi x0 x1), 0.1, 0.9)`` depends on the features that drive the baseline), 6 features, continuous
outcome. Base models: the learners' defaults (``HistGradientBoosting*`` with early stopping), ``cv=5``,
``n_jobs=None`` (every core). Two designs: the propensity estimated, and the true one given. The tree stage is
timed ``--repeats`` times (best shown: it is short, so the machine's other work shows in it most); the
nuisance stage once.

The true effect is known, so the table also gives the RMSE of the tree's predicted effect against it on the
training rows (a depth-3 tree is a step function of a smooth effect: its error is mostly the steps').

Usage: python benchmarks/bench_dr_tree.py [--n-rows 1000000] [--depths 3 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _common import default_out, format_table, machine_info, print_header, write_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-rows", type=int, default=1_000_000)
    parser.add_argument("--depths", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="timings of the tree stage (best kept)")
    parser.add_argument("--out", type=Path, default=default_out("dr_tree"), help="JSON result path")
    args = parser.parse_args(argv)

    from upliftree import DRUpliftTree
    from upliftree.datasets import make_smooth_uplift_data
    from upliftree.learners import doubly_robust_scores

    notes: list[str] = []
    info = machine_info()
    print_header(f"bench_dr_tree: {args.n_rows:,} rows, cv={args.cv}, depths {args.depths}", info, notes)
    frame = make_smooth_uplift_data(args.n_rows, confounding=1.0, random_state=0)
    X = frame[[f"x{index}" for index in range(6)]]
    treatment, y, truth = frame["treatment"].to_numpy(), frame["outcome"].to_numpy(), frame["true_uplift_1"]
    # Compile the kernels once on a small fit, so no timing below includes compilation.
    small = slice(0, 5_000)
    DRUpliftTree(cv=2, random_state=0).fit(X[small], treatment[small], y[small])

    rows, results = [], {}
    for design, propensity in (("estimated propensity", None), ("known propensity", frame["propensity"])):
        start = time.perf_counter()
        scores = doubly_robust_scores(X, treatment, y, propensity=propensity, cv=args.cv, random_state=0)
        nuisance_seconds = time.perf_counter() - start
        n_fits = args.cv * (2 + (propensity is None))
        print(f"{design}: nuisances ({n_fits} base-model fits) {nuisance_seconds:.1f} s", flush=True)
        results[design] = {"nuisance_seconds": nuisance_seconds, "n_base_model_fits": n_fits, "trees": {}}
        for depth in args.depths:
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                model = DRUpliftTree(max_depth=depth, random_state=0).fit_scores(X, scores)
                seconds.append(time.perf_counter() - start)
            rmse = float(np.sqrt(np.mean((model.predict(X) - truth) ** 2)))
            best = min(seconds)
            results[design]["trees"][depth] = {"seconds": seconds, "n_leaves": model.n_leaves_, "rmse": rmse}
            print(f"  depth {depth}: tree and leaf estimates {best:.2f} s ({seconds}), {model.n_leaves_} leaves, "
                  f"RMSE {rmse:.4f}", flush=True)
            rows.append([design, n_fits, round(nuisance_seconds, 1), depth, model.n_leaves_, round(best, 2),
                         f"{best / nuisance_seconds:.1%}", round(rmse, 4)])

    tables = [{
        "title": f"DRUpliftTree on {args.n_rows:,} rows (make_smooth_uplift_data, confounding=1): cross-fitted "
                 f"nuisances (cv={args.cv}, default HistGradientBoosting models, every core) against the tree and "
                 f"its honest leaf estimates (best of {args.repeats})",
        "header": ["design", "base-model fits", "nuisance s", "max_depth", "leaves", "tree + leaf estimates s",
                   "share of nuisance time", "RMSE vs true effect"],
        "rows": rows,
    }]
    for table in tables:
        print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    write_json(args.out, {
        "benchmark": "dr_tree",
        "command": "benchmarks/bench_dr_tree.py",
        "machine": info,
        "notes": notes,
        "protocol": {"n_rows": args.n_rows, "cv": args.cv, "depths": args.depths, "repeats": args.repeats,
                     "data": "make_smooth_uplift_data(confounding=1.0, random_state=0)"},
        "results": results,
        "tables": tables,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
