#!/usr/bin/env python3
"""Fail on a cycle of `use` between the modules of a Rust crate.

    python scripts/check_cycles.py [rust/core/src rust/python/src]

Two levels are checked, which is where a cycle means tangled ideas:

- the crate's top-level modules (``crate::ledger`` -> ``crate::allocate``, ...);
- the sibling files of one directory module (``ledger/liquidate.rs`` ->
  ``ledger/adl.rs``): a name taken from the parent (``super::Event``) counts as taken
  from the sibling that defines it when the parent re-exports it (``pub use
  event::Event``); a name the parent defines itself (``super::Ledger``) is the hub every
  child may use, and the parent's own uses of its children are not edges.

References are read from ``use`` declarations (braces expanded) and from paths written
inline (``super::position::trade(...)``). Comments and string literals are ignored.
Prints each cycle and exits 1 if there is one; tests/test_crate_cycles.py runs it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

Module = tuple[str, ...]

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_STRING = re.compile(r'r#*"(?:.|\n)*?"#*|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])\'')
_USE = re.compile(r"\buse\s+([^;]+);")
_INLINE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
_PUB_USE = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);")


def _strip(source: str) -> str:
    return _STRING.sub('""', _COMMENT.sub("", source))


def _expand(tree: str) -> list[str]:
    """``a::{b, c::{d, e}}`` -> ``a::b``, ``a::c::d``, ``a::c::e`` (renames dropped)."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    start = tree.find("{")
    if start < 0:
        return [tree]
    prefix, inner = tree[:start], tree[start + 1 : tree.rindex("}")]
    parts, begin, level = [], 0, 0
    for j, c in enumerate(inner):
        level += c == "{"
        level -= c == "}"
        if c == "," and level == 0:
            parts.append(inner[begin:j])
            begin = j + 1
    parts.append(inner[begin:])
    return [path for part in parts if part for path in _expand(prefix + part)]


def modules(src: Path) -> dict[Module, Path]:
    """Every module file of a crate, by module path (``lib.rs`` is ``()``)."""
    found: dict[Module, Path] = {}
    for path in sorted(src.rglob("*.rs")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        found[tuple(parts)] = path
    return found


def _absolute(path: str, here: Module) -> list[str]:
    """A path written in module ``here``, from the crate root (an extern crate's path
    comes out relative to ``here`` and matches no module of the crate)."""
    segments = path.split("::")
    if segments[0] == "crate":
        return segments[1:]
    out = list(here)
    if segments[0] == "self":
        return out + segments[1:]
    while segments and segments[0] == "super":
        segments = segments[1:]
        out = out[:-1]
    return out + segments


def _reexports(source: str) -> dict[str, str]:
    """Names a module file re-exports from a child: ``pub use child::Name`` -> Name: child."""
    names: dict[str, str] = {}
    for tree in _PUB_USE.findall(_strip(source)):
        for path in _expand(tree):
            segments = path.split("::")
            if segments[0] not in ("crate", "super", "self") and len(segments) >= 2:
                names[segments[-1]] = segments[0]
    return names


def references(src: Path) -> dict[Module, set[Module]]:
    """Each module's references to other modules of the crate."""
    mods = modules(src)
    exported = {m: _reexports(p.read_text()) for m, p in mods.items()}
    graph: dict[Module, set[Module]] = {m: set() for m in mods}
    for here, path in mods.items():
        text = _strip(path.read_text())
        paths = [p for tree in _USE.findall(text) for p in _expand(tree)]
        paths += _INLINE.findall(_USE.sub("", text))
        for raw in paths:
            segments = _absolute(raw, here)
            target: Module | None = None
            rest: list[str] = []
            for n in range(len(segments), -1, -1):
                if tuple(segments[:n]) in mods:
                    target = tuple(segments[:n])
                    rest = segments[n:]
                    break
            if target is None:
                continue
            # A name the target re-exports from one of its children is that child's.
            if rest and rest[0] in exported.get(target, {}):
                child = (*target, exported[target][rest[0]])
                if child in mods:
                    target = child
            if target != here:
                graph[here].add(target)
    return graph


def _levels(graph: dict[Module, set[Module]]) -> dict[str, dict[Module, set[Module]]]:
    """The graphs whose cycles count: top-level modules, and each directory's children."""
    levels: dict[str, dict[Module, set[Module]]] = {"crate": {}}
    for source, targets in graph.items():
        for target in targets:
            if source and target and source[0] != target[0]:
                levels["crate"].setdefault(source[:1], set()).add(target[:1])
            parent = source[:-1]
            if len(source) >= 1 and target[:-1] == parent and len(target) == len(source):
                levels.setdefault("::".join(parent) or "crate", {}).setdefault(source, set()).add(
                    target
                )
    return levels


def cycles(graph: dict[Module, set[Module]]) -> list[list[Module]]:
    """The cycles of a graph (one per strongly connected component with an edge)."""
    index: dict[Module, int] = {}
    low: dict[Module, int] = {}
    stack: list[Module] = []
    on: set[Module] = set()
    found: list[list[Module]] = []
    counter = [0]

    def visit(v: Module) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def check(src: Path) -> list[str]:
    """A line per cycle found in the crate at ``src``."""
    problems = []
    for level, graph in _levels(references(src)).items():
        for cycle in cycles(graph):
            names = ", ".join("::".join(m) for m in cycle)
            problems.append(f"{src}: modules use each other ({level}): {names}")
    return problems


def main(roots: Iterable[str]) -> int:
    problems = [line for root in roots for line in check(Path(root))]
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["rust/core/src", "rust/python/src"]))
