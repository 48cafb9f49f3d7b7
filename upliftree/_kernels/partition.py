"""Split a node's rows between its children, keeping their order (so results never depend on threads)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def partition_rows(rows, column, left_bins):
    """Rows whose bin code in ``column`` is marked in ``left_bins`` go left; returns ``(left, right)``."""
    n_left = 0
    for i in range(rows.shape[0]):
        if left_bins[column[rows[i]]]:
            n_left += 1
    left = np.empty(n_left, dtype=rows.dtype)
    right = np.empty(rows.shape[0] - n_left, dtype=rows.dtype)
    i_left = 0
    i_right = 0
    for i in range(rows.shape[0]):
        row = rows[i]
        if left_bins[column[row]]:
            left[i_left] = row
            i_left += 1
        else:
            right[i_right] = row
            i_right += 1
    return left, right
