"""The import contract: the package's imports follow the data flow, one way, with no cycle.

Every import in ``optikit/`` counts, including those inside functions (only ``if TYPE_CHECKING:``
blocks are left out, as they never run). A module may import from its own layer or from the
layers before it; docs/architecture.md shows the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "optikit"

#: The layers, first to last; each entry is a module or a package (with everything in it).
LAYERS = (
    ("optikit.errors", "optikit.settings", "optikit.hookspecs", "optikit.version"),
    ("optikit.expr",),
    ("optikit.data",),
    ("optikit.spec",),
    ("optikit.symbolic",),
    ("optikit.backends",),
    ("optikit.optimizers",),
    ("optikit.plugins",),
    ("optikit.engine",),
    ("optikit.distributed",),
    ("optikit.gradcheck",),
    ("optikit.fit",),
    ("optikit.output",),
    ("optikit.api", "optikit.compare", "optikit.testing"),
    ("optikit.cli", "optikit.__main__"),
    ("optikit",),
)


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def layer(module: str) -> int:
    best = None
    for i, members in enumerate(LAYERS):
        for m in members:
            if (module == m or module.startswith(m + ".")) and (best is None or len(m) > len(best[1])):
                best = (i, m)
    assert best is not None, f"{module} is in no layer; add it to LAYERS and docs/architecture.md"
    return best[0]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skip.update(id(n) for child in node.body for n in ast.walk(child))
    return skip


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports, anywhere in its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_nodes(tree)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.split(".")[0] == "optikit":
                found.add(target)
    return found


GRAPH = {name: imports(name, path, modules()) for name, path in modules().items()}


def test_every_module_has_a_layer():
    for name in GRAPH:
        layer(name)


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_follow_the_layer_order(name):
    late = sorted(t for t in GRAPH[name] if layer(t) > layer(name))
    assert not late, f"{name} (layer {layer(name)}) imports from later layers: " + \
        ", ".join(f"{t} (layer {layer(t)})" for t in late)


def test_built_in_plugins_are_below_the_manager_that_imports_them():
    from optikit.plugins.sources import BUILTIN_PLUGINS

    for module in BUILTIN_PLUGINS:  # imported by name (importlib), which the import graph cannot see
        assert module in GRAPH and layer(module) <= layer("optikit.plugins.manager"), module


def test_there_is_no_import_cycle():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_contract_sees_imports_inside_functions(tmp_path):
    code = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .api import run\n" \
           "def f():\n    from .cli import main\n"
    path = tmp_path / "errors.py"
    path.write_text(code)
    known = {"optikit.errors": path, "optikit.api": path, "optikit.cli": path}
    assert imports("optikit.errors", path, known) == {"optikit.cli"}
