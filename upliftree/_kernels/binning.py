"""Map raw encoded values to bin codes."""

import numpy as np
from numba import njit, prange

ROW_BLOCK = 16_384


@njit(cache=True, nogil=True, parallel=True)
def map_to_bins(encoded, padded_thresholds, n_thresholds, is_categorical, missing_bin):
    """Bin codes ``(n_features, n_rows)``: NaN -> ``missing_bin``; numeric by left-searchsorted; categorical by code.

    Blocks of rows are processed in parallel, reading each row's features together (``encoded`` is row-major).
    """
    n_rows, n_features = encoded.shape
    binned = np.empty((n_features, n_rows), dtype=np.uint8)
    n_blocks = (n_rows + ROW_BLOCK - 1) // ROW_BLOCK
    for block in prange(n_blocks):
        for row in range(block * ROW_BLOCK, min(n_rows, (block + 1) * ROW_BLOCK)):
            for feature in range(n_features):
                value = encoded[row, feature]
                if np.isnan(value):
                    binned[feature, row] = missing_bin
                elif is_categorical[feature]:
                    binned[feature, row] = np.uint8(value)
                else:
                    # searchsorted(side="left") by hand: slicing out a view per value would cost reference counting.
                    low = 0
                    high = n_thresholds[feature]
                    while low < high:
                        middle = (low + high) >> 1
                        if padded_thresholds[feature, middle] < value:
                            low = middle + 1
                        else:
                            high = middle
                    binned[feature, row] = low
    return binned
