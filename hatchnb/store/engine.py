"""The engine leader's statements: its own connection (which holds the leader lock), the
duties run on it each round, and the sync connections its threaded duties (crons and
schedules, conditions, alerts) open. Statements in ``sql/engine.sql`` and ``sql/alerts.sql``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

from hatchnb.store.cancel_notes import cancel_payload
from hatchnb.store.db import Row, Store, Tx, connect, connect_async

#: any error the database (or the link to it) raised; the engine reconnects on these
DatabaseError = psycopg.Error


@dataclass(frozen=True)
class QueueStatistics:
    """Task table changes since its last full ANALYZE, and changes ever."""

    since_analyze: int
    changes: int


@dataclass(frozen=True)
class TimedOut:
    """A running task run past its execution timeout."""

    id: int
    attempt: int
    execution_timeout: str


@dataclass(frozen=True)
class Expired:
    """A queued task run no worker started within its schedule timeout."""

    id: int
    attempt: int
    schedule_timeout: str
    python_version: str
    worker_pythons: str | None


@dataclass(frozen=True)
class Due:
    """Whether crons or schedules are due, and whether task runs wait on conditions."""

    due: bool
    waiting: bool


class LeaderSession:
    """The leader's dedicated autocommit connection; the advisory lock dies with it."""

    def __init__(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        self._conn = conn

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, dsn: str, application_name: str) -> AsyncIterator[LeaderSession]:
        conn = await connect_async(dsn, application_name)
        async with conn:
            yield cls(conn)

    async def _one(self, query: str, params: dict[str, Any] | None = None) -> Row | None:
        cur = await self._conn.execute(Store.query(query), params)
        return await cur.fetchone()

    async def _all(self, query: str, params: dict[str, Any] | None = None) -> list[Row]:
        cur = await self._conn.execute(Store.query(query), params)
        return await cur.fetchall()

    async def try_lock(self, key: int) -> bool:
        """Take the session-level advisory lock ``key`` if nobody holds it."""
        cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))
        row = await cur.fetchone()
        return bool(row and row["ok"])

    async def anything_due(self) -> Due:
        row = await self._one("anything_due")
        return Due(bool(row and row["due"]), bool(row and row["waiting"]))

    async def queue_statistics(self) -> QueueStatistics | None:
        row = await self._one("stale_queue_statistics")
        if row is None:
            return None
        return QueueStatistics(int(row["since_analyze"]), int(row["changes"]))

    async def analyze_task_runs(self) -> None:
        await self._conn.execute(Store.query("analyze_task_runs"))

    async def reap_dead_workers(self, timeout: timedelta) -> int:
        """Declare silent workers dead and queue their running task runs again; how many."""
        requeued = await self._all("reap_dead_workers", {"timeout": timeout})
        if requeued:
            await self._conn.execute(Store.query("notify_queued"))
        return len(requeued)

    async def timed_out_task_runs(self) -> list[TimedOut]:
        rows = await self._all("timed_out_task_runs")
        return [TimedOut(r["id"], r["attempt"], r["execution_timeout"]) for r in rows]

    async def fail_timed_out(self, runs: list[TimedOut], messages: list[str]) -> None:
        """Fail them (retried if they have retries left) and tell their workers."""
        await self._finish([(r.id, r.attempt) for r in runs], "FAILED", messages)
        await self._notify_cancel([(r.id, r.attempt) for r in runs])

    async def expire_queued(self, message: Callable[[Expired], str]) -> int:
        """Fail (finally) queued task runs past their schedule timeout, in one transaction;
        ``message(expired)`` says why for each. How many."""
        async with self._conn.transaction():
            rows = await self._all("expire_queued_task_runs")
            if rows:
                expired = [
                    Expired(
                        r["id"],
                        r["attempt"],
                        r["schedule_timeout"],
                        r["python_version"],
                        r["worker_pythons"],
                    )
                    for r in rows
                ]
                messages = [message(e) for e in expired]
                await self._finish([(e.id, e.attempt) for e in expired], "FAILED_FINAL", messages)
        return len(rows)

    async def wake_child_waiters(self) -> int:
        """Durable task runs evicted while their children ran, whose child finished, run
        again; how many."""
        row = await self._one("wake_child_waiters")
        return int(row["woken"]) if row else 0

    async def cancel_expired_paused_runs(self) -> int:
        """Cancel the runs of paused workflows queued past the pause's queue_ttl; how many."""
        row = await self._one("cancel_expired_paused_runs")
        return int(row["cancelled"]) if row else 0

    async def sweep_concurrency(self) -> int:
        """CANCEL_IN_PROGRESS / CANCEL_NEWEST and stale BLOCKED waiters; the workers of
        cancelled running task runs are told. How many running ones were cancelled."""
        rows = await self._all("sweep_concurrency")
        cancelled = [(r["id"], r["attempt"]) for r in rows if r["worker_id"] is not None]
        if cancelled:
            await self._notify_cancel(cancelled)
        return len(cancelled)

    async def alerts_have_work(self, max_attempts: int) -> bool:
        row = await self._one("alerts_have_work", {"max_attempts": max_attempts})
        return bool(row and row["work"])

    async def claim_retention_pass(self, every: timedelta) -> bool:
        """Whether a pass is due (then it is marked started, so only one engine starts it)."""
        return await self._one("claim_retention_pass", {"every": every}) is not None

    async def _notify_cancel(self, attempts: list[tuple[int, int]]) -> None:
        payload = cancel_payload(attempts)
        await self._conn.execute(Store.query("notify_cancel"), {"payload": payload})

    async def _finish(self, runs: list[tuple[int, int]], outcome: str, messages: list[str]) -> None:
        await self._conn.execute(
            Store.query("finish_task_runs"),
            {
                "ids": [r[0] for r in runs],
                "attempts": [r[1] for r in runs],
                "outcomes": [outcome] * len(runs),
                "outputs": [None] * len(runs),
                "blobs": [None] * len(runs),
                "errors": messages,
            },
        )


