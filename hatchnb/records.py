"""The records hatchnb hands out: runs, task runs, workers, crons, schedules, events,
filters, workflow versions, alert settings and flow-control usage. Frozen; built from
database rows by ``from_row``."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from hatchnb import ids


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
    #: hatchet_sdk's name for SUCCEEDED (an alias: the same member)
    COMPLETED = "SUCCEEDED"

    @classmethod
    def _missing_(cls, value: object) -> RunStatus | None:
        return cls.SUCCEEDED if value == "COMPLETED" else None


V1TaskStatus = RunStatus


FINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

#: the error of a task run cancelled by its cancel_if condition, and of its downstream tasks
CANCELLED_BY_CONDITION = "cancelled by cancel_if"
CANCELLED_UPSTREAM = "an upstream task did not succeed"
#: the error of a task run that cancelled itself (ctx.cancel())
CANCELLED_BY_TASK = "cancelled by the task itself (ctx.cancel)"

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ResourceMeta:
    """The ``.metadata`` of hatchet_sdk's REST records: the record's public id and times."""

    id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


class _OfWorkflow:
    """A record of one workflow: hatchet_sdk's ``workflow_id`` (derived from the name)."""

    workflow_name: str

    @property
    def workflow_id(self) -> str:
        return ids.workflow_id(self.workflow_name)


class _Identified(_OfWorkflow):
    """A record whose hatchet_sdk ``.metadata`` is its id alone (crons, schedules, filters)."""

    id: str

    @property
    def metadata(self) -> ResourceMeta:
        return ResourceMeta(self.id)


def _duration_ms(started: datetime | None, finished: datetime | None) -> int | None:
    if started is None or finished is None:
        return None
    return int((finished - started).total_seconds() * 1000)


class V1TaskEventType(StrEnum):
    """What happened to a task run (hatchet_sdk's names; hatchnb records the ones below)."""

    STARTED = "STARTED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    CANCELLED = "CANCELLED"
    REASSIGNED = "REASSIGNED"
    SKIPPED = "SKIPPED"


class StepRunEventType(StrEnum):
    """hatchet_sdk's task event names in its run listeners (importable for its code)."""

    STEP_RUN_EVENT_TYPE_STARTED = "STEP_RUN_EVENT_TYPE_STARTED"
    STEP_RUN_EVENT_TYPE_COMPLETED = "STEP_RUN_EVENT_TYPE_COMPLETED"
    STEP_RUN_EVENT_TYPE_FAILED = "STEP_RUN_EVENT_TYPE_FAILED"
    STEP_RUN_EVENT_TYPE_CANCELLED = "STEP_RUN_EVENT_TYPE_CANCELLED"
    STEP_RUN_EVENT_TYPE_TIMED_OUT = "STEP_RUN_EVENT_TYPE_TIMED_OUT"
    STEP_RUN_EVENT_TYPE_STREAM = "STEP_RUN_EVENT_TYPE_STREAM"


class WorkflowRunEventType(StrEnum):
    """hatchet_sdk's run event names in its run listeners (importable for its code)."""

    WORKFLOW_RUN_EVENT_TYPE_STARTED = "WORKFLOW_RUN_EVENT_TYPE_STARTED"
    WORKFLOW_RUN_EVENT_TYPE_COMPLETED = "WORKFLOW_RUN_EVENT_TYPE_COMPLETED"
    WORKFLOW_RUN_EVENT_TYPE_FAILED = "WORKFLOW_RUN_EVENT_TYPE_FAILED"
    WORKFLOW_RUN_EVENT_TYPE_CANCELLED = "WORKFLOW_RUN_EVENT_TYPE_CANCELLED"
    WORKFLOW_RUN_EVENT_TYPE_TIMED_OUT = "WORKFLOW_RUN_EVENT_TYPE_TIMED_OUT"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskEvent:
    """One event of ``hatchet.runs.get(id).task_events``, derived from the attempt history."""

    task_id: str
    task_display_name: str
    event_type: V1TaskEventType
    timestamp: datetime | None
    attempt: int
    worker_id: str | None = None
    error_message: str | None = None

    @property
    def message(self) -> str:
        return self.error_message or self.event_type.lower()


