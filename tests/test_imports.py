"""The package's import graph, read statically from the source: no cycles, and only
the arrows docs/architecture.md allows.

Edges are every ``import`` and ``from ... import`` (at module level or inside a
function: both run), and every string constant that names a module of the package
exactly (what ``importlib.import_module`` is given, as in ``mutualize._backend`` and
``mutualize.cli``). Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path

import mutualize

ROOT = Path(mutualize.__file__).resolve().parent


@cache
def modules() -> dict[str, Path]:
    """Every module of the package (``.py``, and ``.pyi`` stubs of the extension)."""
    found: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py*")):
        if path.suffix not in (".py", ".pyi"):
            continue
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if path.suffix == ".pyi" and name in found:
            continue
        found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node``, skipping ``if TYPE_CHECKING:`` bodies and docstrings."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for rest in child.orelse:
                yield rest
                yield from _walk(rest)
            continue
        if isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant):
            continue  # a docstring
        yield child
        yield from _walk(child)


@cache
def imports(name: str) -> frozenset[str]:
    """The package's modules that module ``name`` imports."""
    known = modules()
    path = known[name]
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    edges: set[str] = set()
    for node in _walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                edges.add(sub if sub in known else target)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known:
            edges.add(node.value)
    return frozenset(e for e in edges if e in known and e != name)


def reachable(start: str, through: frozenset[str] = frozenset()) -> set[str]:
    """Every module ``start`` imports, directly or not (not going on from the modules
    of ``through``)."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name in through:
            continue
        for target in imports(name):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def find_cycle(nodes: Iterable[str], edges: Callable[[str], Iterable[str]]) -> list[str] | None:
    """One cycle of the graph, as the nodes along it, or ``None``."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(edges(name)):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(nodes):
        if name not in state:
            cycle = visit(name)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_the_imports() -> None:
    # The reader itself must work: known edges are found, TYPE_CHECKING ones are not.
    assert "mutualize.sim.results" in imports("mutualize.sim.engine")
    assert "mutualize.sim.metrics" in imports("mutualize.sim.results")
    assert "mutualize._core" in imports("mutualize._backend_rust")
    assert "mutualize._backend_python" in imports("mutualize._backend")
    assert "mutualize._cli.backtest" in imports("mutualize.cli")
    assert "mutualize.sim.scenario" not in imports("mutualize.sim.build")  # type only
    assert len(modules()) > 40


def test_the_package_has_no_import_cycles() -> None:
    cycle = find_cycle(modules(), imports)
    assert cycle is None, " -> ".join(cycle or [])


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycle(graph, graph.__getitem__) == ["a", "b", "c", "a"]
    del graph["c"]
    graph["b"] = {"e"}
    assert find_cycle(graph, graph.__getitem__) is None


# Modules of the rest of the package that the reference may import: the exception
# classes, the result columns' names and, for the allocation wrappers and the ledger,
# the public input conversion, result types and waterfall values (docs/architecture.md).
REFERENCE_MAY_IMPORT: dict[str, set[str]] = {
    "mutualize.reference": {"mutualize.errors", "mutualize._allocation"},
    "mutualize.reference._allocate": {"mutualize.errors"},
    "mutualize.reference._basis": {"mutualize.errors"},
    "mutualize.reference.sim": {"mutualize.errors", "mutualize._columns"},
    "mutualize.reference.ledger": {
        "mutualize.errors",
        "mutualize._coerce",
        "mutualize.events",
        "mutualize.waterfall",
    },
    "mutualize.reference.market": set(),
}


def test_the_reference_is_independent() -> None:
    reference = {n for n in modules() if n == "mutualize.reference" or ".reference." in n}
    assert reference == set(REFERENCE_MAY_IMPORT)
    for name in sorted(reference):
        outside = {m for m in imports(name) if m not in reference}
        assert outside <= REFERENCE_MAY_IMPORT[name], (name, outside)
    # Whatever it reaches, it never reaches the engine driver, the backends, the
    # public package or the compiled module.
    for name in reference:
        reached = reachable(name)
        forbidden = {
            m
            for m in reached
            if m.startswith(("mutualize.sim", "mutualize._backend", "mutualize._cli"))
            or m in ("mutualize", "mutualize._core", "mutualize.cli", "mutualize.ledger")
        }
        assert forbidden == set(), (name, forbidden)


def test_results_do_not_know_reports() -> None:
    for name in ("mutualize.sim.results", "mutualize.sim.metrics", "mutualize.sim.engine"):
        assert "mutualize.sim.report" not in reachable(name), name


def test_only_the_compiled_backend_imports_the_extension() -> None:
    importers = {n for n in modules() if "mutualize._core" in imports(n)}
    assert importers == {"mutualize._backend_rust", "mutualize._ledger_rust"}
    # Backtests reach it only through the backend seam, which imports it only when the
    # compiled backend is chosen.
    seam = frozenset({"mutualize._backend"})
    for name in modules():
        if name.startswith(("mutualize.sim", "mutualize.reference", "mutualize._cli")):
            assert "mutualize._core" not in reachable(name, seam), name


# docs/architecture.md, "The layers": each module's layer, by its name's prefix.
LAYERS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            "mutualize.errors",
            "mutualize._columns",
            "mutualize._coerce",
            "mutualize._allocation",
            "mutualize.waterfall",
            "mutualize.journal",
            "mutualize.ledger",
            "mutualize._extras",
            "mutualize.metrics",
            "mutualize.examples",
            "mutualize.events",
        ),
    ),
    (2, ("mutualize._core", "mutualize._ledger_", "mutualize.reference")),
    (3, ("mutualize._protocols", "mutualize._backend")),
    (5, ("mutualize.sim", "mutualize.research")),
    (
        6,
        (
            "mutualize.cli",
            "mutualize._cli",
            "mutualize.demo",
            "mutualize.__main__",
            "mutualize.soak",
        ),
    ),
)


def layer(name: str) -> int:
    if name == "mutualize":
        return 4
    for number, prefixes in LAYERS:
        if name.startswith(prefixes):
            return number
    raise AssertionError(f"{name} has no layer in docs/architecture.md")


def test_imports_go_down_the_layers() -> None:
    upward = [
        (name, target)
        for name in sorted(modules())
        for target in sorted(imports(name))
        if layer(target) > layer(name)
    ]
    assert upward == []
