"""Runs: creating them, reading them and their tasks, outputs, logs and notebooks; cancel
and replay. Statements in ``sql/runs.sql`` (creating runs: ``sql/enqueue.sql``)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from hatchnb import errors, ids
from hatchnb.records import RunStatus, TaskRun, WorkflowRun
from hatchnb.store import history
from hatchnb.store.cancel_notes import cancel_payload
from hatchnb.store.db import AsyncStore, Row, Store, Tx, jsonb

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


@dataclass(frozen=True)
class RunFilter:
    """The filters of the run list queries; ``None`` skips a predicate."""

    since: datetime
    until: datetime | None = None
    statuses: list[str] | None = None
    workflows: list[str] | None = None
    metadata: dict[str, Any] | None = None
    #: runs spawned by any of these task runs (an empty list matches nothing)
    parent_task_run_ids: list[int] | None = None
    #: runs started by this event
    event_id: str | None = None
    #: runs with a task run (last) taken by this worker
    worker_id: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "statuses": self.statuses,
            "workflows": self.workflows,
            # no filter is NULL (the queries skip the predicate), never `@> '{}'`
            "metadata": jsonb(self.metadata) if self.metadata else None,
            "parent_task_run_ids": self.parent_task_run_ids,
            "event_id": self.event_id,
            "worker_id": self.worker_id,
        }

    @property
    def summarizable(self) -> bool:
        """Whether only the time range, statuses and workflows filter the runs (so archived
        runs can be counted from hourly totals)."""
        return not dataclasses.replace(self, workflows=None).narrows

    def summary_params(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "statuses": self.statuses,
            "workflows": self.workflows,
        }

    @property
    def narrows(self) -> bool:
        """Whether anything but the time range and statuses filters the runs."""
        return any(
            v is not None
            for v in (
                self.metadata or None,
                self.workflows,
                self.parent_task_run_ids,
                self.event_id,
                self.worker_id,
            )
        )


@dataclass(frozen=True)
class TaskRunFacts:
    """Facts about a running task's run that its context reads only when asked."""

    child_key: str | None
    parent_run_id: uuid.UUID | None
    event_key: str | None
    retries: int


@dataclass(frozen=True)
class TaskOutput:
    """What a result needs of one task run: its output (JSON or pickled) or its error."""

    run_id: uuid.UUID
    task_name: str
    kind: str
    status: str
    output: Any
    output_blob: bytes | None
    error: str | None


@dataclass(frozen=True)
class Attempt:
    """One finished attempt of a task run (a retry, timeout or hand-back included)."""

    task_run_id: int
    task_name: str
    attempt: int
    worker_id: uuid.UUID | None
    outcome: str
    error: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class LogLine:
    task_name: str
    attempt: int
    level: str
    message: str
    created_at: datetime


@dataclass(frozen=True)
class NumberedLogLine:
    """A log line with its id, to follow a run's log from the last id seen."""

    id: int
    task_name: str
    attempt: int
    level: str
    message: str
    created_at: datetime


@dataclass(frozen=True)
class DurableEntry:
    """One entry of a durable task run's event log."""

    task_name: str
    branch: int
    seq: int
    kind: str
    request: Any
    wake_at: datetime | None
    event_key: str | None
    result: Any
    done: bool
    created_at: datetime


@dataclass(frozen=True)
class StoredNotebook:
    """A task of a run with an executed notebook (its newest attempt)."""

    task_name: str
    task_run_id: int
    attempt: int
    failed: bool
    created_at: datetime


@dataclass(frozen=True)
class StreamChunk:
    """A stream chunk after a position (``id`` and ``data`` are None when there is none)
    with the status of its run."""

    id: int | None
    data: str | None
    run_status: str


def as_dicts(records: list[Any]) -> list[dict[str, Any]]:
    """Records as the plain dicts the public run API returns."""
    return [asdict(r) for r in records]


def _records(cls: type[R], rows: list[Row]) -> list[R]:
    names = [f.name for f in fields(cls)]
    return [cls(**{n: r[n] for n in names}) for r in rows]


