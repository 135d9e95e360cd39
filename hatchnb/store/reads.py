"""Read-only aggregates for ``hatchet.metrics``, ``hatchet.workers`` and the dashboard.
Statements in ``sql/metrics.sql`` and ``sql/workers.sql``."""

from __future__ import annotations

from datetime import datetime, timedelta

from hatchnb.records import WorkerRecord
from hatchnb.store.db import Row, Store
from hatchnb.store.runs import RunFilter


class ReadsRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def queue_depth(self) -> list[Row]:
        """Per workflow: ready and delayed queued task runs."""
        return self._db.fetch_all("queue_depth")

    def task_status_counts(self) -> dict[str, int]:
        return {r["status"]: int(r["total"]) for r in self._db.fetch_all("task_status_counts")}

    def task_status_counts_of_runs(self, where: RunFilter) -> dict[str, int]:
        """Task runs per status of the runs ``where`` selects (its time range, workflows,
        parent task runs and triggering event)."""
        p = where.params()
        rows = self._db.fetch_all(
            "task_status_counts_of_runs",
            since=p["since"],
            until=p["until"],
            workflows=p["workflows"],
            parent_task_run_ids=p["parent_task_run_ids"],
            event_id=p["event_id"],
        )
        return {r["status"]: int(r["total"]) for r in rows}

    def task_stats(self) -> list[Row]:
        """Per task and status (QUEUED, RUNNING): how many, and the oldest queue or start."""
        return self._db.fetch_all("task_stats")

    def attempt_throughput(self, since: datetime, bucket: timedelta) -> list[Row]:
        return self._db.fetch_all("attempt_throughput", since=since, bucket=bucket)

    def queue_depth_history(self, since: datetime, bucket: timedelta) -> list[Row]:
        return self._db.fetch_all("queue_depth_history", since=since, bucket=bucket)

    def queue_latency_histogram(self, since: datetime, bounds: list[float]) -> list[Row]:
        return self._db.fetch_all("queue_latency_histogram", since=since, bounds=bounds)

    def workers(self, limit: int) -> list[WorkerRecord]:
        return [WorkerRecord.from_row(r) for r in self._db.fetch_all("list_workers", limit=limit)]

    def set_paused(self, worker_id: str, paused: bool) -> bool:
        """Pause or resume a running worker; whether it was running."""
        return self._db.fetch_one("set_worker_paused", id=worker_id, paused=paused) is not None

    def worker(self, worker_id: str) -> WorkerRecord | None:
        row = self._db.fetch_one("get_worker", id=worker_id)
        return WorkerRecord.from_row(row) if row else None

    def running_task_runs(self, limit: int) -> list[Row]:
        return self._db.fetch_all("running_task_runs", limit=limit)
