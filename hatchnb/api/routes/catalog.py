"""What is registered and scheduled: workflows, workers, crons and one-off schedules; pause
and unpause workflows, workers and crons, and backfill a cron's missed ticks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from hatchnb.api import models
from hatchnb.api.auth import ADMIN, READ, Caller
from hatchnb.api.failures import ERROR_RESPONSES
from hatchnb.api.routes.common import PREFIX, hatchet_of
from hatchnb.records import WorkflowSummary

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)

Offset = Annotated[int, Query(ge=0, le=10**9)]
Limit = Annotated[int, Query(ge=1, le=models.MAX_PAGE)]


def _fields(record: Any, model: type[BaseModel]) -> dict[str, Any]:
    values = dataclasses.asdict(record)
    return {name: values[name] for name in model.model_fields if name in values}


@router.get("/workflows", tags=["workflows"])
def list_workflows(request: Request, caller: Caller = READ) -> list[models.WorkflowView]:
    """Registered workflows and standalone tasks, with the JSON schema of their input."""
    hatchet = hatchet_of(request)
    return [_workflow_view(hatchet, w) for w in hatchet.workflows.list()]


@router.post("/workflows/{workflow_name}/pause", tags=["workflows"])
def pause_workflow(
    workflow_name: str,
    request: Request,
    body: models.PauseRequest | None = None,
    caller: Caller = ADMIN,
) -> models.WorkflowView:
    """Pause a workflow (by name or id): its runs stay queued, no worker starts them, and
    those still queued ``queue_ttl_seconds`` after they were queued (or after the pause
    began) are cancelled. Pausing again changes the options and keeps the start."""
    body = body or models.PauseRequest()
    hatchet = hatchet_of(request)
    workflow = hatchet.workflows.pause(
        workflow_name,
        timedelta(seconds=body.queue_ttl_seconds),
        body.paused_workflow_cron_run_queue_behavior,
        body.paused_workflow_scheduled_run_queue_behavior,
    )
    return _workflow_view(hatchet, workflow)


@router.post("/workflows/{workflow_name}/unpause", tags=["workflows"])
def unpause_workflow(
    workflow_name: str, request: Request, caller: Caller = ADMIN
) -> models.WorkflowView:
    """Let workers start a paused workflow's queued runs again."""
    hatchet = hatchet_of(request)
    return _workflow_view(hatchet, hatchet.workflows.unpause(workflow_name))


def _workflow_view(hatchet: Hatchet, workflow: WorkflowSummary) -> models.WorkflowView:
    spec = hatchet.workflows.get_version(workflow.latest_version_id).spec
    return models.WorkflowView(
        **_fields(workflow, models.WorkflowView),
        id=workflow.metadata.id,
        input_schema=spec.get("input_schema"),
    )


@router.get("/workers", tags=["workers"])
def list_workers(
    request: Request, limit: Limit = 100, caller: Caller = READ
) -> list[models.WorkerView]:
    """Workers, with their status, slots and running task runs."""
    workers = hatchet_of(request).workers.list(limit=limit)
    return [models.WorkerView.of(w) for w in workers]


@router.post("/workers/{worker_id}/pause", tags=["workers"])
def pause_worker(worker_id: str, request: Request, caller: Caller = ADMIN) -> models.WorkerView:
    """Stop a running worker claiming task runs (its running ones finish); it sees the
    change at its next heartbeat. 400 for a worker that has stopped."""
    return models.WorkerView.of(hatchet_of(request).workers.pause(worker_id))


@router.post("/workers/{worker_id}/unpause", tags=["workers"])
def unpause_worker(worker_id: str, request: Request, caller: Caller = ADMIN) -> models.WorkerView:
    """Let a paused worker claim again (at its next heartbeat)."""
    return models.WorkerView.of(hatchet_of(request).workers.unpause(worker_id))