#: the history range (runs.sql: history_range) of runs none of whose id hours was archived:
#: a read given it reads the hot tables only
HOT_ONLY: Row = {"history_from": "infinity", "history_until": "-infinity"}


def _found_all(rows: list[Row], run_ids: list[Any], by: str) -> bool:
    """Whether every run has rows among ``rows`` (``by``: the column naming their run)."""
    if len(run_ids) == 1:
        return bool(rows)
    return {str(r[by]) for r in rows} >= {str(i) for i in run_ids}


def _whole_page(hot_rows: list[Row], limit: int) -> bool:
    """Whether a page read from the hot table alone is the whole page: it is full, and its
    last run was created after every archived run, so none of those sorts into it."""
    if len(hot_rows) < limit:
        return False
    before = hot_rows[-1]["history_created_before"]
    return before is None or hot_rows[-1]["created_at"] >= before


#: how many archived runs' history ranges a RunsRepo remembers (then it forgets them all)
KNOWN_RANGES = 1024


class RunsRepo:
    def __init__(self, store: Store) -> None:
        self._db = store
        #: the history range that last found an archived run (a run page reads it again and
        #: again: its tasks, logs, attempts, each refresh)
        self._known_ranges: dict[str, Row] = {}

    @property
    def dsn(self) -> str:
        return self._db.dsn

    # ---- creating -------------------------------------------------------------------

    def insert_runs(self, runs_json: str, version_id: int) -> set[uuid.UUID]:
        """Insert a JSON array of runs; the ids actually inserted (a child key that already
        existed inserts nothing)."""
        rows = self._db.fetch_all("insert_runs", runs=runs_json, version_id=version_id)
        return {r["id"] for r in rows}

    def insert_runs_in_chunks(self, chunks: Iterable[str], version_id: int) -> set[uuid.UUID]:
        """``insert_runs`` of several JSON arrays in one transaction, each sent as soon as
        ``chunks`` yields it (the next array is built while the server inserts the last)."""
        params = ({"runs": runs_json, "version_id": version_id} for runs_json in chunks)
        rows = self._db.fetch_all_pipelined("insert_runs", params)
        return {r["id"] for r in rows if r["id"] is not None}

    def insert_runs_claiming(
        self,
        rows: list[str],
        run_ids: list[uuid.UUID],
        keys: list[str],
        claim: IdempotencyClaim,
        version_id: int,
    ) -> tuple[set[uuid.UUID], dict[int, uuid.UUID]]:
        """``insert_runs`` of the runs that get their idempotency key, in one transaction:
        the keyed runs inserted, and for each run not started the run holding its key."""
        with self._db.transaction() as conn:
            holders = claim_idempotency_keys_in(conn, claim, keys, run_ids)
            kept = [row for i, row in enumerate(rows) if i not in holders]
            if not kept:
                return set(), holders
            params = {"runs": "[" + ",".join(kept) + "]", "version_id": version_id}
            found = conn.execute(self._db.query("insert_runs"), params).fetchall()
            return {r["id"] for r in found if r["id"] is not None}, holders

    def insert_debounced(
        self, row: str, run_id: uuid.UUID, claim: DebounceClaim, version_id: int
    ) -> uuid.UUID:
        """Insert a debounced run, starting ``claim.window`` from now; when a run with its
        key is still waiting, give that one this run's input and metadata and push its start
        back instead. The id of the run that will run."""
        with self._db.transaction() as conn:
            return insert_debounced_in(conn, row, run_id, claim, version_id)

    def find_child_run(self, parent_task_run_id: int | None, child_key: str) -> uuid.UUID | None:
        row = self._db.fetch_one(
            "find_child_run", parent_task_run_id=parent_task_run_id, child_key=child_key
        )
        return row["id"] if row else None

    # ---- reading --------------------------------------------------------------------

    def _of_runs(
        self, query: str, run_ids: list[Any], by: str = "run_id", **params: Any
    ) -> list[Row]:
        return self._ranged(query, run_ids, None, params, by)[0]

    def _ranged(
        self,
        query: str,
        run_ids: list[Any],
        bounds: Row | None,
        params: dict[str, Any],
        by: str = "run_id",
    ) -> tuple[list[Row], Row | None]:
        """A named by-run-id read that reads only the days the runs can be in; the rows and
        the history range used. Without ``bounds`` (and no range remembered for the run)
        it reads the hot tables first: runs that all have rows there are done in one
        statement (``by``: the column naming a row's run). Otherwise the runs' range
        (``history_range``, a statement of its own, read after) says whether history can
        hold them, and the read is done again with it until the range stays the same
        across a read (the archive may move runs meanwhile). A run's rows move together,
        so a read that found rows of a run found them all."""
        hours = {"hours": ids.run_id_hours(run_ids)}
        if bounds is None and len(run_ids) == 1:
            # the range that found the run before (hot rows are in every range): checked
            # like any other below
            bounds = self._known_ranges.get(str(run_ids[0]))
        if bounds is None:
            rows = self._db.fetch_all(query, **params, **HOT_ONLY)
            if _found_all(rows, run_ids, by):
                return rows, HOT_ONLY
            bounds = self._db.fetch_one("history_range", **hours)
            if bounds == HOT_ONLY:  # nothing of theirs was archived before that read
                return rows, bounds
        while True:
            rows = self._db.fetch_all(query, **params, **(bounds or {}))
            if _found_all(rows, run_ids, by):
                self._remember_range(run_ids, bounds)
                return rows, bounds
            again = self._db.fetch_one("history_range", **hours)
            if again == bounds:
                return rows, bounds
            bounds = again

    def _remember_range(self, run_ids: list[Any], bounds: Row | None) -> None:
        if len(run_ids) != 1 or bounds is None or bounds == HOT_ONLY:
            return
        if len(self._known_ranges) >= KNOWN_RANGES:
            self._known_ranges.clear()
        self._known_ranges[str(run_ids[0])] = bounds

    def get_run(self, run_id: str) -> WorkflowRun:
        rows, bounds = self._ranged("get_run", [run_id], None, {"id": run_id}, by="id")
        if not rows:
            raise errors.RunNotFound(f"no workflow run has the id {run_id}")
        row = rows[0]
        metadata = row["additional_metadata"]
        # the run's range serves its task runs too (a run that moves meanwhile is read again)
        task_rows, _ = self._ranged("get_run_tasks", [run_id], bounds, {"run_id": row["id"]})
        return WorkflowRun.from_row(row, [TaskRun.from_row(r, metadata) for r in task_rows])

    def run_status(self, run_id: str) -> RunStatus:
        rows = self._of_runs("get_run", [run_id], by="id", id=run_id)
        if not rows:
            raise errors.RunNotFound(f"no workflow run has the id {run_id}")
        return RunStatus(rows[0]["status"])

    def run_statuses(self, run_ids: list[str]) -> dict[str, RunStatus]:
        rows = self._of_runs("run_statuses", run_ids, by="id", ids=run_ids)
        return {str(r["id"]): RunStatus(r["status"]) for r in rows}

    def task_outputs(self, run_ids: list[str]) -> list[TaskOutput]:
        return _records(TaskOutput, self._of_runs("get_run_outputs", run_ids, ids=run_ids))

    def list_runs(self, where: RunFilter, limit: int, offset: int) -> list[WorkflowRun]:
        """A page of runs, each with its task runs (one query for the page's tasks). The hot
        table is read first: a busy deployment's newest runs are all there, and the read
        then plans and opens none of the history's day partitions."""
        params = {**where.params(), "limit": limit, "offset": offset}
        rows = self._db.fetch_all("list_runs", **params, history_from="infinity")
        if not _whole_page(rows, limit):
            rows = self._db.fetch_all("list_runs", **params, history_from=where.since)
        metadata = {r["id"]: r["additional_metadata"] for r in rows}
        tasks: dict[Any, list[TaskRun]] = {run_id: [] for run_id in metadata}
        if rows:
            for task in self._of_runs("get_runs_tasks", list(metadata), ids=list(metadata)):
                run_id = task["run_id"]
                tasks[run_id].append(TaskRun.from_row(task, metadata[run_id]))
        return [WorkflowRun.from_row(r, tasks[r["id"]]) for r in rows]

    def list_task_runs(self, where: RunFilter, limit: int, offset: int) -> list[TaskRun]:
        """The task runs of the runs ``where`` picks (its statuses are task statuses)."""
        rows = self._db.fetch_all("list_task_runs", **where.params(), limit=limit, offset=offset)
        return [TaskRun.from_row(r, r["additional_metadata"]) for r in rows]

    def task_run_by_external_id(self, external_id: str) -> TaskRun | None:
        low, high, tail = ids.run_locator(external_id)
        rows = self._db.fetch_all("task_runs_of_located_run", low=low, high=high, tail=tail)
        found = (TaskRun.from_row(r, r["additional_metadata"]) for r in rows)
        return next((t for t in found if t.external_id == external_id), None)

    def parent_tasks_since(self, since: datetime) -> list[Row]:
        """``id, run_id, task_name`` of the task runs that spawned children since ``since``."""
        return self._db.fetch_all("parent_tasks_of_children", since=since)

    def task_run_ids(self, run_id: str) -> list[int]:
        rows = self._of_runs("task_run_ids_of_run", [run_id], run_id=run_id)
        return [r["id"] for r in rows]

    def count_runs(self, where: RunFilter, cap: int | None) -> int:
        if where.summarizable:
            row = self._db.fetch_one("count_runs_summarized", **where.summary_params(), cap=cap)
        else:
            row = self._db.fetch_one("count_runs", **where.params(), cap=cap)
        return int(row["total"]) if row else 0

    def status_counts(self, where: RunFilter, cap: int | None) -> dict[str, int]:
        if where.summarizable:
            params = where.summary_params() | {"statuses": list(RunStatus)}
            rows = self._db.fetch_all("run_status_counts_summarized", **params, cap=cap)
        else:
            params = where.params()
            del params["statuses"]
            rows = self._db.fetch_all("run_status_counts", **params, cap=cap)
        return {r["status"]: int(r["total"]) for r in rows}

    def attempts(self, run_id: str) -> list[Attempt]:
        return _records(Attempt, self._of_runs("run_attempts", [run_id], run_id=run_id))

    def logs(self, run_id: str, limit: int) -> list[LogLine]:
        rows = self._of_runs("run_logs", [run_id], run_id=run_id, limit=limit)
        return _records(LogLine, rows)

    def task_run_logs(
        self, task_run_id: int, since: datetime | None, until: datetime | None, limit: int
    ) -> list[Row]:
        """``attempt, level, message, created_at`` of one task run's log lines."""
        return self._db.fetch_all(
            "task_run_logs", task_run_id=task_run_id, since=since, until=until, limit=limit
        )

    def logs_after(self, run_id: str, after: int, limit: int) -> list[NumberedLogLine]:
        rows = self._of_runs("run_logs_after", [run_id], run_id=run_id, after=after, limit=limit)
        return _records(NumberedLogLine, rows)

    def durable_log(self, run_id: str) -> list[DurableEntry]:
        return _records(DurableEntry, self._db.fetch_all("run_durable_log", run_id=run_id))

    def latest_notebook(
        self, task_run_id: int | None, run_id: str | None, task_name: str | None
    ) -> bytes | None:
        row = self._db.fetch_one(
            "latest_task_notebook", task_run_id=task_run_id, run_id=run_id, task_name=task_name
        )
        return bytes(row["notebook"]) if row else None

    def notebooks(self, run_id: str) -> list[StoredNotebook]:
        rows = self._of_runs("run_notebooks", [run_id], run_id=run_id)
        return _records(StoredNotebook, rows)

    def task_output_blob(self, run_id: str, task_name: str) -> bytes | None:
        """A task's pickled output (outputs JSON cannot hold)."""
        rows = self._of_runs("task_output_blob", [run_id], run_id=run_id, task_name=task_name)
        return rows[0]["output_blob"] if rows else None

    def task_run_facts(self, task_run_id: int) -> TaskRunFacts | None:
        row = self._db.fetch_one("task_run_facts", id=task_run_id)
        return TaskRunFacts(**row) if row else None

    # ---- commands -------------------------------------------------------------------

    def save_notebook(
        self,
        task_run_id: int,
        attempt: int,
        run_id: str,
        task_name: str,
        notebook: bytes,
        failed: bool,
    ) -> None:
        """The executed notebook of a notebook task's attempt (also a failed one)."""
        self._db.execute(
            "save_task_notebook",
            task_run_id=task_run_id,
            attempt=attempt,
            run_id=run_id,
            task_name=task_name,
            notebook=notebook,
            failed=failed,
        )

    def cancel_runs(self, run_ids: list[str]) -> None:
        """Cancel the runs and tell the workers running their tasks, in one transaction."""
        with self._db.transaction() as conn:
            running = conn.execute(self._db.query("cancel_runs"), {"ids": run_ids}).fetchall()
            if running:
                payload = cancel_payload((r["task_run_id"], r["attempt"]) for r in running)
                conn.execute(self._db.query("notify_cancel"), {"payload": payload})

    def replay_runs(self, run_ids: list[str], *, failed_only: bool = False) -> None:
        """Re-queue the tasks of finished runs (``failed_only``: the failed and cancelled
        ones and what is downstream)."""
        with self._db.transaction() as conn:
            history.restore_in(conn, run_ids)
            _replay_in(conn, run_ids, failed_only=failed_only)

    def branch_durable_task(
        self, run_id: str, task_name: str | None, node_id: int, branch: int
    ) -> tuple[str, int]:
        """Start a new branch of a finished run's durable task log from ``node_id`` of
        ``branch`` and run that task (and what is downstream) again; returns the task's name
        and the new branch."""
        with self._db.transaction() as conn:
            history.restore_in(conn, [run_id])
            query = self._db.query
            rows = conn.execute(query("durable_tasks_of_run"), {"run_id": run_id}).fetchall()
            task = _durable_task_to_reset(run_id, rows, task_name)
            params = {"task_run_id": task["id"], "branch": branch, "node_id": node_id}
            new = conn.execute(query("durable_branch"), params).fetchone()
            if new is None:
                raise errors.InvalidInput(
                    f"durable task {task['task_name']!r} of run {run_id} has no branch {branch}"
                )
            _replay_in(conn, [run_id], task_name=task["task_name"])
            return task["task_name"], new["new_branch"]


