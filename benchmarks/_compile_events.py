"""Compile timings from Numba's event API, for benchmarks that run in fresh interpreters (imports Numba)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from numba.core import event


class CompileRecorder(event.Listener):
    """``numba:compile`` listener: per function, compile count and inclusive/own seconds; per step, the seconds of
    outermost compilations (nested ones run inside them). Events nest per thread (forests compile on theirs)."""

    def __init__(self) -> None:
        self.functions: dict[str, dict[str, float]] = defaultdict(lambda: {"compiles": 0, "seconds": 0.0,
                                                                           "own_seconds": 0.0})
        self.outermost_seconds = 0.0
        self._stacks: dict[int, list[list[Any]]] = defaultdict(list)
        self._lock = threading.Lock()

    def on_start(self, ev: Any) -> None:
        function = ev.data["dispatcher"].py_func
        name = f"{function.__module__}.{function.__qualname__}"
        self._stacks[threading.get_ident()].append([name, time.perf_counter(), 0.0])

    def on_end(self, ev: Any) -> None:
        stack = self._stacks[threading.get_ident()]
        name, started, nested = stack.pop()
        seconds = time.perf_counter() - started
        with self._lock:
            record = self.functions[name]
            record["compiles"] += 1
            record["seconds"] += seconds
            record["own_seconds"] += seconds - nested
            if stack:
                stack[-1][2] += seconds
            else:
                self.outermost_seconds += seconds

    @classmethod
    def registered(cls) -> CompileRecorder:
        """A recorder listening from now on, for the rest of the process."""
        recorder = cls()
        event.register("numba:compile", recorder)
        return recorder
