"""First run on a fresh machine (issue 14): warm-up coverage, the one-time compile message, the cache fallback.

Compilation state is per process and per cache directory, so most tests run fresh interpreters. They compile
only trivial functions or use the suite's cache (filled by ``upliftree warmup`` in ``make test``), so they stay
fast; numba's ``numba:compile`` event, broadcast only on a cache miss, tells what compiled.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import upliftree
from upliftree import _kernels as kernels_package
from upliftree._kernels import COMPILE_MESSAGE, COMPILE_SECONDS_ESTIMATE, QUIET_VARIABLE, compile_message_enabled
from upliftree.cli import app
from upliftree.datasets import FEATURES, make_uplift_data

PACKAGE_DIR = Path(upliftree.__file__).resolve().parent

# Run in a fresh interpreter: records upliftree's compilations and, at exit, every signature its kernels hold.
RECORDER = textwrap.dedent("""
    import atexit, json, sys
    from numba.core import event
    from numba.core.dispatcher import Dispatcher

    compiled = []

    class Recorder(event.Listener):
        def on_start(self, ev):
            function = ev.data["dispatcher"].py_func
            if function.__module__.split(".")[0] == "upliftree":
                compiled.append(f"{function.__module__}.{function.__qualname__}")

        def on_end(self, ev):
            pass

    event.register("numba:compile", Recorder())

    def report():
        signatures = {}
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] != "upliftree":
                continue
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    key = f"{value.py_func.__module__}.{value.py_func.__qualname__}"
                    signatures.setdefault(key, set()).update(map(str, value.signatures))
        print(json.dumps({"compiled": compiled, "signatures": {k: sorted(v) for k, v in signatures.items()}}))

    atexit.register(report)
""")

# What most sessions do: trees and forests on a frame (categorical, missing), an array, weights, two treatments;
# prediction; the metrics with their bootstrap; a policy under a budget; a model file read back.
COMMON_OPERATIONS = textwrap.dedent("""
    import numpy as np
    import upliftree
    from upliftree import metrics, Policy, UpliftRandomForestClassifier, UpliftTreeClassifier, UpliftTreeRegressor
    from upliftree.datasets import FEATURES, make_uplift_data

    data = make_uplift_data(3_000, random_state=5)
    X, t, y = data[FEATURES], data["treatment"], data["outcome"]
    tree = UpliftTreeClassifier(max_depth=4, min_samples_leaf=50, control="control", honest=True).fit(X, t, y)
    uplift = tree.predict(X)
    tree.apply(X), tree.segments(), tree.rules("markdown")
    upliftree.from_json(tree.to_json()).predict(X)
    UpliftTreeClassifier(control="control").fit(X[["age", "tenure"]].to_numpy(), t, y, sample_weight=np.ones(len(y)))
    spend = make_uplift_data(3_000, outcome="continuous", random_state=6)
    UpliftTreeRegressor(control="control").fit(spend[FEATURES], spend["treatment"], spend["outcome"]).predict(X)
    arms = make_uplift_data(3_000, n_treatments=2, random_state=7)
    UpliftTreeClassifier(control="control").fit(arms[FEATURES], arms["treatment"], arms["outcome"]).predict(X)
    forest = UpliftRandomForestClassifier(n_estimators=10, control="control", n_jobs=2, verbose=0).fit(X, t, y)
    forest.predict(X)
    treated = (t != "control").astype(int)
    metrics.qini_auc_score(y, uplift, treated), metrics.uplift_auc_score(y, uplift, treated)
    metrics.bootstrap_ci(metrics.qini_auc_score, y, uplift, treated, n_boot=50, random_state=0)
    metrics.uplift_by_percentile(y, uplift, treated, std=True)
    metrics.bootstrap_curve_band(y, uplift, treated, n_boot=20, random_state=0)
    Policy(tree, benefit=25.0, cost=0.5).decide(X, "budget", budget=100.0)
