"""Helpers shared by the benchmark scripts: machine info, optional peers, timing, tables, JSON output."""

from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"

# import name -> distribution name, for the libraries whose versions every result records
_DISTRIBUTIONS = {
    "upliftree": "upliftree",
    "numpy": "numpy",
    "numba": "numba",
    "pandas": "pandas",
    "causalml": "causalml",
    "sklift": "scikit-uplift",
    "econml": "econml",
    "lightgbm": "lightgbm",
    "sklearn": "scikit-learn",
}


def version_of(module: str) -> str | None:
    """Installed version of ``module``'s distribution, or None when it is not installed."""
    try:
        return metadata.version(_DISTRIBUTIONS.get(module, module))
    except metadata.PackageNotFoundError:
        return None


def cpu_count() -> int:
    """Cores this process may run on (what ``n_jobs=-1`` means here)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _git_commit() -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=BENCHMARKS_DIR, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return completed.stdout.strip() or None


def _load_average() -> list[float] | None:
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except OSError:
        return None


def busy_machine_note(info: dict[str, Any]) -> str | None:
    """A warning when other processes were using the cores as the run started (timings then inflate)."""
    load = info.get("load_average_at_start")
    if load is not None and load[0] > 0.5:
        return (
            f"machine busy at start (1-min load average {load[0]} on {info['cpu_count']} cores): "
            "timings may be inflated by other processes"
        )
    return None


def machine_info() -> dict[str, Any]:
    """Everything needed to tell whether two result files are comparable."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "git_commit": _git_commit(),
        "load_average_at_start": _load_average(),
        "versions": {name: version_of(name) for name in _DISTRIBUTIONS},
    }


def try_import(module: str, notes: list[str]) -> Any | None:
    """Import ``module``, or return None and append to ``notes`` why that peer is skipped."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        notes.append(f"{module} skipped: not importable ({error}); run benchmarks/setup_peers.sh")
        return None


def optional_attribute(module: Any, name: str, notes: list[str]) -> Any | None:
    """``module.name``, or None with a note when it does not exist (yet) or fails to import."""
    try:
        return getattr(module, name)
    except (AttributeError, ImportError) as error:
        notes.append(f"{module.__name__}.{name} skipped: not available ({error})")
        return None


def without_progress(estimator_class: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` plus ``verbose=0`` when the estimator has that switch (no progress bar inside timings)."""
    if "verbose" in estimator_class().get_params():
        return {**params, "verbose": 0}
    return params


def quiet_peer_warnings() -> None:
    """Silence the deprecation chatter peers emit on every fit; upliftree's own warnings still show."""
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(sklearn|causalml|econml|sklift|lightgbm)\b")


def time_call(function: Callable[[], Any], repeats: int = 1) -> tuple[list[float], Any]:
    """Wall-clock seconds of each of ``repeats`` calls of ``function``, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def interleaved_times(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Wall-clock seconds of ``repeats`` rounds of every call, the calls alternating within each round, so that
    a change in the machine's load falls on all of them alike (for ratios between them)."""
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            seconds[name] += time_call(call)[0]
    return seconds


DESIGN_TARGET = 1.2  # issue 16: a fit with propensity= costs at most this many times the plain fit
DESIGN_FITS = {  # the fits of the design timings, in the order they alternate
    "plain": "plain fit",
    "sample_weight": "sample_weight=1/p (the same weights, no design moments)",
    "propensity": "propensity= (per-row stratified)",
    "propensity_and_cluster": "propensity= and cluster=",
}


def time_design_fits(fit: Callable[..., Any], propensity: Any, cluster: Any, repeats: int) -> dict[str, list[float]]:
    """Seconds of ``fit(**keywords)`` for each fit of :data:`DESIGN_FITS` (:func:`interleaved_times`)."""
    keywords = {"plain": {}, "sample_weight": {"sample_weight": 1.0 / propensity},
                "propensity": {"propensity": propensity},
                "propensity_and_cluster": {"propensity": propensity, "cluster": cluster}}
    return interleaved_times({name: (lambda given=given: fit(**given)) for name, given in keywords.items()}, repeats)


def design_results(seconds: dict[str, list[float]], params: dict[str, Any], cluster_size: int) -> dict[str, Any]:
    """The design timings' JSON: per fit its times, best, and best over the plain and the weighted fits'."""
    plain, weighted = min(seconds["plain"]), min(seconds["sample_weight"])
    fits = {name: {"fit_seconds": times, "fit_best": min(times), "over_plain": min(times) / plain,
                   "over_sample_weight": min(times) / weighted} for name, times in seconds.items()}
    return {"params": params, "cluster_size": cluster_size, **fits}


def design_table(design: dict[str, Any], what: str) -> dict[str, Any]:
    """The table of :func:`design_results` (``what``: the model and rows, for the title)."""
    return {
        "title": f"{what}: fit with the experiment's design (issue 16), same settings",
        "header": ["fit", "seconds (best)", "over plain fit", "over sample_weight=1/p", "target"],
        "rows": [[label + (f" ({design['cluster_size']} rows per cluster)" if "cluster" in name else ""),
                  design[name]["fit_best"], design[name]["over_plain"], design[name]["over_sample_weight"],
                  f"<= {DESIGN_TARGET:g}" if name.startswith("propensity") else ""]
                 for name, label in DESIGN_FITS.items()],
    }


def default_out(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def _repo_relative(argument: str) -> str:
    """An existing path as seen from the repository root (results then name no machine's folders)."""
    return os.path.relpath(argument, BENCHMARKS_DIR.parent) if os.path.exists(argument) else argument


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON, with the command line that produced it first."""
    command = " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *map(_repo_relative, sys.argv[1:])])
    payload = {"command": command, **payload, "load_average_at_end": _load_average()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nresults written to {path}")


def format_cell(value: Any) -> str:
    """None as "-", large numbers with thousands separators, other floats with 4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) >= 100_000:
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width text table (see :func:`format_cell`)."""
    text_rows = [[format_cell(value) for value in row] for row in rows]
    widths = [max(len(str(title)), *(len(row[i]) for row in text_rows)) for i, title in enumerate(header)]
    lines = [
        "  ".join(str(title).ljust(width) for title, width in zip(header, widths, strict=True)),
        "  ".join("-" * width for width in widths),
    ]
    lines += ["  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in text_rows]
    return "\n".join(lines)


def print_header(title: str, info: dict[str, Any], notes: list[str]) -> None:
    """Print the run's title, machine and versions, and its notes so far (adding a busy-machine warning)."""
    busy = busy_machine_note(info)
    if busy is not None:
        notes.append(busy)
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items() if version)
    print(f"{title}\n{info['cpu_count']} cores ({info['cpu_model']}), Python {info['python']}\n{versions}")
    for note in notes:
        print(f"note: {note}")
