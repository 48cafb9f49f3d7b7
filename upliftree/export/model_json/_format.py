"""What the writer and the reader of JSON model files share: the format's name and versions, the estimator
classes a document may name, the fields of node statistics and fitted scalars, and the reader's error."""

from __future__ import annotations

import math

from ..._tree_arrays import STAT_NAMES

__all__ = ["ModelFormatError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "upliftree-model"
FORMAT_VERSION = 4
# Versions a reader accepts. Version 1 lacks the features' "has_missing" flags and the categorical features'
# "pooled" categories (both added in 2); its models read as "every feature had missing values", which keeps
# their rule text as it was, and as having pooled no category. Version 3 adds the trees' optional
# "design_moments" (fits given propensity or cluster); version 1 and 2 files have none. Version 4 adds the
# fitted "min_samples_leaf" (the leaf size a tree grew with, "auto" resolved); older files load without it.
READABLE_VERSIONS = (1, 2, 3, 4)
STATS_FIELDS = STAT_NAMES  # the node table's statistics columns, in order
NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}

# Estimator classes a document may name: class name -> (module, outcome kind, class of its fitted state in the
# same module). Nothing else is imported.
TREE_CLASSES = {
    "UpliftTreeClassifier": ("upliftree.tree", "binary", "FittedTree"),
    "UpliftTreeRegressor": ("upliftree.tree", "continuous", "FittedTree"),
}
FOREST_CLASSES = {
    "UpliftRandomForestClassifier": ("upliftree.forest", "binary", "FittedForest"),
    "UpliftRandomForestRegressor": ("upliftree.forest", "continuous", "FittedForest"),
}
# A distilled tree's outcome kind is taken from the document.
DISTILLED_CLASSES = {"DistilledUpliftTree": ("upliftree.export.distill", None, "FittedDistilledTree")}
# A DR tree's outcome kind is taken from the document too.
DR_CLASSES = {"DRUpliftTree": ("upliftree.dr_tree", None, "FittedDRTree")}
ESTIMATOR_CLASSES = {**TREE_CLASSES, **FOREST_CLASSES, **DISTILLED_CLASSES, **DR_CLASSES}
OUTCOMES = ("binary", "continuous")
# Parameters a model file does not hold: a distilled tree's imitated model and a DR tree's base models (the
# loaded tree has None for them; it predicts and exports without them).
UNSAVED_PARAMS = ("model", "outcome_model", "propensity_model")
# Scalar fitted attributes saved with each tree (null when the model does not have them) and their JSON types.
FITTED_SCALARS = {
    "n_splits_merged_": int,
    "n_splits_pruned_": int,
    "honest_estimates_": bool,
    "fidelity_r2_": float,
    "qini_model_": float,
    "qini_distilled_": float,
    "qini_kept_": float,
}
# Fitted scalars added in later versions of the format: written always, optional when read (older files).
OPTIONAL_FITTED_SCALARS = {
    "min_samples_leaf_": int,
}


class ModelFormatError(ValueError):
    """The text is not a valid upliftree model document; the message names the offending field."""
