"""Run records, run references (results) and ``hatchet.runs``."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, model_validator

from hatchnb import errors, ids, limits, serialization, signing
from hatchnb.config import Settings
from hatchnb.enqueue import start_run
from hatchnb.features.lineage import diff_runs, fork_run
from hatchnb.features.rest_compat import ApiClient
from hatchnb.records import (
    FINAL,
    DurableBranch,
    Rows,
    RunList,
    RunStatus,
    TaskEvent,
    TaskRun,
    TaskRunDetail,
    V1TaskEventType,
    WorkflowRun,
    WorkflowRunDetail,
    attempt_events,
)
from hatchnb.results import ResultReader, WorkflowRunRef
from hatchnb.run_diff import RunDiff
from hatchnb.store import AsyncStore, Store, notify
from hatchnb.store.durable import DurableRepo
from hatchnb.store.lineage import LineageRepo
from hatchnb.store.replica import reads_store
from hatchnb.store.retention import PruneReport, prune
from hatchnb.store.runs import AsyncRunsRepo, RunsRepo, TaskOutput, as_dicts
from hatchnb.store.runs import RunFilter as RunQuery
from hatchnb.store.versions import VersionsRepo, trigger_target_in
from hatchnb.types import namespaced

#: PostgreSQL's bigint: the largest offset, limit or task run id a query can take
_BIGINT_MAX = 2**63 - 1


if TYPE_CHECKING:
    from hatchnb.features.traces import TracesClient


class RunFilter(BaseModel):
    """hatchet_sdk's filter of the runs a bulk cancel or replay acts on."""

    since: datetime
    until: datetime | None = None
    statuses: builtins.list[RunStatus] | None = None
    workflow_ids: builtins.list[str] | None = None
    additional_metadata: dict[str, str] | None = None


class BulkCancelReplayOpts(BaseModel):
    """The runs a bulk cancel or replay acts on: ``ids`` or ``filters``, exactly one."""

    ids: builtins.list[str] | None = None
    filters: RunFilter | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BulkCancelReplayOpts:
        if bool(self.ids) == bool(self.filters):
            raise ValueError("give exactly one of ids= and filters=")
        return self


def run_filters(
    since: datetime | None,
    until: datetime | None,
    statuses: builtins.list[RunStatus] | builtins.list[str] | None,
    additional_metadata: dict[str, Any] | None,
    workflow_names: builtins.list[str] | None,
    parent_task_run_id: int | None,
    **narrowing: Any,
) -> RunQuery:
    """The run list filters (every filter is a bound parameter); a filter the database
    cannot take is a ValueError saying what to pass instead. ``narrowing``: RunQuery's
    ``parent_task_run_ids``, ``event_id`` and ``worker_id``, already resolved."""
    serialization.dump_metadata(additional_metadata)  # refuses what jsonb cannot hold
    parent = _whole(parent_task_run_id, "parent_task_run_id", 1)
    if parent is not None:
        narrowing["parent_task_run_ids"] = [parent]
    return RunQuery(
        since=_moment(since, "since") or datetime.now(UTC) - timedelta(days=1),
        until=_moment(until, "until"),
        statuses=_statuses(statuses),
        workflows=[serialization.check_text(w, "workflow_names item") for w in workflow_names]
        if workflow_names
        else None,
        metadata=additional_metadata or None,
        **narrowing,
    )


def _uuid_or_none(value: Any, what: str) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise errors.InvalidArgument(f"{what}={limits.shown(value)}: pass a UUID") from None


_moment = limits.moment


def _statuses(values: Any) -> builtins.list[str] | None:
    if not values:
        return None
    if isinstance(values, str):
        raise errors.InvalidArgument(
            f"statuses={limits.shown(values)}: pass a list, e.g. statuses=[{limits.shown(values)}]"
        )
    try:
        return [RunStatus(value).value for value in values]
    except ValueError:
        known = ", ".join(RunStatus)
        raise errors.InvalidArgument(f"statuses={limits.shown(values)}: use only {known}") from None


def _whole(value: Any, what: str, least: int) -> int | None:
    return limits.optional_whole_number(value, what, least, _BIGINT_MAX)


