"""``hatchet.logs``: the log lines of one task run (hatchet_sdk's ``LogsClient``)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from hatchnb import limits
from hatchnb.features.runs import RunsClient
from hatchnb.records import Rows, TaskLogLine
from hatchnb.store import Store
from hatchnb.store.runs import RunsRepo

#: Python's logging level names as Hatchet's V1LogLineLevel names them
_HATCHET_LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR"}


class LogsClient:
    """``hatchet.logs``."""

    def __init__(self, store: Store, runs: RunsClient) -> None:
        self._repo = RunsRepo(store)
        self._runs = runs

    def list(
        self,
        task_run_id: str,
        limit: int = 1000,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Rows[TaskLogLine]:
        """The task run's log lines (every attempt), oldest first, at most ``limit``,
        written between ``since`` and ``until`` when given. ``task_run_id`` is a task run's
        id, as ``runs.get_task_run`` takes it."""
        task = self._runs.get_task_run(task_run_id)
        count = limits.whole_number(limit, "limit", 1, limits.INT_MAX)
        rows = self._repo.task_run_logs(task.id, since, until, count)
        return Rows(
            TaskLogLine(
                created_at=row["created_at"],
                message=row["message"],
                level=_HATCHET_LEVELS.get(row["level"]) or row["level"],
                attempt=row["attempt"],
                task_external_id=task.external_id,
                task_display_name=task.display_name,
            )
            for row in rows
        )

    async def aio_list(
        self,
        task_run_id: str,
        limit: int = 1000,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Rows[TaskLogLine]:
        return await asyncio.to_thread(self.list, task_run_id, limit, since, until)