""")


def run_python(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter that imports this checkout of upliftree, compile message enabled, and
    no background compile helper unless ``env`` asks for one (what compiles where stays this process's)."""
    environment = {key: value for key, value in os.environ.items() if key != QUIET_VARIABLE}
    environment["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_DIR.parent), environment.get("PYTHONPATH", "")])
    environment[kernels_package.HELPER_VARIABLE] = "0"
    environment.update(env or {})
    return subprocess.run([sys.executable, "-c", code], env=environment, cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=900)


def recorded(completed: subprocess.CompletedProcess) -> dict:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_after_warmup_common_operations_compile_nothing():
    """Warm-up reaches every kernel and signature that common operations use, so those load from the cache.

    The signature check holds whatever the cache held before: it fails when the operations use a kernel or a
    specialization (dtype, layout) that warm-up never called, even if some earlier test cached it.
    """
    warmed = recorded(run_python(RECORDER + "from upliftree.cli import app\n"
                                 "app(['warmup', '--quiet'], standalone_mode=False)\n"))
    used = recorded(run_python(RECORDER + COMMON_OPERATIONS))
    assert used["compiled"] == []
    missed = {kernel: sorted(set(signatures) - set(warmed["signatures"].get(kernel, [])))
              for kernel, signatures in used["signatures"].items()}
    assert {kernel: signatures for kernel, signatures in missed.items() if signatures} == {}
    assert sum(map(len, used["signatures"].values())) > 10  # the recorder saw the kernels


# One public call that compiles a kernel or two on an empty cache, in a second or so.
FIRST_METRIC = textwrap.dedent("""
    import numpy as np
    from upliftree import metrics

    rng = np.random.default_rng(0)
    y, score, treated = rng.integers(0, 2, 200), rng.normal(size=200), rng.integers(0, 2, 200)
    metrics.qini_auc_score(y, score, treated)
    metrics.qini_curve(y, score, treated)
""")


def test_compile_message_once_per_process_and_silent_when_cached_or_quiet(tmp_path):
    cache = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = run_python(FIRST_METRIC, cache)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [COMPILE_MESSAGE]  # several compilations (kernel, Numba helpers), one line
    assert f"~{COMPILE_SECONDS_ESTIMATE} s" in COMPILE_MESSAGE
    cached = run_python(FIRST_METRIC, cache)
    assert cached.returncode == 0 and cached.stderr == "", cached.stderr
    quiet = run_python(FIRST_METRIC, {"NUMBA_CACHE_DIR": str(tmp_path / "empty"), QUIET_VARIABLE: "1"})
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_first_bootstrap_on_an_empty_cache(tmp_path):
    """The curve bootstraps compile without reference counting; the row draws they call must not allocate (a
    first bootstrap_ci failed when nothing, e.g. a forest, had compiled the draws before)."""
    code = FIRST_METRIC + "print(metrics.bootstrap_ci(metrics.qini_auc_score, y, score, treated, n_boot=20))\n"
    completed = run_python(code, {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), QUIET_VARIABLE: "1"})
    assert completed.returncode == 0, completed.stderr


# Whether Python's garbage collector runs while upliftree's kernels compile, and after.
COLLECTOR_STATES = textwrap.dedent("""
    import gc, json
    import numpy as np
    from numba.core import event
    from upliftree import metrics
    from upliftree._kernels.histogram import sibling_histogram

    during = []

    class Spy(event.Listener):  # registered after upliftree's listeners, so it sees the collector as they leave it
        def on_start(self, ev):
            during.append(gc.isenabled())

        def on_end(self, ev):
            pass

    event.register("numba:compile", Spy())
    rng = np.random.default_rng(0)
    y, score, treated = rng.integers(0, 2, 200), rng.normal(size=200), rng.integers(0, 2, 200)
    metrics.qini_auc_score(y, score, treated)
    enabled_after = gc.isenabled()
    gc.disable()
    n_compiled = len(during)
    sibling_histogram(np.ones((1, 3, 2, 5)), np.zeros((1, 3, 2, 5)))
    print(json.dumps({"during": during, "compiled_after": len(during) - n_compiled, "enabled_after": enabled_after,
                      "program_disabled_stays": not gc.isenabled()}))
""")


