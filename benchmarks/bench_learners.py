"""Meta-learners against the true effect (issue 17): upliftree.learners vs EconML 0.17, same base models, same data.

Designs (randomized: every arm equally likely, propensities estimated by every learner that needs one):
  planted        make_uplift_data: binary conversion, four planted segments (+8 pp, -5 pp, 0, 0), 6 features
                 (region and channel one-hot encoded, income 5% missing); true effect ``true_uplift_email``
  smooth         make_smooth_uplift_data: Nie & Wager's setup A baseline, tau(x) = (x0 + x1) / 2, continuous
                 outcome with N(0, 1) noise, 6 uniform features
  smooth_binary  the same with a binary outcome, P(y = 1) = 0.1 + 0.2 b(x) + 0.2 tau_a(x) (effects 0.2 tau)

For each seed in ``--seeds`` a fresh data set of ``--n-train`` + ``--n-test`` rows is drawn; every learner is
fitted on the training rows and its predicted effect on the test rows is compared with the true effect there
(RMSE). Both libraries get the same feature matrix (numeric, NaN kept) and the same scikit-learn base models:
``HistGradientBoostingClassifier`` for binary outcomes and propensities, ``HistGradientBoostingRegressor`` for
continuous outcomes and every effect (final) model, each with ``early_stopping=True`` (upliftree.learners'
default) and otherwise scikit-learn's defaults; cross-fitting uses 5 folds in both.

Pairs (upliftree -> EconML):
  s   SLearner                    -> econml.metalearners.SLearner(overall_model)
  t   TLearner                    -> econml.metalearners.TLearner(models)
  x   XLearner                    -> econml.metalearners.XLearner(models, cate_models, propensity_model)
  r   RLearner                    -> econml.dml.NonParamDML(model_y, model_t, model_final, discrete_treatment=True)
  dr  DRLearner                   -> econml.dr.DRLearner(model_propensity, model_regression, model_final)
  ct  ClassTransformation         -> (no EconML counterpart)
  dr_known  DRLearner given the design's propensity (every arm equally likely) -> (EconML takes no known
            propensity): what estimating the propensity of a randomized experiment costs
EconML's meta-learners read a model's ``predict``; with a binary outcome they get the same classifier with
``predict`` returning the probability of 1. EconML's DRLearner and NonParamDML use ``discrete_outcome=True``
(the classifier's probability). Structural differences that remain: EconML's DRLearner fits one outcome
model on features + treatment (upliftree one per arm) and clips propensities at 1e-6 (upliftree 0.01).

Fit seconds are wall-clock. upliftree runs independent base-model fits in threads, each on one OpenMP thread:
timed with ``n_jobs=None`` (every core) and with ``n_jobs=1`` (one thread; the predictions must be identical).
EconML fits its base models one after the other; it runs with OpenMP limited to one thread
(``threadpoolctl``), so its column compares with upliftree's one-thread column: on a shared machine
scikit-learn's spinning OpenMP threads made EconML's fits 10-50x slower (a 3,000-row DR-learner took 125 s at
load average 9 on 2 cores), which measures the machine, not the library.

Usage: python benchmarks/bench_learners.py [--designs planted,smooth] [--seeds 0 1 2] [--n-train 10000]
       python benchmarks/bench_learners.py --retable benchmarks/results/learners.json   (tables only)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import default_out, format_table, machine_info, print_header, quiet_peer_warnings, try_import, write_json

LEARNERS = ("s", "t", "x", "r", "dr", "ct", "dr_known")
LEARNER_NAMES = {"s": "S-learner", "t": "T-learner", "x": "X-learner", "r": "R-learner", "dr": "DR-learner",
                 "ct": "class transformation", "dr_known": "DR-learner, known propensity"}
BASE_MODEL_OPTIONS = {"early_stopping": True}
CV = 5
LIBRARIES = ("upliftree", "upliftree_one_thread", "econml")


class Design:
    """One data-generating process: ``draw(n, seed) -> (X, treatment, y, true effect)``."""

    def __init__(self, name: str, binary: bool, draw: Callable[[int, int], tuple[np.ndarray, ...]], what: str):
        self.name, self.binary, self.draw, self.what = name, binary, draw, what


def _planted(n_rows: int, seed: int) -> tuple[np.ndarray, ...]:
    from upliftree.datasets import FEATURES, make_uplift_data

    frame = make_uplift_data(n_rows, random_state=seed)
    X = pd.get_dummies(frame[FEATURES], columns=["region", "channel"], dtype=np.float64).to_numpy(dtype=np.float64)
    treatment = (frame["treatment"] == "email").to_numpy().astype(np.int64)
    return X, treatment, frame["outcome"].to_numpy(dtype=np.float64), frame["true_uplift_email"].to_numpy()


def _smooth(outcome: str) -> Callable[[int, int], tuple[np.ndarray, ...]]:
    def draw(n_rows: int, seed: int) -> tuple[np.ndarray, ...]:
        from upliftree.datasets import make_smooth_uplift_data

        frame = make_smooth_uplift_data(n_rows, outcome=outcome, random_state=seed)
        X = frame[[f"x{index}" for index in range(6)]].to_numpy(dtype=np.float64)
        return (X, frame["treatment"].to_numpy().astype(np.int64), frame["outcome"].to_numpy(dtype=np.float64),
                frame["true_uplift_1"].to_numpy())

    return draw


DESIGNS = {
    "planted": Design("planted", True, _planted, "make_uplift_data, binary, planted segments"),
    "smooth": Design("smooth", False, _smooth("continuous"), "make_smooth_uplift_data, continuous, noise 1"),
    "smooth_binary": Design("smooth_binary", True, _smooth("binary"), "make_smooth_uplift_data, binary"),
}


def base_models(binary: bool, seed: int) -> dict[str, Any]:
    """The base models both libraries get (fresh objects; each library clones them)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    def classifier() -> Any:
        return HistGradientBoostingClassifier(random_state=seed, **BASE_MODEL_OPTIONS)

    def regressor() -> Any:
        return HistGradientBoostingRegressor(random_state=seed, **BASE_MODEL_OPTIONS)

    return {"outcome": classifier() if binary else regressor(), "propensity": classifier(), "effect": regressor()}


