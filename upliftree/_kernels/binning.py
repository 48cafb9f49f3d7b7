"""Map raw encoded values to bin codes."""

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def map_to_bins(encoded, padded_thresholds, n_thresholds, is_categorical, missing_bin):
    """Bin codes ``(n_features, n_rows)``: NaN -> ``missing_bin``; numeric by left-searchsorted; categorical by code."""
    n_rows, n_features = encoded.shape
    binned = np.empty((n_features, n_rows), dtype=np.uint8)
    for feature in prange(n_features):
        thresholds = padded_thresholds[feature, : n_thresholds[feature]]
        for row in range(n_rows):
            value = encoded[row, feature]
            if np.isnan(value):
                binned[feature, row] = missing_bin
            elif is_categorical[feature]:
                binned[feature, row] = np.uint8(value)
            else:
                binned[feature, row] = np.searchsorted(thresholds, value, side="left")
    return binned
