"""Reads from a streaming replica (HATCHNB_DATABASE_READ_URL), falling back to the primary
while the replica cannot be reached. Only reads that may lag behind the primary come here
(lists, counts, metrics); a read right after a write stays on the primary."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from hatchnb.store import queries
from hatchnb.store.db import NO_JIT, Row, Store, pool_params, redact, refused_values

log = logging.getLogger("hatchnb.replica")

#: after the replica failed, reads stay on the primary this long before trying it again
RETRY_AFTER = 30.0
#: a read waits this long for a replica connection before it falls back to the primary
CHECKOUT_TIMEOUT = 3.0


def read_url(dsn: str) -> str | None:
    """HATCHNB_DATABASE_READ_URL for the primary HATCHNB_DATABASE_URL (None: no replica)."""
    url = os.environ.get("HATCHNB_DATABASE_READ_URL")
    return url if url and dsn == os.environ.get("HATCHNB_DATABASE_URL") else None


def reads_store(primary: Store) -> Store:
    """The store for reads that may lag: the primary's replica store, or the primary."""
    url = read_url(primary.dsn)
    if url is None:
        return primary
    with _lock:
        if primary.replica is None:
            primary.replica = ReplicaStore(url, primary)
        return primary.replica


_lock = threading.Lock()


class ReplicaStore(Store):
    """A :class:`Store` whose ``fetch_*`` read the replica; writes and transactions go to
    the primary. A replica that cannot be reached sends reads to the primary for
    ``RETRY_AFTER`` seconds (logged once per failure), then it is tried again."""

    def __init__(self, dsn: str, primary: Store, max_size: int = 2) -> None:
        self.dsn = dsn
        self.primary = primary
        self.replica = None
        params = pool_params(dsn, NO_JIT)
        params["connect_timeout"] = min(int(params.get("connect_timeout", 3)), 3)
        self.pool = ConnectionPool(
            dsn,
            min_size=0,
            max_size=max_size,
            open=False,
            configure=_autocommit,
            kwargs={"row_factory": dict_row, **params},
            name="hatchnb-replica",
        )
        self.pool.open(wait=False)
        self._down_until = 0.0

    def close(self) -> None:
        self.pool.close()

    def transaction(self) -> Any:
        return self.primary.transaction()

    def execute(self, query: str, **params: Any) -> None:
        self.primary.execute(query, **params)

    def fetch_all(self, query: str, **params: Any) -> list[Row]:
        rows = self._read(query, params, one=False)
        return self.primary.fetch_all(query, **params) if rows is None else rows

    def fetch_one(self, query: str, **params: Any) -> Row | None:
        rows = self._read(query, params, one=True)
        return self.primary.fetch_one(query, **params) if rows is None else rows[0] or None

    @property
    def available(self) -> bool:
        """Whether reads go to the replica now (False during a fallback)."""
        return time.monotonic() >= self._down_until

    def _read(self, query: str, params: dict[str, Any], one: bool) -> list[Any] | None:
        """The rows from the replica, or None when it cannot be reached (read the primary)."""
        if not self.available:
            return None
        try:
            with refused_values(), self.pool.connection(timeout=CHECKOUT_TIMEOUT) as conn:
                cur = conn.execute(queries.get(query), params)
                return [cur.fetchone()] if one else cur.fetchall()
        except (psycopg.OperationalError, psycopg.errors.AdminShutdown) as exc:
            self._down_until = time.monotonic() + RETRY_AFTER
            log.warning(
                "read replica %s cannot be reached (%s); reading the primary for %.0f s",
                redact(self.dsn),
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                RETRY_AFTER,
            )
            return None


def _autocommit(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = True