def test_collector_paused_while_compiling_and_left_as_the_program_set_it(tmp_path):
    states = recorded(run_python(COLLECTOR_STATES, {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}))
    assert states["during"] and not any(states["during"])
    assert states["compiled_after"] > 0 and states["enabled_after"] and states["program_disabled_stays"]


@pytest.fixture()
def message_enabled(monkeypatch):
    """The message's switch as seen by code running inside estimators and commands (conftest sets it quiet)."""
    monkeypatch.delenv(QUIET_VARIABLE, raising=False)
    assert compile_message_enabled()
    seen: list[bool] = []
    return seen


def test_forest_verbose_zero_silences_the_message_on_every_thread(message_enabled, monkeypatch):
    from upliftree.forest import UpliftRandomForestClassifier

    grow_one = UpliftRandomForestClassifier._grow_one

    def spy(self, *args, **kwargs):  # runs on the forest's worker threads, where trees compile
        message_enabled.append(compile_message_enabled())
        return grow_one(self, *args, **kwargs)

    monkeypatch.setattr(UpliftRandomForestClassifier, "_grow_one", spy)
    data = make_uplift_data(2_000, random_state=0)
    for verbose in (0, 1):
        UpliftRandomForestClassifier(n_estimators=4, n_jobs=2, verbose=verbose, control="control").fit(
            data[FEATURES], data["treatment"], data["outcome"])
    assert message_enabled == [False] * 4 + [True] * 4
    assert compile_message_enabled()


def test_cli_quiet_silences_the_message(message_enabled, monkeypatch, tmp_path):
    from upliftree.tree import UpliftTreeClassifier

    fit = UpliftTreeClassifier.fit

    def spy(self, *args, **kwargs):
        message_enabled.append(compile_message_enabled())
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(UpliftTreeClassifier, "fit", spy)
    make_uplift_data(2_000, random_state=0)[[*FEATURES, "treatment", "outcome"]].to_csv(tmp_path / "x.csv")
    for quiet in (["--quiet"], []):
        result = CliRunner().invoke(app, ["fit", str(tmp_path / "x.csv"), "-t", "treatment", "-c", "control",
                                          "-y", "outcome", "-o", str(tmp_path / "m.json"), *quiet])
        assert result.exit_code == 0, result.stderr
    assert message_enabled == [False, True]


