"""The durable task log (``sql/durable.sql``): what a durable task did, replayed after a crash
or an eviction, and the events its waits look for."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from hatchnb.store.db import AsyncStore, Store, jsonb


@dataclasses.dataclass(frozen=True, kw_only=True)
class LogEntry:
    """One entry of a durable task run's event log."""

    seq: int
    kind: str
    request: str
    branch: int = 1
    #: when a sleep ends; for a child spawn, when the child's result woke the task
    wake_at: datetime | None = None
    event_key: str | None = None
    expression: str | None = None
    since: datetime | None = None
    result: Any = None
    done: bool = False


@dataclasses.dataclass(frozen=True)
class SeenEvent:
    """An event a durable wait looks at."""

    payload: Any
    additional_metadata: Any
    scope: str | None = None


def _record_params(task_run_id: int, entry: LogEntry) -> dict[str, Any]:
    params = dataclasses.asdict(entry)
    del params["branch"]  # entries go to the newest branch
    params["result"] = jsonb(entry.result) if entry.done else None
    return {**params, "task_run_id": task_run_id}


@dataclasses.dataclass(frozen=True)
class EvictedTaskRun:
    """A durable task run waiting in the queue to resume from its log."""

    id: int
    run_id: str
    task_name: str


class DurableRepo:
    """For sync durable tasks (on their thread)."""

    def __init__(self, store: Store) -> None:
        self._db = store

    def record(self, task_run_id: int, entry: LogEntry) -> None:
        """Append an entry (a replay keeps the first one at its position)."""
        self._db.execute("durable_record", **_record_params(task_run_id, entry))

    def evicted(self, run_id: str | None = None) -> list[EvictedTaskRun]:
        """Queued durable task runs that started before (of one run, or of all)."""
        rows = self._db.fetch_all("evicted_task_runs", run_id=run_id)
        return [EvictedTaskRun(r["id"], str(r["run_id"]), r["task_name"]) for r in rows]

    def restore(self, task_run_ids: list[int]) -> int:
        """Evicted task runs run again now; how many were waiting."""
        row = self._db.fetch_one("restore_task_runs", ids=task_run_ids)
        return int(row["restored"]) if row else 0


class AsyncDurableRepo:
    def __init__(self, store: AsyncStore) -> None:
        self._db = store

    async def log(self, task_run_id: int) -> list[LogEntry]:
        """The event log of a durable task run, in order."""
        rows = await self._db.fetch_all("durable_log", task_run_id=task_run_id)
        return [LogEntry(**row) for row in rows]

    async def record(self, task_run_id: int, entry: LogEntry) -> None:
        await self._db.execute("durable_record", **_record_params(task_run_id, entry))

    async def complete(self, task_run_id: int, seq: int, result: Any) -> None:
        """Record the result of a durable wait."""
        await self._db.execute(
            "durable_complete", task_run_id=task_run_id, seq=seq, result=jsonb(result)
        )

    async def woke(self, task_run_id: int, seqs: list[int], at: datetime) -> None:
        """The results of the children spawned at ``seqs`` woke the task run at ``at``."""
        await self._db.execute("durable_woke", task_run_id=task_run_id, seqs=seqs, at=at)

    async def await_children(self, task_run_id: int, since: datetime) -> None:
        """The task run is evicted until one of its children finishes after ``since``."""
        await self._db.execute("await_children", task_run_id=task_run_id, since=since)

    async def events_since(self, key: str | None, since: datetime | None) -> list[SeenEvent]:
        """Events with this key pushed since a moment, oldest first."""
        rows = await self._db.fetch_all("events_since", key=key, since=since)
        return [SeenEvent(r["payload"], r["additional_metadata"], r.get("scope")) for r in rows]
