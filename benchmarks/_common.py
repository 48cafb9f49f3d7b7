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
        "versions": {name: version_of(name) for name in _DISTRIBUTIONS},
    }


def try_import(module: str, notes: list[str]) -> Any | None:
    """Import ``module``, or return None and append to ``notes`` why that peer is skipped."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        notes.append(f"{module} skipped: not importable ({error}); run benchmarks/setup_peers.sh")
        return None


def time_call(function: Callable[[], Any], repeats: int = 1) -> tuple[list[float], Any]:
    """Wall-clock seconds of each of ``repeats`` calls of ``function``, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def default_out(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def write_json(path: Path, payload: dict[str, Any]) -> None:
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
    lines += [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in text_rows
    ]
    return "\n".join(lines)


def print_header(title: str, info: dict[str, Any], notes: Sequence[str] = ()) -> None:
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items() if version)
    print(f"{title}\n{info['cpu_count']} cores ({info['cpu_model']}), Python {info['python']}\n{versions}")
    for note in notes:
        print(f"note: {note}")