@contextlib.contextmanager
def duty_connection(dsn: str) -> Iterator[Tx]:
    """An autocommit connection of its own for a duty running on a thread."""
    with connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


class AlertOutbox:
    """The alert duty's statements, on a duty connection (``sql/alerts.sql``)."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    def _one(self, query: str, params: dict[str, Any] | None = None) -> Row | None:
        return self._tx.execute(Store.query(query), params).fetchone()

    def _all(self, query: str, params: dict[str, Any] | None = None) -> list[Row]:
        return self._tx.execute(Store.query(query), params).fetchall()

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        return self._tx.transaction()

    def settings_row(self) -> Row | None:
        return self._one("get_alert_settings")

    def take_due_digests(self) -> list[Row]:
        return self._all("take_due_digests")

    def new_failed_runs(self) -> list[Row]:
        return self._all("new_failed_runs")

    def mark_runs_alerted(self, ids: list[Any]) -> None:
        self._tx.execute(Store.query("mark_runs_alerted"), {"ids": ids})
        self._tx.execute(Store.query("prune_alerted_runs"))

    def window_open(self, workflow_name: str) -> bool:
        """Lock the workflow's alert window; whether it is open."""
        window = self._one("lock_alert_window", {"workflow_name": workflow_name})
        return window is not None and bool(window["open"])

    def hold_back(self, workflow_name: str, count: int, kinds: list[str]) -> None:
        params = {"workflow_name": workflow_name, "count": count, "kinds": kinds}
        self._tx.execute(Store.query("hold_back_alerts"), params)

    def open_window(self, workflow_name: str, held_back: int, held_kinds: list[str]) -> None:
        params = {"workflow_name": workflow_name, "held_back": held_back, "held_kinds": held_kinds}
        self._tx.execute(Store.query("open_alert_window"), params)

    def queue(
        self,
        kind: str,
        channel: str,
        workflow_name: str | None,
        run_id: Any,
        subject: str,
        body: str,
    ) -> None:
        self._tx.execute(
            Store.query("queue_alert_delivery"),
            {
                "kind": kind,
                "channel": channel,
                "workflow_name": workflow_name,
                "run_id": run_id,
                "subject": subject,
                "body": body,
                "status": "PENDING",
                "attempts": 0,
                "last_error": None,
            },
        )

    def due_deliveries(self, max_attempts: int) -> list[Row]:
        return self._all("due_alert_deliveries", {"max_attempts": max_attempts})

    def mark_failed(self, delivery_id: int, error: str, retry_in: timedelta) -> None:
        params = {"id": delivery_id, "error": error, "retry_in": retry_in}
        self._tx.execute(Store.query("mark_alert_failed"), params)

    def mark_sent(self, delivery_id: int) -> None:
        self._tx.execute(Store.query("mark_alert_sent"), {"id": delivery_id})