#: a finished attempt's outcome -> the events it ends with
_ATTEMPT_EVENTS: dict[tuple[str, bool], tuple[V1TaskEventType, ...]] = {
    ("SUCCEEDED", False): (V1TaskEventType.FINISHED,),
    ("FAILED", True): (V1TaskEventType.FAILED,),
    ("FAILED", False): (V1TaskEventType.FAILED,),
    ("CANCELLED", True): (V1TaskEventType.CANCELLED,),
    ("CANCELLED", False): (V1TaskEventType.CANCELLED,),
    # back to the queue with an error: failed and retried; without one: handed back
    ("QUEUED", True): (V1TaskEventType.FAILED, V1TaskEventType.RETRYING),
    ("QUEUED", False): (V1TaskEventType.REASSIGNED,),
}


def attempt_events(
    task_id: str,
    task_name: str,
    attempt: int,
    outcome: str,
    error: str | None,
    started_at: datetime | None,
    finished_at: datetime | None,
    worker_id: str | None,
) -> list[TaskEvent]:
    """The events of one finished attempt: STARTED, then how it ended."""

    def event(kind: V1TaskEventType, at: datetime | None, error: str | None) -> TaskEvent:
        return TaskEvent(
            task_id=task_id,
            task_display_name=task_name,
            event_type=kind,
            timestamp=at,
            attempt=attempt,
            worker_id=worker_id,
            error_message=error,
        )

    ends = _ATTEMPT_EVENTS.get((outcome, error is not None), ())
    return [event(V1TaskEventType.STARTED, started_at, None)] + [
        event(kind, finished_at, error) for kind in ends
    ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskRun(_OfWorkflow):
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
    #: the workflow run this task run belongs to, its workflow, and the run's metadata
    run_id: str = ""
    workflow_name: str = ""
    additional_metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: in a forked run: the source run's task run whose output this one reuses (it was not
    #: executed again); None for a task run that was executed
    reused_from: int | None = None

    @property
    def reused(self) -> bool:
        return self.reused_from is not None

    @classmethod
    def from_row(cls, row: dict[str, Any], run_metadata: dict[str, Any] | None = None) -> TaskRun:
        return cls(
            id=row["id"],
            run_id=str(row["run_id"]),
            workflow_name=row.get("workflow_name") or "",
            additional_metadata=run_metadata or {},
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
            reused_from=row.get("reused_from"),
        )

    # hatchet_sdk's V1TaskSummary names for the same facts

    @property
    def metadata(self) -> ResourceMeta:
        return ResourceMeta(self.external_id, self.queued_at, self.finished_at or self.started_at)

    @property
    def display_name(self) -> str:
        """Hatchet's ``<task name>-<unix time it was queued>`` (the bare name before)."""
        if self.queued_at is None:
            return self.task_name
        return f"{self.task_name}-{int(self.queued_at.timestamp())}"

    @property
    def task_external_id(self) -> str:
        return self.external_id

    @property
    def workflow_run_external_id(self) -> str:
        return self.run_id

    @property
    def error_message(self) -> str | None:
        return self.error

    @property
    def duration(self) -> int | None:
        """Milliseconds from start to finish (None while it has not finished)."""
        return _duration_ms(self.started_at, self.finished_at)


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowRun(_OfWorkflow):
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
    #: what happened to its task runs, oldest first (filled by ``hatchet.runs.get``)
    task_events: list[TaskEvent] = dataclasses.field(default_factory=list)
    #: what started it: None (a trigger in code), "cron:<name>", "schedule", "event:<key>",
    #: "runs.create"
    triggered_by: str | None = None
    #: ``runs.fork``: the run this one was forked from and the task it was forked at
    forked_from: str | None = None
    forked_at_task: str | None = None

    @property
    def trigger(self) -> str:
        """How the run was started: manual, child, cron, schedule, event or fork."""
        if self.parent_task_run_id is not None:
            return "child"
        source = (self.triggered_by or "").split(":", 1)[0]
        return source if source in ("cron", "schedule", "event", "fork") else "manual"

    @property
    def run_id(self) -> str:
        return self.workflow_run_id

    # hatchet_sdk's REST names for the same facts (V1TaskSummary, V1WorkflowRunDetails)

    @property
    def metadata(self) -> ResourceMeta:
        return ResourceMeta(self.workflow_run_id, self.created_at, self.finished_at)

    @property
    def run(self) -> WorkflowRun:
        """hatchet_sdk's ``runs.get(id).run``: the run itself."""
        return self

    @property
    def workflow_run_external_id(self) -> str:
        return self.workflow_run_id

    @property
    def task_external_id(self) -> str:
        """V1TaskSummary's task id: the run's own id, which names a standalone task's task
        run too (``runs.get_task_run``); a DAG run's tasks are in ``tasks``."""
        return self.workflow_run_id

    @property
    def display_name(self) -> str:
        return self.workflow_name

    @property
    def children(self) -> list[TaskRun]:
        """The run's task runs (hatchet_sdk lists a DAG run's tasks as its children)."""
        return self.tasks

    @property
    def output(self) -> Any:
        """As Hatchet's run summary: the output of the task that succeeded last (a
        one-task run's output; a DAG's leaf, usually); ``None`` before one has. The
        outputs of every task are ``outputs``."""
        done = [t for t in self.tasks if t.status == RunStatus.SUCCEEDED and t.finished_at]
        last = max(done, key=lambda t: (t.finished_at or datetime.min, t.id), default=None)
        return last.output if last else None

    @property
    def outputs(self) -> dict[str, Any]:
        """``{task name: output}`` of the task runs that succeeded (JSON outputs only)."""
        return {t.task_name: t.output for t in self.tasks if t.status == RunStatus.SUCCEEDED}

    @property
    def retry_count(self) -> int:
        return max((t.retry_count for t in self.tasks), default=0)

    @property
    def attempt(self) -> int:
        return max((t.attempt for t in self.tasks), default=0)

    @property
    def error_message(self) -> str | None:
        return self.error

    @property
    def duration(self) -> int | None:
        """Milliseconds from start to finish (None while it has not finished)."""
        return _duration_ms(self.started_at, self.finished_at)

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
            triggered_by=row.get("triggered_by"),
            forked_from=str(row["forked_from"]) if row.get("forked_from") else None,
            forked_at_task=row.get("forked_at_task"),
        )


