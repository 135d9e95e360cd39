"""The queries file parses and every query the code names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hatchnb.store import queries

PACKAGE = Path(__file__).resolve().parents[2] / "hatchnb"


def test_every_query_has_a_description() -> None:
    for name, body in queries.all_queries().items():
        assert body.startswith("-- "), f"query {name} lacks its description line"


def test_every_named_query_used_in_code_exists() -> None:
    used: set[str] = set()
    pattern = re.compile(r"""(?:queries\.get|fetch_all|fetch_one|execute)\(\s*["'](\w+)["']""")
    for path in PACKAGE.rglob("*.py"):
        used |= set(pattern.findall(path.read_text()))
    assert used, "the pattern found no query names"
    missing = used - set(queries.all_queries())
    assert not missing


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        queries.parse("-- name: a\n-- x\nSELECT 1;\n-- name: a\n-- y\nSELECT 2;\n")


def test_migrations_are_numbered_in_order() -> None:
    numbers = [n for n, _, _ in queries.migrations()]
    assert numbers == list(range(1, len(numbers) + 1))