def probability_classifier_class() -> type:
    """``HistGradientBoostingClassifier`` whose ``predict`` is the probability of 1: the same model, read the
    way EconML's meta-learners read an outcome model (they call ``predict``)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    class ProbabilityClassifier(HistGradientBoostingClassifier):
        def predict(self, X: Any) -> np.ndarray:
            return self.predict_proba(X)[:, 1]

    return ProbabilityClassifier


def upliftree_learner(name: str, binary: bool, seed: int) -> Any:
    from upliftree import learners

    models = base_models(binary, seed)
    outcome, propensity, effect = models["outcome"], models["propensity"], models["effect"]
    common = {"control": 0, "outcome": "binary" if binary else "continuous", "random_state": seed}
    return {
        "s": lambda: learners.SLearner(outcome, **common),
        "t": lambda: learners.TLearner(outcome, **common),
        "x": lambda: learners.XLearner(outcome, effect, propensity, **common),
        "r": lambda: learners.RLearner(outcome, propensity, effect, cv=CV, **common),
        "dr": lambda: learners.DRLearner(outcome, propensity, effect, cv=CV, **common),
        "ct": lambda: learners.ClassTransformation(outcome if binary else effect, propensity, cv=CV, **common),
        "dr_known": lambda: learners.DRLearner(outcome, propensity, effect, cv=CV, **common),
    }[name]()


def econml_learner(name: str, binary: bool, seed: int, econml: dict[str, Any]) -> Any | None:
    """EconML's counterpart of ``name`` (None when it has none)."""
    models = base_models(binary, seed)
    outcome, propensity, effect = models["outcome"], models["propensity"], models["effect"]
    read_by_predict = outcome
    if binary:
        read_by_predict = probability_classifier_class()(random_state=seed, **BASE_MODEL_OPTIONS)
    metalearners, dml, dr = econml["metalearners"], econml["dml"], econml["dr"]
    if name == "s":
        return metalearners.SLearner(overall_model=read_by_predict, allow_missing=True)
    if name == "t":
        return metalearners.TLearner(models=read_by_predict, allow_missing=True)
    if name == "x":
        return metalearners.XLearner(models=read_by_predict, cate_models=effect, propensity_model=propensity,
                                     allow_missing=True)
    if name == "r":
        return dml.NonParamDML(model_y=outcome, model_t=propensity, model_final=effect, discrete_outcome=binary,
                               discrete_treatment=True, cv=CV, random_state=seed, allow_missing=True)
    if name == "dr":
        return dr.DRLearner(model_propensity=propensity, model_regression=outcome, model_final=effect,
                            discrete_outcome=binary, cv=CV, random_state=seed, allow_missing=True)
    return None


