"""Per-row confidence intervals of a forest's uplift (issue 19) on Wager & Athey (2018)'s Table 2 design.

n = 5,000 rows, X ~ U[0, 1]^d for d in {2, 4, 8}, e(x) = 0.5, tau(x) = xi(x1) xi(x2) with
xi(x) = 1 + 1 / (1 + exp(-20 (x - 1/3))), Y = (W - 0.5) tau(x) + N(0, 1); 1,000 test points drawn once per
replication. ``--outcome binary`` is the Bernoulli variant: P(Y = 1) = 0.5 + (W - 0.5) tau(x) / 8, so the
true uplift is tau(x) / 8 (between 1/8 and 1/2).

Models, fitted on the same rows in the same run:
  upliftree   UpliftRandomForestRegressor/Classifier, ci_group_size=2, honest, bootstrap=False,
              max_samples=0.5, max_features=1.0, min_samples_leaf=5, 200 trees; predict_interval. Splits
              on the difference in uplift: the regressor's default "tstat", criterion="ddp" for the classifier
  upliftree_kl  (binary outcome only) the same classifier with its default criterion "kl", beside it: it
              ranks well but its trees are more biased for tau(x), so its intervals under-cover as d grows
  upliftree_kl_raw  (binary outcome only) KL without its normalization (normalize=False): is the
              normalization what biases KL's trees?
  upliftree_no_shrinkage  (binary, with --models only) criterion="ddp" with n_reg=0: no shrinkage of the
              children's means toward the node's
  econml_cf   EconML CausalForestDML(discrete_treatment=True), EconML defaults, 200 trees; effect_interval
              (run with the peers venv: /opt/upliftree-peers/bin/python)

Reported per model and d: coverage of the 95% intervals of tau(x) over test points and replications, mean
width, MSE of the point estimate, and fit + interval seconds.

``--decompose`` splits each model's error on fixed test points into squared bias and variance over the
replications (the data sets vary, the test points do not), beside the variance its intervals imply
((upper - lower) / (2 z))^2: an interval under-covers from bias when bias^2 is large against that variance,
and from the variance estimate when the implied variance is below the actual one. Writes
results/forest_ci_decompose[_binary].json.

``--deciles`` (binary outcome) asks the report's question instead: on 2,000 held-out rows with outcomes, the
rows are cut into deciles of each forest's predicted uplift, and the forest's interval of each decile's mean
uplift (``predict_group_interval``, the report's ``--forest-bands``) is checked against the decile's true mean
uplift, beside the decile's observed-uplift interval on those rows (Newcombe's, ``calibration_table``: the
report's claim about the decile). Forests: the report's band forest (``ReportSettings(forest_bands=True)``:
100 trees of depth 6, ``min_samples_leaf="auto"``, honest pairs on half-samples), with its default criterion
and with ``"ddp"``, and the interval forest above (``criterion="ddp"``). Writes
results/forest_ci_deciles_binary.json.

``--speed`` instead times ``predict_interval`` against ``predict`` on 1M rows x 200 trees (the forest above,
grown on 20,000 rows with d = 8; issue 19's target is at most 2x) and writes results/forest_ci_speed.json.

Usage: python benchmarks/bench_forest_ci.py [--replications 20] [--dims 2 4 8] [--outcome continuous]
       python benchmarks/bench_forest_ci.py --decompose --outcome binary --dims 8
       python benchmarks/bench_forest_ci.py --outcome binary --dims 8 --models upliftree upliftree_no_shrinkage
       python benchmarks/bench_forest_ci.py --deciles --outcome binary --dims 2 8
       python benchmarks/bench_forest_ci.py --speed
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    cpu_count,
    default_out,
    format_table,
    machine_info,
    print_header,
    quiet_peer_warnings,
    try_import,
    write_json,
)

N_ROWS = 5000
N_TEST = 1000
N_TREES = 200
ALPHA = 0.05
UPLIFTREE_PARAMS = dict(n_estimators=N_TREES, ci_group_size=2, honest=True, bootstrap=False, max_samples=0.5,
                        max_features=1.0, max_depth=12, min_samples_leaf=5, min_samples_treatment=2)
# The classifier's interval criterion: DeltaDeltaP scores a split by the difference in uplift between the
# children, as the regressor's t-statistic and grf's causal trees do; the classifier's default, normalized KL
# grows trees with twice the squared bias at d = 8 (docs/forest.md).
BINARY_CRITERION = "ddp"
# The binary outcome's upliftree models: parameters changed from UPLIFTREE_PARAMS and the class's defaults.
BINARY_VARIANTS = {"upliftree": {"criterion": BINARY_CRITERION}, "upliftree_kl": {},
                   "upliftree_kl_raw": {"normalize": False}}
# Models run only when named with --models: the interval criterion without shrinkage (n_reg=0; the
# classifier warns that its intervals fail).
EXTRA_BINARY_VARIANTS = {"upliftree_no_shrinkage": {"criterion": BINARY_CRITERION, "n_reg": 0}}
TARGETS = "coverage of 95% intervals between 0.90 and 0.98 at every d (issue 19)"
SPEED_FIT_ROWS = 20_000
SPEED_ROWS = 1_000_000
SPEED_REPEATS = 3
SPEED_TARGET = "predict_interval at most 2x predict on 1M rows x 200 trees (issue 19)"


def xi(x: np.ndarray) -> np.ndarray:
    return 1.0 + 1.0 / (1.0 + np.exp(-20.0 * (x - 1.0 / 3.0)))


def simulate(n_rows: int, d: int, outcome: str, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Rows of the design: features, arm (0/1), outcome and the true uplift of each row."""
    X = rng.uniform(size=(n_rows, d))
    tau = xi(X[:, 0]) * xi(X[:, 1])
    treatment = rng.integers(0, 2, n_rows)
    if outcome == "binary":
        y = (rng.uniform(size=n_rows) < 0.5 + (treatment - 0.5) * tau / 8.0).astype(np.float64)
        return X, treatment, y, tau / 8.0
    return X, treatment, (treatment - 0.5) * tau + rng.normal(size=n_rows), tau


