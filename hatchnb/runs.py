"""Run records, run references (results) and ``hatchet.runs``."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import psycopg

from hatchnb import errors, ids, retention, serialization
from hatchnb.store import connect, connect_async, queries

if TYPE_CHECKING:
    from hatchnb.client import Hatchet


class RunStatus(StrEnum):
    #: waiting for its parents (task) or not started (run)
    PENDING = "PENDING"
    #: waiting for a worker
    QUEUED = "QUEUED"
    #: queued behind a concurrency limit of its key
    BLOCKED = "BLOCKED"
    #: a worker runs it
    RUNNING = "RUNNING"
    #: finished with an output
    SUCCEEDED = "SUCCEEDED"
    #: finished with an error, retries used up
    FAILED = "FAILED"
    #: cancelled by a user, by cancel_if, or because an upstream task failed
    CANCELLED = "CANCELLED"
    #: skipped by skip_if (its children still run)
    SKIPPED = "SKIPPED"
    #: parents done, waiting for wait_for / skip_if / cancel_if conditions
    WAITING = "WAITING"


V1TaskStatus = RunStatus
FINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskRun:
    id: int
    external_id: str
    task_name: str
    kind: str
    status: RunStatus
    retry_count: int
    attempt: int
    worker_id: str | None
    output: Any
    error: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    #: names of the parent tasks in the DAG
    parents: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TaskRun:
        return cls(
            id=row["id"],
            external_id=ids.task_run_external_id(row["run_id"], row["task_name"]),
            task_name=row["task_name"],
            kind=row["kind"],
            status=RunStatus(row["status"]),
            retry_count=row["retry_count"],
            attempt=row["attempt"],
            worker_id=str(row["worker_id"]) if row["worker_id"] else None,
            output=row["output"],
            error=row["error"],
            queued_at=row["queued_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            parents=tuple(row.get("parents") or ()),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowRun:
    workflow_run_id: str
    workflow_name: str
    version_id: int
    status: RunStatus
    input: Any
    additional_metadata: dict[str, Any]
    priority: int
    parent_task_run_id: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    tasks: list[TaskRun] = dataclasses.field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.workflow_run_id

    @classmethod
    def from_row(cls, row: dict[str, Any], tasks: list[TaskRun] | None = None) -> WorkflowRun:
        return cls(
            workflow_run_id=str(row["id"]),
            workflow_name=row["workflow_name"],
            version_id=row["version_id"],
            status=RunStatus(row["status"]),
            input=row["input"],
            additional_metadata=row["additional_metadata"],
            priority=row["priority"],
            parent_task_run_id=row["parent_task_run_id"],
            error=row["error"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            tasks=tasks or [],
        )


def outputs_by_run(rows: list[dict[str, Any]], key: str | None = None) -> dict[str, dict[str, Any]]:
    """``{run_id: {task_name: output}}`` of succeeded tasks; blobs are unpickled."""
    result: dict[str, dict[str, Any]] = {}
    for row in rows:
        outputs = result.setdefault(str(row["run_id"]), {})
        if row["status"] == "SUCCEEDED":
            outputs[row["task_name"]] = serialization.load_output(
                row["output"], row["output_blob"], key
            )
    return result


def run_error(run_id: str, status: str, rows: list[dict[str, Any]]) -> errors.FailedRunError:
    wanted = ("FAILED",) if status == "FAILED" else ("CANCELLED",)
    task_errors = [
        errors.TaskRunError(r["task_name"], r["error"] or r["status"].lower())
        for r in rows
        if r["status"] in wanted
    ]
    if status == "CANCELLED":
        return errors.CancelledRunError(run_id, status, task_errors)
    return errors.FailedRunError(run_id, status, task_errors)


class WorkflowRunRef:
    """A handle on a triggered run: ``result()`` waits for it and returns its outputs."""

    def __init__(self, workflow_run_id: str, client: Hatchet) -> None:
        self.workflow_run_id = workflow_run_id
        self._client = client

    def __str__(self) -> str:
        return self.workflow_run_id

    def __repr__(self) -> str:
        return f"<WorkflowRunRef {self.workflow_run_id}>"

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        return self._client._run_result(self.workflow_run_id, timeout)

    async def aio_result(self, timeout: float | None = None) -> dict[str, Any]:
        return await self._client._aio_run_result(self.workflow_run_id, timeout)

    def status(self) -> RunStatus:
        return self._client.runs.get_status(self.workflow_run_id)

    def _ipython_display_(self) -> None:
        """In a notebook a run shows itself as a live run widget."""
        from hatchnb.widgets import live

        live.show_run(self._client, self.workflow_run_id)


class RunWaiter:
    """Wakes waiters when runs finish: one LISTEN connection on a thread, plus a poll."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client
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
        for row in self._client._store.fetch_all("run_statuses", ids=run_ids):
            if row["status"] in FINAL:
                self._fire(str(row["id"]))

    def _loop(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.1
            except (psycopg.Error, errors.DatabaseUnavailable):
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _listen(self) -> None:
        interval = self._client._settings.poll_interval
        with connect(self._client._dsn, autocommit=True) as conn:
            conn.execute("LISTEN hatchnb_run_done")
            while not self._stop.is_set():
                for note in conn.notifies(timeout=interval):
                    for run_id in note.payload.split(","):
                        self._fire(run_id)
                with self._lock:
                    waiting = list(self._waiters)
                self._check(waiting)


#: PostgreSQL's bigint: the largest offset, limit or task run id a query can take
_BIGINT_MAX = 2**63 - 1


def run_filters(
    since: datetime | None,
    until: datetime | None,
    statuses: builtins.list[RunStatus] | builtins.list[str] | None,
    additional_metadata: dict[str, Any] | None,
    workflow_names: builtins.list[str] | None,
    parent_task_run_id: int | None,
) -> dict[str, Any]:
    """Parameters of the run list queries (every filter is a bound parameter); a filter the
    database cannot take is a ValueError saying what to pass instead."""
    serialization.dump_metadata(additional_metadata)  # refuses what jsonb cannot hold
    return {
        "since": _moment(since, "since") or datetime.now(UTC) - timedelta(days=1),
        "until": _moment(until, "until"),
        "statuses": _statuses(statuses),
        "workflows": [serialization.check_text(w, "workflow_names item") for w in workflow_names]
        if workflow_names
        else None,
        # no filter is NULL (the queries skip the predicate), never `@> '{}'`
        "metadata": psycopg.types.json.Jsonb(additional_metadata) if additional_metadata else None,
        "parent_task_run_id": _whole(parent_task_run_id, "parent_task_run_id", 1),
    }


def _moment(value: Any, what: str) -> datetime | None:
    """Aware datetimes as they are; naive ones are local time, as ``datetime.now()`` gives."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValueError(f"{what}={value!r}: pass a datetime, e.g. datetime.now(UTC)")
    try:
        return value if value.tzinfo else value.astimezone()
    except (OverflowError, ValueError):
        raise ValueError(f"{what}={value!r} is out of range; pass an aware datetime") from None


def _statuses(values: Any) -> builtins.list[str] | None:
    if not values:
        return None
    if isinstance(values, str):
        raise ValueError(f"statuses={values!r}: pass a list, e.g. statuses=[{values!r}]")
    try:
        return [RunStatus(value).value for value in values]
    except ValueError:
        known = ", ".join(RunStatus)
        raise ValueError(f"statuses={values!r}: use only {known}") from None


def _whole(value: Any, what: str, least: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= _BIGINT_MAX:
        raise ValueError(f"{what}={value!r}: pass a whole number from {least} to {_BIGINT_MAX}")
    return value


def run_uuid(value: Any) -> str:
    """A run id as the database takes it; anything else is not a run."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise errors.RunNotFound(
            f"{value!r} is not a workflow run id: run ids are UUIDs, as in "
            "WorkflowRunRef.workflow_run_id"
        ) from None