def fit_upliftree(name: str, design: Design, seed: int, data: dict[str, np.ndarray],
                  n_jobs: int | None) -> tuple[float, np.ndarray]:
    learner = upliftree_learner(name, design.binary, seed).set_params(n_jobs=n_jobs)
    # Every design here gives each of its two arms probability 1/2.
    known = {"propensity": 0.5} if name == "dr_known" else {}
    start = time.perf_counter()
    learner.fit(data["X_train"], data["t_train"], data["y_train"], **known)
    seconds = time.perf_counter() - start
    return seconds, np.asarray(learner.predict(data["X_test"]), dtype=np.float64).reshape(-1)


def fit_econml(learner: Any, data: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        start = time.perf_counter()
        learner.fit(data["y_train"], data["t_train"], X=data["X_train"])
        seconds = time.perf_counter() - start
        return seconds, np.asarray(learner.effect(data["X_test"]), dtype=np.float64).reshape(-1)


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate - truth) ** 2)))


def _mean_sd(values: list[float], digits: int = 4) -> str:
    array = np.asarray(values)
    sd = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return f"{array.mean():.{digits}f} ± {sd:.{digits}f}"


def _paired_difference(ours: list[float], theirs: list[float]) -> str:
    """Mean of the per-data-set differences ± its standard error (the same data sets, so paired)."""
    difference = np.asarray(ours) - np.asarray(theirs)
    error = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else float("nan")
    return f"{difference.mean():+.4f} ± {error:.4f}"


def make_tables(results: dict[str, Any], n_train: int, n_test: int, n_seeds: int, cpu_count: int) -> list[dict]:
    """The printed (and documented) tables, from the raw per-data-set results."""
    rmse_rows, time_rows, dr_rows = [], [], []
    for design_name, by_learner in results.items():
        for name, record in by_learner.items():
            ours, theirs = record["upliftree"], record["econml"]
            paired = len(theirs["rmse"]) == len(ours["rmse"])
            ratio = float(np.mean(ours["rmse"]) / np.mean(theirs["rmse"])) if paired else None
            wins = (f"{sum(a <= b for a, b in zip(ours['rmse'], theirs['rmse'], strict=True))}/{len(ours['rmse'])}"
                    if paired else None)
            rmse_rows.append([design_name, LEARNER_NAMES[name], _mean_sd(ours["rmse"]),
                              _mean_sd(theirs["rmse"]) if paired else None,
                              None if ratio is None else round(ratio, 3),
                              _paired_difference(ours["rmse"], theirs["rmse"]) if paired else None, wins])
            one_thread = record["upliftree_one_thread"]["fit_seconds"]
            time_rows.append([design_name, LEARNER_NAMES[name], round(float(np.mean(ours["fit_seconds"])), 2),
                              round(float(np.mean(one_thread)), 2),
                              round(float(np.mean(theirs["fit_seconds"])), 2) if paired else None])
        for dr_name in ("dr", "dr_known"):
            if "t" in by_learner and dr_name in by_learner:
                t_rmse, dr_rmse = by_learner["t"]["upliftree"]["rmse"], by_learner[dr_name]["upliftree"]["rmse"]
                dr_rows.append([design_name, LEARNER_NAMES[dr_name], _mean_sd(dr_rmse), _mean_sd(t_rmse),
                                _paired_difference(dr_rmse, t_rmse),
                                f"{sum(a <= b for a, b in zip(dr_rmse, t_rmse, strict=True))}/{len(t_rmse)}"])
    tables = [
        {"title": f"RMSE of the predicted effect against the true effect on {n_test:,} test rows "
                  f"(mean ± sd over {n_seeds} data sets of {n_train:,} training rows)",
         "header": ["design", "learner", "upliftree", "EconML 0.17", "upliftree / EconML",
                    "upliftree - EconML (paired, ± SE)", "data sets upliftree <= EconML"],
         "rows": rmse_rows},
        {"title": f"Fit seconds (mean over {n_seeds} data sets)",
         "header": ["design", "learner", f"upliftree, {cpu_count} cores", "upliftree, 1 thread",
                    "EconML 0.17, 1 thread"], "rows": time_rows},
    ]
    if dr_rows:
        tables.append({"title": "upliftree DR-learner against its T-learner (issue 17: DR <= T on the smooth design)",
                       "header": ["design", "DR-learner", "DR RMSE", "T RMSE", "DR - T (paired, ± SE)",
                                  "data sets DR <= T"],
                       "rows": dr_rows})
    return tables


