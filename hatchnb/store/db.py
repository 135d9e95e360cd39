"""Thin sync and async stores over one set of named queries."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from hatchnb import errors
from hatchnb.store import queries

Row = dict[str, Any]
#: JIT compiling a 1,000-row insert costs far more than running it
NO_JIT = "-c jit=off"
ASYNC_COMMIT = "-c jit=off -c synchronous_commit=off"


@contextlib.contextmanager
def wrap_errors() -> Iterator[None]:
    """Turn connection failures into :class:`hatchnb.errors.DatabaseUnavailable`."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.errors.AdminShutdown) as exc:
        raise errors.DatabaseUnavailable(f"{errors.DatabaseUnavailable.__doc__} ({exc})") from exc


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = True


async def _aconfigure(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


class Store:
    """Synchronous access for client code (notebooks, scripts)."""

    def __init__(self, dsn: str, max_size: int = 4) -> None:
        self.dsn = dsn
        self.pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            open=False,
            configure=_configure,
            kwargs={"row_factory": dict_row, "options": NO_JIT},
            name="hatchnb-sync",
        )
        with wrap_errors():
            self.pool.open(wait=True, timeout=15)

    def close(self) -> None:
        self.pool.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[DictRow]]:
        with wrap_errors(), self.pool.connection() as conn, conn.transaction():
            yield conn

    def fetch_all(self, query: str, **params: Any) -> list[Row]:
        with wrap_errors(), self.pool.connection() as conn:
            return conn.execute(queries.get(query), params).fetchall()

    def fetch_one(self, query: str, **params: Any) -> Row | None:
        with wrap_errors(), self.pool.connection() as conn:
            return conn.execute(queries.get(query), params).fetchone()

    def execute(self, query: str, **params: Any) -> None:
        with wrap_errors(), self.pool.connection() as conn:
            conn.execute(queries.get(query), params)


class AsyncStore:
    """Asynchronous access for workers and ``aio_`` methods.

    ``durable=False`` commits asynchronously (no wait for the WAL flush): for a worker's
    claims and results only, where a commit forgotten by a Postgres crash means the task
    runs again, never that it is lost. Enqueues always use durable commits."""

    def __init__(self, dsn: str, max_size: int = 4, durable: bool = True) -> None:
        self.dsn = dsn
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            open=False,
            configure=_aconfigure,
            kwargs={"row_factory": dict_row, "options": NO_JIT if durable else ASYNC_COMMIT},
            name="hatchnb-async",
        )

    async def open(self) -> None:
        with wrap_errors():
            await self.pool.open(wait=True, timeout=15)

    async def close(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
        with wrap_errors():
            async with self.pool.connection() as conn, conn.transaction():
                yield conn

    async def fetch_all(self, query: str, **params: Any) -> list[Row]:
        with wrap_errors():
            async with self.pool.connection() as conn:
                cur = await conn.execute(queries.get(query), params)
                return await cur.fetchall()

    async def fetch_one(self, query: str, **params: Any) -> Row | None:
        with wrap_errors():
            async with self.pool.connection() as conn:
                cur = await conn.execute(queries.get(query), params)
                return await cur.fetchone()

    async def execute(self, query: str, **params: Any) -> None:
        with wrap_errors():
            async with self.pool.connection() as conn:
                await conn.execute(queries.get(query), params)


async def connect_async(
    dsn: str, application_name: str = "hatchnb"
) -> psycopg.AsyncConnection[DictRow]:
    """A dedicated autocommit connection (LISTEN, leader lock)."""
    with wrap_errors():
        return await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, row_factory=dict_row, application_name=application_name
        )