def _read_only_copy(folder: Path) -> Path:
    """A copy of the package where Numba can cache nothing: read-only files and folders (for a normal user),
    and its kernels' ``__pycache__`` a file (for root too, whom permissions do not stop)."""
    copy = folder / "site-packages"
    shutil.copytree(PACKAGE_DIR, copy / "upliftree", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (copy / "upliftree" / "_kernels" / "__pycache__").write_text("not a folder")
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return copy


def test_no_writable_cache_location_falls_back_to_a_temporary_directory(tmp_path):
    """Read-only install, unwritable HOME, no NUMBA_CACHE_DIR: Numba has no cache locator, yet upliftree imports
    (before the fallback, ``import upliftree.tree`` raised "cannot cache function ...: no locator available")."""
    copy = _read_only_copy(tmp_path)
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    code = textwrap.dedent("""
        import json, os, pkgutil, importlib
        import upliftree._kernels as kernels
        for module in pkgutil.iter_modules(kernels.__path__):
            importlib.import_module(f"upliftree._kernels.{module.name}")
        import upliftree.forest, upliftree.metrics, upliftree.policy
    """) + FIRST_METRIC + "print(json.dumps([kernels.cache_directory(), os.listdir(kernels.cache_directory())]))\n"
    env = {"PYTHONPATH": str(copy), "HOME": str(home), "TMPDIR": str(temporary), "PYTHONDONTWRITEBYTECODE": "1"}
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", QUIET_VARIABLE)}
    environment[kernels_package.HELPER_VARIABLE] = "0"
    try:
        completed = subprocess.run([sys.executable, "-c", code], env={**environment, **env}, cwd=tmp_path,
                                   capture_output=True, text=True, check=False, timeout=600)
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert completed.returncode == 0, completed.stderr
    cache_directory, cached_files = json.loads(completed.stdout.strip().splitlines()[-1])
    assert Path(cache_directory).parent.parent == temporary
    assert any(name.endswith(".nbi") for name in cached_files)  # the kernel was compiled and cached there
    assert not Path(cache_directory).parent.exists()  # removed at exit
    assert "RuntimeWarning: Numba cannot cache upliftree's compiled kernels" in completed.stderr
    assert "NUMBA_CACHE_DIR" in completed.stderr
    assert "once" not in completed.stderr.splitlines()[-1]  # every process compiles: the message does not say once


def test_a_writable_numba_cache_dir_is_used_as_is(tmp_path):
    completed = run_python("import upliftree._kernels as k; print(k.cache_directory())",
                           {"NUMBA_CACHE_DIR": str(tmp_path)})
    assert completed.returncode == 0 and completed.stderr == "", completed.stderr
    assert Path(completed.stdout.strip()).parent == tmp_path


def test_warmup_is_exported_lazily():
    completed = run_python("import sys, upliftree; assert 'numba' not in sys.modules; "
                           "from upliftree import warmup; print(warmup.__module__)")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "upliftree._warmup"


# -- the background compile helper --------------------------------------------------------------------------
# A first session (as benchmarks/bench_coldstart.py runs it, smaller): an honest tree on categorical and missing
# features, a forest, predictions, the metrics with a bootstrap interval.
FIRST_SESSION = textwrap.dedent("""
    from upliftree import UpliftRandomForestClassifier, UpliftTreeClassifier, metrics
    from upliftree.datasets import FEATURES, make_uplift_data

    data = make_uplift_data(3_000, random_state=0)
    X, t, y = data[FEATURES], data["treatment"], data["outcome"]
    tree = UpliftTreeClassifier(control="control", honest=True, random_state=0).fit(X, t, y)
    forest = UpliftRandomForestClassifier(n_estimators=8, control="control", n_jobs=2, verbose=0).fit(X, t, y)
    tree.predict(X)
    score = forest.predict(X)
    treated = (t != "control").astype(int)
    metrics.qini_auc_score(y, score, treated)
    metrics.bootstrap_ci(metrics.qini_auc_score, y, score, treated, n_boot=50, random_state=0)
    metrics.uplift_by_percentile(y, score, treated, std=True)
""")


def test_background_helper_compiles_what_a_first_session_uses(tmp_path):
    """The helper compiles only kernels and signatures a first session compiles by itself, and the session
    then compiles none of them: the helper's calls have the session's types (a kernel it compiled with other
    types would compile again in the session, and one the session does not use would be wasted work)."""
    alone = recorded(run_python(RECORDER + FIRST_SESSION, {"NUMBA_CACHE_DIR": str(tmp_path / "alone")}))
    cache = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    helper = recorded(run_python(RECORDER + "from upliftree._background_compile import main\nmain()\n", cache))
    session = recorded(run_python(RECORDER + FIRST_SESSION, cache))
    helper_kernels = set(helper["compiled"])
    assert {"upliftree._kernels.criteria.split_gain", "upliftree._kernels.predictor.forest_pass",
            "upliftree._kernels.bootstrap.bootstrap_curve_areas_into"} <= helper_kernels
    wasted = {kernel: sorted(set(signatures) - set(alone["signatures"].get(kernel, [])))
              for kernel, signatures in helper["signatures"].items()}
    assert {kernel: signatures for kernel, signatures in wasted.items() if signatures} == {}
    assert helper_kernels.isdisjoint(session["compiled"])
    # The session still compiled its first kernels itself: the helper takes the later ones.
    assert "upliftree._kernels.splitter.best_split" in session["compiled"]
    assert set(session["compiled"]) | helper_kernels == set(alone["compiled"])


def test_background_helper_runs_on_a_cold_cache_and_is_stopped_at_exit(tmp_path):
    code = textwrap.dedent("""
        import json, sys
        import upliftree.tree
        from upliftree._kernels import helper_process

        helper = helper_process()
        if sys.argv[1] == "wait":
            helper.wait()
        print(json.dumps([helper.pid, helper.returncode]))
    """)
    environment = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), kernels_package.HELPER_VARIABLE: "1"}

    def run(mode: str) -> list:
        completed = run_python(code.replace("sys.argv[1]", repr(mode)), environment)
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout.strip().splitlines()[-1])

    _, returncode = run("wait")
    assert returncode == 0
    cached = {path.name.split("-")[0] for path in (tmp_path / "cache").rglob("*.nbi")}
    assert {"criteria.split_gain", "predictor.forest_pass", "sampling.drawn_sample"} <= cached
    # Once a fit has compiled the split search, the cache is warm: no helper.
    fit = recorded(run_python(RECORDER + textwrap.dedent("""
        import numpy as np
        from upliftree import UpliftTreeClassifier

        rng = np.random.default_rng(0)
        arm, y = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
        UpliftTreeClassifier(max_depth=2).fit(rng.normal(size=(400, 2)), arm, y)
    """), {"NUMBA_CACHE_DIR": environment["NUMBA_CACHE_DIR"]}))
    assert "upliftree._kernels.splitter.best_split" in fit["compiled"]
    warm = run_python("import upliftree.tree\nfrom upliftree._kernels import helper_process\n"
                      "print(helper_process())", environment)
    assert warm.returncode == 0 and warm.stdout.strip() == "None", warm.stderr
    shutil.rmtree(tmp_path / "cache")
    pid, returncode = run("exit")  # exits while the helper compiles
    assert returncode is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped at exit


