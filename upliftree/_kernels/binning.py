"""Map raw encoded values to bin codes."""

import math

import numpy as np
from numba import njit

ROW_BLOCK = 16_384
# Thresholds are padded with +inf to this width, so the search below always takes 8 halving steps.
PADDED_WIDTH = 255


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, _nrt=False)
def map_to_bins(values, row_stride, column_stride, start, stop, padded_thresholds, is_categorical, missing_bin,
                binned):
    """Bin codes of rows ``start..stop`` into ``binned[:, start:stop]`` (``binned`` is ``(n_features, n_rows)``):
    NaN -> ``missing_bin``; categorical by code; numeric by the number of thresholds below the value
    (``searchsorted(side="left")``).

    The encoded matrix is ``values`` with its strides (``boundary.strided_matrix``). ``padded_thresholds`` is
    ``(n_features, 255)``, each row sorted and padded with +inf. The search is branch-free (the step is added
    or not), which avoids a mispredicted branch at every halving. Rows are processed in blocks, a feature at a
    time; four rows are searched together, so their chains of dependent loads overlap (about 30% faster than
    one row at a time). Callers run blocks of rows on threads.
    """
    n_features = binned.shape[0]
    for block_start in range(start, stop, ROW_BLOCK):
        block_stop = block_start + ROW_BLOCK if block_start + ROW_BLOCK < stop else stop
        for feature in range(n_features):
            thresholds = padded_thresholds[feature]
            column = feature * column_stride
            if is_categorical[feature]:
                for row in range(block_start, block_stop):
                    value = values[row * row_stride + column]
                    binned[feature, row] = missing_bin if math.isnan(value) else np.uint8(value)
                continue
            row = block_start
            while row + 4 <= block_stop:
                value_0 = values[row * row_stride + column]
                value_1 = values[(row + 1) * row_stride + column]
                value_2 = values[(row + 2) * row_stride + column]
                value_3 = values[(row + 3) * row_stride + column]
                # np.int64, not literals: a literal's type is widened one loop level per typing pass
                # (docs/architecture.md, kernel rules).
                below_0 = np.int64(0)
                below_1 = np.int64(0)
                below_2 = np.int64(0)
                below_3 = np.int64(0)
                step = np.int64(128)
                while step > 0:
                    below_0 += step * np.int64(thresholds[below_0 + step - 1] < value_0)
                    below_1 += step * np.int64(thresholds[below_1 + step - 1] < value_1)
                    below_2 += step * np.int64(thresholds[below_2 + step - 1] < value_2)
                    below_3 += step * np.int64(thresholds[below_3 + step - 1] < value_3)
                    step >>= 1
                binned[feature, row] = missing_bin if math.isnan(value_0) else below_0
                binned[feature, row + 1] = missing_bin if math.isnan(value_1) else below_1
                binned[feature, row + 2] = missing_bin if math.isnan(value_2) else below_2
                binned[feature, row + 3] = missing_bin if math.isnan(value_3) else below_3
                row += 4
            for tail_row in range(row, block_stop):
                value = values[tail_row * row_stride + column]
                below = np.int64(0)
                step = np.int64(128)
                while step > 0:
                    below += step * np.int64(thresholds[below + step - 1] < value)
                    step >>= 1
                binned[feature, tail_row] = missing_bin if math.isnan(value) else below
