"""Run records, run references (results) and ``hatchet.runs``."""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from hatchnb import errors, serialization
from hatchnb.config import Settings
from hatchnb.records import FINAL, RunStatus, TaskRun, WorkflowRun
from hatchnb.results import ResultReader, WorkflowRunRef
from hatchnb.store import AsyncStore, Store, notify, queries
from hatchnb.store.retention import PruneReport, prune

if TYPE_CHECKING:
    pass


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

    def __init__(
        self,
        store: Store,
        settings: Settings,
        reader: ResultReader,
        astore: Callable[[], Awaitable[AsyncStore]],
        make_ref: Callable[[str], WorkflowRunRef],
    ) -> None:
        self._store = store
        self._settings = settings
        self._reader = reader
        self._astore = astore
        self._make_ref = make_ref

    def get(self, workflow_run_id: str) -> WorkflowRun:
        store = self._store
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
        return self._reader.result(run_uuid(workflow_run_id), None)

    def get_run_ref(self, workflow_run_id: str) -> WorkflowRunRef:
        return self._make_ref(run_uuid(workflow_run_id))

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
        rows = self._store.fetch_all(
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
        row = self._store.fetch_one(
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
            rows = self._store.fetch_all("run_status_counts", **params)
        else:
            rows = self._store.fetch_all(
                "run_status_counts_in_range",
                since=params["since"],
                until=params["until"],
                cap=params["cap"],
            )
        return {r["status"]: int(r["total"]) for r in rows}

    def attempts(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """Finished attempts of the run's task runs (retries, timeouts, hand-backs included),
        oldest first: task_name, attempt, worker_id, outcome, error, queued/started/finished."""
        return self._store.fetch_all("run_attempts", run_id=run_uuid(run_id))

    def logs_after(
        self, run_id: str, after: int = 0, limit: int = 1000
    ) -> builtins.list[dict[str, Any]]:
        """Log lines with an ``id`` greater than ``after`` (pass the last id seen to follow)."""
        return self._store.fetch_all(
            "run_logs_after", run_id=run_uuid(run_id), after=after, limit=limit
        )

    def durable_log(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """The durable event log entries of the run's durable task runs, in order."""
        return self._store.fetch_all("run_durable_log", run_id=run_uuid(run_id))

    async def aio_list(self, **kwargs: Any) -> builtins.list[WorkflowRun]:
        return await asyncio.to_thread(lambda: self.list(**kwargs))

    def cancel(self, run_id: str) -> None:
        self.bulk_cancel([run_id])

    async def aio_cancel(self, run_id: str) -> None:
        await asyncio.to_thread(self.cancel, run_id)

    def bulk_cancel(self, run_ids: builtins.list[str]) -> None:
        store = self._store
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
        with self._store.transaction() as conn:
            replayed = [r["id"] for r in conn.execute(queries.get("replay_runs"), {"ids": wanted})]
            if replayed:
                conn.execute(queries.get("repin_replayed_runs"), {"ids": replayed})
                conn.execute(queries.get("restore_hooks"), {"ids": replayed})
                conn.execute(queries.get("requeue_ready_task_runs"), {"ids": replayed})
                conn.execute(queries.get("notify_queued"))

    async def subscribe_to_stream(self, workflow_run_id: str) -> AsyncIterator[str]:
        """Yield the chunks the run's tasks send with ``ctx.put_stream``, from the first one,
        until the run is finished and every chunk has been read."""
        store = await self._astore()
        async with notify.alisten(self._store.dsn, notify.STREAM) as listener:
            wait = self._settings.poll_interval
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
                await listener.wait_one(wait)  # a chunk was written, or the poll timed out

    def logs(self, run_id: str, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        return self._store.fetch_all("run_logs", run_id=run_uuid(run_id), limit=limit)

    def get_notebook(
        self, task_run_id_or_run_id: int | str, task_name: str | None = None
    ) -> bytes | None:
        """The executed notebook (nbformat JSON) of a notebook task's newest attempt, also
        when it failed; by task run id, or by run id and task name."""
        from hatchnb import notebook_tasks

        row = notebook_tasks.get_notebook(self._store, task_run_id_or_run_id, task_name)
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

        return notebook_tasks.run_notebooks(self._store, run_id)

    def prune(
        self,
        older_than: timedelta | None = None,
        dry_run: bool = False,
        batch_size: int | None = None,
    ) -> PruneReport:
        """Delete runs that finished more than ``older_than`` ago (default
        ``HATCHNB_RETENTION``) with their task runs, logs, streams, durable logs, attempts and
        notebooks, then old events, schedules, alert messages and stopped workers, in small
        batches. ``report.counts`` holds the rows per table. Not in hatchet_sdk."""
        settings = self._settings
        older_than = older_than or settings.retention
        if older_than is None:
            raise ValueError(
                "retention is off (HATCHNB_RETENTION=0): give older_than= (--older-than)"
            )
        return prune(
            self._store.dsn,
            older_than,
            batch_size=batch_size or settings.retention_batch,
            dry_run=dry_run,
        )
