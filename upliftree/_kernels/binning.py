"""Map raw encoded values to bin codes."""

import numpy as np
from numba import njit, prange

ROW_BLOCK = 16_384
# Thresholds are padded with +inf to this width, so the search below always takes 8 halving steps.
PADDED_WIDTH = 255


@njit(cache=True, nogil=True, parallel=True)
def map_to_bins(encoded, padded_thresholds, is_categorical, missing_bin):
    """Bin codes ``(n_features, n_rows)``: NaN -> ``missing_bin``; categorical by code; numeric by the number of
    thresholds below the value (``searchsorted(side="left")``).

    ``padded_thresholds`` is ``(n_features, 255)``, each row sorted and padded with +inf. The search is
    branch-free (the step is added or not), which avoids a mispredicted branch at every halving. Blocks of
    rows are processed in parallel, reading each row's features together (``encoded`` is row-major).
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
                    below = 0
                    step = 128
                    while step > 0:
                        below += step * np.int64(padded_thresholds[feature, below + step - 1] < value)
                        step >>= 1
                    binned[feature, row] = below
    return binned
