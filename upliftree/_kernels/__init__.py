"""Compiled kernels: pure Numba functions over arrays, no Python objects and no pandas.

Every kernel module imports this package first, so it sets up what all kernels share (``docs/performance.md``):

- **A cache directory.** Numba keeps compiled kernels in ``NUMBA_CACHE_DIR`` when set, else in this folder's
  ``__pycache__``, else in the user's cache (``~/.cache/numba``). When none is writable (a read-only install
  and an unwritable HOME), Numba refuses to define a ``cache=True`` function at all; upliftree then caches in a
  temporary directory for this process, with a warning, instead of failing to import.
- **A one-line message** on stderr when this process starts compiling upliftree's kernels (an on-disk cache
  miss), at most once per process. ``UPLIFTREE_QUIET=1``, forests' ``verbose=0`` and the CLI's ``--quiet``
  silence it.
- **No garbage collection while a kernel compiles** (``_CollectorPause``): 0.4 s of a first tree fit when it
  took 4 s; nothing changes when the kernels come from the cache.
- **A compile helper** on a cold cache (:func:`start_compile_helper`), once the cache directory is settled:
  a second interpreter compiles the kernels a first session reaches late (``upliftree._background_compile``)
  into the same cache while this process compiles the first ones. It runs at a lower priority, writes only
  the cache, and is stopped when this process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from numba.core import caching, config, event

QUIET_VARIABLE = "UPLIFTREE_QUIET"
# Seconds a first import + tree fit spends compiling on an empty cache on the 2-core reference machine, quiet:
# the "of which compiling" figure of benchmarks/bench_coldstart.py (docs/benchmarks.md), which prints this
# value beside its measurement. Other operations (forests, metrics) compile a little more on their first call.
COMPILE_SECONDS_ESTIMATE = 2
COMPILE_MESSAGE = (
    f"compiling upliftree's kernels for this machine, once: ~{COMPILE_SECONDS_ESTIMATE} s "
    f"({QUIET_VARIABLE}=1 hides this line)"
)
# Without a lasting cache (see _ensure_cache_directory) every process compiles: "once" would be untrue.
TEMPORARY_CACHE_MESSAGE = (
    f"compiling upliftree's kernels for this process: ~{COMPILE_SECONDS_ESTIMATE} s "
    "(no lasting cache: set NUMBA_CACHE_DIR to a writable directory)"
)
_PACKAGE = __name__.split(".")[0]


def _cache_probe() -> None:
    """Stands in for a kernel: it lives in this folder, so Numba would cache it where it caches the kernels."""


def _kernel_cache() -> caching.FunctionCache:
    """Numba's cache for a function of this folder; raises RuntimeError when Numba finds no usable directory."""
    return caching.FunctionCache(_cache_probe)


def cache_directory() -> str:
    """The directory where Numba stores (and looks up) upliftree's compiled kernels in this process."""
    return _kernel_cache().cache_path


