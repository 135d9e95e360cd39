"""The context of ``task.mock_run``: a task called as a worker would call it, with no
database and no worker (hatchet_sdk's unit-testing surface)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hatchnb import ids
from hatchnb.runtime.context import Context
from hatchnb.runtime.durable import DurableContext
from hatchnb.store.runs import TaskRunFacts
from hatchnb.store.workers import ClaimedTask

if TYPE_CHECKING:
    from hatchnb.workflow import Task


class _MockWorker:
    """The worker of a ``mock_run``: logs go to the ``hatchnb.mock`` logger, the rest is a
    no-op."""

    def __init__(self, lifespan: Any) -> None:
        self.worker_id = str(uuid.UUID(int=0))
        self.name = "mock-worker"
        self.lifespan = lifespan

    @property
    def labels(self) -> dict[str, str | int]:
        return {}

    def log(self, task_run_id: int, attempt: int, level: str, message: str) -> None:
        logging.getLogger("hatchnb.mock").info(message)

    def refresh_timeout(self, task_run_id: int, attempt: int, increment: timedelta) -> None:
        pass

    def put_stream(self, run_id: str, task_run_id: int, data: str) -> None:
        pass

    def release_slot(self, task_run_id: int, attempt: int) -> None:
        pass

    def upsert_labels(self, labels: dict[str, str | int]) -> None:
        pass


def mock_context(
    task: Task[Any, Any],
    input: Any,
    additional_metadata: dict[str, Any] | None,
    parent_outputs: dict[str, Any] | None,
    retry_count: int,
    lifespan: Any,
) -> Context:
    """The context of ``task.mock_run``: no database, no worker; ``ctx.task_output(parent)``
    reads ``parent_outputs``."""
    claim = ClaimedTask(
        id=0,
        run_id=str(ids.uuid7()),
        workflow_name=task.workflow.name,
        task_name=task.name,
        kind=task.kind,
        version_id=0,
        attempt=retry_count + 1,
        retry_count=retry_count,
        priority=task.workflow.default_priority,
        input=input,
        additional_metadata=dict(additional_metadata or {}),
        parent_task_run_id=None,
        filter_payload=None,
        event_id=None,
        siblings={
            name: {"status": "SUCCEEDED", "output": output}
            for name, output in (parent_outputs or {}).items()
        },
    )
    worker = _MockWorker(lifespan)
    client: Any = task.workflow._client
    ctx: Context
    if task.durable:
        ctx = DurableContext(claim, worker, client, [], evict_after=float("inf"))
    else:
        ctx = Context(claim, worker, client)
    ctx._known_facts = TaskRunFacts(None, None, None, task.retries)  # no database to ask
    return ctx
