"""What a worker does in the database: register and heartbeat, claim, finish, logs, streams,
labels, compare notes after an outage; and the LISTEN connection that wakes it up.
Statements in ``sql/workers.sql``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg

from hatchnb import errors
from hatchnb.store.db import AsyncStore, connect_async, jsonb
from hatchnb.store.engine import DatabaseError

T = TypeVar("T")
#: a notification: ``.channel`` and ``.payload``
Notify = psycopg.Notify
QUEUED = "hatchnb_queued"
CANCEL = "hatchnb_cancel"

#: what a finished task reports: (id, attempt, outcome, output json, blob, error)
Result = tuple[int, int, str, str | None, bytes | None, str | None]
#: a log line of a task run: (id, attempt, level, message, created at)
LogLine = tuple[int, int, str, str, datetime]


def connection_trouble(exc: BaseException) -> bool:
    """The database is unreachable (not: it refused the statement)."""
    return isinstance(exc, errors.DatabaseUnavailable | psycopg.OperationalError)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClaimedTask:
    """A task run a worker has claimed, as returned by ``claim_task_runs``."""

    id: int
    run_id: str
    workflow_name: str
    task_name: str
    kind: str
    version_id: int
    attempt: int
    retry_count: int
    priority: int
    input: Any
    additional_metadata: dict[str, Any]
    parent_task_run_id: int | None
    filter_payload: dict[str, Any] | None
    event_id: str | None
    siblings: dict[str, dict[str, Any]]
    slot_cost: int = 1
    #: the batch this member runs in (batch tasks only)
    batch_id: str | None = None
    #: claimed into the worker's separate pool of durable slots
    durable_slot: bool = False

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClaimedTask:
        return cls(
            id=row["id"],
            run_id=str(row["run_id"]),
            workflow_name=row["workflow_name"],
            task_name=row["task_name"],
            kind=row["kind"],
            version_id=row["version_id"],
            attempt=row["attempt"],
            retry_count=row["retry_count"],
            priority=row["priority"],
            input=row["input"],
            additional_metadata=row["additional_metadata"] or {},
            parent_task_run_id=row["parent_task_run_id"],
            filter_payload=row["filter_payload"],
            event_id=str(row["event_id"]) if row["event_id"] else None,
            siblings=row["siblings"] or {},
            slot_cost=row.get("slot_cost", 1),
            batch_id=str(row["batch_id"]) if row.get("batch_id") else None,
            durable_slot=bool(row.get("durable")),
        )


@dataclasses.dataclass(frozen=True)
class Registration:
    id: str
    name: str
    slots: int
    labels: dict[str, str | int]
    workflows: list[str] | None
    python_version: str
    hostname: str
    pid: int
    #: a separate pool for durable task runs (None: they take ``slots``)
    durable_slots: int | None = None


class AsyncWorkersRepo:
    """A worker's statements, on its own pool (asynchronous commits: see ``AsyncStore``)."""

    def __init__(self, store: AsyncStore) -> None:
        self._db = store

    async def register(self, worker: Registration) -> None:
        params = dataclasses.asdict(worker)
        params["labels"] = jsonb(worker.labels)
        await self._db.execute("register_worker", **params)

    async def heartbeat(self, worker_id: str) -> str | None:
        """Keep the worker alive; its status before (DEAD when the engine gave up on it)."""
        row = await self._db.fetch_one("heartbeat_worker", id=worker_id)
        return row["previous_status"] if row else None

    async def stop(self, worker_id: str) -> None:
        await self._db.execute("stop_worker", id=worker_id)

    async def mark_paused(self, worker_id: str) -> None:
        """Show the worker as PAUSED (it claims nothing more while it drains)."""
        await self._db.execute("set_worker_paused", id=worker_id, paused=True)

    async def hand_back(self, ids: list[int], worker_id: str) -> None:
        """Put running task runs of this worker back in the queue and wake the workers."""
        await self._db.execute("hand_back_task_runs", ids=ids, worker_id=worker_id)
        await self._db.execute("notify_queued")

    async def claim(
        self,
        worker_id: str,
        limit: int,
        workflows: list[str] | None,
        python: str,
        durable_limit: int | None = None,
    ) -> list[ClaimedTask]:
        """Up to ``limit`` slots' worth of task runs; with ``durable_limit`` (a worker with a
        separate durable pool) durable ones are claimed into that pool instead."""
        pooled = {} if durable_limit is None else {"durable_limit": durable_limit}
        rows = await self._db.fetch_all(
            "claim_pooled_task_runs" if pooled else "claim_task_runs",
            worker_id=worker_id,
            limit=limit,
            workflows=workflows,
            python=python,
            **pooled,
        )
        return [ClaimedTask.from_row(row) for row in rows]

    async def claim_batches(
        self, worker_id: str, limit: int, workflows: list[str] | None, python: str
    ) -> tuple[list[ClaimedTask], float | None]:
        """Up to ``limit`` batches (their members, in batch order) and the seconds until
        the next partial batch comes due (None: none waits)."""
        rows = await self._db.fetch_all(
            "claim_task_batches",
            worker_id=worker_id,
            limit=limit,
            workflows=workflows,
            python=python,
        )
        members = [ClaimedTask.from_row(row) for row in rows if row["id"] is not None]
        due = next((row["due_in"] for row in rows if row["id"] is None), None)
        return members, None if due is None else float(due)

    async def finish(self, results: list[Result]) -> None:
        """Apply a batch of results, locking the task rows in id order (retried on a
        deadlock)."""
        await _retrying_deadlocks(self._db.execute, "finish_task_runs", **_columns(results))

    async def finish_and_claim(
        self,
        results: list[Result],
        worker_id: str,
        limit: int,
        workflows: list[str] | None,
        python: str,
        durable_limit: int | None = None,
    ) -> list[ClaimedTask]:
        """``finish`` then ``claim``, in one round trip and one transaction."""
        pooled = {} if durable_limit is None else {"durable_limit": durable_limit}
        rows = await _retrying_deadlocks(
            self._db.fetch_all,
            "finish_and_claim_pooled" if pooled else "finish_and_claim",
            **_columns(results),
            worker_id=worker_id,
            limit=limit,
            workflows=workflows,
            python=python,
            **pooled,
        )
        return [ClaimedTask.from_row(row) for row in rows]

    async def write_logs(self, logs: list[LogLine]) -> None:
        ids, attempts, levels, messages, created = (list(c) for c in zip(*logs, strict=True))
        await self._db.execute(
            "insert_logs",
            task_run_ids=ids,
            attempts=attempts,
            levels=levels,
            messages=messages,
            created=created,
        )

    async def put_stream_chunk(self, run_id: str, task_run_id: int, data: str) -> None:
        await self._db.execute(
            "put_stream_chunk", run_id=run_id, task_run_id=task_run_id, data=data
        )

    async def release_slot(self, task_run_id: int, attempt: int) -> None:
        await self._db.execute("release_slot", id=task_run_id, attempt=attempt)

    async def update_labels(self, worker_id: str, labels: dict[str, str | int]) -> None:
        await self._db.execute("update_worker_labels", id=worker_id, labels=jsonb(labels))

    async def refresh_timeout(self, task_run_id: int, attempt: int, increment: timedelta) -> None:
        await self._db.execute(
            "refresh_timeout", id=task_run_id, attempt=attempt, increment=increment
        )

    async def running_task_runs(self, worker_id: str) -> set[tuple[int, int]]:
        """(id, attempt) of the task runs the database believes this worker runs."""
        rows = await self._db.fetch_all("worker_running_task_runs", worker_id=worker_id)
        return {(r["id"], r["attempt"]) for r in rows}


