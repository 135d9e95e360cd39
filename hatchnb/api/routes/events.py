"""Events: push one, or many in one transaction; matching ``on_events`` workflows start."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hatchnb.api import models
from hatchnb.api.auth import TRIGGER, Caller
from hatchnb.api.failures import ERROR_RESPONSES
from hatchnb.api.routes.common import PREFIX, hatchet_of
from hatchnb.features.events import BulkPushEventWithMetadata

router = APIRouter(prefix=PREFIX, tags=["events"], responses=ERROR_RESPONSES)


@router.post("/events", status_code=201)
def push_event(
    body: models.EventRequest, request: Request, caller: Caller = TRIGGER
) -> models.EventView:
    """Store an event and start the runs of the workflows listening to its key (a trigger
    token may then read those runs)."""
    hatchet = hatchet_of(request)
    event = hatchet.event.push(
        body.key,
        body.payload,
        additional_metadata=body.additional_metadata,
        priority=body.priority,
        scope=body.scope,
    )
    hatchet.tokens.record_runs(caller.token_id, event.run_ids)
    return models.EventView.of(event)


@router.post("/events/bulk", status_code=201)
def push_events(
    body: models.BulkEventRequest, request: Request, caller: Caller = TRIGGER
) -> list[models.EventView]:
    """Push many events at once: all are stored, or none (the first bad one is named)."""
    hatchet = hatchet_of(request)
    items = [BulkPushEventWithMetadata(**e.model_dump()) for e in body.events]
    events = hatchet.event.bulk_push(items)
    hatchet.tokens.record_runs(caller.token_id, [r for e in events for r in e.run_ids])
    return [models.EventView.of(e) for e in events]