class AsyncRunsRepo:
    def __init__(self, store: AsyncStore) -> None:
        self._db = store

    async def insert_runs(self, runs_json: str, version_id: int) -> set[uuid.UUID]:
        rows = await self._db.fetch_all("insert_runs", runs=runs_json, version_id=version_id)
        return {r["id"] for r in rows}

    async def stream_chunks_after(self, run_id: str, after: int) -> list[StreamChunk]:
        """The run's chunks with ids above ``after``; none when there is no such run."""
        hours = {"hours": ids.run_id_hours([run_id])}
        bounds: Row | None = HOT_ONLY
        while True:  # as RunsRepo._ranged: the hot tables first, then the run's days
            params = {"run_id": run_id, "after": after, **(bounds or {})}
            rows = await self._db.fetch_all("stream_chunks_after", **params)
            again = None if rows else await self._db.fetch_one("history_range", **hours)
            if rows or again == bounds:
                return [StreamChunk(r["id"], r["data"], r["status"]) for r in rows]
            bounds = again


def insert_runs_in(tx: Tx, runs_json: str, version_id: int) -> None:
    """``insert_runs`` inside the caller's transaction (events, crons, schedules)."""
    tx.execute(Store.query("insert_runs"), {"runs": runs_json, "version_id": version_id})


