"""The fast tier runs with no database: ``python -m pytest tests/unit -q``.

Every unit test sees unreachable database URLs, the database fixtures of tests/conftest.py
fail at once instead of creating a template database, and any attempt to open a PostgreSQL
connection fails the test (even when the code under test swallows the error)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

UNREACHABLE = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"
_MOVE_IT = "unit tests run without PostgreSQL: move this test to tests/integration"


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HATCHNB_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("HATCHNB_TEST_DSN", UNREACHABLE)
    attempts: list[str] = []
    # in the full suite, a thread an earlier integration test left behind (a pool
    # reconnecting) may try too: refused, but not this test's doing
    earlier = set(threading.enumerate()) - {threading.current_thread()}

    def refuse(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() not in earlier:
            attempts.append(str(args[1] if len(args) > 1 else kwargs.get("conninfo", "")))
        raise psycopg.OperationalError(_MOVE_IT)

    for cls in (psycopg.Connection, psycopg.AsyncConnection):
        monkeypatch.setattr(cls, "connect", classmethod(refuse))
    # ``psycopg.connect`` is ``Connection.connect`` bound when psycopg was imported
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: refuse(None, *a, **k))
    yield
    if attempts:
        pytest.fail(f"{_MOVE_IT} (it tried to connect {len(attempts)} time(s): {attempts[0]})")


@pytest.fixture(scope="session")
def template_db() -> str:
    pytest.fail(f"{_MOVE_IT} (it asked for a database fixture)")


@pytest.fixture
def dsn() -> str:
    pytest.fail(f"{_MOVE_IT} (it asked for the dsn fixture)")