@router.get("/crons", tags=["crons"])
def list_crons(
    request: Request,
    workflow_name: str | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
    caller: Caller = READ,
) -> list[models.CronView]:
    crons = hatchet_of(request).cron.list(offset=offset, limit=limit, workflow_name=workflow_name)
    return [models.CronView(**_fields(c, models.CronView)) for c in crons]


@router.post("/crons", tags=["crons"], status_code=201)
def create_cron(
    body: models.CronRequest, request: Request, caller: Caller = ADMIN
) -> models.CronView:
    """Create (or, for the same workflow and cron name, replace) a cron."""
    cron = hatchet_of(request).cron.create(
        body.workflow_name,
        body.cron_name,
        body.expression,
        body.input,
        body.additional_metadata,
        body.priority,
        body.timezone,
    )
    return models.CronView(**_fields(cron, models.CronView))


@router.delete("/crons/{cron_id}", tags=["crons"])
def delete_cron(cron_id: str, request: Request, caller: Caller = ADMIN) -> models.Deleted:
    crons = hatchet_of(request).cron
    cron = crons.get(cron_id)  # 404 for an unknown cron
    crons.delete(cron.id)
    return models.Deleted(id=cron.id)


@router.post("/crons/{cron_id}/pause", tags=["crons"])
def pause_cron(cron_id: str, request: Request, caller: Caller = ADMIN) -> models.CronView:
    """Pause one cron: its ticks start no run until it is unpaused."""
    cron = hatchet_of(request).cron.pause(cron_id)
    return models.CronView(**_fields(cron, models.CronView))


@router.post("/crons/{cron_id}/unpause", tags=["crons"])
def unpause_cron(cron_id: str, request: Request, caller: Caller = ADMIN) -> models.CronView:
    """Let a paused cron fire again, from its next tick (backfill starts missed ones)."""
    cron = hatchet_of(request).cron.unpause(cron_id)
    return models.CronView(**_fields(cron, models.CronView))


@router.post("/crons/{cron_id}/backfill", tags=["crons"])
def backfill_cron(
    cron_id: str, body: models.BackfillRequest, request: Request, caller: Caller = ADMIN
) -> models.RunIds:
    """Start one run per tick of the cron from ``since`` to ``until`` (both included; at
    most 1,000 ticks) that has no run yet; the new runs, oldest tick first. Each run's
    metadata holds ``hatchnb__cron_id`` and its tick, ``hatchnb__cron_tick``."""
    until = body.until or datetime.now(UTC)
    return models.RunIds(run_ids=hatchet_of(request).cron.backfill(cron_id, body.since, until))


@router.get("/schedules", tags=["schedules"])
def list_schedules(
    request: Request,
    workflow_name: str | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
    caller: Caller = READ,
) -> list[models.ScheduleView]:
    schedules = hatchet_of(request).scheduled.list(
        offset=offset, limit=limit, workflow_name=workflow_name
    )
    return [models.ScheduleView(**_fields(s, models.ScheduleView)) for s in schedules]


@router.post("/schedules", tags=["schedules"], status_code=201)
def create_schedule(
    body: models.ScheduleRequest, request: Request, caller: Caller = ADMIN
) -> models.ScheduleView:
    """Start a run of a registered workflow once, at ``trigger_at``."""
    schedule = hatchet_of(request).scheduled.create(
        body.workflow_name,
        body.trigger_at,
        body.input,
        body.additional_metadata,
        body.priority,
    )
    return models.ScheduleView(**_fields(schedule, models.ScheduleView))


@router.delete("/schedules/{schedule_id}", tags=["schedules"])
def delete_schedule(schedule_id: str, request: Request, caller: Caller = ADMIN) -> models.Deleted:
    """Delete a schedule that has not started its run."""
    scheduled = hatchet_of(request).scheduled
    schedule = scheduled.get(schedule_id)  # 404 for an unknown schedule
    scheduled.delete(schedule.id)
    return models.Deleted(id=schedule.id)
