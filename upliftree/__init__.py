"""upliftree: interpretable uplift trees and forests with a compiled (Numba) core.

Heavy modules (Numba kernels, pandas, matplotlib) load on first use, so ``import upliftree`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "UpliftTreeClassifier": ("upliftree.tree", "UpliftTreeClassifier"),
    "UpliftTreeRegressor": ("upliftree.tree", "UpliftTreeRegressor"),
    "UpliftRandomForestClassifier": ("upliftree.forest", "UpliftRandomForestClassifier"),
    "UpliftRandomForestRegressor": ("upliftree.forest", "UpliftRandomForestRegressor"),
    "make_uplift_data": ("upliftree.datasets", "make_uplift_data"),
    "load": ("upliftree.export.model_json", "load"),
    "from_json": ("upliftree.export.model_json", "from_json"),
    "distill": ("upliftree.export.distill", "distill"),
    "Policy": ("upliftree.policy", "Policy"),
    "SLearner": ("upliftree.learners", "SLearner"),
    "TLearner": ("upliftree.learners", "TLearner"),
    "XLearner": ("upliftree.learners", "XLearner"),
    "RLearner": ("upliftree.learners", "RLearner"),
    "DRLearner": ("upliftree.learners", "DRLearner"),
    "ClassTransformation": ("upliftree.learners", "ClassTransformation"),
    "policy_value": ("upliftree.policy", "policy_value"),
    "warmup": ("upliftree._warmup", "warmup"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'upliftree' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
