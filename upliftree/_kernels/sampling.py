"""Reproducible row draws: a splitmix64 stream seeded per call, so draws never depend on the thread running them."""

import numpy as np
from numba import njit

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SHIFT_30 = np.uint64(30)
_SHIFT_27 = np.uint64(27)
_SHIFT_31 = np.uint64(31)
_SHIFT_11 = np.uint64(11)
_TWO_POW_MINUS_53 = 2.0**-53


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def next_position(state, n):
    """Uniform integer in [0, n) from the splitmix64 stream whose state is ``state[0]``."""
    state[0] += _GOLDEN_GAMMA
    z = state[0]
    z = (z ^ (z >> _SHIFT_30)) * _MIX_1
    z = (z ^ (z >> _SHIFT_27)) * _MIX_2
    z = z ^ (z >> _SHIFT_31)
    # 53 random bits as a double in [0, 1); u * n can still round up to n for large n, hence the min.
    position = np.int64(float(z >> _SHIFT_11) * _TWO_POW_MINUS_53 * n)
    return position if position < n - 1 else n - 1


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def add_draws(state, candidates, n_draw, counts, position_counts):
    """Draw ``n_draw`` of ``candidates`` with replacement, adding one to ``counts[row]`` per draw of ``row``.

    ``position_counts`` (int32, at least ``len(candidates)``, any contents) is the caller's scratch: a kernel
    allocating it would need reference counting, which a kernel compiled without it (the curve bootstraps)
    cannot compile for it, the first time it is compiled from there.
    """
    n_candidates = candidates.shape[0]
    # Count by position first: the random increments then hit an array the size of ``candidates``, not of
    # ``counts``, and the scatter into ``counts`` runs in order (three times faster on 1M rows).
    for position in range(n_candidates):
        position_counts[position] = 0
    for _ in range(n_draw):
        position_counts[next_position(state, n_candidates)] += 1
    for position in range(n_candidates):
        counts[candidates[position]] += position_counts[position]


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def drawn_sample(counts):
    """Rows with a nonzero count (int32), in increasing order, and their counts (as the growers take a sample).

    Branch-free (about a third of the rows of a bootstrap are not drawn, an unpredictable branch): every row
    is written at the next free slot, which only advances past drawn rows; one spare slot takes the writes
    after the last drawn row.
    """
    n_drawn = np.int64(0)  # not literal 0s, which are typed again per loop level (docs/architecture.md)
    for row in range(counts.shape[0]):
        n_drawn += counts[row] != 0
    rows = np.empty(n_drawn + 1, dtype=np.int64)
    row_counts = np.empty(n_drawn + 1, dtype=np.int32)
    position = np.int64(0)
    for row in range(counts.shape[0]):
        rows[position] = row
        row_counts[position] = counts[row]
        position += counts[row] != 0
    return rows[:n_drawn], row_counts[:n_drawn]
