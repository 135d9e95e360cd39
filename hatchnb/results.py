"""Waiting for runs and reading their results: ``WorkflowRunRef`` and the ``ResultReader``
behind it (one LISTEN thread per client wakes every waiter)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from hatchnb import errors, serialization
from hatchnb.config import Settings
from hatchnb.records import (
    CANCELLED_BY_CONDITION,
    CANCELLED_BY_TASK,
    CANCELLED_UPSTREAM,
    FINAL,
    RunStatus,
)
from hatchnb.store import Store, notify
from hatchnb.store.runs import RunsRepo, TaskOutput

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

TWorkflowInput = TypeVar("TWorkflowInput")
R = TypeVar("R")


def outputs_by_run(tasks: list[TaskOutput], key: str | None = None) -> dict[str, dict[str, Any]]:
    """``{run_id: {task_name: output}}`` of succeeded tasks; blobs are unpickled."""
    result: dict[str, dict[str, Any]] = {}
    for task in tasks:
        outputs = result.setdefault(str(task.run_id), {})
        if task.status == "SUCCEEDED":
            outputs[task.task_name] = serialization.load_output(task.output, task.output_blob, key)
        elif task.status == "SKIPPED":
            outputs[task.task_name] = {"skipped": True}  # hatchet_sdk's output of a skipped task
    return result


def cancelled_by_conditions(tasks: list[TaskOutput]) -> bool:
    """Whether a cancelled run was cancelled only by ``cancel_if`` conditions or by its own
    tasks (``ctx.cancel()``), with the tasks downstream of them, not by a user, a timeout or
    a concurrency limit: as in hatchet_sdk, its result is then the other tasks' outputs."""
    reasons = {t.error for t in tasks if t.status == "CANCELLED"}
    by_run = {CANCELLED_BY_CONDITION, CANCELLED_BY_TASK}
    return bool(reasons & by_run) and reasons <= {*by_run, CANCELLED_UPSTREAM}


def run_error(run_id: str, status: str, tasks: list[TaskOutput]) -> errors.FailedRunError:
    wanted = ("FAILED",) if status == "FAILED" else ("CANCELLED",)
    task_errors = [
        errors.TaskRunError(t.task_name, t.error or t.status.lower())
        for t in tasks
        if t.status in wanted
    ]
    if status == "CANCELLED":
        return errors.CancelledRunError(run_id, status, task_errors)
    return errors.FailedRunError(run_id, status, task_errors)


class WorkflowRunRef:
    """A handle on a triggered run: ``result()`` waits for it and returns its outputs."""

    def __init__(
        self, workflow_run_id: str, reader: ResultReader, hatchet: Hatchet | None = None
    ) -> None:
        self.workflow_run_id = workflow_run_id
        self._reader = reader
        self._hatchet = hatchet

    def __str__(self) -> str:
        return self.workflow_run_id

    def __repr__(self) -> str:
        return f"<WorkflowRunRef {self.workflow_run_id}>"

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        return self._reader.result(self.workflow_run_id, timeout)

    async def aio_result(self, timeout: float | None = None) -> dict[str, Any]:
        return await self._reader.aio_result(self.workflow_run_id, timeout)

    def status(self) -> RunStatus:
        return self._reader.status(self.workflow_run_id)

    def _ipython_display_(self) -> None:
        """In a notebook a run shows itself as a live run widget."""
        from hatchnb.widgets import live

        if self._hatchet is None:
            print(repr(self))
            return
        live.show_run(self._hatchet, self.workflow_run_id)


class TaskRunRef(WorkflowRunRef, Generic[TWorkflowInput, R]):
    """A handle on a standalone task's run: ``result()`` is the task's output."""

    def __init__(self, ref: WorkflowRunRef, shape: Callable[[dict[str, Any]], R]) -> None:
        super().__init__(ref.workflow_run_id, ref._reader, ref._hatchet)
        self._shape = shape

    def __repr__(self) -> str:
        return f"<TaskRunRef {self.workflow_run_id}>"

    def result(self, timeout: float | None = None) -> R:  # type: ignore[override]
        return self._shape(super().result(timeout))

    async def aio_result(self, timeout: float | None = None) -> R:  # type: ignore[override]
        return self._shape(await super().aio_result(timeout))


