"""LISTEN connections: a run finished, a stream chunk was written, work was queued."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import LiteralString

import psycopg

from hatchnb import errors
from hatchnb.store.db import connect, connect_async

RUN_DONE: LiteralString = "hatchnb_run_done"
STREAM: LiteralString = "hatchnb_stream"


class Listener:
    """A dedicated connection listening on one channel (blocking)."""

    def __init__(self, conn: psycopg.Connection[object]) -> None:
        self._conn = conn

    def wait_one(self, timeout: float) -> None:
        """Return at the next notification, or after ``timeout`` seconds."""
        try:
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as exc:
            raise errors.DatabaseUnavailable(str(exc)) from exc


class AsyncListener:
    def __init__(self, conn: psycopg.AsyncConnection[object]) -> None:
        self._conn = conn

    async def wait_one(self, timeout: float) -> None:
        """Return at the next notification, or after ``timeout`` seconds."""
        async for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            pass


@contextlib.contextmanager
def listen(dsn: str, channel: LiteralString) -> Iterator[Listener]:
    try:
        with connect(dsn, autocommit=True) as conn:
            conn.execute(b"LISTEN " + channel.encode())
            yield Listener(conn)
    except psycopg.Error as exc:
        raise errors.DatabaseUnavailable(str(exc)) from exc


@contextlib.asynccontextmanager
async def alisten(dsn: str, channel: LiteralString) -> AsyncIterator[AsyncListener]:
    conn = await connect_async(dsn)
    async with conn:
        await conn.execute(b"LISTEN " + channel.encode())
        yield AsyncListener(conn)
