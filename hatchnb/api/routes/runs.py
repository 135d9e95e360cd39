"""Runs: trigger by name, read, list, cancel and replay (one or by filter), logs, and the
server-sent-events stream of a run."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints

from hatchnb.api import inputs, models, stream
from hatchnb.api.auth import ADMIN, READ, READ_OR_TRIGGER, TRIGGER, Caller
from hatchnb.api.failures import ERROR_RESPONSES
from hatchnb.api.routes.common import PREFIX, hatchet_of, readable_run
from hatchnb.features.runs import run_uuid
from hatchnb.records import RunStatus

router = APIRouter(prefix=PREFIX, tags=["runs"], responses=ERROR_RESPONSES)

MetadataPair = Annotated[str, StringConstraints(pattern="^[^=]+=")]

#: the largest offset a run list takes (PostgreSQL's bigint)
MAX_OFFSET = 2**63 - 1


@router.post("/workflows/{workflow_name}/runs", status_code=201)
def trigger(
    workflow_name: str,
    body: models.TriggerRequest,
    request: Request,
    response: Response,
    caller: Caller = TRIGGER,
) -> models.TriggerResponse:
    """Start a run of a registered workflow (or standalone task) by name. The input is
    checked against the input schema of its registered version. 201 with the new run; 200
    with the earlier run when ``idempotency_key`` was used before by this token."""
    hatchet = hatchet_of(request)
    workflow = hatchet.workflows.get(workflow_name)
    version = hatchet.workflows.get_version(workflow.latest_version_id)
    inputs.check_input(workflow.name, version.id, version.spec.get("input_schema"), body.input)

    def start() -> str:
        run = hatchet.runs.create(
            workflow.name, body.input, body.additional_metadata, body.priority
        )
        return run.workflow_run_id

    run_id, created = hatchet.tokens.start_run(start, caller.token_id, body.idempotency_key)
    if not created:
        response.status_code = 200
    return models.TriggerResponse(
        run_id=run_id,
        workflow_name=workflow.name,
        created=created,
        status=hatchet.runs.get_status(run_id),
    )


@router.get("/runs/{run_id}")
def get_run(run_id: str, request: Request, caller: Caller = READ_OR_TRIGGER) -> models.RunView:
    """A run: its status, input, metadata, timings, and each task's status, output and
    error (a trigger token reads only the runs it started)."""
    hatchet = hatchet_of(request)
    run_id = readable_run(request, caller, run_id)
    run = hatchet.runs.get(run_id, task_events=False)
    details = hatchet.runs.get_details(run_id)
    outputs = {name: task.output for name, task in details.task_runs.items()}
    return models.RunView.of(run, outputs)


@router.get("/runs")
def list_runs(
    request: Request,
    since: Annotated[models.Moment | None, Query(description="default: a day ago")] = None,
    until: models.Moment | None = None,
    statuses: Annotated[list[RunStatus] | None, Query()] = None,
    workflow_names: Annotated[list[models.Name] | None, Query()] = None,
    metadata: Annotated[
        list[MetadataPair] | None,
        Query(description="additional metadata the runs have, as key=value (repeatable)"),
    ] = None,
    worker_id: UUID | None = None,
    parent_task_external_id: UUID | None = None,
    triggering_event_external_id: UUID | None = None,
    include_payloads: bool = True,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=models.MAX_PAGE)] = 100,
    caller: Caller = READ,
) -> models.RunPage:
    """Runs, newest first, with ``hatchet.runs.list``'s filters; pages by offset."""
    rows = hatchet_of(request).runs.list(
        since=since,
        until=until,
        statuses=list(statuses or []) or None,
        workflow_names=workflow_names,
        additional_metadata=_pairs(metadata),
        worker_id=_text(worker_id),
        parent_task_external_id=_text(parent_task_external_id),
        triggering_event_external_id=_text(triggering_event_external_id),
        include_payloads=include_payloads,
        offset=offset,
        limit=limit,
    )
    return models.RunPage(
        rows=[models.RunView.of(r) for r in rows],
        offset=offset,
        limit=limit,
        next_offset=offset + len(rows) if len(rows) == limit else None,
    )


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _pairs(items: list[str] | None) -> dict[str, Any] | None:
    """``key=value`` items (the schema's pattern has checked the ``=``) as a dict."""
    if not items:
        return None
    return dict(item.split("=", 1) for item in items)


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: str, request: Request, caller: Caller = ADMIN) -> models.RunIds:
    """Cancel a run and its child runs."""
    hatchet_of(request).runs.cancel(run_id)
    return models.RunIds(run_ids=[run_uuid(run_id)])


@router.post("/runs/{run_id}/replay")
def replay_run(
    run_id: str,
    request: Request,
    body: models.ReplayRequest | None = None,
    caller: Caller = ADMIN,
) -> models.RunIds:
    """Run a finished run again (``failed_only``: only its failed tasks and what follows)."""
    failed_only = body.failed_only if body else False
    hatchet_of(request).runs.replay(run_id, failed_only=failed_only)
    return models.RunIds(run_ids=[run_uuid(run_id)])


@router.post("/runs/cancel")
def bulk_cancel(
    body: models.RunSelection, request: Request, caller: Caller = ADMIN
) -> models.RunIds:
    """Cancel the runs named by ``ids``, or every run ``filters`` matches."""
    run_ids = _selected(request, body)
    hatchet_of(request).runs.bulk_cancel(run_ids)
    return models.RunIds(run_ids=run_ids)


@router.post("/runs/replay")
def bulk_replay(
    body: models.RunSelection, request: Request, caller: Caller = ADMIN
) -> models.RunIds:
    """Replay the runs named by ``ids``, or every run ``filters`` matches."""
    run_ids = _selected(request, body)
    hatchet_of(request).runs.bulk_replay(run_ids, failed_only=body.failed_only)
    return models.RunIds(run_ids=run_ids)


def _selected(request: Request, body: models.RunSelection) -> list[str]:
    if body.ids is not None:
        return [str(r) for r in body.ids]
    assert body.filters is not None  # the model requires one of the two
    f = body.filters
    runs = hatchet_of(request).runs.list_with_pagination(
        since=f.since,
        until=f.until,
        statuses=f.statuses,
        workflow_names=f.workflow_names,
        additional_metadata=f.additional_metadata,
        include_payloads=False,
    )
    return [r.workflow_run_id for r in runs]


@router.get("/runs/{run_id}/logs")
def run_logs(
    run_id: str,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="the last id seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    caller: Caller = READ_OR_TRIGGER,
) -> list[models.LogLine]:
    """The run's log lines after ``after``, oldest first (pass the last id to follow)."""
    run_id = readable_run(request, caller, run_id)
    hatchet = hatchet_of(request)
    hatchet.runs.get_status(run_id)  # 404 for an unknown run, not an empty list
    lines = hatchet.runs.logs_after(run_id, after, limit)
    return [models.LogLine.model_validate(line) for line in lines]


@router.get(
    "/runs/{run_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "server-sent events: `status` (the run and its tasks, on every "
            "change), `chunk` (what a task sent with ctx.put_stream), `done` (the final "
            "status; the stream ends)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
def stream_run(run_id: str, request: Request, caller: Caller = READ_OR_TRIGGER) -> Any:
    """Follow a run until it is finished, as server-sent events."""
    run_id = readable_run(request, caller, run_id)
    hatchet = hatchet_of(request)
    hatchet.runs.get_status(run_id)  # a 404 now, before the stream starts
    return StreamingResponse(
        stream.run_events(hatchet, run_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
