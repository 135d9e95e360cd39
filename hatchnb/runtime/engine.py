"""Engine duties, done by one leader at a time: execution and schedule timeouts and dead
worker reassignment. Any worker (or ``hatchnb engine``) competes for the leader lock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hatchnb import errors
from hatchnb.config import Settings
from hatchnb.runtime.duties import alerts, conditions, crons, retention
from hatchnb.runtime.supervise import supervised
from hatchnb.store import connect, connect_async, queries

log = logging.getLogger("hatchnb.engine")

#: arbitrary constant identifying the leader's session-level advisory lock
LEADER_LOCK = 7_413_902_119
#: task rows changed since the last analyze that make the leader refresh the claim's statistics
STATISTICS_THRESHOLD = 5000


@dataclasses.dataclass(frozen=True)
class Duty:
    """One duty of the engine leader, run once per round on the leader's connection."""

    name: str
    run: Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]


class Engine:
    """Holds the leader lock on its own connection; the lock dies with the connection."""

    def __init__(self, dsn: str, settings: Settings) -> None:
        self.dsn = dsn
        self.settings = settings
        self.is_leader = False
        self.leader_since = 0.0
        self.alerts = alerts.AlertDuty(dsn)
        #: task_runs' changes counter at this leader's last statistics refresh
        self._analyzed_at_changes = 0
        self._duties = self.duty_list()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                conn = await connect_async(self.dsn, f"hatchnb-engine-{os.getpid()}")
                async with conn:
                    await self._lead(conn)
            except (errors.DatabaseUnavailable, psycopg.Error) as exc:
                if self.is_leader:
                    log.warning("engine lost its database connection (%s)", exc)
                self.is_leader = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _lead(self, conn: psycopg.AsyncConnection[Any]) -> None:
        interval = self.settings.engine_interval
        while True:
            if not self.is_leader:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (LEADER_LOCK,))
                row = await cur.fetchone()
                self.is_leader = bool(row and row["ok"])
                if self.is_leader:
                    self.leader_since = time.monotonic()
                    log.info("this process is now the hatchnb engine leader")
            if self.is_leader:
                await self.duties(conn)
                await asyncio.sleep(interval)
            else:
                await asyncio.sleep(interval * 2)

    def duty_list(self) -> list[Duty]:
        """The leader's duties, in the order of one round."""
        return [
            Duty("statistics", self._refresh_statistics),
            Duty("dead workers", self._reap_dead_workers),
            Duty("execution timeouts", self._expire_running),
            Duty("schedule timeouts", self._expire_queued),
            Duty("concurrency", self._sweep_concurrency),
            Duty("crons, schedules and conditions", self._due_and_waiting),
            Duty("alerts", self.alerts.tick),
            Duty("retention", self._retention),
        ]

    async def duties(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """One round. A database error ends it (the engine reconnects, as before); any other
        error in a duty is logged with its traceback and the other duties still run."""
        for duty in self._duties:
            try:
                await duty.run(conn)
            except (errors.DatabaseUnavailable, psycopg.Error):
                raise
            except Exception:
                log.exception("engine duty %r failed; it runs again next round", duty.name)

    async def _due_and_waiting(self, conn: psycopg.AsyncConnection[Any]) -> None:
        cur = await conn.execute(queries.get("anything_due"))
        row = await cur.fetchone()
        if row and row["due"]:
            await asyncio.to_thread(self._fire_due)
        if row and row["waiting"]:
            await asyncio.to_thread(conditions.settle_waiting, self.dsn)

    async def _retention(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await retention.tick(conn, self.dsn, self.settings)

    def _fire_due(self) -> None:
        """Crons and schedules (sync code, on a connection of its own, in a thread). A cron or
        schedule that cannot start its run is recorded by ``fire_due`` and blocks no other;
        anything else unexpected is logged, not allowed to end the engine's other duties."""
        try:
            with connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
                started = crons.fire_due(conn)
        except (psycopg.Error, errors.DatabaseUnavailable):
            raise  # the connection: the engine reconnects and tries again
        except Exception:
            log.exception("could not fire due crons and schedules; trying again next round")
            return
        if started:
            log.info("started %d run(s) from crons and schedules", started)

    async def _refresh_statistics(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Without fresh statistics a burst of new tasks makes the claim query sort the whole
        backlog; autovacuum reacts within a minute, this within one engine round. The analyze
        names the claim's columns and samples 3,000 rows, so it stays cheap on a big table,
        but it does not reset n_mod_since_analyze: the changes counter at the last one is
        remembered here (per leader; a counter that went back, a stats reset, counts whole)."""
        cur = await conn.execute(queries.get("stale_queue_statistics"))
        row = await cur.fetchone()
        if not row:
            return
        changes = int(row["changes"])
        baseline = self._analyzed_at_changes
        since_ours = changes - baseline if changes >= baseline else changes
        if min(int(row["since_analyze"]), since_ours) > STATISTICS_THRESHOLD:
            await conn.execute(queries.get("analyze_task_runs"))
            self._analyzed_at_changes = changes

    async def _reap_dead_workers(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if time.monotonic() - self.leader_since < self.settings.worker_timeout:
            return  # silence may be the database's (a restart, a new leader): let workers speak
        timeout = timedelta(seconds=self.settings.worker_timeout)
        cur = await conn.execute(queries.get("reap_dead_workers"), {"timeout": timeout})
        requeued = await cur.fetchall()
        if requeued:
            log.warning("re-queued %d task run(s) of dead workers", len(requeued))
            await conn.execute(queries.get("notify_queued"))

    async def _expire_running(self, conn: psycopg.AsyncConnection[Any]) -> None:
        cur = await conn.execute(queries.get("timed_out_task_runs"))
        rows = await cur.fetchall()
        if not rows:
            return
        messages = [
            f"TimeoutError: the task ran longer than its execution_timeout "
            f"({r['execution_timeout']})"
            for r in rows
        ]
        await self._fail(conn, rows, "FAILED", messages)
        payload = ",".join(str(r["id"]) for r in rows)
        await conn.execute(queries.get("notify_cancel"), {"payload": payload})

    async def _sweep_concurrency(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """CANCEL_IN_PROGRESS / CANCEL_NEWEST, and waiters a race left BLOCKED."""
        cur = await conn.execute(queries.get("sweep_concurrency"))
        cancelled = [r for r in await cur.fetchall() if r["worker_id"] is not None]
        if cancelled:
            payload = ",".join(str(r["id"]) for r in cancelled)
            await conn.execute(queries.get("notify_cancel"), {"payload": payload})

    async def _expire_queued(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with conn.transaction():
            cur = await conn.execute(queries.get("expire_queued_task_runs"))
            rows = await cur.fetchall()
            if rows:
                messages = [_schedule_timeout_message(r) for r in rows]
                await self._fail(conn, rows, "FAILED_FINAL", messages)

    async def _fail(
        self,
        conn: psycopg.AsyncConnection[Any],
        rows: list[dict[str, Any]],
        outcome: str,
        messages: list[str],
    ) -> None:
        await conn.execute(
            queries.get("finish_task_runs"),
            {
                "ids": [r["id"] for r in rows],
                "attempts": [r["attempt"] for r in rows],
                "outcomes": [outcome] * len(rows),
                "outputs": [None] * len(rows),
                "blobs": [None] * len(rows),
                "errors": messages,
            },
        )


def _schedule_timeout_message(row: dict[str, Any]) -> str:
    message = (
        f"ScheduleTimeout: no worker started the task within its schedule_timeout "
        f"({row['schedule_timeout']})"
    )
    workers = row["worker_pythons"]
    if workers and row["python_version"] not in workers.split(", "):
        message += (
            f"; its code was registered from Python {row['python_version']} but the running "
            f"workers run Python {workers}: start a worker on Python {row['python_version']} "
            "or register the workflow again from this Python"
        )
    return message


async def run_engine(dsn: str, settings: Settings) -> None:
    """Run only the engine duties (``hatchnb engine``)."""
    engine = Engine(dsn, settings)
    with contextlib.suppress(asyncio.CancelledError):
        await supervised("engine", engine.run)
