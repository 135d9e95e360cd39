"""hatchnb's trace collector: what ``HatchetInstrumentor(enable_hatchet_otel_collector=True)``
(hatchet_sdk's default) sends spans to. Hatchet's engine collects the spans of the runs it
schedules; here they go to the ``otel_spans`` table of the database the runs are in, where
``hatchet.traces`` and the HTTP API (hatchet_sdk's ObservabilityApi) read them back."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from hatchnb import embedded
from hatchnb.config import Settings
from hatchnb.store import Store
from hatchnb.store.traces import TracesRepo

log = logging.getLogger("hatchnb.tracing")

#: the hatchet.* attributes of the task run whose function runs in this context: spans the
#: function opens get them too, so they are found by the same attributes as its task run
task_run_attributes: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "hatchnb_task_run_attributes", default=None
)

#: how long the collector stays quiet after a failed write before it tries again
_QUIET_AFTER_FAILURE = 30.0


class TaskRunAttributes(SpanProcessor):
    """Gives the spans a task function opens its task run's ``hatchet.*`` attributes."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = task_run_attributes.get()
        if attributes and span.is_recording():
            existing = span.attributes or {}
            for key, value in attributes.items():
                if key not in existing:
                    span.set_attribute(key, value)


class DatabaseSpanExporter(SpanExporter):
    """Writes finished spans to hatchnb's database, one statement per batch. A failed write
    is logged and dropped (tracing never fails or slows a task), then the exporter waits
    ``_QUIET_AFTER_FAILURE`` seconds before it writes again."""

    def __init__(self, dsn: str | None = None) -> None:
        self._dsn = dsn
        self._store: Store | None = None
        self._quiet_until = 0.0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if time.monotonic() < self._quiet_until:
            return SpanExportResult.FAILURE
        dsn = self._dsn or configured_dsn()
        if dsn is None:
            return SpanExportResult.FAILURE  # no database yet (nor an embedded one running)
        try:
            if self._store is None:
                self._store = Store(dsn, max_size=1)
            TracesRepo(self._store).insert([_row(s) for s in spans if s.context is not None])
        except Exception as exc:  # a tracing backend must never take the process down
            self._quiet_until = time.monotonic() + _QUIET_AFTER_FAILURE
            log.warning("could not store %d spans (%s); dropped", len(spans), exc)
            self.shutdown()  # its pool would keep reconnecting meanwhile
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()


def configured_dsn() -> str | None:
    """The database this process's Hatchet client uses (HATCHNB_DATABASE_URL, else the
    embedded PostgreSQL once it runs); None before there is one."""
    dsn = Settings.from_env(None).dsn
    if dsn is None and embedded.server_pid():
        dsn = embedded.ensure_running(quiet=True)
    return dsn


def _row(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    assert context is not None
    start = span.start_time or time.time_ns()
    resource = {k: str(v) for k, v in span.resource.attributes.items()}
    scope = span.instrumentation_scope
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service_name": resource.get("service.name", "unknown_service"),
        "status_code": span.status.status_code.name,
        "status_message": span.status.description,
        "started_at": datetime.fromtimestamp(start / 1e9, UTC).isoformat(),
        "duration_ns": max((span.end_time or start) - start, 0),
        "resource_attributes": resource,
        "span_attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
        "scope_name": scope.name if scope else None,
        "scope_version": scope.version if scope else None,
    }
