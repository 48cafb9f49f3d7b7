"""Time one uplift tree fit (issue 2): upliftree vs causalml 0.18.0 vs a LightGBM single tree.

Data: causalml's ``make_uplift_classification`` with two arms (control, treatment1), ``--n-rows`` rows in
total, 13 features (see ``_data.py``). Every library fits one tree, KL criterion, min_samples_leaf 100:

- upliftree ``UpliftTreeClassifier(criterion="kl", max_depth=6)``: warm fit (after a warm-up fit on small
  data in this process, so Numba compilation is excluded), plus two cold processes that import upliftree
  and fit once: one with an empty Numba cache (first run on a machine: includes compilation) and one with
  the cache that run filled (every later run).
- causalml ``UpliftTreeClassifier(max_depth=7, evaluationFunction="KL")``: its root is depth 1, so 7 is
  upliftree's 6.
- LightGBM single tree: ``boosting="rf"``, 1 round, max_depth 6, num_leaves 64, min_data_in_leaf 100,
  Dataset construction (binning) included. rf mode refuses to run without row or feature subsampling, so
  ``feature_fraction=0.9999``, which still rounds to every feature (bagging off: every row).

Fit times are the best of ``--repeats`` runs. Warm predict throughput is measured on ``--predict-rows``
rows (the data tiled). Peers are timed when importable and skipped with a note otherwise.

The experiment's design (issue 16): the same upliftree fit with ``propensity=`` (a per-row stratified
allocation, ``_data.stratified_design``) and with ``propensity=`` and ``cluster=`` (clusters of 20 rows),
against the plain fit and the fit with ``sample_weight=1/p`` (the same weights without design moments), all
alternating in each of ``--repeats`` rounds; the target is at most 1.2x the plain fit.
``--design-only`` times only these (with ``--out``, so that a partial run never replaces the full result).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    DESIGN_TARGET,
    cpu_count,
    default_out,
    design_results,
    design_table,
    format_table,
    machine_info,
    optional_attribute,
    print_header,
    quiet_peer_warnings,
    time_call,
    time_design_fits,
    try_import,
    write_json,
)
from _data import DESIGN_CLUSTER_SIZE, make_uplift_data, stratified_design

TARGETS = {
    "causalml_over_upliftree_min": 50.0,
    "upliftree_over_lightgbm_max": 1.5,
    "predict_rows_per_second_min": 10_000_000,
    "design_fit_over_plain_max": DESIGN_TARGET,
}
WARMUP_ROWS = 20_000

UPLIFTREE_PARAMS = {
    "criterion": "kl",
    "max_depth": 6,
    "min_samples_leaf": 100,
    "min_samples_treatment": 10,
    "n_reg": 100,
    "normalize": True,
    "max_bins": 255,
    "control": 0,
}
CAUSALML_PARAMS = {
    "evaluationFunction": "KL",
    "max_depth": 7,
    "min_samples_leaf": 100,
    "min_samples_treatment": 10,
    "n_reg": 100,
    "normalization": True,
    "control_name": "control",
}
LIGHTGBM_PARAMS = {
    "objective": "binary",
    "boosting": "rf",
    "num_iterations": 1,
    "max_depth": 6,
    "num_leaves": 64,
    "min_data_in_leaf": 100,
    "max_bin": 255,
    "feature_fraction": 0.9999,
    "bagging_freq": 0,
    "verbose": -1,
}

# Runs in a fresh interpreter: loads the saved data, then times `import upliftree` and one fit.
_COLD_FIT_CODE = """
import json, sys, time
import numpy as np
data_dir, params = sys.argv[1], json.loads(sys.argv[2])
X, treatment, y = (np.load(f"{data_dir}/{name}.npy") for name in ("X", "treatment", "y"))
start = time.perf_counter()
from upliftree import UpliftTreeClassifier
imported = time.perf_counter()
UpliftTreeClassifier(**params).fit(X, treatment, y)
done = time.perf_counter()
print(json.dumps({"import_seconds": imported - start, "fit_seconds": done - imported}))
"""


def tile_rows(X: np.ndarray, n_rows: int) -> np.ndarray:
    """``n_rows`` rows made by repeating ``X`` (C-contiguous)."""
    return np.ascontiguousarray(np.tile(X, (math.ceil(n_rows / len(X)), 1))[:n_rows])


def cold_process_fits(X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Import-and-fit in fresh processes: first with an empty Numba cache, then with the filled one."""
    runs = {}
    with tempfile.TemporaryDirectory(prefix="upliftree-bench-") as workdir:
        for name, array in (("X", X), ("treatment", treatment), ("y", y)):
            np.save(Path(workdir) / f"{name}.npy", array)
        environment = {**os.environ, "NUMBA_CACHE_DIR": str(Path(workdir) / "numba-cache")}
        for label in ("empty_numba_cache", "filled_numba_cache"):
            start = time.perf_counter()
            completed = subprocess.run(
                [sys.executable, "-c", _COLD_FIT_CODE, workdir, json.dumps(UPLIFTREE_PARAMS)],
                env=environment,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - start
            if completed.returncode != 0:
                raise RuntimeError(f"cold-process fit failed:\n{completed.stderr}")
            runs[label] = {
                **json.loads(completed.stdout.strip().splitlines()[-1]),
                "process_wall_seconds": wall,
            }
    return runs


def bench_upliftree(tree_class, data, args) -> dict[str, Any]:
    X, treatment, y = data.X, data.treatment, data.y
    model = tree_class(**UPLIFTREE_PARAMS)
    model.fit(X[:WARMUP_ROWS], treatment[:WARMUP_ROWS], y[:WARMUP_ROWS])  # compile or load the kernels
    fit_seconds, _ = time_call(lambda: model.fit(X, treatment, y), args.repeats)
    result: dict[str, Any] = {
        "params": UPLIFTREE_PARAMS,
        "fit_seconds": fit_seconds,
        "fit_best": min(fit_seconds),
        "n_leaves": getattr(model, "n_leaves_", None),
        "depth": getattr(model, "depth_", None),
    }
    X_predict = tile_rows(X, args.predict_rows)
    model.predict(X[:1000])
    predict_seconds, _ = time_call(lambda: model.predict(X_predict), args.repeats)
    result.update(
        predict_rows=args.predict_rows,
        predict_seconds=predict_seconds,
        predict_rows_per_second=args.predict_rows / min(predict_seconds),
    )
    return result


def bench_design(tree_class, data, args) -> dict[str, Any]:
    """upliftree's warm fit with the design (``propensity``, then also ``cluster``) against the plain fit."""
    X, treatment, y = data.X, data.treatment, data.y
    propensity, cluster = stratified_design(data)
    model = tree_class(**UPLIFTREE_PARAMS)
    warm = slice(0, WARMUP_ROWS)
    model.fit(X[warm], treatment[warm], y[warm], propensity=propensity[warm], cluster=cluster[warm])
    seconds = time_design_fits(lambda **design: model.fit(X, treatment, y, **design), propensity, cluster,
                               args.repeats)
    return design_results(seconds, UPLIFTREE_PARAMS, DESIGN_CLUSTER_SIZE)


def bench_causalml(causalml_tree, data, args) -> dict[str, Any]:
    arm_names = np.where(data.treatment == 1, "treatment1", "control")
    model = causalml_tree.UpliftTreeClassifier(**CAUSALML_PARAMS)
    fit_seconds, _ = time_call(lambda: model.fit(data.X, treatment=arm_names, y=data.y), args.causalml_repeats)
    return {
        "params": CAUSALML_PARAMS,
        "fit_seconds": fit_seconds,
        "fit_best": min(fit_seconds),
        "n_leaves": int(model.get_n_leaves()) if hasattr(model, "get_n_leaves") else None,
    }


def bench_lightgbm(lightgbm, data, args) -> dict[str, Any]:
    params = {**LIGHTGBM_PARAMS, "num_threads": cpu_count(), "seed": args.seed}

    def fit():
        dataset = lightgbm.Dataset(data.X, label=data.y, params={"max_bin": params["max_bin"], "verbose": -1})
        return lightgbm.train(params, dataset)

    lightgbm.train(params, lightgbm.Dataset(data.X[:WARMUP_ROWS], label=data.y[:WARMUP_ROWS]))
    fit_seconds, booster = time_call(fit, args.repeats)
    tree = booster.dump_model()["tree_info"][0]
    X_predict = tile_rows(data.X, args.predict_rows)
    predict_seconds, _ = time_call(lambda: booster.predict(X_predict, num_threads=cpu_count()), args.repeats)
    return {
        "params": params,
        "fit_seconds": fit_seconds,
        "fit_best": min(fit_seconds),
        "n_leaves": tree["num_leaves"],
        "rows_in_root": tree["tree_structure"].get("internal_count"),
        "predict_rows": args.predict_rows,
        "predict_seconds": predict_seconds,
        "predict_rows_per_second": args.predict_rows / min(predict_seconds),
    }


def build_tables(results: dict[str, Any], ratios: dict[str, Any], n_rows: int) -> list[dict[str, Any]]:
    rows = []
    for name, label in (
        ("upliftree", "upliftree (warm)"),
        ("causalml", "causalml 0.18.0, max_depth 7"),
        ("lightgbm", "LightGBM single tree (rf, 1 round)"),
    ):
        if name in results:
            result = results[name]
            rows.append([label, result["fit_best"], result.get("n_leaves"), result.get("predict_rows_per_second")])
    cold = results.get("upliftree", {}).get("cold_process", {})
    for key, label in (
        ("empty_numba_cache", "upliftree cold process, empty Numba cache"),
        ("filled_numba_cache", "upliftree cold process, cached kernels"),
    ):
        if key in cold:
            run = cold[key]
            rows.append(
                [
                    f"{label} (import {run['import_seconds']:.2f} s + fit)",
                    run["import_seconds"] + run["fit_seconds"],
                    None,
                    None,
                ]
            )
    ratio_rows = [
        [
            "causalml / upliftree fit time",
            ratios.get("causalml_over_upliftree"),
            f">= {TARGETS['causalml_over_upliftree_min']:g}",
        ],
        [
            "upliftree / LightGBM fit time",
            ratios.get("upliftree_over_lightgbm"),
            f"<= {TARGETS['upliftree_over_lightgbm_max']:g}",
        ],
        [
            "upliftree predict rows/s",
            results.get("upliftree", {}).get("predict_rows_per_second"),
            f">= {TARGETS['predict_rows_per_second_min']:,}",
        ],
    ]
    design = results.get("upliftree_design")
    design_tables = [] if design is None else [design_table(design, f"One tree, {n_rows:,} rows")]
    return [
        {
            "title": f"One tree, KL, depth 6, min_samples_leaf 100, {n_rows:,} rows, 2 arms",
            "header": ["library", "fit seconds (best)", "leaves", "predict rows/s"],
            "rows": rows,
        },
        {
            "title": "Ratios against the issue 2 targets",
            "header": ["measure", "value", "target"],
            "rows": ratio_rows,
        },
        *design_tables,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-rows", type=int, default=1_000_000, help="rows in total, half per arm")
    parser.add_argument("--predict-rows", type=int, default=10_000_000, help="rows for the predict timing")
    parser.add_argument("--repeats", type=int, default=3, help="fit/predict repeats for upliftree and LightGBM")
    parser.add_argument("--causalml-repeats", type=int, default=1, help="fit repeats for causalml (slow)")
    parser.add_argument("--no-cold", dest="cold", action="store_false", help="skip the cold-process fits")
    parser.add_argument("--seed", type=int, default=20190101, help="data seed (causalml's default)")
    parser.add_argument("--design-only", action="store_true",
                        help="time only upliftree's fits with and without the design (needs --out)")
    parser.add_argument("--out", type=Path, default=None, help="JSON result path (default results/tree.json)")
    args = parser.parse_args(argv)
    if args.design_only and args.out is None:
        parser.error("--design-only needs --out: a partial run must not replace results/tree.json")
    args.out = args.out or default_out("tree")

    notes: list[str] = []
    quiet_peer_warnings()
    upliftree = try_import("upliftree", notes)
    tree_class = optional_attribute(upliftree, "UpliftTreeClassifier", notes) if upliftree else None
    causalml_tree = None if args.design_only else try_import("causalml.inference.tree", notes)
    lightgbm = None if args.design_only else try_import("lightgbm", notes)
    info = machine_info()
    data = make_uplift_data(args.n_rows, args.seed)
    print_header(f"bench_tree: {len(data.X):,} rows x {data.X.shape[1]} features from {data.source}", info, notes)

    # upliftree and LightGBM back to back: their ratio is the tightest target, so keep them close in time.
    results: dict[str, Any] = {}
    if tree_class is not None and not args.design_only:
        results["upliftree"] = bench_upliftree(tree_class, data, args)
        print(f"  upliftree warm fit {min(results['upliftree']['fit_seconds']):.3f} s")
    if lightgbm is not None:
        results["lightgbm"] = bench_lightgbm(lightgbm, data, args)
        print(f"  LightGBM fit {min(results['lightgbm']['fit_seconds']):.3f} s")
    if causalml_tree is not None:
        results["causalml"] = bench_causalml(causalml_tree, data, args)
        print(f"  causalml fit {min(results['causalml']['fit_seconds']):.3f} s")
    if tree_class is not None:
        results["upliftree_design"] = bench_design(tree_class, data, args)
        design = results["upliftree_design"]
        print(f"  upliftree fit with propensity {design['propensity']['over_plain']:.2f}x the plain fit, with "
              f"propensity and cluster {design['propensity_and_cluster']['over_plain']:.2f}x")
    if tree_class is not None and args.cold and not args.design_only:
        results["upliftree"]["cold_process"] = cold_process_fits(data.X, data.treatment, data.y)

    ratios: dict[str, Any] = {}
    if "upliftree" in results and "causalml" in results:
        ratios["causalml_over_upliftree"] = results["causalml"]["fit_best"] / results["upliftree"]["fit_best"]
    if "upliftree" in results and "lightgbm" in results:
        ratios["upliftree_over_lightgbm"] = results["upliftree"]["fit_best"] / results["lightgbm"]["fit_best"]
    tables = (build_tables(results, ratios, len(data.X)) if not args.design_only or tree_class is None
              else [design_table(results["upliftree_design"], f"One tree, {len(data.X):,} rows")])
    for table in tables:
        print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    write_json(
        args.out,
        {
            "benchmark": "tree",
            "machine": info,
            "notes": notes,
            "data": {
                "source": data.source,
                "n_rows": len(data.X),
                "n_features": data.X.shape[1],
                "seed": args.seed,
                "treated_share": float(data.treatment.mean()),
                "outcome_rate": float(data.y.mean()),
            },
            "targets": TARGETS,
            "results": results,
            "ratios": ratios,
            "tables": tables,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
