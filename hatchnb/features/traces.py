"""``hatchet.traces``: a run's trace as hatchet_sdk's ObservabilityApi returns it — the
spans HatchetInstrumentor's collector stored (triggers, task runs, the tasks' own spans) and
the engine's spans, made from the run and the runs it spawned (``hatchet.engine.*``)."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hatchnb import errors, limits
from hatchnb.features.runs import RunsClient, run_uuid
from hatchnb.records import TraceSpan
from hatchnb.store import Store
from hatchnb.store.traces import TracesRepo

#: the service and instrumentation scope of the engine's spans (made when a trace is read)
ENGINE_SERVICE = "hatchnb-engine"
ENGINE_SCOPE = "hatchnb.engine"


class TracesClient:
    def __init__(self, store: Store, runs: RunsClient, tenant_id: str) -> None:
        self._traces = TracesRepo(store)
        self._runs = runs
        self._tenant_id = tenant_id

    def get(
        self, run_id: str, offset: int | None = None, limit: int | None = None
    ) -> builtins.list[TraceSpan]:
        """The spans of the trace a run (or one of its task runs) belongs to, oldest first;
        [] for a run triggered without tracing."""
        run = self._run_of(run_id)
        runs = self._traces.runs(run)
        trace_id = _trace_id(runs[0]["traceparent"]) if runs else None
        if trace_id is None:
            return []
        spans = [TraceSpan.from_row(r) for r in self._traces.spans(trace_id)]
        spans += [s for r in runs for s in _engine_spans(r, trace_id, self._tenant_id)]
        spans.sort(key=lambda s: (s.created_at, s.span_id))
        start = limits.whole_number(offset or 0, "offset", 0, limits.INT_MAX)
        count = limits.whole_number(limit or 1000, "limit", 1, limits.INT_MAX)
        return spans[start : start + count]

    async def aio_get(
        self, run_id: str, offset: int | None = None, limit: int | None = None
    ) -> builtins.list[TraceSpan]:
        return await asyncio.to_thread(self.get, run_id, offset, limit)

    def _run_of(self, run_id: str) -> str:
        """A run id, or the run of a task run id (hatchet_sdk's ``task_external_id``)."""
        wanted = run_uuid(run_id)
        try:
            self._runs.get_status(wanted)
            return wanted
        except errors.RunNotFound:
            return self._runs.get_task_run(wanted).workflow_run_external_id


def _trace_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _parent_span(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[2] if len(parts) == 4 else None


def _span_id(*parts: str) -> str:
    """A stable span id for an engine span (the same at every read)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def _engine_spans(run: dict[str, Any], trace_id: str, tenant_id: str) -> list[TraceSpan]:
    """``hatchet.engine.event`` (a run an event started), ``hatchet.engine.workflow_run``,
    and per task run ``hatchet.engine.queued`` and ``hatchet.engine.start_step_run``."""
    if _trace_id(run["traceparent"]) != trace_id:
        return []  # spawned without the trace context (not traced)
    run_id = str(run["run_id"])
    producer = _parent_span(run["traceparent"])
    common = {"hatchet.tenant_id": tenant_id, "hatchet.workflow_run_id": run_id}
    workflow_span = _span_id(run_id, "workflow_run")
    spans = []
    if run["event_key"] is not None:
        spans.append(
            _engine_span(
                trace_id,
                _span_id(run_id, "event"),
                producer,
                "hatchet.engine.event",
                (run["event_at"], run["event_at"]),
                {**common, "hatchet.event_key": run["event_key"]},
            )
        )
    spans.append(
        _engine_span(
            trace_id,
            workflow_span,
            producer,
            "hatchet.engine.workflow_run",
            (run["created_at"], run["finished_at"]),
            {**common, "hatchet.workflow_name": run["workflow_name"]},
            failed=run["status"] == "FAILED",
        )
    )
    tasks = run["tasks"] if isinstance(run["tasks"], list) else json.loads(run["tasks"])
    for task in tasks:
        attributes = {**common, "hatchet.step_name": task["task_name"]}
        started, queued = _time(task["started_at"]), _time(task["queued_at"])
        if queued is not None:
            spans.append(
                _engine_span(
                    trace_id,
                    _span_id(run_id, task["task_name"], "queued"),
                    workflow_span,
                    "hatchet.engine.queued",
                    (queued, started),
                    attributes,
                )
            )
        if started is not None:
            spans.append(
                _engine_span(
                    trace_id,
                    _span_id(run_id, task["task_name"], "start_step_run"),
                    workflow_span,
                    "hatchet.engine.start_step_run",
                    (started, _time(task["finished_at"])),
                    {**attributes, "hatchet.retry_count": str(task["retry_count"])},
                    failed=task["status"] == "FAILED",
                    retry_count=int(task["retry_count"]),
                )
            )
    return spans


def _engine_span(
    trace_id: str,
    span_id: str,
    parent: str | None,
    name: str,
    window: tuple[datetime, datetime | None],
    attributes: dict[str, Any],
    failed: bool = False,
    retry_count: int = 0,
) -> TraceSpan:
    start, end = window
    duration = ((end or datetime.now(UTC)) - start).total_seconds()
    return TraceSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        span_name=name,
        span_kind="INTERNAL",
        service_name=ENGINE_SERVICE,
        status_code="ERROR" if failed else "OK",
        status_message=None,
        duration_ns=max(int(duration * 1e9), 0),
        created_at=start,
        resource_attributes={"service.name": ENGINE_SERVICE},
        span_attributes={k: str(v) for k, v in attributes.items()},
        scope_name=ENGINE_SCOPE,
        scope_version=None,
        retry_count=retry_count,
    )


def _time(value: Any) -> datetime | None:
    """A timestamp from the JSON the task rows are aggregated into."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