def _ensure_cache_directory() -> bool:
    """Point Numba at a temporary directory when it has nowhere to cache the kernels (see the module docstring).

    Returns whether it had to.
    """
    if config.DISABLE_JIT:
        return False
    try:
        _kernel_cache()
        return False
    except RuntimeError:  # "cannot cache function ...: no locator available": every candidate is unwritable
        pass
    directory = tempfile.mkdtemp(prefix="upliftree-numba-cache-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    # Both: Numba re-reads every NUMBA_* variable when one of them changes, and child processes inherit it.
    os.environ["NUMBA_CACHE_DIR"] = config.CACHE_DIR = directory
    warnings.warn(
        f"Numba cannot cache upliftree's compiled kernels: NUMBA_CACHE_DIR is unset or unwritable, and so are "
        f"{os.path.join(os.path.dirname(__file__), '__pycache__')} and the user cache directory. They are cached in "
        f"{directory} for this process only, so every new process compiles them again; set NUMBA_CACHE_DIR to a "
        "writable directory to keep them (docs/performance.md).",
        RuntimeWarning,
        stacklevel=2,
    )
    _kernel_cache()
    return True


# -- the compile message ------------------------------------------------------------------------------------------
_silencing_scopes = 0
_scope_lock = threading.Lock()


def compile_message_enabled() -> bool:
    """Whether the compile message may print now: not silenced by ``UPLIFTREE_QUIET`` or a quiet scope."""
    return os.environ.get(QUIET_VARIABLE, "").strip() in ("", "0") and _silencing_scopes == 0


@contextlib.contextmanager
def compile_message_silenced(silenced: bool = True) -> Iterator[None]:
    """Within this block (on every thread: forests compile on worker threads) the compile message stays silent."""
    global _silencing_scopes
    if not silenced:
        yield
        return
    with _scope_lock:
        _silencing_scopes += 1
    try:
        yield
    finally:
        with _scope_lock:
            _silencing_scopes -= 1


def silent_unless_verbose(method: Callable) -> Callable:
    """Decorate an estimator method: with ``self.verbose == 0`` it runs with the compile message silenced."""
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with compile_message_silenced(self.verbose == 0):
            return method(self, *args, **kwargs)

    return wrapper


def compiles_upliftree_function(ev: event.Event) -> bool:
    """Whether a ``numba:compile`` event compiles one of upliftree's functions (not one of Numba's helpers)."""
    module = getattr(getattr(ev.data.get("dispatcher"), "py_func", None), "__module__", None) or ""
    return module.split(".")[0] == _PACKAGE


class _CompileAnnouncer(event.Listener):
    """Prints the compile message when the process first compiles one of upliftree's kernels.

    Numba broadcasts ``numba:compile`` only when it compiles, never for a kernel loaded from the on-disk cache,
    so the message means "cache miss". The first such event is the only one considered, printed or silenced:
    later compilations in the process are the rest of the same first run.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        self.announced = False

    def on_start(self, ev: event.Event) -> None:
        if self.announced or not compiles_upliftree_function(ev):
            return
        self.announced = True
        if compile_message_enabled():
            print(self.message, file=sys.stderr, flush=True)

    def on_end(self, ev: event.Event) -> None:
        pass


# -- no garbage collection while compiling --------------------------------------------------------------------
class _CollectorPause(event.Listener):
    """Pauses Python's cyclic garbage collector while Numba compiles one of upliftree's kernels.

    Compiling allocates hundreds of thousands of objects that live until the kernel is done (Numba's IR, types,
    LLVM modules, typing errors with tracebacks): each collection of the oldest generation walks all of them
    and the rest of the process's heap (pandas, Numba), five times per first tree fit (0.4 s when it took 4 s).
    Paused, the garbage is collected on the collector's usual schedule once the kernel is compiled. Outermost
    compilations only (they nest, under Numba's compiler lock, so on one thread at a time); a collector that
    the program disabled stays disabled.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.resume = False

    def on_start(self, ev: event.Event) -> None:
        if self.depth == 0:
            if not compiles_upliftree_function(ev):
                return
            self.resume = gc.isenabled()
            gc.disable()
        self.depth += 1

    def on_end(self, ev: event.Event) -> None:
        if self.depth == 0:
            return
        self.depth -= 1
        if self.depth == 0 and self.resume:
            gc.enable()


_temporary_cache = _ensure_cache_directory()
event.register("numba:compile", _CompileAnnouncer(TEMPORARY_CACHE_MESSAGE if _temporary_cache else COMPILE_MESSAGE))
event.register("numba:compile", _CollectorPause())


# -- the compile helper ------------------------------------------------------------------------------------------
HELPER_VARIABLE = "UPLIFTREE_BACKGROUND_COMPILE"
# The kernel whose cache entry means that a fit has compiled here: the split search, which every fit compiles
# and the helper does not (it compiles the split search's callees).
_SENTINEL_MODULE = "splitter"
_SENTINEL_INDEX = f"{_SENTINEL_MODULE}.best_split-*.nbi"
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The helper: this package, imported from the directory this process imported it from, runs the work of
# upliftree._background_compile (named, not imported: that module drives estimators, a layer above this one).
_HELPER_CODE = (f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); "
                "from upliftree._background_compile import main; main()")

_helper: subprocess.Popen | None = None


def helper_process() -> subprocess.Popen | None:
    """The helper this process started, or None."""
    return _helper


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _is_python(executable: str) -> bool:
    """Whether ``executable`` is a Python interpreter: an embedding program (a WSGI server, say) can be
    ``sys.executable`` and must not be started again."""
    return os.path.basename(executable or "").lower().startswith(("python", "pypy"))


def kernels_cached(cache_directory: str) -> bool:
    """Whether ``cache_directory`` holds the split search compiled from the current source (Numba recompiles
    an entry older than its source, so an older entry does not count)."""
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{_SENTINEL_MODULE}.py")
    indexes = glob.glob(os.path.join(glob.escape(cache_directory), _SENTINEL_INDEX))
    try:
        source_time = os.path.getmtime(source)
    except OSError:
        return False
    return any(os.path.getmtime(index) >= source_time for index in indexes)


def start_compile_helper(cache_directory: str, jit_disabled: bool) -> subprocess.Popen | None:
    """Start the compile helper when nothing is cached in ``cache_directory`` and it may help: not when
    ``UPLIFTREE_BACKGROUND_COMPILE=0``, with fewer than two CPUs, without compilation (``jit_disabled``),
    when ``sys.executable`` is not a Python interpreter, or once started; return it (or None)."""
    global _helper
    if (_helper is not None or jit_disabled or os.environ.get(HELPER_VARIABLE, "").strip() == "0"
            or _usable_cpus() < 2 or not _is_python(sys.executable) or kernels_cached(cache_directory)):
        return None
    # The helper starts no helper of its own and prints nothing; NUMBA_CACHE_DIR (when set, maybe by the
    # fallback of ._kernels) is inherited, so it caches where this process looks.
    environment = {**os.environ, HELPER_VARIABLE: "0", QUIET_VARIABLE: "1"}
    try:
        _helper = subprocess.Popen([sys.executable, "-c", _HELPER_CODE], env=environment, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:  # no interpreter to run (an embedded Python): compile in this process only
        return None
    atexit.register(_stop_helper, _helper, os.getpid())
    return _helper


def _stop_helper(helper: subprocess.Popen, owner: int) -> None:
    """At exit, stop a helper still compiling (Numba writes each cache entry to a temporary file renamed into
    place, so an entry is complete or absent). Forked children inherit the handle; only the owner stops it."""
    if os.getpid() != owner or helper.poll() is not None:
        return
    helper.terminate()
    try:
        helper.wait(timeout=5)
    except subprocess.TimeoutExpired:
        helper.kill()


start_compile_helper(cache_directory(), bool(config.DISABLE_JIT))
