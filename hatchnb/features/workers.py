"""``hatchet.workers``: registered worker processes and what they run."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

from hatchnb import errors, ids
from hatchnb.config import Settings
from hatchnb.records import Rows, WorkerRecord
from hatchnb.store import Store
from hatchnb.store.reads import ReadsRepo


class WorkersClient:
    """``hatchet.workers``: registered worker processes, newest first."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._reads = ReadsRepo(store)
        self._settings = settings

    def list(self, limit: int = 100) -> Rows[WorkerRecord]:
        return Rows(self._reads.workers(limit))

    async def aio_list(self, limit: int = 100) -> Rows[WorkerRecord]:
        return await asyncio.to_thread(self.list, limit)

    def get(self, worker_id: str) -> WorkerRecord:
        if not ids.is_uuid(str(worker_id)):
            raise ValueError(f"worker id {worker_id!r}: pass a worker's id (a UUID)")
        found = self._reads.worker(str(worker_id))
        if found is None:
            raise errors.HatchnbError(f"no worker has the id {worker_id}")
        return found

    async def aio_get(self, worker_id: str) -> WorkerRecord:
        return await asyncio.to_thread(self.get, worker_id)

    def running_tasks(self, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        """Task runs running now: worker_id, run_id, task_name, attempt, started_at."""
        rows = self._reads.running_task_runs(limit)
        return [{**r, "worker_id": str(r["worker_id"]), "run_id": str(r["run_id"])} for r in rows]
