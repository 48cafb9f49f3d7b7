"""The Python side of the kernel boundary: one array type per kernel argument, and blocks of work on threads.

Numba compiles a kernel once per distinct tuple of argument types, and an array's type includes its layout
(C, Fortran, strided) and whether it is writeable. Arrays a kernel only reads and that may come from outside
(the user's matrix, fitted model arrays, which are read-only) therefore pass through :func:`kernel_array` or
:func:`strided_matrix`, so every caller hands the kernel the same type: one compilation instead of one per
layout. Arrays created for the call (outputs, scratch) are writeable and need no conversion.

The kernels are serial and release the GIL; the callers split rows (or features) into blocks and run them
with :func:`run_blocks` on a shared thread pool. Every block computes its own part of the output from the
same inputs, so results never depend on the number of threads or on block boundaries.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_pool: ThreadPoolExecutor | None = None
_pool_owner = -1  # pid that created the pool: a forked child must not wait on its parent's threads
_pool_lock = threading.Lock()


def kernel_array(array: np.ndarray, dtype: type) -> np.ndarray:
    """``array`` as a C-contiguous ``dtype`` array, read-only (copied only when its layout or dtype differs)."""
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def strided_matrix(encoded: np.ndarray) -> tuple[np.ndarray, int, int]:
    """A 2-D float64 matrix as ``(values, row_stride, column_stride)``: element ``[row, column]`` is
    ``values[row * row_stride + column * column_stride]``.

    C and Fortran matrices are viewed without copying (a 1M x 13 float64 matrix is 104 MB, and a DataFrame's
    values are often Fortran-ordered); any other layout or dtype is copied to C order. ``values`` is a
    read-only 1-D view, so a kernel reading a matrix is compiled once whatever the matrix's layout.
    """
    if encoded.dtype != np.float64 or not (encoded.flags.c_contiguous or encoded.flags.f_contiguous):
        encoded = np.ascontiguousarray(encoded, dtype=np.float64)
    n_rows, n_columns = encoded.shape
    if encoded.flags.c_contiguous:
        strides = (n_columns, 1)
    else:
        strides = (1, n_rows)
    return kernel_array(encoded.ravel(order="K"), np.float64), strides[0], strides[1]


def kernel_threads() -> int:
    """Threads the kernels' blocks run on: ``NUMBA_NUM_THREADS`` (by default, the number of CPUs)."""
    from numba import config

    return max(1, int(config.NUMBA_NUM_THREADS))


def _shared_pool() -> ThreadPoolExecutor:
    global _pool, _pool_owner
    with _pool_lock:
        if _pool is None or _pool_owner != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=kernel_threads(), thread_name_prefix="upliftree-kernel")
            _pool_owner = os.getpid()
        return _pool


def block_bounds(n_items: int, min_block: int, granularity: int = 1, blocks_per_thread: int = 4
                 ) -> list[tuple[int, int]]:
    """``(start, stop)`` blocks covering ``range(n_items)``: ``blocks_per_thread`` per thread (a few, so a
    thread slowed down by other work does not hold the others up), each of at least ``min_block`` items (one
    block when there are fewer), starts multiples of ``granularity``."""
    n_threads = kernel_threads()
    n_blocks = min(blocks_per_thread * n_threads, n_items // max(min_block, 1)) if n_threads > 1 else 1
    if n_blocks <= 1:
        return [(0, n_items)]
    size = -(-n_items // n_blocks)
    size = -(-size // granularity) * granularity
    return [(start, min(start + size, n_items)) for start in range(0, n_items, size)]


def run_blocks(task: Callable[[int, int], object], blocks: list[tuple[int, int]]) -> None:
    """``task(start, stop)`` for every block: all but the first on the shared pool, the first on the calling
    thread (which would otherwise only wait).

    Tasks must not call :func:`run_blocks` themselves: a pool thread waiting for the pool could deadlock.
    """
    futures = [_shared_pool().submit(task, start, stop) for start, stop in blocks[1:]]
    try:
        task(*blocks[0])
    finally:
        for future in futures:
            future.result()
