"""The ``ctx`` a task receives: run facts, parent outputs, logging, cancellation."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import warnings
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from hatchnb import ids, serialization
from hatchnb.errors import TaskRunError
from hatchnb.store.runs import RunsRepo, TaskRunFacts
from hatchnb.store.workers import ClaimedTask
from hatchnb.types import to_timedelta

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.workflow import Task

#: the context of the task running in this thread or asyncio task
current_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "hatchnb_current_context", default=None
)


class WorkerHandle(Protocol):
    """What a context needs from the worker that runs it."""

    worker_id: str
    name: str
    #: what the worker's lifespan yielded (None without one)
    lifespan: Any

    @property
    def labels(self) -> dict[str, str | int]: ...

    def log(self, task_run_id: int, attempt: int, level: str, message: str) -> None: ...

    def refresh_timeout(self, task_run_id: int, attempt: int, increment: timedelta) -> None: ...

    def put_stream(self, run_id: str, task_run_id: int, data: str) -> None: ...

    def release_slot(self, task_run_id: int, attempt: int) -> None: ...

    def upsert_labels(self, labels: dict[str, str | int]) -> None: ...


class WorkerInfo:
    """``ctx.worker``: the worker running the task."""

    def __init__(self, handle: WorkerHandle) -> None:
        self._handle = handle
        self._id = handle.worker_id
        self.name = handle.name

    def id(self) -> str:
        return self._id

    def upsert_labels(self, labels: dict[str, str | int]) -> None:
        """Add or change this worker's labels; the next assignment uses them."""
        self._handle.upsert_labels(labels)