def upliftree_criterion(outcome: str) -> str:
    return BINARY_CRITERION if outcome == "binary" else "tstat (the regressor's default)"


def fit_upliftree(upliftree, outcome, changed, seed, X, treatment, y, X_test):
    """The forest of ``UPLIFTREE_PARAMS`` with the parameters ``changed`` (the class's defaults otherwise)."""
    model_class = (upliftree.UpliftRandomForestClassifier if outcome == "binary"
                   else upliftree.UpliftRandomForestRegressor)
    params = {**UPLIFTREE_PARAMS, **changed}
    forest = model_class(**params, n_jobs=cpu_count(), random_state=seed, verbose=0)
    forest.fit(X, treatment, y)
    lower, upper = forest.predict_interval(X_test, alpha=ALPHA)
    return forest.predict(X_test), lower, upper


def fit_econml(econml_dml, outcome, seed, X, treatment, y, X_test):
    model = econml_dml.CausalForestDML(discrete_treatment=True, n_estimators=N_TREES, random_state=seed,
                                       n_jobs=cpu_count())
    model.fit(y, treatment, X=X)
    lower, upper = model.effect_interval(X_test, alpha=ALPHA)
    return (np.asarray(model.effect(X_test)).reshape(-1), np.asarray(lower).reshape(-1),
            np.asarray(upper).reshape(-1))


def speed(upliftree, info: dict, notes: list[str], out: Path) -> None:
    """``predict_interval`` against ``predict`` on 1M rows x 200 trees, calls interleaved (a busy machine slows
    both alike), median of ``SPEED_REPEATS`` each."""
    rng = np.random.default_rng(0)
    X, treatment, y, _ = simulate(SPEED_FIT_ROWS, 8, "continuous", rng)
    forest = upliftree.UpliftRandomForestRegressor(**UPLIFTREE_PARAMS, n_jobs=cpu_count(), random_state=0,
                                                   verbose=0).fit(X, treatment, y)
    X_new = rng.uniform(size=(SPEED_ROWS, 8))
    forest.predict_interval(X_new[:1000])  # compile outside the timings
    seconds: dict[str, list[float]] = {"predict": [], "predict_interval": [], "predict_variance": []}
    for _ in range(SPEED_REPEATS):
        for method in seconds:
            start = time.perf_counter()
            getattr(forest, method)(X_new)
            seconds[method].append(time.perf_counter() - start)
    median = {method: float(np.median(values)) for method, values in seconds.items()}
    depth = float(np.mean([tree.tree_.max_depth() for tree in forest.estimators_]))
    rows = [[method, median[method], round(median[method] / median["predict"], 2)] for method in seconds]
    table = {"title": f"{SPEED_ROWS:,} rows x {N_TREES} trees (mean depth {depth:.1f}, grown on "
                      f"{SPEED_FIT_ROWS:,} rows, d = 8), {cpu_count()} threads, median of {SPEED_REPEATS}",
             "header": ["method", "seconds", "x predict"], "rows": rows}
    print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    write_json(out, {"benchmark": "forest_ci_speed", "machine": info, "notes": notes,
                     "protocol": {"fit_rows": SPEED_FIT_ROWS, "rows": SPEED_ROWS, "repeats": SPEED_REPEATS,
                                  "upliftree_params": UPLIFTREE_PARAMS},
                     "targets": SPEED_TARGET, "results": {"seconds": seconds, "median": median},
                     "tables": [table]})


