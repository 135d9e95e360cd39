"""The shape of the house: no import cycles, named SQL used both ways, no oversized SQL file.

The layer contracts themselves are import-linter's (``lint-imports``, configured in
pyproject.toml); these checks cover what a contract cannot say."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

from hatchnb.store import queries

PACKAGE = Path(__file__).resolve().parents[2] / "hatchnb"
SQL = PACKAGE / "store" / "sql"
#: a cycle through a lazy display hook (a record's ``_ipython_display_`` importing a widget)
#: is tolerated: at most one, of at most this many modules
MAX_TOLERATED_CYCLE = 4
QUERY_CALLS = {"fetch_one", "fetch_all", "fetch_value", "execute", "get", "query"}
#: where named statements may be named: only the store
QUERY_HOMES = ("store",)


def _cycles() -> list[set[str]]:
    graph = grimp.build_graph("hatchnb", exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    return [scc for scc in _strongly_connected(modules, graph) if len(scc) > 1]


def _strongly_connected(modules: list[str], graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the module import graph (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child)
                    work.append((child, iter(sorted(imported))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


def test_import_graph_has_at_most_one_small_cycle() -> None:
    cycles = _cycles()
    described = [sorted(c) for c in cycles]
    assert len(cycles) <= 1, f"import cycles: {described}"
    assert all(len(c) <= MAX_TOLERATED_CYCLE for c in cycles), f"import cycle: {described}"


def _query_names_used_in(paths: list[Path]) -> set[str]:
    used: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in QUERY_CALLS or not node.args:
                continue
            if node.func.attr == "get" and not _is_name(node.func.value, "queries"):
                continue  # dict.get / environ.get
            first = node.args[0]
            if isinstance(first, ast.Constant) and str(first.value).isidentifier():
                used.add(str(first.value))
    return used


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _modules(inside: bool) -> list[Path]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        home = path.relative_to(PACKAGE).parts[0]
        if (home in QUERY_HOMES) == inside:
            found.append(path)
    return found


def test_only_the_store_names_sql_statements() -> None:
    named = _query_names_used_in(_modules(inside=False)) & set(queries.all_queries())
    assert not named, f"statements named outside {QUERY_HOMES}: {sorted(named)}"


def _string_constants(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_every_named_query_is_defined_and_used() -> None:
    defined = set(queries.all_queries())
    named = _query_names_used_in(_modules(inside=True))
    assert not named - defined, f"named in code but not defined: {sorted(named - defined)}"
    unused = defined - _string_constants(_modules(inside=True))
    assert not unused, f"defined but never used: {sorted(unused)}"


def test_sql_files_stay_small() -> None:
    for path in SQL.glob("*.sql"):
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{path.name} has {lines} lines; split it by area"