class RunWaiter:
    """Wakes waiters when runs finish: one LISTEN connection on a thread, plus a poll."""

    def __init__(self, runs: RunsRepo, poll_interval: float) -> None:
        self._runs = runs
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._waiters: dict[str, list[Any]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def wait(self, run_id: str, timeout: float | None) -> None:
        done = threading.Event()
        self._add(run_id, done.set)
        try:
            if not done.wait(timeout):
                raise TimeoutError(f"workflow run {run_id} did not finish within {timeout}s")
        finally:
            self._remove(run_id, done.set)

    async def aio_wait(self, run_id: str, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not future.done():
                future.set_result(None)

        def wake() -> None:
            loop.call_soon_threadsafe(resolve)

        self._add(run_id, wake)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"workflow run {run_id} did not finish within {timeout}s") from None
        finally:
            self._remove(run_id, wake)

    def close(self) -> None:
        self._stop.set()

    def _add(self, run_id: str, callback: Any) -> None:
        with self._lock:
            self._waiters.setdefault(run_id, []).append(callback)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="hatchnb-run-waiter", daemon=True
                )
                self._thread.start()
        self._check([run_id])

    def _remove(self, run_id: str, callback: Any) -> None:
        with self._lock:
            callbacks = self._waiters.get(run_id, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._waiters.pop(run_id, None)

    def _fire(self, run_id: str) -> None:
        with self._lock:
            callbacks = list(self._waiters.get(run_id, []))
        for callback in callbacks:
            callback()

    def _check(self, run_ids: list[str]) -> None:
        if not run_ids:
            return
        statuses = self._runs.run_statuses(run_ids)
        for run_id in run_ids:
            status = statuses.get(run_id)
            if status is None or status in FINAL:  # a run that is not there: the reader
                self._fire(run_id)  # then says so (RunNotFound) instead of waiting forever

    def _loop(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.1
            except errors.DatabaseUnavailable:
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _listen(self) -> None:
        with notify.listen(self._runs.dsn, notify.RUN_DONE) as listener:
            while not self._stop.is_set():
                # a notice only wakes the check: it may be stale (the run was replayed since)
                listener.wait_one(self._poll_interval)
                with self._lock:
                    waiting = list(self._waiters)
                self._check(waiting)


class ResultReader:
    """Waits for runs to finish and reads their outputs (or raises their errors)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._runs = RunsRepo(store)
        self._signing_key = settings.signing_key
        self._waiter = RunWaiter(self._runs, settings.poll_interval)

    def close(self) -> None:
        self._waiter.close()

    def status(self, run_id: str) -> RunStatus:
        return self._runs.run_status(run_id)

    def outputs(self, run_id: str) -> dict[str, Any]:
        """The outputs of a finished run, ``{task_name: output}``; its error otherwise. A run
        cancelled only by ``cancel_if`` conditions gives the outputs its other tasks
        produced, as in hatchet_sdk."""
        status = self.status(run_id)
        tasks = self._runs.task_outputs([run_id])
        tolerated = status == RunStatus.CANCELLED and cancelled_by_conditions(tasks)
        if status != RunStatus.SUCCEEDED and not tolerated:
            raise run_error(run_id, status.value, tasks)
        return outputs_by_run(tasks, self._signing_key).get(run_id, {})

    def result(self, run_id: str, timeout: float | None) -> dict[str, Any]:
        self._waiter.wait(run_id, timeout)
        return self.outputs(run_id)

    async def aio_result(self, run_id: str, timeout: float | None) -> dict[str, Any]:
        await self._waiter.aio_wait(run_id, timeout)
        return await asyncio.to_thread(self.outputs, run_id)
