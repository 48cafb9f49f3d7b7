"""upliftree: interpretable uplift trees and forests with a compiled (Numba) core.

Heavy modules (Numba kernels, pandas, matplotlib) load on first use, so ``import upliftree`` stays fast.
"""

from __future__ import annotations

from ._lazy import lazy_names

__version__ = "0.1.0"

_NAMES, __getattr__, __dir__ = lazy_names(__name__, globals(), {
    "upliftree.tree": ("UpliftTreeClassifier", "UpliftTreeRegressor"),
    "upliftree.forest": ("UpliftRandomForestClassifier", "UpliftRandomForestRegressor"),
    "upliftree.datasets": ("make_uplift_data",),
    "upliftree.export.model_json": ("load", "from_json"),
    "upliftree.export.distill": ("distill",),
    "upliftree.dr_tree": ("DRUpliftTree",),
    "upliftree.policy": ("Policy", "policy_value"),
    "upliftree.learners": ("SLearner", "TLearner", "XLearner", "RLearner", "DRLearner", "ClassTransformation"),
    "upliftree._warmup": ("warmup",),
})
__all__ = [*_NAMES, "__version__"]