def decompose(models: dict, args: argparse.Namespace, info: dict, notes: list[str], out: Path) -> None:
    """Squared bias, variance and interval-implied variance of every model on fixed test points per d."""
    from scipy.stats import norm

    z = norm.ppf(1 - ALPHA / 2)
    rows, raw = [], {}
    for d in args.dims:
        X_test, *_, tau_test = simulate(N_TEST, d, args.outcome, np.random.default_rng([d, 10**6]))
        estimates = {model: [] for model in models}
        implied = {model: [] for model in models}
        for replication in range(args.replications):
            X, treatment, y, _ = simulate(N_ROWS, d, args.outcome, np.random.default_rng([d, replication]))
            for model, fit in models.items():
                estimate, lower, upper = fit(replication, X, treatment, y, X_test)
                estimates[model].append(estimate)
                implied[model].append(((upper - lower) / (2 * z)) ** 2)
            print(f"d={d} replication {replication} done", flush=True)
        for model in models:
            estimate = np.array(estimates[model])
            variance = float(np.mean(np.var(estimate, axis=0, ddof=1)))
            # The mean over R replications still carries variance / R of noise: taken out of the squared bias.
            bias_squared = float(np.mean((estimate.mean(axis=0) - tau_test) ** 2)) - variance / args.replications
            implied_variance = float(np.mean(implied[model]))
            raw.setdefault(str(d), {})[model] = {"bias_squared": bias_squared, "variance": variance,
                                                 "implied_variance": implied_variance}
            rows.append([d, model, bias_squared, variance, implied_variance,
                         round(implied_variance / variance, 2), round(bias_squared / implied_variance, 2)])
    table = {"title": f"Error of the point estimate on {N_TEST:,} fixed test points over {args.replications} data "
                      f"sets, {args.outcome} outcome, n = {N_ROWS:,}",
             "header": ["d", "model", "bias^2", "variance", "interval-implied variance", "implied / variance",
                        "bias^2 / implied"],
             "rows": rows}
    print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    protocol = {"n_rows": N_ROWS, "n_test": N_TEST, "replications": args.replications, "dims": args.dims,
                "outcome": args.outcome, "alpha": ALPHA, "upliftree_params": UPLIFTREE_PARAMS,
                "upliftree_criterion": upliftree_criterion(args.outcome)}
    write_json(out, {"benchmark": out.stem, "machine": info, "notes": notes, "protocol": protocol,
                     "results": raw, "tables": [table]})


N_DECILE_TEST = 2000


def decile_models() -> dict[str, dict]:
    """The forests of ``--deciles``: the report's band forest (its own settings) and the interval forest."""
    from upliftree.report import ReportSettings
    from upliftree.report.fitting import forest_sampling_params

    settings = ReportSettings(forest_bands=True)
    report = {"n_estimators": settings.n_estimators, "max_depth": settings.forest_max_depth,
              "min_samples_leaf": "auto", **forest_sampling_params(settings)}
    return {"report_bands": report, "report_bands_ddp": {**report, "criterion": "ddp"},
            "interval_forest": {**UPLIFTREE_PARAMS, "criterion": BINARY_CRITERION}}