def _columns(results: list[Result]) -> dict[str, list[Any]]:
    """The parameters of a batch of results, sorted by task run id (rows are locked in
    that order)."""
    results.sort(key=lambda r: r[0])
    ids, attempts, outcomes, outputs, blobs, errs = (list(c) for c in zip(*results, strict=True))
    return {
        "ids": ids,
        "attempts": attempts,
        "outcomes": outcomes,
        "outputs": outputs,
        "blobs": blobs,
        "errors": errs,
    }


async def _retrying_deadlocks(call: Callable[..., Awaitable[T]], query: str, **params: Any) -> T:
    """Run a statement that applies results, again after a deadlock (up to five times)."""
    for attempt in range(4):
        with contextlib.suppress(psycopg.errors.DeadlockDetected):
            return await call(query, **params)
        await asyncio.sleep(0.01 * (attempt + 1))
    return await call(query, **params)


@contextlib.asynccontextmanager
async def listen(dsn: str) -> AsyncIterator[AsyncGenerator[Notify, None]]:
    """A dedicated connection listening for queued work and cancellations; yields its
    stream of notifications."""
    conn = await connect_async(dsn)
    async with conn:
        await conn.execute("LISTEN hatchnb_queued")
        await conn.execute("LISTEN hatchnb_cancel")
        yield conn.notifies()


__all__ = [
    "CANCEL",
    "QUEUED",
    "AsyncWorkersRepo",
    "ClaimedTask",
    "DatabaseError",
    "LogLine",
    "Notify",
    "Registration",
    "Result",
    "connection_trouble",
    "listen",
]