def run_uuid(value: Any) -> str:
    """A run id as the database takes it; anything else is not a run."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise errors.RunNotFound(
            f"{limits.shown(value)} is not a workflow run id: run ids are UUIDs, as in "
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
        self._runs = RunsRepo(store)
        #: lists and counts, which may lag behind: the replica's, when there is one
        self._listing = RunsRepo(reads_store(store))
        self._versions = VersionsRepo(store)
        self._settings = settings
        self._reader = reader
        self._astore = astore
        self._make_ref = make_ref
        #: ``hatchet.traces``, for the REST client's ObservabilityApi (set by the Hatchet)
        self.traces: TracesClient | None = None

    def get(self, workflow_run_id: str, *, task_events: bool = True) -> WorkflowRun:
        """The run with its task runs and their events (hatchet_sdk's ``task_events``);
        ``task_events=False`` (hatchnb's) skips reading the attempt history, for pollers."""
        run = self._runs.get_run(run_uuid(workflow_run_id))
        if not task_events:
            return run
        return dataclasses.replace(run, task_events=self._task_events(run))

    def get_task_run(self, task_run_id: str) -> TaskRun:
        """One task run by its id (``ctx.task_run_external_id``, ``.metadata.id`` of a run's
        task, ``task_runs[name].external_id``), as hatchet_sdk's ``V1TaskSummary``. A
        standalone task's run id names its one task too."""
        wanted = run_uuid(task_run_id)
        found = self._runs.task_run_by_external_id(wanted)
        if found is not None:
            return found
        try:
            tasks = [t for t in self._runs.get_run(wanted).tasks if t.kind == "task"]
        except errors.RunNotFound:
            tasks = []
        if len(tasks) == 1:
            return tasks[0]
        raise errors.RunNotFound(
            f"no task run has the id {wanted}: pass a task run's id, e.g. "
            "ctx.task_run_external_id or hatchet.runs.get(run_id).tasks[0].metadata.id"
        )

    async def aio_get_task_run(self, task_run_id: str) -> TaskRun:
        return await asyncio.to_thread(self.get_task_run, task_run_id)

    def _task_events(self, run: WorkflowRun) -> builtins.list[TaskEvent]:
        events: builtins.list[TaskEvent] = []
        for a in self._runs.attempts(run.workflow_run_id):
            task_id = ids.task_run_external_id(run.workflow_run_id, a.task_name)
            worker = str(a.worker_id) if a.worker_id else None
            events += attempt_events(
                task_id,
                a.task_name,
                a.attempt,
                a.outcome,
                a.error,
                a.started_at,
                a.finished_at,
                worker,
            )
        for task in run.tasks:
            if task.status == RunStatus.RUNNING:
                events += attempt_events(
                    task.external_id,
                    task.task_name,
                    task.attempt,
                    "RUNNING",
                    None,
                    task.started_at,
                    None,
                    task.worker_id,
                )
            elif task.status == RunStatus.SKIPPED:
                events.append(
                    TaskEvent(
                        task_id=task.external_id,
                        task_display_name=task.task_name,
                        event_type=V1TaskEventType.SKIPPED,
                        timestamp=task.finished_at,
                        attempt=task.attempt,
                    )
                )
        return events

    async def aio_get(self, workflow_run_id: str) -> WorkflowRun:
        return await asyncio.to_thread(self.get, workflow_run_id)

    def get_status(self, workflow_run_id: str) -> RunStatus:
        return self._runs.run_status(run_uuid(workflow_run_id))

    async def aio_get_status(self, workflow_run_id: str) -> RunStatus:
        return await asyncio.to_thread(self.get_status, workflow_run_id)

    def get_result(self, run_id: str) -> dict[str, Any]:
        return self._reader.result(run_uuid(run_id), None)

    async def aio_get_result(self, run_id: str) -> dict[str, Any]:
        return await self._reader.aio_result(run_uuid(run_id), None)

    def create(
        self,
        workflow_name: str,
        input: dict[str, Any],
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> WorkflowRun:
        """Start a run of a registered workflow by name, with the version registered under
        that name (no code needed here); the new run."""
        payload = json.loads(
            serialization.dump_json(input, "input", self._settings.max_payload_bytes)
        )
        metadata = json.loads(serialization.dump_metadata(additional_metadata or {}))
        priority = limits.optional_priority(priority)
        with self._store.transaction() as tx:
            name = namespaced(self._settings.namespace, workflow_name)
            target = trigger_target_in(tx, serialization.check_text(name, "workflow"))
            if target is None:
                raise errors.HatchnbError(
                    f"workflow {workflow_name!r} is not registered; register it (start a worker "
                    "with it, or call hatchet.register) before triggering it by name"
                )
            trigger = {"triggered_by": "runs.create"}
            run_id = start_run(tx, target, payload, metadata, priority, trigger)
        return self.get(str(run_id))

    async def aio_create(self, *args: Any, **kwargs: Any) -> WorkflowRun:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def get_details(self, external_id: str) -> WorkflowRunDetail:
        """The run's status, input, metadata and each task's status, output and error, by
        task name (hatchet_sdk's WorkflowRunDetail shape). As in Hatchet, a task appears
        once its parents are done (hatchnb's PENDING tasks are left out), and only a failed
        task has an error (why one was cancelled is in ``runs.get``)."""
        run = self.get(external_id, task_events=False)
        outputs = {t.task_name: t for t in self._runs.task_outputs([run.workflow_run_id])}
        evicted = {e.task_name for e in DurableRepo(self._store).evicted(run.workflow_run_id)}
        key = self._settings.signing_keys
        tasks = {
            t.task_name: TaskRunDetail(
                external_id=t.external_id,
                readable_id=t.task_name,
                status=t.status,
                output=_output_of(outputs.get(t.task_name), key),
                error=t.error if t.status == RunStatus.FAILED else None,
                is_evicted=t.task_name in evicted,
            )
            for t in run.tasks
            if t.status != RunStatus.PENDING
        }
        return WorkflowRunDetail(
            external_id=run.workflow_run_id,
            status=run.status,
            input=run.input,
            additional_metadata=run.additional_metadata,
            task_runs=tasks,
            done=run.status in FINAL,
        )

    async def aio_get_details(self, external_id: str) -> WorkflowRunDetail:
        return await asyncio.to_thread(self.get_details, external_id)

    def client(self) -> ApiClient:
        """hatchet_sdk's REST client handle, for the REST calls hatchnb answers
        (``hatchnb.clients.rest.api.task_api.TaskApi``)."""
        return ApiClient(runs=self, traces=self.traces)

    def restore_task(self, task_external_id: str) -> bool:
        """Resume an evicted durable task run now instead of when its wait ends (Hatchet's
        ``TaskApi.v1_task_restore``); False when it is not evicted (running, finished, or
        restored already)."""
        wanted = run_uuid(task_external_id)
        repo = DurableRepo(self._store)
        found = [
            e.id
            for e in repo.evicted()
            if wanted in (e.run_id, ids.task_run_external_id(e.run_id, e.task_name))
        ]
        return bool(found) and repo.restore(found) > 0

    async def aio_restore_task(self, task_external_id: str) -> bool:
        return await asyncio.to_thread(self.restore_task, task_external_id)

    def get_run_ref(self, workflow_run_id: str) -> WorkflowRunRef:
        return self._make_ref(run_uuid(workflow_run_id))

    @overload
    def list(
        self,
        since: datetime | None = None,
        only_tasks: Literal[False] = False,
        offset: int | None = None,
        limit: int | None = None,
        statuses: builtins.list[RunStatus] | builtins.list[str] | None = None,
        until: datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        workflow_ids: builtins.list[str] | None = None,
        worker_id: str | None = None,
        parent_task_external_id: str | None = None,
        triggering_event_external_id: str | None = None,
        include_payloads: bool = True,
        *,
        workflow_names: builtins.list[str] | None = None,
        parent_task_run_id: int | None = None,
    ) -> RunList: ...

    @overload
    def list(
        self,
        since: datetime | None = None,
        *,
        only_tasks: Literal[True],
        offset: int | None = None,
        limit: int | None = None,
        statuses: builtins.list[RunStatus] | builtins.list[str] | None = None,
        until: datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        workflow_ids: builtins.list[str] | None = None,
        worker_id: str | None = None,
        parent_task_external_id: str | None = None,
        triggering_event_external_id: str | None = None,
        include_payloads: bool = True,
        workflow_names: builtins.list[str] | None = None,
        parent_task_run_id: int | None = None,
    ) -> Rows[TaskRun]: ...

    def list(
        self,
        since: datetime | None = None,
        only_tasks: bool = False,
        offset: int | None = None,
        limit: int | None = None,
        statuses: builtins.list[RunStatus] | builtins.list[str] | None = None,
        until: datetime | None = None,
        additional_metadata: dict[str, Any] | None = None,
        workflow_ids: builtins.list[str] | None = None,
        worker_id: str | None = None,
        parent_task_external_id: str | None = None,
        triggering_event_external_id: str | None = None,
        include_payloads: bool = True,
        *,
        workflow_names: builtins.list[str] | None = None,
        parent_task_run_id: int | None = None,
    ) -> RunList | Rows[TaskRun]:
        """Runs created since ``since`` (default: one day ago), newest first, each with its
        task runs; a list that also has hatchet_sdk's ``.rows``. ``workflow_ids`` are
        ``workflow.id`` values; ``parent_task_external_id`` is the spawning task run's id (a
        standalone task's run id names its task). ``only_tasks=True`` (task runs instead of
        workflow runs) is not supported yet and raises."""
        where = self.run_query(
            since,
            until,
            statuses,
            additional_metadata,
            workflow_names,
            parent_task_run_id,
            workflow_ids=workflow_ids,
            worker_id=worker_id,
            parent_task_external_id=parent_task_external_id,
            triggering_event_external_id=triggering_event_external_id,
        )
        limit, offset = _whole(limit or 100, "limit", 1), _whole(offset or 0, "offset", 0)
        if only_tasks:
            return Rows(self._listing.list_task_runs(where, limit or 100, offset or 0))
        rows = self._listing.list_runs(where, limit or 100, offset or 0)
        if not include_payloads:
            rows = [dataclasses.replace(r, input=None) for r in rows]
        return RunList(rows)

    async def aio_list(self, *args: Any, **kwargs: Any) -> RunList:
        return await asyncio.to_thread(self.list, *args, **kwargs)

    def list_with_pagination(
        self, offset: int | None = None, limit: int | None = None, **filters: Any
    ) -> builtins.list[WorkflowRun]:
        """Every run ``list`` matches from ``offset`` on (``limit`` at a time), as a plain
        list; ``filters`` are ``list``'s."""
        page_size = limit or 1000
        found: builtins.list[WorkflowRun] = []
        while True:
            page = self.list(offset=(offset or 0) + len(found), limit=page_size, **filters)
            found.extend(page)
            if len(page) < page_size:
                return found

    async def aio_list_with_pagination(self, **kwargs: Any) -> builtins.list[WorkflowRun]:
        return await asyncio.to_thread(lambda: self.list_with_pagination(**kwargs))

    def run_query(
        self,
        *base: Any,
        workflow_ids: builtins.list[str] | None = None,
        worker_id: str | None = None,
        parent_task_external_id: str | None = None,
        triggering_event_external_id: str | None = None,
    ) -> RunQuery:
        """run_filters with hatchet_sdk's id filters resolved to what the store filters by."""
        narrowing: dict[str, Any] = {
            "worker_id": _uuid_or_none(worker_id, "worker_id"),
            "event_id": _uuid_or_none(triggering_event_external_id, "triggering_event_external_id"),
        }
        where = run_filters(*base, **narrowing)
        if workflow_ids is not None:
            wanted = {str(w) for w in workflow_ids}
            names = [w.name for w in self._versions.list_workflows() if w.metadata.id in wanted]
            where = dataclasses.replace(where, workflows=(where.workflows or []) + names)
        parent = _uuid_or_none(parent_task_external_id, "parent_task_external_id")
        if parent is not None:
            ids_ = self._parent_task_run_ids(parent, where.since)
            where = dataclasses.replace(
                where, parent_task_run_ids=(where.parent_task_run_ids or []) + ids_
            )
        return where

    def _parent_task_run_ids(self, external_id: str, since: datetime) -> builtins.list[int]:
        """The task runs a parent id names: every task of the run when it is a run id (a
        standalone task's run id is its task's id in hatchet_sdk), else the task run whose
        derived public id it is, among the tasks that spawned children since ``since``."""
        by_run = self._runs.task_run_ids(external_id)
        if by_run:
            return by_run
        return [
            row["id"]
            for row in self._runs.parent_tasks_since(since)
            if ids.task_run_external_id(row["run_id"], row["task_name"]) == external_id
        ]

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
        where = run_filters(
            since, until, statuses, additional_metadata, workflow_names, parent_task_run_id
        )
        return self._listing.count_runs(where, _whole(cap, "cap", 0))

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
        where = run_filters(
            since, until, None, additional_metadata, workflow_names, parent_task_run_id
        )
        return self._listing.status_counts(where, _whole(cap, "cap", 1))

    def attempts(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """Finished attempts of the run's task runs (retries, timeouts, hand-backs included),
        oldest first: task_name, attempt, worker_id, outcome, error, queued/started/finished."""
        return as_dicts(self._runs.attempts(run_uuid(run_id)))

    def logs_after(
        self, run_id: str, after: int = 0, limit: int = 1000
    ) -> builtins.list[dict[str, Any]]:
        """Log lines with an ``id`` greater than ``after`` (pass the last id seen to follow)."""
        after, limit = _whole(after, "after", 0) or 0, _whole(limit, "limit", 0) or 0
        return as_dicts(self._runs.logs_after(run_uuid(run_id), after, limit))

    def durable_log(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """The durable event log entries of the run's durable task runs, in order."""
        return as_dicts(self._runs.durable_log(run_uuid(run_id)))

    def reset_durable_task(
        self, task_external_id: str, node_id: int, branch_id: int, *, task_name: str | None = None
    ) -> DurableBranch:
        """Run a finished durable task again from position ``node_id`` (1 = its first
        durable call) of its log's branch ``branch_id`` (1 = the first execution): the calls
        before that node replay from the log, the rest are redone, on a new branch.

        ``task_external_id`` is the run id of a standalone durable task; for a workflow with
        several durable tasks, pass its run id and hatchnb's ``task_name=``."""
        node_id = limits.whole_number(node_id, "node_id (it starts at 1)", 1, limits.INT_MAX)
        branch_id = limits.whole_number(branch_id, "branch_id (it starts at 1)", 1, limits.INT_MAX)
        run_id = run_uuid(task_external_id)
        name, branch = self._runs.branch_durable_task(run_id, task_name, node_id, branch_id)
        external_id = ids.task_run_external_id(run_id, name)
        return DurableBranch(task_external_id=external_id, node_id=node_id, branch_id=branch)

    async def aio_reset_durable_task(
        self, task_external_id: str, node_id: int, branch_id: int, *, task_name: str | None = None
    ) -> DurableBranch:
        return await asyncio.to_thread(
            self.reset_durable_task, task_external_id, node_id, branch_id, task_name=task_name
        )

    def fork(
        self, run_id: str, from_task: str, input: dict[str, Any] | None = None
    ) -> WorkflowRunRef:
        """Start a new run of ``run_id``'s workflow from its task ``from_task`` (hatchnb's
        notebook loop, not in hatchet_sdk): the tasks that are not downstream of it and
        succeeded in ``run_id`` are not executed again, their outputs are copied (marked
        ``reused``); ``from_task`` and what is downstream run with the workflow's newest
        registered code (the cell you just edited). ``input`` replaces the run's input.
        The new run records ``forked_from`` and ``forked_at_task``. A durable task forked
        from runs again from its start: to redo only its later steps, use
        ``reset_durable_task``."""
        source = run_uuid(run_id)
        name = limits.check_name(from_task, "from_task")
        new_id, _ = fork_run(self._store, self._settings, source, name, input)
        return self._make_ref(new_id)

    async def aio_fork(
        self, run_id: str, from_task: str, input: dict[str, Any] | None = None
    ) -> WorkflowRunRef:
        return await asyncio.to_thread(self.fork, run_id, from_task, input)

    def forks(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """The runs forked from ``run_id``, oldest first: run_id, forked_at_task, status,
        created_at."""
        return as_dicts(LineageRepo(self._store).forks_of(run_uuid(run_id)))

    def diff(self, run_a: str, run_b: str) -> RunDiff:
        """What changed from run ``run_a`` to run ``run_b`` (hatchnb's, not in hatchet_sdk):
        the inputs as a JSON tree diff and, per task, whether its code (declaration and
        source) changed, its statuses and its output difference (a JSON tree diff, or
        shape, columns and changed cells for pickled pandas DataFrames), size-limited.
        ``.to_text()`` and, in Jupyter, an HTML table render it."""
        a = self.get(run_a, task_events=False)
        b = self.get(run_b, task_events=False)
        return diff_runs(self._store, self._settings.signing_keys, a, b)

    async def aio_diff(self, run_a: str, run_b: str) -> RunDiff:
        return await asyncio.to_thread(self.diff, run_a, run_b)

    def cancel(self, run_id: str) -> None:
        """Cancel a run and its child runs (``RunNotFound`` for an unknown id)."""
        self.get_status(run_id)
        self.bulk_cancel([run_id])

    async def aio_cancel(self, run_id: str) -> None:
        await asyncio.to_thread(self.cancel, run_id)

    def bulk_cancel(self, opts: BulkCancelReplayOpts | builtins.list[str]) -> None:
        """Cancel the runs ``opts`` names (hatchet_sdk's options, or a list of run ids)."""
        self._runs.cancel_runs(self._selected(opts))

    async def aio_bulk_cancel(self, opts: BulkCancelReplayOpts | builtins.list[str]) -> None:
        await asyncio.to_thread(self.bulk_cancel, opts)

    def replay(self, run_id: str, *, failed_only: bool = False) -> None:
        """Run a finished run again (see ``bulk_replay``; ``RunNotFound`` for an unknown
        id)."""
        self.get_status(run_id)
        self.bulk_replay([run_id], failed_only=failed_only)

    async def aio_replay(self, run_id: str, *, failed_only: bool = False) -> None:
        await asyncio.to_thread(self.replay, run_id, failed_only=failed_only)

    def bulk_replay(
        self, opts: BulkCancelReplayOpts | builtins.list[str], *, failed_only: bool = False
    ) -> None:
        """Run every task of the finished runs ``opts`` names again, as Hatchet does, with
        the workflow's newest registered code when its DAG is unchanged. Durable tasks keep
        their log, so completed sleeps, waits, memoized calls and children are not redone.

        hatchnb's ``failed_only=True`` runs only the failed and cancelled tasks and what is
        downstream of them, reusing the outputs of the tasks that succeeded (the notebook's
        edit-and-rerun loop); a run where nothing failed is run again whole."""
        self._runs.replay_runs(self._selected(opts), failed_only=failed_only)

    async def aio_bulk_replay(
        self, opts: BulkCancelReplayOpts | builtins.list[str], *, failed_only: bool = False
    ) -> None:
        await asyncio.to_thread(self.bulk_replay, opts, failed_only=failed_only)

    def bulk_cancel_by_filters_with_pagination(
        self,
        sleep_time: int = 3,
        chunk_size: int = 500,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: builtins.list[RunStatus] | None = None,
        additional_metadata: dict[str, str] | None = None,
        workflow_ids: builtins.list[str] | None = None,
    ) -> None:
        """Cancel the runs the filters select (by default the running and queued ones of the
        last day), ``chunk_size`` at a time, ``sleep_time`` seconds apart."""
        statuses = statuses or [RunStatus.RUNNING, RunStatus.QUEUED]
        window = (since, until, statuses, additional_metadata, workflow_ids)
        for chunk in self._chunks_by_filters(window, chunk_size, sleep_time):
            self._runs.cancel_runs(chunk)

    def bulk_replay_by_filters_with_pagination(
        self,
        sleep_time: int = 3,
        chunk_size: int = 500,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: builtins.list[RunStatus] | None = None,
        additional_metadata: dict[str, str] | None = None,
        workflow_ids: builtins.list[str] | None = None,
    ) -> None:
        """Replay the runs the filters select (by default the failed and cancelled ones of
        the last day), ``chunk_size`` at a time, ``sleep_time`` seconds apart."""
        statuses = statuses or [RunStatus.FAILED, RunStatus.CANCELLED]
        window = (since, until, statuses, additional_metadata, workflow_ids)
        for chunk in self._chunks_by_filters(window, chunk_size, sleep_time):
            self._runs.replay_runs(chunk, failed_only=False)

    def _chunks_by_filters(
        self, window: tuple[Any, ...], chunk_size: int, sleep_time: float
    ) -> Iterator[builtins.list[str]]:
        """The ids of the runs the filters select (selected once, before the first chunk),
        ``chunk_size`` at a time, sleeping ``sleep_time`` seconds between chunks."""
        since, until, statuses, additional_metadata, workflow_ids = window
        until = until or datetime.now(UTC)
        filters = RunFilter(
            since=since or until - timedelta(days=1),
            until=until,
            statuses=statuses,
            additional_metadata=additional_metadata,
            workflow_ids=workflow_ids,
        )
        size = _whole(chunk_size, "chunk_size", 1) or 1
        selected = self._selected(BulkCancelReplayOpts(filters=filters))
        for start in range(0, len(selected), size):
            if start:
                time.sleep(sleep_time)
            yield selected[start : start + size]

    async def aio_bulk_cancel_by_filters_with_pagination(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.bulk_cancel_by_filters_with_pagination, *args, **kwargs)

    async def aio_bulk_replay_by_filters_with_pagination(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.bulk_replay_by_filters_with_pagination, *args, **kwargs)

    def _selected(self, opts: BulkCancelReplayOpts | builtins.list[str]) -> builtins.list[str]:
        if not isinstance(opts, BulkCancelReplayOpts):
            return [run_uuid(r) for r in opts]
        if opts.ids:
            return [run_uuid(r) for r in opts.ids]
        assert opts.filters is not None  # the model validates one of the two
        f = opts.filters
        runs = self.list_with_pagination(
            since=f.since,
            until=f.until,
            statuses=f.statuses,
            workflow_ids=f.workflow_ids,
            additional_metadata=f.additional_metadata,
            include_payloads=False,
        )
        return [r.workflow_run_id for r in runs]

    async def subscribe_to_stream(self, workflow_run_id: str) -> AsyncIterator[str]:
        """Yield the chunks the run's tasks send with ``ctx.put_stream``, from the first one,
        until the run is finished and every chunk has been read."""
        runs = AsyncRunsRepo(await self._astore())
        async with notify.alisten(self._runs.dsn, notify.STREAM) as listener:
            wait = self._settings.poll_interval
            after = 0
            while True:
                chunks = await runs.stream_chunks_after(workflow_run_id, after)
                if not chunks:
                    raise errors.RunNotFound(f"no workflow run has the id {workflow_run_id}")
                for chunk in chunks:
                    if chunk.id is not None and chunk.data is not None:
                        after = chunk.id
                        yield chunk.data
                if chunks[0].run_status in FINAL:
                    return
                await listener.wait_one(wait)  # a chunk was written, or the poll timed out

    def logs(self, run_id: str, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        return as_dicts(self._runs.logs(run_uuid(run_id), _whole(limit, "limit", 0) or 0))

    def get_notebook(
        self, task_run_id_or_run_id: int | str, task_name: str | None = None
    ) -> bytes | None:
        """The executed notebook (nbformat JSON) of a notebook task's newest attempt, also
        when it failed; by task run id, or by run id and task name."""
        key = task_run_id_or_run_id
        by_task = isinstance(key, int) or (
            isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 20
        )
        if not by_task and task_name is None:
            raise errors.InvalidArgument("pass the task name with a run id, or pass a task run id")
        if task_name is not None:
            task_name = limits.check_name(task_name, "task_name")
        if by_task:
            task_run_id = limits.whole_number(int(key), "task run id", 1, _BIGINT_MAX)
            return self._runs.latest_notebook(task_run_id, None, task_name)
        return self._runs.latest_notebook(None, run_uuid(key), task_name)

    def render_notebook_html(
        self, task_run_id_or_run_id: int | str, task_name: str | None = None
    ) -> str | None:
        """``get_notebook`` rendered as a standalone HTML page (None when there is none)."""
        from hatchnb import notebook_tasks

        notebook = self.get_notebook(task_run_id_or_run_id, task_name)
        return notebook_tasks.render_notebook_html(notebook) if notebook else None

    def notebooks(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """The run's tasks that stored an executed notebook: task_name, attempt, failed."""
        return as_dicts(self._runs.notebooks(run_uuid(run_id)))

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
            raise errors.InvalidArgument(
                "retention is off (HATCHNB_RETENTION=0): give older_than= (--older-than)"
            )
        return prune(
            self._runs.dsn,
            older_than,
            batch_size=batch_size or settings.retention_batch,
            dry_run=dry_run,
        )


def _output_of(task: TaskOutput | None, key: signing.SigningKeys) -> Any:
    if task is None or task.status != "SUCCEEDED":
        return None
    return serialization.load_output(task.output, task.output_blob, key)
