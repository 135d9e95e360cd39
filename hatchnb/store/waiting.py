"""Task runs WAITING for their conditions, as the engine's conditions duty reads and settles
them. Statements in ``sql/engine.sql`` and ``sql/durable.sql``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

from hatchnb.records import CANCELLED_BY_CONDITION
from hatchnb.store.db import Row, Store, connect


class WaitingTasks:
    """One connection for one round over the waiting task runs."""

    def __init__(self, conn: psycopg.Connection[DictRow]) -> None:
        self._conn = conn

    @classmethod
    @contextlib.contextmanager
    def open(cls, dsn: str) -> Iterator[WaitingTasks]:
        with connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            yield cls(conn)

    def waiting(self) -> list[Row]:
        """Waiting task runs with their conditions, ready_at, input, metadata and parents'
        outputs."""
        return self._conn.execute(Store.query("waiting_task_runs")).fetchall()

    def events_since(self, key: str, since: datetime) -> list[Row]:
        params = {"key": key, "since": since}
        return self._conn.execute(Store.query("events_since"), params).fetchall()

    def settle(self, released: list[int], outcomes: dict[int, str]) -> None:
        """Queue the released task runs; finish the others as SKIPPED or CANCELLED (one
        transaction)."""
        with self._conn.transaction():
            if released:
                self._conn.execute(Store.query("release_waiting"), {"ids": released})
                self._conn.execute(Store.query("notify_queued"))
            if outcomes:
                self._finish(outcomes)

    def _finish(self, outcomes: dict[int, str]) -> None:
        ids = list(outcomes)
        rows = self._conn.execute(Store.query("decide_waiting"), {"ids": ids}).fetchall()
        params: dict[str, Any] = {
            "ids": [r["id"] for r in rows],
            "attempts": [r["attempt"] for r in rows],
            "outcomes": [outcomes[r["id"]] for r in rows],
            "outputs": [None] * len(rows),
            "blobs": [None] * len(rows),
            "errors": [
                None if outcomes[r["id"]] == "SKIPPED" else CANCELLED_BY_CONDITION for r in rows
            ],
        }
        self._conn.execute(Store.query("finish_task_runs"), params)
