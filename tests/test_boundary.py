"""The package's boundaries, checked on the source (``ast``): private members stay in their module, the CLI uses the
public API, and dependencies point one way (``docs/architecture.md``, "Boundaries").

Each check lists its exceptions with the reason; an exception that no longer occurs fails too, so the lists only
shrink.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "upliftree"

# Private names another module may still import, with why; each entry is (importing module, name).
PRIVATE_IMPORTS: dict[tuple[str, str], str] = {}
# Private members another module may still read, with why; each entry is (reading module, name).
PRIVATE_READS: dict[tuple[str, str], str] = {}
# What the CLI may import from private modules: presentation and the compile message, nothing about models.
CLI_PRIVATE_MODULES = {
    "upliftree._tables": "the CLI's table rendering",
    "upliftree._kernels": "silencing the one-time compile message",
    "upliftree._warmup": "the warmup command is upliftree.warmup",
}

# Layers, bottom to top; a module belongs to the layer of its longest listed prefix. A module imports only from
# its own layer and those below, except the delegation methods in UPWARD_IMPORTS.
LAYERS = {
    # foundations: arrays, validation, the node table, bins, metrics and the model protocol (_base)
    0: ("upliftree._kernels", "upliftree._lazy", "upliftree._params", "upliftree._validation", "upliftree._tree_arrays",
        "upliftree.binning", "upliftree._format", "upliftree._tables", "upliftree.inference", "upliftree.rules",
        "upliftree.datasets", "upliftree.metrics", "upliftree.plot", "upliftree.design", "upliftree._base"),
    # readers of fitted models (through _base.model_kind and public attributes), and the meta-learners
    1: ("upliftree.segments", "upliftree.pruning", "upliftree.export", "upliftree.monitor", "upliftree.policy",
        "upliftree.policy_test", "upliftree.learners"),
    # the tree estimators
    2: ("upliftree._grower", "upliftree.predictor", "upliftree.tree", "upliftree.forest"),
    # what builds or drives models: distillation, the DR tree, reading model files, Dask, the report, the CLI
    3: ("upliftree.export.distill", "upliftree.dr_tree", "upliftree.export.model_json.reader", "upliftree.dask",
        "upliftree.report", "upliftree.cli", "upliftree._warmup",
        "upliftree._background_compile", "upliftree.__main__", "upliftree.model_selection"),
}
UPWARD_IMPORTS = {
    ("upliftree._base", "upliftree.export.sql"): "UpliftModel.to_sql delegates to the exporter",
    ("upliftree._base", "upliftree.export.model_json.writer"): "UpliftModel.save / to_json delegate to the model "
                                                                "file writer",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported from
    names: tuple[str, ...]
    lazy: bool  # inside a function
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def sources() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def imports(module: str, tree: ast.Module) -> list[Import]:
    """Every import of an upliftree module in ``module``, relative ones resolved, ``from . import x`` as ``x``."""
    is_package = module in sources() and (PACKAGE / Path(*module.split(".")[1:]) / "__init__.py").exists()
    package = module if is_package else module.rpartition(".")[0]
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    lazy_nodes = {id(node) for function in functions for node in ast.walk(function)}
    found = []
    for node in ast.walk(tree):
        lazy = id(node) in lazy_nodes
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, (), lazy, node.lineno) for alias in node.names
                      if alias.name.split(".")[0] == "upliftree"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "upliftree":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in sources():
                    found.append(Import(module, submodule, (), lazy, node.lineno))
                else:
                    found.append(Import(module, target, (alias.name,), lazy, node.lineno))
    return found


def owned_private_names(tree: ast.Module) -> set[str]:
    """Private names a module defines: its module-level names, its classes' members, attributes set on self/cls."""
    owned = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            owned.add(node.name)
        elif isinstance(node, ast.Assign):
            owned |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    owned.add(member.name)
                elif isinstance(member, ast.Assign):
                    owned |= {target.id for target in member.targets if isinstance(target, ast.Name)}
                elif isinstance(member, ast.AnnAssign) and isinstance(member.target, ast.Name):
                    owned.add(member.target.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and is_self(node.value):
            owned.add(node.attr)
    return {name for name in owned if is_private(name)}


def is_self(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: members a class reaches on itself."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def private_accesses(tree: ast.Module) -> list[tuple[str, int, str]]:
    """``obj._name`` and ``getattr(obj, "_name")`` (also hasattr/setattr) on anything but self/cls/super()."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr) and not is_self(node.value):
            found.append((node.attr, node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and is_private(node.args[1].value) and not is_self(node.args[0])):
            found.append((node.args[1].value, node.lineno, ast.unparse(node)))
    return found


def layer(module: str) -> int:
    matches = [(len(prefix), number) for number, prefixes in LAYERS.items() for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    if module == "upliftree":
        return 0  # the package: a version and a map of names loaded on first use
    assert matches, f"{module} has no layer: add it to LAYERS here and to docs/architecture.md"
    return max(matches)[1]


def test_no_module_reads_another_modules_private_members() -> None:
    owned = {module: owned_private_names(tree) for module, tree in sources().items()}
    defined_somewhere = set().union(*owned.values())
    found = {}
    for module, tree in sources().items():
        for name, line, text in private_accesses(tree):
            # Names upliftree does not define are other libraries' (a namedtuple's _replace, dask's _meta).
            if name in defined_somewhere and name not in owned[module]:
                found[(module, name)] = f"{module}:{line}: {text}"
    unexplained = sorted(where for key, where in found.items() if key not in PRIVATE_READS)
    assert unexplained == [], "add a public function or attribute instead:\n" + "\n".join(unexplained)
    assert sorted(set(PRIVATE_READS) - set(found)) == [], "no longer read: delete these PRIVATE_READS entries"


def test_no_module_imports_a_private_name_from_another() -> None:
    found = {}
    for module, tree in sources().items():
        for item in imports(module, tree):
            inside_kernels = module.startswith("upliftree._kernels") and item.target.startswith("upliftree._kernels")
            for name in item.names:
                if is_private(name) and not inside_kernels:
                    found[(module, name)] = f"{module}:{item.line}: from {item.target} import {name}"
    unexplained = sorted(where for key, where in found.items() if key not in PRIVATE_IMPORTS)
    assert unexplained == [], "make the name public (or move the code) instead:\n" + "\n".join(unexplained)
    assert sorted(set(PRIVATE_IMPORTS) - set(found)) == [], "no longer imported: delete these PRIVATE_IMPORTS entries"


def test_the_cli_uses_the_public_api() -> None:
    used = {item.target for item in imports("upliftree.cli", sources()["upliftree.cli"])
            if any(part.startswith("_") for part in item.target.split(".")[1:])}
    assert sorted(used - set(CLI_PRIVATE_MODULES)) == []
    assert sorted(set(CLI_PRIVATE_MODULES) - used) == [], "no longer imported: delete these CLI_PRIVATE_MODULES"


def test_dependencies_point_one_way() -> None:
    """Readers of models never import the estimators or what builds models, the estimators import readers only
    inside their delegation methods, and ``_base``'s delegations are the only imports going up."""
    unexplained, allowed_used, eager = [], set(), []
    for module, tree in sources().items():
        for item in imports(module, tree):
            if layer(item.target) <= layer(module):
                continue
            allowed = [key for key in UPWARD_IMPORTS
                       if key[0] == module and (item.target == key[1] or item.target.startswith(key[1] + "."))]
            if not allowed:
                unexplained.append(f"{module}:{item.line}: imports {item.target} (layer {layer(item.target)} above "
                                   f"{layer(module)})")
            elif not item.lazy:
                eager.append(f"{module}:{item.line}: {item.target}")
            allowed_used.update(allowed)
    assert unexplained == [], "\n".join(unexplained)
    assert eager == [], "delegations import inside the method:\n" + "\n".join(eager)
    assert sorted(set(UPWARD_IMPORTS) - allowed_used) == [], "no longer imported: delete these UPWARD_IMPORTS"


def test_the_checks_can_fail() -> None:
    """Each check finds the violation it is written for."""
    sample = ast.parse("""
from .tree import _BaseUpliftTree
import upliftree.tree
def f(model, self):
    from .export import distill
    model._binary, self._own, getattr(model, "_fitted_attribute"), model.public
""")
    assert [access[0] for access in private_accesses(sample)] == ["_binary", "_fitted_attribute"]
    found = imports("upliftree.segments", sample)
    assert [(item.target, item.names, item.lazy) for item in found] == [
        ("upliftree.tree", ("_BaseUpliftTree",), False), ("upliftree.tree", (), False),
        ("upliftree.export.distill", (), True)]
    assert [layer(item.target) > layer(item.module) for item in found] == [True, True, True]
    assert owned_private_names(ast.parse("class A:\n    _x = 1\n    def _y(self):\n        self._z = 2\n")) == {
        "_x", "_y", "_z"}