def deciles(upliftree, args: argparse.Namespace, info: dict, notes: list[str], out: Path) -> None:
    """Coverage of the deciles' true mean uplift by the forest's decile bands and by the observed intervals."""
    from upliftree.metrics import calibration_table, score_bins

    models = decile_models()
    raw: dict[str, dict[str, dict[str, list]]] = {}
    measures = ("band_covered", "band_width", "band_error", "observed_covered", "observed_width")
    for d in args.dims:
        per_model = raw[str(d)] = {model: {measure: [] for measure in measures} for model in models}
        for replication in range(args.replications):
            rng = np.random.default_rng([d, replication, 7])
            X, treatment, y, _ = simulate(N_ROWS, d, "binary", rng)
            X_test, treatment_test, y_test, tau_test = simulate(N_DECILE_TEST, d, "binary", rng)
            for model, params in models.items():
                forest = upliftree.UpliftRandomForestClassifier(**params, n_jobs=cpu_count(), random_state=replication,
                                                                verbose=0).fit(X, treatment, y)
                score = forest.predict(X_test)
                bins = score_bins(score)  # 0: the highest predicted uplift
                bands = forest.predict_group_interval(X_test, bins, alpha=ALPHA).sort_values("group")
                truth = np.array([tau_test[bins == group].mean() for group in bands["group"]])
                observed = calibration_table(y_test, score, treatment_test, alpha=ALPHA).sort_values("bin")
                result = per_model[model]
                result["band_covered"].append(((bands["ci_low"] <= truth) & (truth <= bands["ci_high"])).tolist())
                result["band_width"].append((bands["ci_high"] - bands["ci_low"]).tolist())
                result["band_error"].append((bands["uplift"] - truth).tolist())
                result["observed_covered"].append(((observed["ci_low"].to_numpy() <= truth)
                                                   & (truth <= observed["ci_high"].to_numpy())).tolist())
                result["observed_width"].append((observed["ci_high"] - observed["ci_low"]).tolist())
            print(f"d={d} replication {replication} done", flush=True)
    rows = []
    for d, per_model in raw.items():
        for model, result in per_model.items():
            band, error = np.array(result["band_covered"]), np.array(result["band_error"])
            rows.append([int(d), model, len(band), round(float(band.mean()), 3), round(float(band[:, 0].mean()), 2),
                         round(float(band[:, -1].mean()), 2), float(error[:, 0].mean()), float(error[:, -1].mean()),
                         float(np.mean(result["band_width"])), round(float(np.mean(result["observed_covered"])), 3),
                         float(np.mean(result["observed_width"]))])
    table = {"title": f"95% intervals of each decile's true mean uplift, binary outcome, n = {N_ROWS:,}, "
                      f"{N_DECILE_TEST:,} held-out rows cut into deciles of predicted uplift, {args.replications} "
                      "replications per d",
             "header": ["d", "forest", "replications", "band coverage", "top decile", "bottom decile",
                        "top decile error", "bottom decile error", "band width", "observed coverage",
                        "observed width"],
             "rows": rows}
    print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    protocol = {"n_rows": N_ROWS, "n_test": N_DECILE_TEST, "replications": args.replications, "dims": args.dims,
                "outcome": "binary", "alpha": ALPHA, "forests": models}
    write_json(out, {"benchmark": out.stem, "machine": info, "notes": notes, "protocol": protocol,
                     "results": raw, "tables": [table]})


def result_payload(name: str, info: dict, notes: list[str], protocol: dict, raw: dict) -> dict:
    """The JSON result of the replications in ``raw`` (``{d: {model: {measure: [one per replication]}}}``)."""
    rows = []
    for d, per_model in raw.items():
        for model, result in per_model.items():
            if result["covered"]:
                rows.append([int(d), model, len(result["covered"]), round(float(np.mean(result["covered"])), 3),
                             round(float(np.min(result["covered"])), 3), float(np.mean(result["width"])),
                             float(np.mean(result["mse"])), float(np.mean(result["seconds"]))])
    table = {"title": f"95% intervals of tau(x), {protocol['outcome']} outcome, n = {N_ROWS:,}, {N_TEST:,} test "
                      f"points, {protocol['replications']} replications per d planned",
             "header": ["d", "model", "replications", "coverage", "worst replication", "mean width", "MSE",
                        "fit+interval s"],
             "rows": rows}
    return {"benchmark": name, "machine": info, "notes": notes, "protocol": protocol, "targets": TARGETS,
            "results": raw, "tables": [table]}


