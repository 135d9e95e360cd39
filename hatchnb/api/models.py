"""The HTTP API's request and response bodies (they make /api/openapi.json). Responses are
built from hatchnb's records; request fields carry the limits the feature clients check,
so a bad value is a 422 that names the field before anything is called."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi.encoders import jsonable_encoder
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from hatchnb import limits, records
from hatchnb.records import RunStatus

#: the widest page a list endpoint returns
MAX_PAGE = 1000
#: the most events one bulk push takes
MAX_BULK_EVENTS = 1000


def _not_a_number(value: Any) -> Any:
    """Times are ISO 8601 text: pydantic would also take a number as a Unix time, which
    the schema (format date-time) does not allow."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?[\d.]+(e[-+]?\d+)?\s*", value, re.I)
    ):
        raise ValueError("write the time as ISO 8601 text with a zone, e.g. 2030-01-01T09:00:00Z")
    return value


#: a time with a time zone, as ISO 8601 text
Moment = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]

#: a workflow, cron or event name
Name = Annotated[str, StringConstraints(min_length=1)]

Priority = Field(default=None, ge=1, le=3, strict=True, description="1 (low) to 3 (high)")


class _Body(BaseModel):
    """Request bodies refuse unknown fields: a misspelt option is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every error: ``error`` says what went wrong and what to do."""

    error: str
    detail: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: str
    database: str | None = None


# ---- runs --------------------------------------------------------------------------------


class TriggerRequest(_Body):
    input: dict[str, Any] = Field(
        default_factory=dict, description="checked against the workflow's input schema"
    )
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Priority
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="a second trigger with the same key (same token, within 24 h) starts "
        "nothing and returns the first run",
    )


class TriggerResponse(BaseModel):
    run_id: str
    workflow_name: str
    #: False when the idempotency key was held: the run is the earlier one
    created: bool
    status: RunStatus


class TaskView(BaseModel):
    task_name: str
    external_id: str
    status: RunStatus
    attempt: int
    retry_count: int
    worker_id: str | None
    output: Any = None
    error: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    parents: list[str]


class RunView(BaseModel):
    run_id: str
    workflow_name: str
    status: RunStatus
    done: bool
    input: Any = None
    additional_metadata: dict[str, Any]
    priority: int
    error: str | None
    triggered_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    tasks: list[TaskView]

    @classmethod
    def of(cls, run: records.WorkflowRun, outputs: dict[str, Any] | None = None) -> RunView:
        outputs = outputs or {}
        return cls(
            run_id=run.workflow_run_id,
            workflow_name=run.workflow_name,
            status=run.status,
            done=run.status in records.FINAL,
            input=json_safe(run.input),
            additional_metadata=json_safe(run.additional_metadata),
            priority=run.priority,
            error=run.error,
            triggered_by=run.triggered_by,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_ms=_milliseconds(run.started_at, run.finished_at),
            tasks=[_task_view(t, outputs.get(t.task_name)) for t in run.tasks],
        )


def _task_view(task: records.TaskRun, output: Any) -> TaskView:
    return TaskView(
        task_name=task.task_name,
        external_id=task.external_id,
        status=task.status,
        attempt=task.attempt,
        retry_count=task.retry_count,
        worker_id=task.worker_id,
        output=json_safe(output),
        error=task.error,
        queued_at=task.queued_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        duration_ms=task.duration,
        parents=list(task.parents),
    )


class RunPage(BaseModel):
    rows: list[RunView]
    offset: int
    limit: int
    #: the offset of the next page; None when this page was the last
    next_offset: int | None


class RunFilterBody(_Body):
    since: Moment
    until: Moment | None = None
    statuses: list[RunStatus] | None = None
    workflow_names: list[Name] | None = None
    additional_metadata: dict[str, str] | None = None