def retable(path: Path) -> int:
    """Rewrite the tables of an earlier run's result file from its raw results (no model is fitted)."""
    payload = json.loads(path.read_text())
    protocol = payload["protocol"]
    payload["tables"] = make_tables(payload["results"], protocol["n_train"], protocol["n_test"],
                                    len(protocol["seeds"]), payload["machine"]["cpu_count"])
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    for table in payload["tables"]:
        print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--designs", default=",".join(DESIGNS), help=f"comma-separated among {', '.join(DESIGNS)}")
    parser.add_argument("--learners", default=",".join(LEARNERS), help=f"comma-separated among {', '.join(LEARNERS)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="one data set per seed")
    parser.add_argument("--n-train", type=int, default=10_000, help="training rows per data set")
    parser.add_argument("--n-test", type=int, default=5_000, help="test rows (RMSE against the true effect)")
    parser.add_argument("--out", type=Path, default=default_out("learners"), help="JSON result path")
    parser.add_argument("--retable", type=Path, default=None, metavar="RESULT_JSON",
                        help="only rebuild the tables of an earlier run's result file from its raw results")
    args = parser.parse_args(argv)
    if args.retable is not None:
        return retable(args.retable)
    designs = [name for name in args.designs.split(",") if name]
    learners = [name for name in args.learners.split(",") if name]
    if set(designs) - set(DESIGNS):
        parser.error(f"--designs: unknown {sorted(set(designs) - set(DESIGNS))}; choose among {list(DESIGNS)}")
    if set(learners) - set(LEARNERS):
        parser.error(f"--learners: unknown {sorted(set(learners) - set(LEARNERS))}; choose among {list(LEARNERS)}")

    quiet_peer_warnings()
    notes: list[str] = []
    econml = {part: try_import(f"econml.{part}", notes) for part in ("metalearners", "dml", "dr")}
    has_econml = all(module is not None for module in econml.values())
    info = machine_info()
    print_header(f"bench_learners: {args.n_train:,} training and {args.n_test:,} test rows, seeds {args.seeds}, "
                 f"designs {designs}", info, notes)

    results: dict[str, dict[str, dict[str, dict[str, list[float]]]]] = {}
    for design_name in designs:
        design = DESIGNS[design_name]
        results[design_name] = {name: {library: {"rmse": [], "fit_seconds": []} for library in LIBRARIES}
                                for name in learners}
        for seed in args.seeds:
            X, treatment, y, tau = design.draw(args.n_train + args.n_test, seed)
            train, test = slice(0, args.n_train), slice(args.n_train, None)
            data = {"X_train": X[train], "t_train": treatment[train], "y_train": y[train], "X_test": X[test]}
            for name in learners:
                record = results[design_name][name]
                seconds, estimate = fit_upliftree(name, design, seed, data, None)
                record["upliftree"]["rmse"].append(rmse(estimate, tau[test]))
                record["upliftree"]["fit_seconds"].append(seconds)
                seconds, one_thread = fit_upliftree(name, design, seed, data, 1)
                if not np.array_equal(one_thread, estimate):
                    raise AssertionError(f"{design_name} seed {seed} {name}: n_jobs=1 predicts differently")
                record["upliftree_one_thread"]["rmse"].append(rmse(one_thread, tau[test]))
                record["upliftree_one_thread"]["fit_seconds"].append(seconds)
                peer = econml_learner(name, design.binary, seed, econml) if has_econml else None
                if peer is not None:
                    seconds, estimate = fit_econml(peer, data)
                    record["econml"]["rmse"].append(rmse(estimate, tau[test]))
                    record["econml"]["fit_seconds"].append(seconds)
                ours, theirs = record["upliftree"]["rmse"][-1], record["econml"]["rmse"]
                print(f"  {design_name:<13} seed {seed} {name:<3} rmse upliftree {ours:.4f}"
                      + (f"  econml {theirs[-1]:.4f}" if peer is not None else ""), flush=True)

    tables = make_tables(results, args.n_train, args.n_test, len(args.seeds), info["cpu_count"])
    for table in tables:
        print(f"\n{table['title']}\n{format_table(table['header'], table['rows'])}")
    write_json(args.out, {
        "benchmark": "learners",
        "machine": info,
        "notes": notes,
        "protocol": {"designs": {name: DESIGNS[name].what for name in designs}, "learners": learners,
                     "seeds": args.seeds, "n_train": args.n_train, "n_test": args.n_test, "cv": CV,
                     "base_model_options": BASE_MODEL_OPTIONS},
        "results": results,
        "tables": tables,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