def merge(paths: list[Path], out: Path) -> None:
    """One result from runs of the same protocol on different d (run side by side to share a busy machine)."""
    import json

    payloads = [json.loads(path.read_text()) for path in paths]
    first = payloads[0]
    raw = {d: per_model for payload in payloads for d, per_model in payload["results"].items()}
    protocol = {**first["protocol"], "dims": [int(d) for d in raw]}
    notes = first["notes"] + (["merged from runs side by side: " + "; ".join(payload["command"] for payload in
                                                                            payloads)] if len(payloads) > 1 else [])
    write_json(out, result_payload(first["benchmark"], first["machine"], notes, protocol, raw))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replications", type=int, default=20, help="simulated data sets per d")
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 4, 8], help="numbers of features d")
    parser.add_argument("--outcome", choices=["continuous", "binary"], default="continuous")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="merge these result files (one protocol, different d) into --out instead of running")
    parser.add_argument("--speed", action="store_true", help="time predict_interval against predict instead")
    parser.add_argument("--decompose", action="store_true",
                        help="split the error into bias and variance on fixed test points instead")
    parser.add_argument("--models", nargs="+", default=None,
                        help="run only these models (default: the outcome's table; binary extras: "
                             f"{', '.join(EXTRA_BINARY_VARIANTS)})")
    parser.add_argument("--deciles", action="store_true",
                        help="check the forest's decile bands against the deciles' true uplift instead (binary)")
    parser.add_argument("--out", type=Path, default=None, help="JSON result path (default results/forest_ci"
                        "[_decompose|_deciles][_binary] or forest_ci_speed.json)")
    args = parser.parse_args()
    if args.deciles and args.outcome != "binary":
        parser.error("--deciles asks the report's question of a binary outcome: add --outcome binary")
    name = ("forest_ci_speed" if args.speed else "forest_ci_decompose" if args.decompose
            else "forest_ci_deciles" if args.deciles else "forest_ci")
    if args.outcome == "binary" and not args.speed:
        name += "_binary"
    out = args.out or default_out(name)
    notes: list[str] = []
    if args.merge:
        merge(args.merge, out)
        return 0
    quiet_peer_warnings()
    import upliftree

    if args.speed:
        info = machine_info()
        print_header("Forest interval speed: predict_interval against predict", info, notes)
        speed(upliftree, info, notes, out)
        return 0
    if args.deciles:
        info = machine_info()
        print_header("Forest decile bands against the deciles' true uplift (the report's --forest-bands)", info,
                     notes)
        deciles(upliftree, args, info, notes, out)
        return 0

    variants = BINARY_VARIANTS if args.outcome == "binary" else {"upliftree": {}}
    if args.models:
        known = {**variants, **(EXTRA_BINARY_VARIANTS if args.outcome == "binary" else {}), "econml_cf": None}
        unknown = sorted(set(args.models) - set(known))
        if unknown:
            parser.error(f"--models: unknown {unknown}; known: {sorted(known)}")
        variants = {model: known[model] for model in args.models if model != "econml_cf"}
    models = {model: functools.partial(fit_upliftree, upliftree, args.outcome, changed)
              for model, changed in variants.items()}
    econml_dml = try_import("econml.dml", notes) if not args.models or "econml_cf" in args.models else None
    if econml_dml is not None:
        models["econml_cf"] = lambda *a: fit_econml(econml_dml, args.outcome, *a)
    info = machine_info()
    print_header(f"Forest confidence intervals, Wager & Athey (2018) Table 2 design, {args.outcome} outcome", info,
                 notes)
    # Warm-up (Numba compilation for every upliftree model) outside the timings.
    X, treatment, y, _ = simulate(2000, 2, args.outcome, np.random.default_rng(0))
    for model in variants:
        models[model](0, X, treatment, y, X[:10])
    if args.decompose:
        decompose(models, args, info, notes, out)
        return 0

    # Written after every replication, so a run stopped early keeps what it measured (the titles say how much).
    raw: dict[str, dict[str, dict[str, list]]] = {}
    protocol = {"n_rows": N_ROWS, "n_test": N_TEST, "replications": args.replications, "dims": args.dims,
                "outcome": args.outcome, "alpha": ALPHA, "upliftree_params": UPLIFTREE_PARAMS,
                "upliftree_criterion": upliftree_criterion(args.outcome),
                "econml_params": {"discrete_treatment": True, "n_estimators": N_TREES}}
    for d in args.dims:
        per_model = raw[str(d)] = {model: {"covered": [], "width": [], "mse": [], "seconds": []} for model in models}
        for replication in range(args.replications):
            rng = np.random.default_rng([d, replication])
            X, treatment, y, _ = simulate(N_ROWS, d, args.outcome, rng)
            X_test, *_, tau_test = simulate(N_TEST, d, args.outcome, rng)
            for model, fit in models.items():
                start = time.perf_counter()
                estimate, lower, upper = fit(replication, X, treatment, y, X_test)
                seconds = time.perf_counter() - start
                result = per_model[model]
                result["covered"].append(float(np.mean((lower <= tau_test) & (tau_test <= upper))))
                result["width"].append(float(np.mean(upper - lower)))
                result["mse"].append(float(np.mean((estimate - tau_test) ** 2)))
                result["seconds"].append(seconds)
            print(f"d={d} replication {replication}: " + ", ".join(
                f"{model} coverage {per_model[model]['covered'][-1]:.3f}" for model in models), flush=True)
            write_json(out, result_payload(name, info, notes, protocol, raw))
    table = result_payload(name, info, notes, protocol, raw)["tables"][0]
    print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