class Context:
    """Passed to every task function as its second argument."""

    def __init__(self, claim: ClaimedTask, worker: WorkerHandle, client: Hatchet) -> None:
        self._claim = claim
        self._worker = worker
        self._client = client
        self._cancelled = False
        #: the task called ctx.cancel(): its run records this task run CANCELLED
        self.cancelled_itself = False
        self._known_facts: TaskRunFacts | None = None
        self._cancel_event: threading.Event | None = None  # made on demand: most tasks never wait
        self._async_task: asyncio.Task[Any] | None = None
        self._spawned = 0
        self.worker = WorkerInfo(worker)

    def _next_child_key(self, workflow_name: str) -> str:
        """Children spawned without a child_key are keyed by their order, as Hatchet keys them
        by child index: a task run executed again (a retry, a worker that died) gets the runs
        its first execution spawned instead of new ones. A replay spawns new ones."""
        self._spawned += 1
        return f"spawn-{self._spawned}"

    # ---- facts about the run ---------------------------------------------------------

    @property
    def workflow_run_id(self) -> str:
        return self._claim.run_id

    @property
    def task_run_external_id(self) -> str:
        return ids.task_run_external_id(self._claim.run_id, self._claim.task_name)

    @property
    def step_run_id(self) -> str:
        return self.task_run_external_id

    @property
    def workflow_id(self) -> str:
        """hatchet_sdk's workflow id (derived from the workflow's name)."""
        return ids.workflow_id(self._claim.workflow_name)

    @property
    def workflow_version_id(self) -> str:
        return str(self._claim.version_id)

    @property
    def worker_id(self) -> str:
        """The id of the worker running this task (``ctx.worker.id()``)."""
        return self.worker.id()

    @property
    def task_run_id(self) -> int:
        """Internal id of this task run (used to link child runs)."""
        return self._claim.id

    @property
    def task_name(self) -> str:
        return self._claim.task_name

    @property
    def workflow_name(self) -> str:
        return self._claim.workflow_name

    @property
    def retry_count(self) -> int:
        return self._claim.retry_count

    @property
    def attempt_number(self) -> int:
        return self._claim.retry_count + 1

    @property
    def additional_metadata(self) -> dict[str, Any]:
        return dict(self._claim.additional_metadata)

    @property
    def priority(self) -> int:
        return self._claim.priority

    @property
    def parent_task_run_id(self) -> int | None:
        return self._claim.parent_task_run_id

    @property
    def lifespan(self) -> Any:
        """What the worker's ``lifespan`` yielded (None without one)."""
        return getattr(self._worker, "lifespan", None)

    # ---- facts read from the database on first use (one query, then cached) -------------

    def _facts(self) -> TaskRunFacts:
        if self._known_facts is None:
            facts = RunsRepo(self._client._store).task_run_facts(self._claim.id)
            self._known_facts = facts or TaskRunFacts(None, None, None, 0)
        return self._known_facts

    @property
    def child_key(self) -> str | None:
        """The key this run was spawned under by its parent task (None for a top run)."""
        return self._facts().child_key

    @property
    def child_index(self) -> int | None:
        """The spawn order of this run among its parent task's children (from 0), when the
        parent did not give a child_key."""
        key = self.child_key or ""
        number = key.rsplit("-", 1)[-1]
        auto = key.startswith(("spawn-", "durable-child-"))
        return int(number) - 1 if auto and number.isdigit() else None

    @property
    def parent_workflow_run_id(self) -> str | None:
        parent = self._facts().parent_run_id
        return str(parent) if parent else None

    @property
    def triggering_event_key(self) -> str | None:
        return self._facts().event_key

    @property
    def max_attempts(self) -> int:
        """Attempts this task run may make: its first and its retries."""
        return self._facts().retries + 1

    @property
    def filter_payload(self) -> dict[str, Any]:
        """The payload of the event filter that admitted this run ({} when none)."""
        return dict(self._claim.filter_payload or {})

    @property
    def trigger_data(self) -> dict[str, Any]:
        """What hatchet_sdk's trigger data carries here: the matching event filter's payload
        under ``filter_payload`` ({} when none)."""
        payload = self.filter_payload
        return {"filter_payload": payload} if payload else {}

    @property
    def workflow_input(self) -> dict[str, Any]:
        """The run's input as a dict (deprecated in hatchet_sdk: use the task's input)."""
        _deprecated("`workflow_input` is deprecated; use the input passed to the task instead")
        return dict(self._claim.input or {})

    @property
    def input(self) -> dict[str, Any]:
        """The run's input as a dict (deprecated in hatchet_sdk: use the task's input)."""
        _deprecated("the input property is deprecated; use the input passed to the task instead")
        return dict(self._claim.input or {})

    @property
    def was_triggered_by_event(self) -> bool:
        return self._claim.event_id is not None

    @property
    def triggering_event_id(self) -> str | None:
        return self._claim.event_id

    # ---- parents ------------------------------------------------------------------------

    def task_output(self, task: Task[Any, Any] | str) -> Any:
        """The output of a parent task of this run."""
        name = task if isinstance(task, str) else task.name
        info = self._claim.siblings.get(name)
        if info is None or info["status"] != "SUCCEEDED":
            state = "does not exist" if info is None else f"is {info['status']}"
            raise ValueError(
                f"task {name!r} of this run {state}; task_output() reads the output of a "
                "succeeded parent (declare it in parents=[...])"
            )
        if info.get("has_blob"):
            blob = RunsRepo(self._client._store).task_output_blob(self.workflow_run_id, name)
            return serialization.load_output(None, blob, self._client._settings.signing_keys)
        return info["output"] if isinstance(task, str) else task.shape_output(info["output"])

    def aio_task_output(self, task: Task[Any, Any]) -> Any:
        """``task_output`` of an async parent (deprecated in hatchet_sdk)."""
        _deprecated("`aio_task_output` is deprecated; use `task_output` instead")
        if not task.is_async:
            raise ValueError(f"Task {task.name!r} is not an async function. Use `task_output`.")
        return self.task_output(task)

    def was_skipped(self, task: Task[Any, Any] | str) -> bool:
        name = task if isinstance(task, str) else task.name
        info = self._claim.siblings.get(name)
        return info is not None and info["status"] == "SKIPPED"

    @property
    def task_run_errors(self) -> dict[str, str]:
        """Errors of the failed tasks of this run (useful in an on_failure task)."""
        return {
            name: info["error"]
            for name, info in self._claim.siblings.items()
            if info["status"] == "FAILED" and info.get("error")
        }

    def fetch_task_run_error(self, task: Task[Any, Any] | str) -> str | None:
        name = task if isinstance(task, str) else task.name
        return self.task_run_errors.get(name)

    def get_task_run_error(self, task: Task[Any, Any] | str) -> TaskRunError | None:
        """The error of a failed task of this run as hatchet_sdk's TaskRunError (None when
        it did not fail); meant for on_failure tasks."""
        name = task if isinstance(task, str) else task.name
        error = self.task_run_errors.get(name)
        return TaskRunError(name, error) if error is not None else None

    # ---- logging, timeouts, cancellation -----------------------------------------------

    def log(self, line: Any, raise_on_error: bool = False) -> None:
        """Store a log line with this task run."""
        self._worker.log(self._claim.id, self._claim.attempt, "INFO", str(line))

    async def aio_log(self, line: Any, raise_on_error: bool = False) -> None:
        self.log(line, raise_on_error)

    def put_stream(self, data: str | bytes) -> None:
        """Send a chunk to ``hatchet.runs.subscribe_to_stream(run_id)`` readers, in order."""
        text = data.decode() if isinstance(data, bytes) else str(data)
        self._worker.put_stream(self.workflow_run_id, self._claim.id, text)

    async def aio_put_stream(self, data: str | bytes) -> None:
        self.put_stream(data)

    def refresh_timeout(self, increment_by: timedelta | str) -> None:
        """Extend this task's execution timeout by ``increment_by``."""
        increment = to_timedelta(increment_by, "increment_by")
        self._worker.refresh_timeout(self._claim.id, self._claim.attempt, increment)

    async def aio_refresh_timeout(self, increment_by: timedelta | str) -> None:
        self.refresh_timeout(increment_by)

    @property
    def exit_flag(self) -> bool:
        return self._cancelled

    @property
    def is_cancelled(self) -> bool:
        return self._cancelled

    def done(self) -> bool:
        """Whether the task run was cancelled (deprecated in hatchet_sdk: ``is_cancelled``)."""
        _deprecated("`done` is deprecated; use `is_cancelled` instead")
        return self._cancelled

    def _mark_cancelled(self) -> None:
        self._cancelled = True
        if self._cancel_event is not None:
            self._cancel_event.set()
        if self._async_task is not None:
            self._async_task.get_loop().call_soon_threadsafe(self._async_task.cancel)

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block (in a sync task) until the run is cancelled or the timeout passes."""
        if self._cancel_event is None:
            self._cancel_event = threading.Event()
            if self._cancelled:
                self._cancel_event.set()
        return self._cancel_event.wait(timeout)

    def release_slot(self) -> None:
        """Free this task's worker slots now (the task keeps running), e.g. after the part
        that needed the worker's capacity."""
        self._worker.release_slot(self._claim.id, self._claim.attempt)

    async def aio_release_slot(self) -> None:
        self.release_slot()

    @property
    def worker_labels(self) -> dict[str, str | int]:
        """The labels of the worker running this task, as upserted so far."""
        return dict(self._worker.labels)

    def upsert_worker_labels(self, labels: dict[str, str | int]) -> None:
        """Same as ``ctx.worker.upsert_labels``."""
        self.worker.upsert_labels(labels)

    async def aio_upsert_worker_labels(self, labels: dict[str, str | int]) -> None:
        await asyncio.to_thread(self.upsert_worker_labels, labels)

    def cancel(self) -> None:
        """Cancel this task run, as hatchet_sdk's ``ctx.cancel``: an async task stops at its
        next ``await``, a sync task should return when it sees ``ctx.exit_flag``; the task
        run is recorded CANCELLED (whatever it returns) and the tasks downstream of it are
        cancelled. ``hatchet.runs.cancel(ctx.workflow_run_id)`` cancels the whole run."""
        self.cancelled_itself = True
        self._mark_cancelled()

    async def aio_cancel(self) -> None:
        self.cancel()

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


def _deprecated(message: str) -> None:
    warnings.warn(message, DeprecationWarning, stacklevel=3)
