"""What is registered and scheduled: workflows, workers, crons and one-off schedules."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from hatchnb.api import models
from hatchnb.api.auth import ADMIN, READ, Caller
from hatchnb.api.failures import ERROR_RESPONSES
from hatchnb.api.routes.common import PREFIX, hatchet_of

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
    found = []
    for w in hatchet.workflows.list():
        spec = hatchet.workflows.get_version(w.latest_version_id).spec
        found.append(
            models.WorkflowView(
                **_fields(w, models.WorkflowView),
                id=w.metadata.id,
                input_schema=spec.get("input_schema"),
            )
        )
    return found


@router.get("/workers", tags=["workers"])
def list_workers(
    request: Request, limit: Limit = 100, caller: Caller = READ
) -> list[models.WorkerView]:
    """Workers, with their status, slots and running task runs."""
    workers = hatchet_of(request).workers.list(limit=limit)
    return [models.WorkerView(**_fields(w, models.WorkerView)) for w in workers]


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