class RunsClient:
    """``hatchet.runs``: look up, list, cancel and replay runs."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def get(self, workflow_run_id: str) -> WorkflowRun:
        store = self._client._store
        row = store.fetch_one("get_run", id=run_uuid(workflow_run_id))
        if row is None:
            raise errors.RunNotFound(f"no workflow run has the id {workflow_run_id}")
        tasks = [TaskRun.from_row(r) for r in store.fetch_all("get_run_tasks", run_id=row["id"])]
        return WorkflowRun.from_row(row, tasks)

    async def aio_get(self, workflow_run_id: str) -> WorkflowRun:
        return await asyncio.to_thread(self.get, workflow_run_id)

    def get_status(self, workflow_run_id: str) -> RunStatus:
        return self.get(workflow_run_id).status

    async def aio_get_status(self, workflow_run_id: str) -> RunStatus:
        return await asyncio.to_thread(self.get_status, workflow_run_id)

    def get_result(self, workflow_run_id: str) -> dict[str, Any]:
        return self._client._run_result(run_uuid(workflow_run_id), None)

    def get_run_ref(self, workflow_run_id: str) -> WorkflowRunRef:
        return WorkflowRunRef(run_uuid(workflow_run_id), self._client)

    def list(
        self,
        since: datetime | None = None,
        only_tasks: bool = False,
        offset: int | None = None,
        limit: int | None = None,
        statuses: builtins.list[RunStatus] | builtins.list[str] | None = None,
        until: datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        workflow_names: builtins.list[str] | None = None,
        parent_task_run_id: int | None = None,
    ) -> builtins.list[WorkflowRun]:
        """Runs created since ``since`` (default: one day ago), newest first."""
        rows = self._client._store.fetch_all(
            "list_runs",
            **run_filters(
                since, until, statuses, additional_metadata, workflow_names, parent_task_run_id
            ),
            limit=_whole(limit or 100, "limit", 1),
            offset=_whole(offset or 0, "offset", 0),
        )
        return [WorkflowRun.from_row(r) for r in rows]

    def count(
        self,
        since: datetime | None = None,
        statuses: builtins.list[RunStatus] | builtins.list[str] | None = None,
        until: datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        workflow_names: builtins.list[str] | None = None,
        parent_task_run_id: int | None = None,
        cap: int | None = None,
    ) -> int:
        """How many runs ``list`` would return without a limit (same filters); with ``cap``
        counting stops there, so a count over a million runs stays cheap."""
        row = self._client._store.fetch_one(
            "count_runs",
            **run_filters(
                since, until, statuses, additional_metadata, workflow_names, parent_task_run_id
            ),
            cap=cap,
        )
        return int(row["total"]) if row else 0

    def status_counts(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        workflow_names: builtins.list[str] | None = None,
        parent_task_run_id: int | None = None,
        cap: int | None = None,
    ) -> dict[str, int]:
        """``{status: number of runs}`` under the ``list`` filters (every status with runs);
        with ``cap`` each status is counted no further than that."""
        params = run_filters(
            since, until, None, additional_metadata, workflow_names, parent_task_run_id
        )
        del params["statuses"]
        params["cap"] = _whole(cap, "cap", 1)
        if additional_metadata or workflow_names or parent_task_run_id is not None:
            rows = self._client._store.fetch_all("run_status_counts", **params)
        else:
            rows = self._client._store.fetch_all(
                "run_status_counts_in_range",
                since=params["since"],
                until=params["until"],
                cap=params["cap"],
            )
        return {r["status"]: int(r["total"]) for r in rows}

    def attempts(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """Finished attempts of the run's task runs (retries, timeouts, hand-backs included),
        oldest first: task_name, attempt, worker_id, outcome, error, queued/started/finished."""
        return self._client._store.fetch_all("run_attempts", run_id=run_uuid(run_id))

    def logs_after(
        self, run_id: str, after: int = 0, limit: int = 1000
    ) -> builtins.list[dict[str, Any]]:
        """Log lines with an ``id`` greater than ``after`` (pass the last id seen to follow)."""
        return self._client._store.fetch_all(
            "run_logs_after", run_id=run_uuid(run_id), after=after, limit=limit
        )

    def durable_log(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """The durable event log entries of the run's durable task runs, in order."""
        return self._client._store.fetch_all("run_durable_log", run_id=run_uuid(run_id))

    async def aio_list(self, **kwargs: Any) -> builtins.list[WorkflowRun]:
        return await asyncio.to_thread(lambda: self.list(**kwargs))

    def cancel(self, run_id: str) -> None:
        self.bulk_cancel([run_id])

    async def aio_cancel(self, run_id: str) -> None:
        await asyncio.to_thread(self.cancel, run_id)

    def bulk_cancel(self, run_ids: builtins.list[str]) -> None:
        store = self._client._store
        wanted = [run_uuid(r) for r in run_ids]
        with store.transaction() as conn:
            running = conn.execute(queries.get("cancel_runs"), {"ids": wanted}).fetchall()
            if running:
                payload = ",".join(str(r["task_run_id"]) for r in running)
                conn.execute(queries.get("notify_cancel"), {"payload": payload})

    def replay(self, run_id: str) -> None:
        self.bulk_replay([run_id])

    async def aio_replay(self, run_id: str) -> None:
        await asyncio.to_thread(self.replay, run_id)

    def bulk_replay(self, run_ids: builtins.list[str]) -> None:
        """Run failed and cancelled tasks (and everything downstream) of finished runs again,
        with the workflow's newest registered code when its DAG is unchanged; the outputs
        of the tasks that succeeded are kept."""
        wanted = [run_uuid(r) for r in run_ids]
        with self._client._store.transaction() as conn:
            replayed = [r["id"] for r in conn.execute(queries.get("replay_runs"), {"ids": wanted})]
            if replayed:
                conn.execute(queries.get("repin_replayed_runs"), {"ids": replayed})
                conn.execute(queries.get("restore_hooks"), {"ids": replayed})
                conn.execute(queries.get("requeue_ready_task_runs"), {"ids": replayed})
                conn.execute(queries.get("notify_queued"))

    async def subscribe_to_stream(self, workflow_run_id: str) -> AsyncIterator[str]:
        """Yield the chunks the run's tasks send with ``ctx.put_stream``, from the first one,
        until the run is finished and every chunk has been read."""
        store = await self._client._astore()
        conn = await connect_async(self._client.dsn)
        async with conn:
            await conn.execute("LISTEN hatchnb_stream")
            wait = self._client._settings.poll_interval
            after = 0
            while True:
                rows = await store.fetch_all(
                    "stream_chunks_after", run_id=workflow_run_id, after=after
                )
                if not rows:
                    raise errors.RunNotFound(f"no workflow run has the id {workflow_run_id}")
                for row in rows:
                    if row["id"] is not None:
                        after = row["id"]
                        yield row["data"]
                if rows[0]["status"] in FINAL:
                    return
                async for _ in conn.notifies(timeout=wait, stop_after=1):
                    pass  # a chunk was written (or the poll timed out): read again

    def logs(self, run_id: str, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        return self._client._store.fetch_all("run_logs", run_id=run_uuid(run_id), limit=limit)

    def get_notebook(
        self, task_run_id_or_run_id: int | str, task_name: str | None = None
    ) -> bytes | None:
        """The executed notebook (nbformat JSON) of a notebook task's newest attempt, also
        when it failed; by task run id, or by run id and task name."""
        from hatchnb import notebook_tasks

        row = notebook_tasks.get_notebook(self._client, task_run_id_or_run_id, task_name)
        return bytes(row["notebook"]) if row else None

    def render_notebook_html(
        self, task_run_id_or_run_id: int | str, task_name: str | None = None
    ) -> str | None:
        """``get_notebook`` rendered as a standalone HTML page (None when there is none)."""
        from hatchnb import notebook_tasks

        notebook = self.get_notebook(task_run_id_or_run_id, task_name)
        return notebook_tasks.render_notebook_html(notebook) if notebook else None

    def notebooks(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """The run's tasks that stored an executed notebook: task_name, attempt, failed."""
        from hatchnb import notebook_tasks

        return notebook_tasks.run_notebooks(self._client, run_id)

    def prune(
        self,
        older_than: timedelta | None = None,
        dry_run: bool = False,
        batch_size: int | None = None,
    ) -> retention.PruneReport:
        """Delete runs that finished more than ``older_than`` ago (default
        ``HATCHNB_RETENTION``) with their task runs, logs, streams, durable logs, attempts and
        notebooks, then old events, schedules, alert messages and stopped workers, in small
        batches. ``report.counts`` holds the rows per table. Not in hatchet_sdk."""
        settings = self._client._settings
        older_than = older_than or settings.retention
        if older_than is None:
            raise ValueError(
                "retention is off (HATCHNB_RETENTION=0): give older_than= (--older-than)"
            )
        return retention.prune(
            self._client.dsn,
            older_than,
            batch_size=batch_size or settings.retention_batch,
            dry_run=dry_run,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerRecord:
    id: str
    name: str
    slots: int
    labels: dict[str, Any]
    workflows: list[str] | None
    python_version: str
    hostname: str
    pid: int
    status: str
    started_at: datetime
    last_heartbeat_at: datetime
    running: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkerRecord:
        return cls(**{**row, "id": str(row["id"])})


class WorkersClient:
    """``hatchet.workers``: registered worker processes, newest first."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def list(self, limit: int = 100) -> builtins.list[WorkerRecord]:
        rows = self._client._store.fetch_all("list_workers", limit=limit)
        return [WorkerRecord.from_row(r) for r in rows]

    async def aio_list(self, limit: int = 100) -> builtins.list[WorkerRecord]:
        return await asyncio.to_thread(self.list, limit)

    def running_tasks(self, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        """Task runs running now: worker_id, run_id, task_name, attempt, started_at."""
        rows = self._client._store.fetch_all("running_task_runs", limit=limit)
        return [{**r, "worker_id": str(r["worker_id"]), "run_id": str(r["run_id"])} for r in rows]