def insert_debounced_in(
    tx: Tx, row: str, run_id: uuid.UUID, claim: DebounceClaim, version_id: int
) -> uuid.UUID:
    """``RunsRepo.insert_debounced`` inside the caller's transaction (events, crons,
    schedules, ``runs.create``)."""
    query = Store.query
    key = {"workflow_name": claim.workflow_name, "key": claim.key}
    held = tx.execute(query("take_debounce_key"), {**key, "run_id": run_id}).fetchone()
    assert held is not None
    waiting = held["run_id"]
    if not held["inserted"]:
        delay = {"run_id": waiting, "window": claim.window}
        if tx.execute(query("defer_debounced_tasks"), delay).fetchall():
            params = {"run_id": waiting, "input": jsonb(claim.input), "meta": jsonb(claim.metadata)}
            tx.execute(query("replace_debounced_input"), params)
            return uuid.UUID(str(waiting))
        tx.execute(query("move_debounce_key"), {**key, "run_id": run_id})
    tx.execute(query("insert_runs"), {"runs": f"[{row}]", "version_id": version_id})
    tx.execute(query("defer_debounced_tasks"), {"run_id": run_id, "window": claim.window})
    return run_id


@dataclass(frozen=True)
class IdempotencyClaim:
    """The idempotency keys a trigger of one workflow takes."""

    workflow_name: str
    method: str
    ttl: timedelta


