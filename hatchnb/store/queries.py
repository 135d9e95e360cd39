"""Load the named SQL statements of ``sql/*.sql`` (one file per area: runs, workers, engine,
triggers, events, durable, ...); the only place SQL text is read."""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import LiteralString, cast

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, LiteralString]:
    """Split a queries file into ``{name: statement}``; the description line is kept."""
    parts = _HEADER.split(text)
    names, bodies = parts[1::2], parts[2::2]
    pairs = zip(names, bodies, strict=True)
    queries = {name: cast(LiteralString, body.strip()) for name, body in pairs}
    if len(queries) != len(names):
        raise ValueError("an SQL file defines a query name twice")
    return queries


@functools.cache
def all_queries() -> dict[str, LiteralString]:
    found: dict[str, LiteralString] = {}
    folder = resources.files("hatchnb.store").joinpath("sql")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, body in parse(entry.read_text("utf-8")).items():
            if name in found:
                raise ValueError(f"query {name!r} is defined twice ({entry.name})")
            found[name] = body
    return found


def get(name: str) -> LiteralString:
    return all_queries()[name]


def migrations() -> list[tuple[int, str, LiteralString]]:
    """``(version, file name, SQL)`` of every migration, in order."""
    folder = resources.files("hatchnb.store").joinpath("sql/migrations")
    found: list[tuple[int, str, LiteralString]] = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text("utf-8")))
    return sorted(found)
