"""Map raw encoded values to bin codes."""

import numpy as np
from numba import njit, prange

ROW_BLOCK = 16_384
# Thresholds are padded with +inf to this width, so the search below always takes 8 halving steps.
PADDED_WIDTH = 255


@njit(cache=True, nogil=True)
def _bin_of(thresholds, value):
    """Number of ``thresholds`` (sorted, +inf padded to 255) below ``value``: 8 branch-free halving steps."""
    below = 0
    step = 128
    while step > 0:
        below += step * np.int64(thresholds[below + step - 1] < value)
        step >>= 1
    return below


@njit(cache=True, nogil=True, parallel=True)
def map_to_bins(encoded, padded_thresholds, is_categorical, missing_bin):
    """Bin codes ``(n_features, n_rows)``: NaN -> ``missing_bin``; categorical by code; numeric by the number of
    thresholds below the value (``searchsorted(side="left")``).

    ``padded_thresholds`` is ``(n_features, 255)``, each row sorted and padded with +inf. The search is
    branch-free (the step is added or not), which avoids a mispredicted branch at every halving. Blocks of
    rows are processed in parallel, a feature at a time; four rows are searched together, so their chains of
    dependent loads overlap (about 30% faster than one row at a time).
    """
    n_rows, n_features = encoded.shape
    binned = np.empty((n_features, n_rows), dtype=np.uint8)
    n_blocks = (n_rows + ROW_BLOCK - 1) // ROW_BLOCK
    for block in prange(n_blocks):
        start = block * ROW_BLOCK
        stop = min(n_rows, start + ROW_BLOCK)
        for feature in range(n_features):
            thresholds = padded_thresholds[feature]
            if is_categorical[feature]:
                for row in range(start, stop):
                    value = encoded[row, feature]
                    binned[feature, row] = missing_bin if np.isnan(value) else np.uint8(value)
                continue
            row = start
            while row + 4 <= stop:
                value_0 = encoded[row, feature]
                value_1 = encoded[row + 1, feature]
                value_2 = encoded[row + 2, feature]
                value_3 = encoded[row + 3, feature]
                below_0 = 0
                below_1 = 0
                below_2 = 0
                below_3 = 0
                step = 128
                while step > 0:
                    below_0 += step * np.int64(thresholds[below_0 + step - 1] < value_0)
                    below_1 += step * np.int64(thresholds[below_1 + step - 1] < value_1)
                    below_2 += step * np.int64(thresholds[below_2 + step - 1] < value_2)
                    below_3 += step * np.int64(thresholds[below_3 + step - 1] < value_3)
                    step >>= 1
                binned[feature, row] = missing_bin if np.isnan(value_0) else below_0
                binned[feature, row + 1] = missing_bin if np.isnan(value_1) else below_1
                binned[feature, row + 2] = missing_bin if np.isnan(value_2) else below_2
                binned[feature, row + 3] = missing_bin if np.isnan(value_3) else below_3
                row += 4
            for tail_row in range(row, stop):
                value = encoded[tail_row, feature]
                binned[feature, tail_row] = missing_bin if np.isnan(value) else _bin_of(thresholds, value)
    return binned
