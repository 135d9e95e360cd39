"""``hatchet.workers``: registered worker processes and what they run."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

from hatchnb import errors, limits
from hatchnb.config import Settings
from hatchnb.records import Rows, WorkerRecord
from hatchnb.store import Store
from hatchnb.store.reads import ReadsRepo
from hatchnb.store.replica import reads_store
from hatchnb.types import UpdateWorkerRequest


class WorkersClient:
    """``hatchet.workers``: registered worker processes, newest first."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._reads = ReadsRepo(store)
        #: the list may lag behind: the replica's, when there is one
        self._listing = ReadsRepo(reads_store(store))
        self._settings = settings

    def list(self, limit: int = 100) -> Rows[WorkerRecord]:
        return Rows(
            self._listing.workers(limits.whole_number(limit, "limit", 0, limits.BIGINT_MAX))
        )

    async def aio_list(self, limit: int = 100) -> Rows[WorkerRecord]:
        return await asyncio.to_thread(self.list, limit)

    def get(self, worker_id: str) -> WorkerRecord:
        found = self._reads.worker(_worker_id(worker_id))
        if found is None:
            raise errors.NotFound(f"no worker has the id {worker_id}")
        return found

    async def aio_get(self, worker_id: str) -> WorkerRecord:
        return await asyncio.to_thread(self.get, worker_id)

    def pause(self, worker_id: str) -> WorkerRecord:
        """Stop the worker claiming new task runs (its running ones finish); it takes effect
        at the worker's next heartbeat (``HATCHNB_HEARTBEAT_INTERVAL``, 2 s)."""
        return self._set_paused(worker_id, True)

    def unpause(self, worker_id: str) -> WorkerRecord:
        """Let a paused worker claim again (at its next heartbeat)."""
        return self._set_paused(worker_id, False)

    async def aio_pause(self, worker_id: str) -> WorkerRecord:
        return await asyncio.to_thread(self.pause, worker_id)

    async def aio_unpause(self, worker_id: str) -> WorkerRecord:
        return await asyncio.to_thread(self.unpause, worker_id)

    def update(self, worker_id: str, opts: UpdateWorkerRequest) -> WorkerRecord:
        """hatchet_sdk's way to pause or unpause a worker (``opts.is_paused``)."""
        if opts.is_paused is None:
            return self.get(worker_id)
        return self._set_paused(worker_id, opts.is_paused)

    async def aio_update(self, worker_id: str, opts: UpdateWorkerRequest) -> WorkerRecord:
        return await asyncio.to_thread(self.update, worker_id, opts)

    def _set_paused(self, worker_id: str, paused: bool) -> WorkerRecord:
        found = self.get(worker_id)
        if not self._reads.set_paused(found.id, paused):
            raise errors.HatchnbError(
                f"cannot pause or unpause worker {worker_id}: it is {found.status}, not running"
            )
        return self.get(worker_id)

    def running_tasks(self, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        """Task runs running now: worker_id, run_id, task_name, attempt, started_at."""
        rows = self._reads.running_task_runs(
            limits.whole_number(limit, "limit", 0, limits.BIGINT_MAX)
        )
        return [{**r, "worker_id": str(r["worker_id"]), "run_id": str(r["run_id"])} for r in rows]


def _worker_id(value: str) -> str:
    return limits.id_text(value, "a worker id", "hatchet.workers.list().rows[0].id")
