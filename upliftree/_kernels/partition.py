"""Split a node's sample between its children, keeping the rows' order (so results never depend on threads)."""

import numpy as np
from numba import njit


def partition_rows(rows, counts, column, left_bins):
    """Rows (int64) whose bin code in ``column`` is marked in ``left_bins`` go left, with their aligned
    ``counts`` (int32, as every grower keeps them).

    Returns ``(left_rows, left_counts, right_rows, right_counts)``. One pass without branches: left rows fill
    buffers from the front and right rows from the back (every row is written at both ends; a later row
    overwrites the wrong copy), then the back part is reversed to restore the order. Children are views of
    those buffers. Five times faster than a branching two-pass version on random splits, which mispredict
    half the time. The buffers are allocated here and the kernel returns the split point: an int32
    ``np.empty`` and a tuple of four array views in the kernel cost compile time of their own.
    """
    ordered_rows = np.empty(len(rows), dtype=np.int64)
    ordered_counts = np.empty(len(rows), dtype=np.int32)
    next_left = partition_rows_into(rows, counts, column, left_bins, ordered_rows, ordered_counts)
    return (ordered_rows[:next_left], ordered_counts[:next_left], ordered_rows[next_left:],
            ordered_counts[next_left:])


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def partition_rows_into(rows, counts, column, left_bins, ordered_rows, ordered_counts):
    """:func:`partition_rows` into ``ordered_rows`` and ``ordered_counts`` (as long as ``rows``); returns the
    number of rows that go left."""
    n_rows = rows.shape[0]
    next_left = np.int64(0)  # not a literal 0, which is typed again per loop level (docs/architecture.md)
    next_right = n_rows - 1
    for i in range(n_rows):
        row = rows[i]
        count = counts[i]
        goes_left = np.int64(left_bins[column[row]])
        ordered_rows[next_left] = row
        ordered_rows[next_right] = row
        ordered_counts[next_left] = count
        ordered_counts[next_right] = count
        next_left += goes_left
        next_right -= 1 - goes_left
    low, high = next_left, n_rows - 1
    while low < high:
        ordered_rows[low], ordered_rows[high] = ordered_rows[high], ordered_rows[low]
        ordered_counts[low], ordered_counts[high] = ordered_counts[high], ordered_counts[low]
        low += 1
        high -= 1
    return next_left