@dataclass(frozen=True)
class DebounceClaim:
    """One debounced trigger: its workflow and key, the window, its input and metadata."""

    workflow_name: str
    key: str
    window: timedelta
    input: Any
    metadata: dict[str, Any]


def claim_idempotency_keys_in(
    tx: Tx, claim: IdempotencyClaim, keys: list[str], run_ids: list[uuid.UUID]
) -> dict[int, uuid.UUID]:
    """Take ``keys[i]`` for ``run_ids[i]`` inside the caller's transaction; for each position
    whose key is held, the run holding it."""
    params = {
        "workflow_name": claim.workflow_name,
        "method": claim.method,
        "ttl": claim.ttl,
        "keys": keys,
        "run_ids": run_ids,
    }
    taken = {r["run_id"] for r in tx.execute(Store.query("claim_idempotency_keys"), params)}
    lost = [i for i, run_id in enumerate(run_ids) if run_id not in taken]
    if not lost:
        return {}
    params = {"keys": [keys[i] for i in lost]}
    rows = tx.execute(Store.query("idempotency_key_holders"), params).fetchall()
    holder = {r["key"]: r["run_id"] for r in rows}
    return {i: holder[keys[i]] for i in lost}


def _replay_in(
    conn: Tx, run_ids: list[str], *, failed_only: bool = False, task_name: str | None = None
) -> None:
    query = Store.query
    params = {"ids": run_ids, "failed_only": failed_only, "task_name": task_name}
    replayed = [r["id"] for r in conn.execute(query("replay_runs"), params)]
    if replayed:
        conn.execute(query("repin_replayed_runs"), {"ids": replayed})
        conn.execute(query("restore_hooks"), {"ids": replayed})
        conn.execute(query("requeue_ready_task_runs"), {"ids": replayed})
        conn.execute(query("notify_queued"))


def _durable_task_to_reset(
    run_id: str, rows: list[dict[str, Any]], task_name: str | None
) -> dict[str, Any]:
    """The durable task of a finished run a reset names (or its only one)."""
    if not rows:
        raise errors.InvalidInput(f"run {run_id} has no durable task to reset")
    if rows[0]["run_status"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        raise errors.InvalidInput(
            f"run {run_id} is {rows[0]['run_status']}: reset a durable task once its run "
            "has finished (cancel it first to reset it now)"
        )
    named = [r for r in rows if task_name in (None, r["task_name"])]
    if len(named) != 1:
        names = ", ".join(repr(r["task_name"]) for r in rows)
        raise errors.InvalidInput(
            f"run {run_id} has durable tasks {names}: pass task_name= to say which to reset"
        )
    return named[0]