@dataclasses.dataclass(frozen=True)
class WorkerLabelRecord:
    """One label of a listed worker (hatchet_sdk's REST WorkerLabel: ``.key``, ``.value``)."""

    key: str
    value: Any


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerRecord:
    id: str
    name: str
    slots: int
    #: as hatchet_sdk lists them; ``label_map`` has them as a dict
    labels: list[WorkerLabelRecord]
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
        labels = [WorkerLabelRecord(k, v) for k, v in (row["labels"] or {}).items()]
        return cls(**{**row, "id": str(row["id"]), "labels": labels})

    @property
    def label_map(self) -> dict[str, Any]:
        return {label.key: label.value for label in self.labels}

    @property
    def metadata(self) -> ResourceMeta:
        return ResourceMeta(self.id, self.started_at, self.last_heartbeat_at)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CronWorkflow(_Identified):
    id: str
    workflow_name: str
    name: str
    expression: str
    timezone: str
    input: dict[str, Any]
    additional_metadata: dict[str, Any]
    priority: int | None
    next_fire_at: datetime
    last_fired_at: datetime | None
    #: why the latest tick started no run (None when it started one)
    last_error: str | None = None
    #: paused with ``hatchet.cron.pause``: its ticks start no run
    paused: bool = False

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CronWorkflow:
        return cls(
            id=str(row["id"]),
            workflow_name=row["workflow_name"],
            name=row["name"],
            expression=row["expression"],
            timezone=row["timezone"],
            input=row["input"],
            additional_metadata=row["additional_metadata"],
            priority=row["priority"],
            next_fire_at=row["next_fire_at"],
            last_fired_at=row["last_fired_at"],
            last_error=row.get("last_error"),
            paused=row.get("paused_at") is not None,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScheduledRun(_Identified):
    id: str
    workflow_name: str
    trigger_at: datetime
    input: dict[str, Any]
    additional_metadata: dict[str, Any]
    priority: int | None
    workflow_run_id: str | None
    #: why it could not start its run; a failed schedule is not tried again
    error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduledRun:
        run_id = row["run_id"]
        return cls(
            id=str(row["id"]),
            workflow_name=row["workflow_name"],
            trigger_at=row["run_at"],
            input=row["input"],
            additional_metadata=row["additional_metadata"],
            priority=row["priority"],
            workflow_run_id=str(run_id) if run_id else None,
            error=row.get("error"),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    event_id: str
    key: str
    payload: dict[str, Any]
    additional_metadata: dict[str, Any]
    scope: str | None
    created_at: datetime
    run_ids: list[str]
    #: the webhook the event came through (hatchet.webhooks), else None
    triggering_webhook_name: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], run_ids: list[Any] | None = None) -> Event:
        return cls(
            event_id=str(row["id"]),
            key=row["key"],
            payload=row["payload"],
            additional_metadata=row["additional_metadata"],
            scope=row["scope"],
            created_at=row["created_at"],
            run_ids=[str(r) for r in run_ids or []],
            triggering_webhook_name=row.get("triggering_webhook_name"),
        )

    @property
    def metadata(self) -> ResourceMeta:
        return ResourceMeta(self.event_id, self.created_at, self.created_at)

    @property
    def triggered_runs(self) -> list[EventTriggeredRun]:
        """hatchet_sdk's V1Event name for the runs the event started."""
        return [EventTriggeredRun(workflow_run_id=r) for r in self.run_ids]


