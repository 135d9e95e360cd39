"""Layered (Sugiyama-style) layout of a DAG: layers by longest path, barycentre ordering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Graph = Mapping[str, Sequence[str]]


def _edges(parents: Graph) -> list[tuple[str, str]]:
    return [(p, child) for child, ps in parents.items() for p in ps if p in parents]


def topological_order(parents: Graph) -> list[str]:
    """Nodes with every parent before its children; raises ValueError on a cycle."""
    pending = {n: sum(1 for p in ps if p in parents) for n, ps in parents.items()}
    children: dict[str, list[str]] = {n: [] for n in parents}
    for parent, child in _edges(parents):
        children[parent].append(child)
    ready = [n for n, count in pending.items() if count == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    if len(order) != len(pending):
        raise ValueError("the graph has a cycle")
    return order


def _layers(parents: Graph) -> list[list[str]]:
    depth: dict[str, int] = {}
    for node in topological_order(parents):
        depth[node] = 1 + max((depth[p] for p in parents[node] if p in depth), default=-1)
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in parents:  # declaration order is the starting order within a layer
        rows[depth[node]].append(node)
    return rows


def _reorder(row: list[str], neighbours: Mapping[str, list[str]], ref: list[str]) -> list[str]:
    """Sort a layer by the mean position of each node's neighbours in the reference layer."""
    where = {n: i for i, n in enumerate(ref)}

    def key(item: tuple[int, str]) -> tuple[float, int]:
        k, node = item
        seen = [where[m] for m in neighbours[node] if m in where]
        return (sum(seen) / len(seen) if seen else float(k), k)

    return [n for _, n in sorted(enumerate(row), key=key)]


def ordered_layers(parents: Graph, sweeps: int = 4) -> list[list[str]]:
    rows = _layers(parents)
    ups: dict[str, list[str]] = {n: [p for p in ps if p in parents] for n, ps in parents.items()}
    downs: dict[str, list[str]] = {n: [] for n in parents}
    for parent, child in _edges(parents):
        downs[parent].append(child)
    for sweep in range(sweeps):
        if sweep % 2 == 0:
            for i in range(1, len(rows)):
                rows[i] = _reorder(rows[i], ups, rows[i - 1])
        else:
            for i in range(len(rows) - 2, -1, -1):
                rows[i] = _reorder(rows[i], downs, rows[i + 1])
    return rows


def layered_layout(
    parents: Graph, dx: float = 1.0, dy: float = 1.0
) -> dict[str, tuple[float, float]]:
    """``{node: (x, y)}`` with roots on top (y = 0) and each layer centred.

    ``parents`` maps every node to its parents; parents that are not nodes are ignored."""
    rows = ordered_layers(parents)
    width = max((len(r) for r in rows), default=0)
    positions: dict[str, tuple[float, float]] = {}
    for depth, row in enumerate(rows):
        offset = (width - len(row)) / 2
        for k, node in enumerate(row):
            positions[node] = ((offset + k) * dx, -depth * dy)
    return positions


def crossings(parents: Graph, positions: Mapping[str, tuple[float, float]]) -> int:
    """Edge crossings between adjacent layers (for tests and layout checks)."""
    edges = _edges(parents)
    count = 0
    for i, (a1, b1) in enumerate(edges):
        for a2, b2 in edges[i + 1 :]:
            same_gap = positions[a1][1] == positions[a2][1] and positions[b1][1] == positions[b2][1]
            dx_top = positions[a1][0] - positions[a2][0]
            dx_bottom = positions[b1][0] - positions[b2][0]
            if same_gap and dx_top * dx_bottom < 0:
                count += 1
    return count
