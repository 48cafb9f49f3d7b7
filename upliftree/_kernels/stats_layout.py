"""Layout of the per-arm sums that describe a set of rows: the last axis of histograms and node statistics.

The node table (``upliftree._tree_arrays``) owns this layout and re-exports it; it lives here, without
dependencies, so the kernels that fill the sums can read it too. Numba reads the constants as literals.
"""

COUNT = 0  # number of rows (unweighted), for min_samples_leaf / min_samples_treatment
WEIGHT = 1  # sum of sample weights
WEIGHTED_Y = 2  # sum of weight * y
WEIGHTED_Y2 = 3  # sum of weight * y**2, for variances of continuous outcomes
WEIGHT_SQUARED = 4  # sum of weight**2, for effective sample sizes (sum w)^2 / sum w^2 of weighted intervals
N_STATS = 5
# Name of each column, in column order (the ``stats_fields`` of a JSON model file).
STAT_NAMES = ("count", "weight", "weighted_y", "weighted_y2", "weight_squared")
