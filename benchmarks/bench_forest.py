"""Time uplift random forests (issue 4): upliftree vs causalml 0.18.0 vs LightGBM in random-forest mode.

Data: causalml's ``make_uplift_classification``, two arms, ``--n-rows`` rows, 13 features (``_data.py``).
Every forest: 20 trees, KL, depth 5 splits (causalml ``max_depth=6``: its root is depth 1),
min_samples_leaf 100, the same number of features tried per split (``--max-features``, default
sqrt -> 3 of 13), ``n_jobs`` = all cores; the remaining options are each library's defaults (recorded
in the JSON):

- upliftree ``UpliftRandomForestClassifier``, warm (after a warm-up fit on small data in this process).
- causalml ``UpliftRandomForestClassifier(evaluationFunction="KL")``. It needs minutes at 1M rows:
  ``--causalml-rows N`` fits it on the first N rows only and reports the time scaled linearly to
  ``--n-rows``, marked "extrapolated" everywhere.
- LightGBM ``boosting="rf"``, 20 rounds, max_depth 5, num_leaves 32, bagging_fraction 0.632,
  bagging_freq 1, feature_fraction_bynode = max_features / n_features, Dataset construction included.

Also: predict time for ``--n-rows`` rows with a 100-tree upliftree forest; peak memory of a 100-tree fit
(in a subprocess: peak RSS increase during ``fit``, the kernel's VmHWM reset just before the fit, against
the size of X as float64 and of the pickled forest); with ``--scaling``, a fit-time table at 10k, 100k and
1M rows (and 10M with ``--scaling-10m``, upliftree only).

The experiment's design (issue 16): the upliftree forest fit with ``propensity=`` (a per-row stratified
allocation, ``_data.stratified_design``) and with ``propensity=`` and ``cluster=``, against the plain fit and
``sample_weight=1/p``, alternating in each of ``--repeats`` rounds; the target is at most 1.2x the plain fit.
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
from functools import partial
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
    without_progress,
    write_json,
)
from _data import DESIGN_CLUSTER_SIZE, UpliftData, make_uplift_data, stratified_design

TARGETS = {
    "causalml_over_upliftree_min": 100.0,
    "upliftree_over_lightgbm_max": 2.0,
    "predict_seconds_100_trees_max": 1.0,
    "fit_memory_over_x_max": 2.0,
    "design_fit_over_plain_max": DESIGN_TARGET,
}
WARMUP_ROWS = 20_000
SCALING_ROWS = (10_000, 100_000, 1_000_000)
SCALING_ROWS_UPLIFTREE_ONLY = (10_000_000,)
N_TREES_PREDICT = 100

# Runs in a fresh interpreter: warm-up fit, then the peak RSS increase of one forest fit. The peak is the
# kernel's VmHWM, reset just before the fit by writing "5" to /proc/self/clear_refs (Linux >= 4.0), so only
# the fit counts. ru_maxrss is the lifetime peak: it includes imports, Numba compilation and the warm-up fit,
# and Linux even carries it across exec, so a subprocess starts with the parent's RSS as its ru_maxrss (this
# benchmark's own data and fitted forests were counted as fit memory). It is only the fallback, marked so.
_MEMORY_CODE = """
import ctypes, gc, json, pickle, resource, sys
import numpy as np
data_dir, params = sys.argv[1], json.loads(sys.argv[2])
X, treatment, y = (np.load(f"{data_dir}/{name}.npy") for name in ("X", "treatment", "y"))
from upliftree import UpliftRandomForestClassifier
UpliftRandomForestClassifier(**{**params, "n_estimators": 2}).fit(X[:20000], treatment[:20000], y[:20000])

def status_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(f"no {field} in /proc/self/status")

gc.collect()
try:  # return freed heap to the OS: memory the fit reuses must not hide in rss_before_fit_bytes
    ctypes.CDLL("libc.so.6").malloc_trim(0)
except (OSError, AttributeError):
    pass