class RunSelection(_Body):
    """The runs a bulk cancel or replay acts on: ``ids``, or ``filters``, exactly one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["ids"]}, {"required": ["filters"]}]},
    )

    ids: Annotated[list[UUID], Field(min_length=1, max_length=MAX_PAGE)] | SkipJsonSchema[None] = (
        None
    )
    filters: RunFilterBody | SkipJsonSchema[None] = None
    failed_only: bool = Field(
        default=False,
        strict=True,
        description="replay only: run again only the failed tasks and after",
    )

    @model_validator(mode="after")
    def _one_of(self) -> RunSelection:
        for name in ("ids", "filters"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null: leave it out instead")
        if (self.ids is None) == (self.filters is None):
            raise ValueError("give exactly one of ids (a non-empty list) and filters")
        return self


class ReplayRequest(_Body):
    failed_only: bool = Field(default=False, strict=True)


class RunIds(BaseModel):
    run_ids: list[str]


class LogLine(BaseModel):
    id: int
    task_name: str
    attempt: int
    level: str
    message: str
    created_at: datetime


# ---- events --------------------------------------------------------------------------------


class EventRequest(_Body):
    key: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Priority
    scope: str | None = Field(default=None, min_length=1)


class BulkEventRequest(_Body):
    events: list[EventRequest] = Field(min_length=1, max_length=MAX_BULK_EVENTS)


class EventView(BaseModel):
    event_id: str
    key: str
    payload: dict[str, Any]
    additional_metadata: dict[str, Any]
    scope: str | None
    created_at: datetime
    #: the runs the event started
    run_ids: list[str]

    @classmethod
    def of(cls, event: records.PushedEvent) -> EventView:
        return cls(
            event_id=event.event_id,
            key=event.key,
            payload=json.loads(event.payload),
            additional_metadata=json.loads(event.additional_metadata),
            scope=event.scope,
            created_at=event.event_timestamp,
            run_ids=event.run_ids,
        )


# ---- catalog: workflows, workers, crons, schedules ----------------------------------------


class WorkflowView(BaseModel):
    id: str
    name: str
    versions: int
    latest_version_id: int
    updated_at: datetime
    is_paused: bool
    input_schema: dict[str, Any] | None = None


#: what a paused workflow does with the runs its crons or schedules start meanwhile
QueueBehavior = Literal["DROP", "QUEUE"]


class PauseRequest(_Body):
    """``hatchet.workflows.pause``'s options; every one may be left out."""

    queue_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=1,
        le=int(limits.MAX_WINDOW.total_seconds()),
        strict=True,
        description="runs still queued this long after they were queued (or after the "
        "pause began) are cancelled; default a day, as the dashboard",
    )
    paused_workflow_cron_run_queue_behavior: QueueBehavior = Field(
        default="QUEUE", description="a cron tick meanwhile queues its run, or starts none"
    )
    paused_workflow_scheduled_run_queue_behavior: QueueBehavior = Field(
        default="QUEUE", description="a schedule firing meanwhile queues its run, or starts none"
    )


class WorkerView(BaseModel):
    id: str
    name: str
    #: ACTIVE, PAUSED (hatchet.workers.pause, or draining after SIGTERM), STOPPED or DEAD
    status: str
    slots: int
    running: int
    labels: dict[str, Any]
    workflows: list[str] | None
    hostname: str
    pid: int
    python_version: str
    started_at: datetime
    last_heartbeat_at: datetime

    @classmethod
    def of(cls, worker: records.WorkerRecord) -> WorkerView:
        return cls(
            id=worker.id,
            name=worker.name,
            status=worker.status,
            slots=worker.slots,
            running=worker.running,
            labels=worker.label_map,
            workflows=worker.workflows,
            hostname=worker.hostname,
            pid=worker.pid,
            python_version=worker.python_version,
            started_at=worker.started_at,
            last_heartbeat_at=worker.last_heartbeat_at,
        )


class CronRequest(_Body):
    workflow_name: str = Field(min_length=1)
    cron_name: str = Field(min_length=1)
    expression: str = Field(min_length=1, examples=["*/5 * * * *"])
    input: dict[str, Any] = Field(default_factory=dict)
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Priority
    timezone: str = "UTC"


class CronView(BaseModel):
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
    last_error: str | None
    paused: bool


class BackfillRequest(_Body):
    since: Moment = Field(description="the first tick to start, if one falls here or after")
    until: Moment | None = Field(default=None, description="the last one (default: now)")


class ScheduleRequest(_Body):
    workflow_name: str = Field(min_length=1)
    trigger_at: Moment = Field(description="with a time zone, e.g. 2030-01-01T09:00:00Z")
    input: dict[str, Any] = Field(default_factory=dict)
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Priority


class ScheduleView(BaseModel):
    id: str
    workflow_name: str
    trigger_at: datetime
    input: dict[str, Any]
    additional_metadata: dict[str, Any]
    priority: int | None
    workflow_run_id: str | None
    error: str | None


class Deleted(BaseModel):
    id: str
    deleted: bool = True


def _milliseconds(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else int((end - start).total_seconds() * 1000)


def json_safe(value: Any) -> Any:
    """A value as JSON can carry it: pickled task outputs may be any Python object, which
    is shown as its ``repr`` rather than failing the response."""
    try:
        encoded = jsonable_encoder(value)
        json.dumps(encoded, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return {"repr": repr(value)[:10_000]}
    return encoded
