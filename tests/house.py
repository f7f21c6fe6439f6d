"""The house's rules (issue 14), read from a package's own source with `ast`.

    mods = modules(Path("epatrol"))         # every module (migrations/*/versions/ left out)
    edges = import_edges(mods)              # module-level and function-level imports between them
    cycles(mods, edges)                     # import cycles, each named a -> b -> ... -> a
    private_reach_ins(mods, edges)          # "importer <- module._name" across folders
    oversized(mods, 400)                    # modules over 400 lines
    crowded_folders(mods, 0.15)             # folders holding more than 15% of the lines

A folder is a package directory: its own modules, not its subfolders'. An `__init__.py` belongs
to the folder it stands in. `from pkg import mod`, where pkg.mod is a module, is an import of
that module; `import a.b` is an import of a.b (not of its parents: their `__init__` importing
their own modules would make every package a cycle).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path


@dataclass(frozen=True)
class Module:
    name: str  # dotted: epatrol.evidence.store.db; a package is its __init__.py: epatrol.evidence
    path: Path
    folder: str  # the dotted name of the directory the file stands in
    is_package: bool
    lines: int


@dataclass(frozen=True)
class Edge:
    importer: str
    target: str  # the module imported (or imported from)
    name: str | None  # the name taken: `from target import name`, or the last part of `import a._b`
    line: int


def _skipped(parts: tuple[str, ...]) -> bool:
    """Alembic's revision files (migrations/<tree>/versions/) are data, not part of the house."""
    return any(p == "versions" and i >= 2 and parts[i - 2] == "migrations" for i, p in enumerate(parts[:-1]))


def modules(root: Path) -> dict[str, Module]:
    root = Path(root).resolve()
    found: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        if _skipped(rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        with open(path, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        name = ".".join(parts)
        found[name] = Module(name, path, ".".join(rel.parent.parts), is_package, lines)
    return found


def _base(mod: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = mod.name.split(".") if mod.is_package else mod.name.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def import_edges(mods: dict[str, Module]) -> list[Edge]:
    """Every import between the modules, wherever it stands (module level, functions, classes)."""
    edges: list[Edge] = []
    for mod in mods.values():
        tree = ast.parse(mod.path.read_text(encoding="utf-8"), filename=str(mod.path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in mods and alias.name != mod.name:
                        edges.append(Edge(mod.name, alias.name, alias.name.rsplit(".", 1)[-1], node.lineno))
            elif isinstance(node, ast.ImportFrom):
                base = _base(mod, node)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    target = submodule if submodule in mods else base
                    if target in mods and target != mod.name:
                        edges.append(Edge(mod.name, target, None if alias.name == "*" else alias.name, node.lineno))
    return edges


def _graph(mods: dict[str, Module], edges: list[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for e in edges:
        graph[e.importer].add(e.target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def cycles(mods: dict[str, Module], edges: list[Edge]) -> list[str]:
    """One line per group of modules that import each other: one real cycle in it (from graphlib's
    CycleError, with the line of each import), then every module of the group."""
    graph = _graph(mods, edges)
    where = {}
    for e in edges:
        where.setdefault((e.importer, e.target), e.line)
    found = []
    for group in strongly_connected(graph):
        members = set(group)
        sub = {m: graph[m] & members for m in group}
        try:
            TopologicalSorter(sub).prepare()
            raise AssertionError(f"graphlib found no cycle in the strongly connected group {group}")
        except CycleError as err:
            ring = err.args[1][::-1]  # graphlib names each node before the ones that need it: reversed, each imports the next
        steps = " -> ".join(f"{a} (line {where[(a, b)]})" for a, b in zip(ring, ring[1:])) + f" -> {ring[-1]}"
        found.append(f"cycle: {steps}; the group of {len(group)} modules: {', '.join(group)}")
    return found


def private_reach_ins(mods: dict[str, Module], edges: list[Edge]) -> list[str]:
    """`importer <- module._name`: a name with one leading underscore taken from another folder."""
    found = []
    for e in edges:
        if e.name and e.name.startswith("_") and not e.name.startswith("__"):
            if mods[e.importer].folder != mods[e.target].folder:
                found.append(f"{e.importer} <- {e.target}.{e.name} (line {e.line})")
    return sorted(set(found))


def oversized(mods: dict[str, Module], max_lines: int) -> list[str]:
    return [f"{m.name} ({m.lines} lines)" for m in sorted(mods.values(), key=lambda m: -m.lines) if m.lines > max_lines]


def folder_lines(mods: dict[str, Module]) -> dict[str, int]:
    by_folder: dict[str, int] = defaultdict(int)
    for m in mods.values():
        by_folder[m.folder] += m.lines
    return dict(by_folder)


def crowded_folders(mods: dict[str, Module], max_share: float) -> list[str]:
    total = sum(m.lines for m in mods.values())
    return [
        f"{folder.replace('.', '/')}/ holds {n} of {total} lines ({100 * n / total:.1f}%)"
        for folder, n in sorted(folder_lines(mods).items(), key=lambda kv: -kv[1])
        if total and n / total > max_share
    ]


def against_the_flow(edges: list[Edge], layer_of: Callable[[str], int | None]) -> list[str]:
    """Imports of a module in a higher layer than the importer's (``layer_of`` None: not ranked)."""
    found = []
    for e in edges:
        a, b = layer_of(e.importer), layer_of(e.target)
        if a is not None and b is not None and b > a:
            found.append(f"{e.importer} (line {e.line}, layer {a}) -> {e.target} (layer {b})")
    return found