@dataclasses.dataclass(frozen=True, kw_only=True)
class EventTriggeredRun:
    """A run an event started (hatchet_sdk's V1EventTriggeredRun)."""

    workflow_run_id: str
    filter_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PushedEvent:
    """What ``hatchet.event.push`` returns, shaped as hatchet_sdk's Event: ``payload`` and
    ``additional_metadata`` as JSON text; ``run_ids`` (the runs it started) is hatchnb's.
    ``hatchet.event.get/list`` give the stored ``Event`` with dicts."""

    event_id: str
    key: str
    payload: str
    additional_metadata: str
    scope: str | None
    event_timestamp: datetime
    run_ids: list[str]
    tenant_id: str = ""

    @classmethod
    def of(cls, event: Event) -> PushedEvent:
        return cls(
            event_id=event.event_id,
            key=event.key,
            payload=json.dumps(event.payload),
            additional_metadata=json.dumps(event.additional_metadata),
            scope=event.scope,
            event_timestamp=event.created_at,
            run_ids=event.run_ids,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Filter(_Identified):
    id: str
    workflow_name: str
    expression: str
    scope: str
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Filter:
        return cls(
            id=str(row["id"]),
            workflow_name=row["workflow_name"],
            expression=row["expression"],
            scope=row["scope"],
            payload=row["payload"],
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowSummary:
    name: str
    #: number of registered versions
    versions: int
    latest_version_id: int
    #: when the newest version was registered
    updated_at: datetime
    #: paused with ``hatchet.workflows.pause``: its runs stay queued
    is_paused: bool = False

    @property
    def metadata(self) -> ResourceMeta:
        """hatchet_sdk's ``.metadata.id``: the workflow's id (derived from its name)."""
        return ResourceMeta(ids.workflow_id(self.name), None, self.updated_at)


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowVersion:
    id: int
    workflow_name: str
    content_hash: str
    python_version: str
    created_at: datetime
    spec: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkflowVersion:
        return cls(**row)

    @property
    def parents(self) -> dict[str, list[str]]:
        """``{task: [parent, ...]}`` of the DAG (hooks excluded)."""
        return {t["name"]: list(t["parents"]) for t in self.spec.get("tasks", [])}

    @property
    def sources(self) -> dict[str, str]:
        """``{task: source}``, empty for versions registered before sources were stored."""
        return dict(self.spec.get("sources") or {})


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmailSettings:
    host: str
    port: int = 25
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    #: upgrade the connection with STARTTLS before logging in
    starttls: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "recipients": list(self.recipients)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EmailSettings:
        return cls(**{**data, "recipients": tuple(data["recipients"])})


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlertSettings:
    slack_webhook_url: str | None = None
    email: EmailSettings | None = None
    #: alert when a run fails
    on_failure: bool = True
    #: alert when a run fails because a task was not started within its schedule_timeout
    on_schedule_timeout: bool = True
    #: at most one alert per workflow per window; the rest go into a digest
    window_seconds: int = 300

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AlertSettings:
        return cls(
            slack_webhook_url=row["slack_webhook_url"],
            email=EmailSettings.from_json(row["email"]) if row["email"] else None,
            on_failure=row["on_failure"],
            on_schedule_timeout=row["on_schedule_timeout"],
            window_seconds=row["window_seconds"],
        )

    @property
    def channels(self) -> list[str]:
        return [c for c, on in (("slack", self.slack_webhook_url), ("email", self.email)) if on]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Delivery:
    id: int
    #: failure, schedule_timeout, digest or test
    kind: str
    channel: str
    workflow_name: str | None
    run_id: str | None
    subject: str
    body: str
    #: PENDING, SENT or ERROR
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Delivery:
        run_id = row["run_id"]
        return cls(**{**row, "run_id": str(run_id) if run_id else None})


class RateLimitOrderByField(StrEnum):
    """What ``hatchet.rate_limits.list`` sorts by (hatchet_sdk's names)."""

    KEY = "key"
    VALUE = "value"
    LIMITVALUE = "limitValue"


class RateLimitOrderByDirection(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RateLimitUsage:
    key: str
    limit: int
    duration: str
    #: units used in the current window
    used: int
    window_start: datetime
    #: queued task runs that consume this key
    queued: int

    # hatchet_sdk's RateLimit fields
    @property
    def limit_value(self) -> int:
        return self.limit

    @property
    def value(self) -> int:
        """Units left in the current window."""
        return max(self.limit - self.used, 0)

    @property
    def window(self) -> str:
        return self.duration

    @property
    def last_refill(self) -> datetime:
        return self.window_start


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConcurrencyKeyUsage:
    workflow_name: str
    #: None for a workflow-level expression
    task_name: str | None
    expression: str
    key: str
    strategy: str
    max_runs: int
    #: runs (or task runs) holding a slot of this key now
    running: int
    #: task runs waiting for this key
    queued: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskRunDetail:
    """One task of ``hatchet.runs.get_details``, shaped as hatchet_sdk's TaskRunDetail."""

    external_id: str
    readable_id: str
    status: RunStatus
    output: Any = None
    error: str | None = None
    is_evicted: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowRunDetail:
    """``hatchet.runs.get_details``: a run's status, input and each task, by task name."""

    external_id: str
    status: RunStatus
    input: Any
    additional_metadata: dict[str, Any]
    task_runs: dict[str, TaskRunDetail]
    done: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class DurableBranch:
    """``hatchet.runs.reset_durable_task``: the durable task reset, the node it replays from
    and the new branch of its log."""

    task_external_id: str
    node_id: int
    branch_id: int


class Rows(list[T]):
    """A list of records that also answers hatchet_sdk's ``.rows`` (its REST list shape)."""

    @property
    def rows(self) -> list[T]:
        return list(self)


class RunList(Rows[WorkflowRun]):
    """``hatchet.runs.list``: runs, newest first."""


class Role(StrEnum):
    """What a dashboard user may do (docs/security.md)."""

    #: sees every page, changes nothing
    VIEWER = "viewer"
    #: also cancels, replays and triggers runs, and manages crons, schedules and events
    OPERATOR = "operator"
    #: also changes the alert settings
    ADMIN = "admin"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DashboardUser:
    name: str
    role: Role
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DashboardUser:
        return cls(
            name=row["name"],
            role=Role(row["role"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One action taken from the dashboard."""

    id: int
    at: datetime
    #: the user who acted
    actor: str
    #: their role then
    role: str
    #: cancel, replay, trigger_cron, ...
    action: str
    #: what it acted on: run ids, a cron id, a workflow name ...
    target: str
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditEntry:
        return cls(**row)


class TokenScope(StrEnum):
    """What an HTTP API token may do (docs/http-api.md)."""

    #: reads runs (inputs and outputs too), workflows, workers, crons, schedules
    READ = "read"
    #: starts runs and pushes events; reads only the runs it started
    TRIGGER = "trigger"
    #: everything: also cancels, replays, and creates or deletes crons and schedules
    ADMIN = "admin"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiToken:
    """An HTTP API token as stored (its secret is shown once, at creation, never again)."""

    id: int
    name: str
    scope: TokenScope
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiToken:
        return cls(**{**row, "scope": TokenScope(row["scope"])})


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowDeclaration:
    """What ``workflow.to_proto()`` gives: the declaration hatchet_sdk would send to its
    engine (its ``CreateWorkflowVersionRequest`` field names), as plain values: hatchnb has
    no protobuf. ``cron_input`` and ``input_json_schema`` are JSON text (None when unset)."""

    name: str
    description: str | None
    version: str | None
    event_triggers: list[str]
    cron_triggers: list[str]
    cron_input: str | None
    tasks: list[dict[str, Any]]
    sticky: str | None
    default_priority: int
    input_json_schema: str | None

    def HasField(self, field_name: str) -> bool:
        """Whether an optional field is set, as a protobuf message answers (its name)."""
        if field_name not in {f.name for f in dataclasses.fields(self)}:
            raise ValueError(f"WorkflowDeclaration has no field {field_name!r}")
        value = getattr(self, field_name)
        return value is not None and value != [] and value != ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskLogLine:
    """A log line of a task run (hatchet_sdk's ``V1LogLine`` names); ``level`` is Hatchet's
    (DEBUG, INFO, WARN, ERROR)."""

    created_at: datetime
    message: str
    level: str
    #: the claim of the task run that wrote it (1 first); hatchnb does not record the retry
    #: count per line, so ``retry_count`` is None
    attempt: int
    task_external_id: str
    task_display_name: str
    retry_count: int | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskMetrics:
    """Task runs per status (hatchet_sdk's ``metrics.get_task_metrics``)."""

    cancelled: int = 0
    completed: int = 0
    failed: int = 0
    queued: int = 0
    running: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskStatusStat:
    total: int
    #: when the oldest of them was queued (queued) or started (running)
    oldest: datetime | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskStat:
    """The queued and running task runs of one task (``metrics.get_task_stats``)."""

    queued: TaskStatusStat | None = None
    running: TaskStatusStat | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TraceSpan:
    """One span of a run's trace (hatchet_sdk's OtelSpan fields)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    span_name: str
    span_kind: str
    service_name: str
    status_code: str
    status_message: str | None
    duration_ns: int
    created_at: datetime
    resource_attributes: dict[str, str]
    span_attributes: dict[str, str]
    scope_name: str | None
    scope_version: str | None
    retry_count: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TraceSpan:
        attributes = dict(row["span_attributes"] or {})
        return cls(
            trace_id=row["trace_id"],
            span_id=row["span_id"],
            parent_span_id=row["parent_span_id"],
            span_name=row["name"],
            span_kind=row["kind"],
            service_name=row["service_name"],
            status_code=row["status_code"],
            status_message=row["status_message"],
            duration_ns=int(row["duration_ns"]),
            created_at=row["started_at"],
            resource_attributes=dict(row["resource_attributes"] or {}),
            span_attributes=attributes,
            scope_name=row["scope_name"],
            scope_version=row["scope_version"],
            retry_count=int(attributes.get("hatchet.retry_count", 0) or 0),
        )

    def to_json(self) -> dict[str, Any]:
        """hatchet_sdk's REST shape (camelCase)."""
        return {
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "parentSpanId": self.parent_span_id,
            "spanName": self.span_name,
            "spanKind": self.span_kind,
            "serviceName": self.service_name,
            "statusCode": self.status_code,
            "statusMessage": self.status_message,
            "durationNs": self.duration_ns,
            "createdAt": self.created_at.isoformat(),
            "resourceAttributes": self.resource_attributes,
            "spanAttributes": self.span_attributes,
            "scopeName": self.scope_name,
            "scopeVersion": self.scope_version,
            "retryCount": self.retry_count,
        }