@pytest.fixture()
def start_conditions(monkeypatch, tmp_path):
    """start_if_cold with everything allowing a helper, Popen recorded instead of run."""
    started: list[dict] = []

    class FakeProcess:
        def __init__(self, command, env, **kwargs):
            started.append({"command": command, "env": env})

        def poll(self):
            return 0

    monkeypatch.setattr(kernels_package, "_helper", None)
    monkeypatch.setattr(kernels_package.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(kernels_package, "_usable_cpus", lambda: 2)
    monkeypatch.setattr(kernels_package.sys, "executable", "/usr/bin/python3")
    monkeypatch.delenv(kernels_package.HELPER_VARIABLE, raising=False)
    return started


def test_background_helper_starts_only_when_it_can_help(start_conditions, monkeypatch, tmp_path):
    cold = str(tmp_path)
    assert kernels_package.start_compile_helper(cold, jit_disabled=True) is None
    monkeypatch.setattr(kernels_package, "_usable_cpus", lambda: 1)
    assert kernels_package.start_compile_helper(cold, jit_disabled=False) is None
    monkeypatch.setattr(kernels_package, "_usable_cpus", lambda: 2)
    monkeypatch.setenv(kernels_package.HELPER_VARIABLE, "0")
    assert kernels_package.start_compile_helper(cold, jit_disabled=False) is None
    monkeypatch.delenv(kernels_package.HELPER_VARIABLE)
    monkeypatch.setattr(kernels_package.sys, "executable", "/usr/bin/uwsgi")  # an embedding program
    assert kernels_package.start_compile_helper(cold, jit_disabled=False) is None
    monkeypatch.setattr(kernels_package.sys, "executable", "/usr/bin/python3")
    index = tmp_path / "splitter.best_split-160.py311.nbi"
    index.write_text("")
    os.utime(index, (1, 1))  # older than the source: Numba would recompile, so the cache is cold
    assert not kernels_package.kernels_cached(cold)
    os.utime(index)
    assert kernels_package.kernels_cached(cold)
    assert kernels_package.start_compile_helper(cold, jit_disabled=False) is None
    assert start_conditions == []
    index.unlink()
    helper = kernels_package.start_compile_helper(cold, jit_disabled=False)
    assert helper is kernels_package.helper_process() is not None
    assert kernels_package.start_compile_helper(cold, jit_disabled=False) is None  # one helper per process
    [started] = start_conditions
    assert started["command"][:2] == ["/usr/bin/python3", "-c"]
    assert started["env"][kernels_package.HELPER_VARIABLE] == "0" and started["env"][QUIET_VARIABLE] == "1"