before = status_bytes("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    reset = status_bytes("VmHWM") <= status_bytes("VmRSS") + (1 << 20)
    problem = "VmHWM still above VmRSS after the reset"
except (OSError, LookupError) as error:
    reset, problem = False, f"/proc/self/clear_refs not writable ({error})"
model = UpliftRandomForestClassifier(**params).fit(X, treatment, y)
if reset:
    peak = status_bytes("VmHWM")
    method = "VmHWM reset before fit"
    note = None
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    method = "ru_maxrss (lifetime peak)"
    note = (f"{problem}: the peak is the process's lifetime maximum (imports, compilation, warm-up fit, "
            "and the parent's RSS carried over exec), an upper bound of the fit's peak")
print(json.dumps({"rss_before_fit_bytes": before, "peak_rss_bytes": peak,
                  "forest_pickle_bytes": len(pickle.dumps(model)), "peak_method": method, "peak_note": note}))
"""


def features_per_split(max_features: str, n_features: int) -> int:
    """What ``max_features`` means in features per split, sklearn's convention."""
    if max_features == "sqrt":
        return max(1, int(math.sqrt(n_features)))
    if max_features == "log2":
        return max(1, int(math.log2(n_features)))
    if max_features == "all":
        return n_features
    return int(max_features)


def upliftree_params(args, n_estimators: int) -> dict[str, Any]:
    return {
        "n_estimators": n_estimators,
        "criterion": "kl",
        "max_depth": 5,
        "min_samples_leaf": 100,
        "min_samples_treatment": 10,
        "max_features": args.max_features_per_split,
        "n_jobs": args.n_jobs,
        "random_state": 0,
    }


def causalml_params(args) -> dict[str, Any]:
    return {
        "control_name": "control",
        "n_estimators": args.n_trees,
        "evaluationFunction": "KL",
        "max_depth": 6,
        "min_samples_leaf": 100,
        "min_samples_treatment": 10,
        "max_features": args.max_features_per_split,
        "n_jobs": args.n_jobs,
        "random_state": 0,
    }


def lightgbm_params(args, n_features: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "boosting": "rf",
        "num_iterations": args.n_trees,
        "max_depth": 5,
        "num_leaves": 32,
        "min_data_in_leaf": 100,
        "max_bin": 255,
        "bagging_fraction": 0.632,
        "bagging_freq": 1,
        "feature_fraction_bynode": args.max_features_per_split / n_features,
        "num_threads": args.n_jobs,
        "seed": 0,
        "verbose": -1,
    }


def fit_upliftree(forest_class, data: UpliftData, params: dict[str, Any]):
    return forest_class(**without_progress(forest_class, params)).fit(data.X, data.treatment, data.y)


def fit_causalml(causalml_tree, data: UpliftData, params: dict[str, Any]):
    arm_names = np.where(data.treatment == 1, "treatment1", "control")
    return causalml_tree.UpliftRandomForestClassifier(**params).fit(data.X, treatment=arm_names, y=data.y)


def fit_lightgbm(lightgbm, data: UpliftData, params: dict[str, Any]):
    dataset = lightgbm.Dataset(data.X, label=data.y, params={"max_bin": params["max_bin"], "verbose": -1})
    return lightgbm.train(params, dataset)


def bench_design(forest_class, data: UpliftData, args) -> dict[str, Any]:
    """The warm forest fit with the design (``propensity``, then also ``cluster``) against the plain fit."""
    params = without_progress(forest_class, upliftree_params(args, args.n_trees))
    propensity, cluster = stratified_design(data)
    warm = head(data, WARMUP_ROWS)
    forest_class(**params).fit(warm.X, warm.treatment, warm.y, propensity=propensity[:WARMUP_ROWS],
                               cluster=cluster[:WARMUP_ROWS])

    def fit(**design: Any) -> Any:
        return forest_class(**params).fit(data.X, data.treatment, data.y, **design)

    return design_results(time_design_fits(fit, propensity, cluster, args.repeats), params, DESIGN_CLUSTER_SIZE)


def head(data: UpliftData, n_rows: int) -> UpliftData:
    return UpliftData(data.X[:n_rows], data.treatment[:n_rows], data.y[:n_rows], data.feature_names, data.source)


def peak_memory(data: UpliftData, params: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS increase of one upliftree forest fit, measured in a fresh process (see ``_MEMORY_CODE``).

    X is saved with its own memory order (causalml's generator gives Fortran order), so the fit sees the
    same layout as the timed fits.
    """
    with tempfile.TemporaryDirectory(prefix="upliftree-bench-") as workdir:
        for name in ("X", "treatment", "y"):
            np.save(Path(workdir) / f"{name}.npy", getattr(data, name))
        completed = subprocess.run(
            [sys.executable, "-c", _MEMORY_CODE, workdir, json.dumps(params)],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"memory measurement failed:\n{completed.stderr}")
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    x_bytes = data.X.shape[0] * data.X.shape[1] * 8
    increase = measured["peak_rss_bytes"] - measured["rss_before_fit_bytes"]
    return {
        **measured,
        "params": params,
        "x_float64_bytes": x_bytes,
        "x_order": "C" if data.X.flags.c_contiguous else "F" if data.X.flags.f_contiguous else "strided",
        "fit_increase_bytes": increase,
        "fit_increase_over_x": increase / x_bytes,
        "within_target": increase <= TARGETS["fit_memory_over_x_max"] * x_bytes + measured["forest_pickle_bytes"],
    }


def scaling_table(
    peers: dict[str, Any], results_fit: dict[str, Any], data: UpliftData, args, notes: list[str]
) -> list[dict[str, Any]]:
    sizes = [*args.scaling_rows, *(SCALING_ROWS_UPLIFTREE_ONLY if args.scaling_10m else ())]
    rows = []
    for n_rows in sizes:
        sample = head(data, n_rows) if n_rows <= len(data.X) else make_uplift_data(n_rows, args.seed)
        row: dict[str, Any] = {"n_rows": n_rows}
        for name, (module, fit, params) in peers.items():
            if n_rows in SCALING_ROWS_UPLIFTREE_ONLY and name != "upliftree":
                continue
            if name == "causalml" and n_rows > args.causalml_rows:
                notes.append(f"scaling: causalml not measured at {n_rows:,} rows (> --causalml-rows)")
                continue
            measured = results_fit.get(name)
            if n_rows == len(data.X) and measured is not None and not measured["extrapolated"]:
                row[name] = min(measured["fit_seconds"])  # the main comparison already fitted these rows
                continue
            seconds, _ = time_call(
                partial(fit, module, sample, params),
                args.repeats if name != "causalml" else 1,
            )
            row[name] = min(seconds)
        print(f"  scaling {n_rows:>10,} rows: " + ", ".join(f"{k} {v:.3g} s" for k, v in row.items() if k != "n_rows"))
        rows.append(row)
    return rows


def build_tables(results: dict[str, Any], ratios: dict[str, Any], args, n_rows: int) -> list[dict[str, Any]]:
    fit_rows = []
    labels = {
        "upliftree": "upliftree (warm)",
        "causalml": "causalml 0.18.0, max_depth 6",
        "lightgbm": "LightGBM rf mode, bagging 0.632",
    }
    for name, label in labels.items():
        if name in results["fit"]:
            result = results["fit"][name]
            if result.get("extrapolated"):
                label += f" (extrapolated from {result['n_rows']:,} rows)"
            fit_rows.append([label, result["fit_seconds_at_n_rows"]])
    tables = [
        {
            "title": f"Forest fit, {args.n_trees} trees, KL, depth 5, min_samples_leaf 100, "
            f"{args.max_features_per_split} features per split, {n_rows:,} rows, n_jobs={args.n_jobs}",
            "header": ["library", "fit seconds (best)"],
            "rows": fit_rows,
        }
    ]
    causalml_ratio = ratios.get("causalml_over_upliftree")
    ratio_label = "causalml / upliftree fit time"
    if results["fit"].get("causalml", {}).get("extrapolated"):
        ratio_label += " (extrapolated)"
    ratio_rows = [
        [ratio_label, causalml_ratio, f">= {TARGETS['causalml_over_upliftree_min']:g}"],
        [
            "upliftree / LightGBM fit time",
            ratios.get("upliftree_over_lightgbm"),
            f"<= {TARGETS['upliftree_over_lightgbm_max']:g}",
        ],
    ]
    if "predict" in results:
        ratio_rows.append(
            [
                f"predict {n_rows:,} rows, {N_TREES_PREDICT} trees (s)",
                results["predict"]["seconds"],
                f"<= {TARGETS['predict_seconds_100_trees_max']:g}",
            ]
        )
    if "memory" in results:
        memory = results["memory"]
        ratio_rows.append(
            [
                f"peak fit memory increase / X float64 ({N_TREES_PREDICT} trees, {memory['x_order']}-order X, "
                f"{memory['peak_method']})",
                memory["fit_increase_over_x"],
                f"<= {TARGETS['fit_memory_over_x_max']:g} (+ trees: "
                f"{memory['forest_pickle_bytes'] / memory['x_float64_bytes']:.2f})",
            ]
        )
    tables.append(
        {"title": "Against the issue 4 targets", "header": ["measure", "value", "target"], "rows": ratio_rows}
    )
    if "design" in results:
        tables.append(design_table(results["design"], f"Forest of {args.n_trees} trees, {n_rows:,} rows"))
    if "scaling" in results:
        names = [name for name in labels if any(name in row for row in results["scaling"])]
        tables.append(
            {
                "title": "Fit seconds by rows (same forest settings)",
                "header": ["rows", *names],
                "rows": [[row["n_rows"], *(row.get(name) for name in names)] for row in results["scaling"]],
            }
        )
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-rows", type=int, default=1_000_000, help="rows in total, half per arm")
    parser.add_argument("--n-trees", type=int, default=20, help="trees per forest in the fit comparison")
    parser.add_argument("--max-features", default="sqrt", help="features per split: sqrt, log2, all or an int")
    parser.add_argument("--n-jobs", type=int, default=cpu_count(), help="threads for every library")
    parser.add_argument(
        "--causalml-rows",
        type=int,
        default=None,
        help="fit causalml on this many rows and extrapolate linearly (default: --n-rows)",
    )
    parser.add_argument("--repeats", type=int, default=5,
                        help="fit repeats for upliftree and LightGBM; the best is kept (timings vary)")
    parser.add_argument("--scaling", action="store_true", help="also time fits at 10k, 100k, 1M rows")
    parser.add_argument(
        "--scaling-rows", type=int, nargs="+", default=list(SCALING_ROWS), help="row counts of the scaling table"
    )
    parser.add_argument("--scaling-10m", action="store_true", help="add 10M rows to the scaling table (upliftree)")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak-memory subprocess")
    parser.add_argument("--seed", type=int, default=20190101, help="data seed (causalml's default)")
    parser.add_argument("--design-only", action="store_true",
                        help="time only upliftree's fits with and without the design (needs --out)")
    parser.add_argument("--out", type=Path, default=None, help="JSON result path (default results/forest.json)")
    args = parser.parse_args(argv)
    if args.design_only and args.out is None:
        parser.error("--design-only needs --out: a partial run must not replace results/forest.json")
    args.out = args.out or default_out("forest")
    args.causalml_rows = min(args.causalml_rows or args.n_rows, args.n_rows)

    notes: list[str] = []
    quiet_peer_warnings()
    upliftree = try_import("upliftree", notes)
    forest_class = optional_attribute(upliftree, "UpliftRandomForestClassifier", notes) if upliftree else None
    causalml_tree = None if args.design_only else try_import("causalml.inference.tree", notes)
    lightgbm = None if args.design_only else try_import("lightgbm", notes)
    info = machine_info()
    data = make_uplift_data(args.n_rows, args.seed)
    args.max_features_per_split = features_per_split(args.max_features, data.X.shape[1])
    if args.causalml_rows < args.n_rows and causalml_tree is not None:
        notes.append(
            f"causalml fitted on {args.causalml_rows:,} rows; its {args.n_rows:,}-row time and ratio "
            "are extrapolated linearly"
        )
    print_header(f"bench_forest: {len(data.X):,} rows x {data.X.shape[1]} features from {data.source}", info, notes)

    peers: dict[str, Any] = {}
    if forest_class is not None and not args.design_only:
        peers["upliftree"] = (forest_class, fit_upliftree, upliftree_params(args, args.n_trees))
    if causalml_tree is not None:
        peers["causalml"] = (causalml_tree, fit_causalml, causalml_params(args))
    if lightgbm is not None:
        peers["lightgbm"] = (lightgbm, fit_lightgbm, lightgbm_params(args, data.X.shape[1]))

    results: dict[str, Any] = {"fit": {}}
    for name, (module, fit, params) in peers.items():
        if name == "causalml":
            sample = head(data, args.causalml_rows)
            seconds, _ = time_call(partial(fit, module, sample, params), 1)
        else:
            fit(module, head(data, WARMUP_ROWS), params)  # compile kernels / start thread pools
            seconds, _ = time_call(partial(fit, module, data, params), args.repeats)
        fitted_rows = args.causalml_rows if name == "causalml" else args.n_rows
        results["fit"][name] = {
            "params": params,
            "n_rows": fitted_rows,
            "fit_seconds": seconds,
            "extrapolated": fitted_rows < args.n_rows,
            "fit_seconds_at_n_rows": min(seconds) * args.n_rows / fitted_rows,
        }
        print(f"  {name}: {min(seconds):.3f} s on {fitted_rows:,} rows")

    fit = results["fit"]
    ratios: dict[str, Any] = {}
    if "upliftree" in fit and "causalml" in fit:
        ratios["causalml_over_upliftree"] = (
            fit["causalml"]["fit_seconds_at_n_rows"] / fit["upliftree"]["fit_seconds_at_n_rows"]
        )
        ratios["causalml_over_upliftree_extrapolated"] = fit["causalml"]["extrapolated"]
    if "upliftree" in fit and "lightgbm" in fit:
        ratios["upliftree_over_lightgbm"] = (
            fit["upliftree"]["fit_seconds_at_n_rows"] / fit["lightgbm"]["fit_seconds_at_n_rows"]
        )

    if forest_class is not None:
        results["design"] = bench_design(forest_class, data, args)
        design = results["design"]
        print(f"  upliftree forest fit with propensity {design['propensity']['over_plain']:.2f}x the plain fit, "
              f"with propensity and cluster {design['propensity_and_cluster']['over_plain']:.2f}x")
    if forest_class is not None and not args.design_only:
        params = upliftree_params(args, N_TREES_PREDICT)
        fit_seconds, forest = time_call(lambda: fit_upliftree(forest_class, data, params), 1)
        forest.predict(data.X[:1000])
        predict_seconds, _ = time_call(lambda: forest.predict(data.X), args.repeats)
        results["predict"] = {
            "params": params,
            "n_rows": args.n_rows,
            "fit_seconds": fit_seconds[0],
            "predict_seconds": predict_seconds,
            "seconds": min(predict_seconds),
        }
        if args.memory:
            results["memory"] = peak_memory(data, without_progress(forest_class, params))
            if results["memory"]["peak_note"]:
                notes.append(f"memory: {results['memory']['peak_note']}")
    if args.scaling and not args.design_only:
        results["scaling"] = scaling_table(peers, results["fit"], data, args, notes)

    if args.design_only:
        what = f"Forest of {args.n_trees} trees, {len(data.X):,} rows"
        tables = [design_table(results["design"], what)] if "design" in results else []
    else:
        tables = build_tables(results, ratios, args, len(data.X))
    for table in tables:
        print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    for note in notes:
        print(f"note: {note}")
    write_json(
        args.out,
        {
            "benchmark": "forest",
            "machine": info,
            "notes": notes,
            "data": {
                "source": data.source,
                "n_rows": len(data.X),
                "n_features": data.X.shape[1],
                "seed": args.seed,
            },
            "settings": {
                "n_trees": args.n_trees,
                "max_features": args.max_features,
                "max_features_per_split": args.max_features_per_split,
                "n_jobs": args.n_jobs,
                "causalml_rows": args.causalml_rows,
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
