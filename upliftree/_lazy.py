"""Public names of a package loaded on first use: ``import upliftree`` (and each subpackage) stays fast and loads
only the modules a program touches, which also keeps dependencies pointing one way (``docs/architecture.md``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, namespace: dict[str, Any], modules: dict[str, tuple[str, ...]]
               ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``, whose public names are those of ``modules``
    (module -> the names it defines): each is imported on first use, then kept in the package's ``namespace``."""
    module_of = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name in module_of:
            value = getattr(importlib.import_module(module_of[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(module_of))

    return sorted(module_of), __getattr__, __dir__
