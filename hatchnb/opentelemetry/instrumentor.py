"""``HatchetInstrumentor``: hatchet_sdk's OpenTelemetry instrumentor for hatchnb.

    from hatchnb.opentelemetry.instrumentor import HatchetInstrumentor
    HatchetInstrumentor().instrument()    # in the code that triggers, and in each worker

Spans: ``hatchet.run_workflow`` around a trigger (its runs carry the trace context in their
metadata), ``hatchet.start_step_run`` for each task run on the worker (workflow, task, run,
attempt, worker and final status as attributes; a failure recorded as the span's error),
``hatchet.durable.*`` for durable sleeps and waits. Without a ``tracer_provider`` the global
one is used; when that is not an SDK provider, one is made, exporting over OTLP when the
standard ``OTEL_*`` environment variables name an endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``...). With ``enable_hatchet_otel_collector=True`` (hatchet_sdk's
default) the spans also go to hatchnb's collector, the database's ``otel_spans``, where a
run's trace reads back with the engine's spans (``hatchet.traces``, the HTTP API)."""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hatchnb import tracing
from hatchnb.opentelemetry import collector

_PROPAGATOR = TraceContextTextMapPropagator()


class HatchetInstrumentor:
    """Traces hatchnb's triggers, task runs and durable waits (hatchet_sdk's names)."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: Any = None,
        config: Any = None,
        enable_hatchet_otel_collector: bool = True,
        **batch_options: Any,
    ) -> None:
        self.tracer_provider = tracer_provider or _default_provider(batch_options)
        self.meter_provider = meter_provider
        self.config = config
        if enable_hatchet_otel_collector:
            _add_collector(self.tracer_provider, batch_options)
        self._tracer = self.tracer_provider.get_tracer("hatchnb")

    def instrument(self, **_: Any) -> HatchetInstrumentor:
        tracing.install(_Hooks(self._tracer))
        return self

    def uninstrument(self, **_: Any) -> None:
        tracing.install(None)

    def get_tracer_provider(self) -> TracerProvider:
        return self.tracer_provider

    def get_meter_provider(self) -> Any:
        return self.meter_provider


def _default_provider(batch_options: dict[str, Any]) -> TracerProvider:
    """The global SDK provider, else a new one made global, exporting over OTLP when the
    OTEL_* variables name an endpoint."""
    current = trace.get_tracer_provider()
    if isinstance(current, SDKTracerProvider):
        return current
    provider = SDKTracerProvider(resource=Resource.create())
    if any(os.environ.get(name) for name in _OTLP_ENDPOINTS):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), **batch_options))
    trace.set_tracer_provider(provider)
    return provider


_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

#: providers that already send their spans to hatchnb's collector (instrument() is called
#: once per test or notebook cell in Hatchet's examples)
_COLLECTING: weakref.WeakSet[Any] = weakref.WeakSet()


def _add_collector(provider: TracerProvider, batch_options: dict[str, Any]) -> None:
    """hatchet_sdk's default: the spans also go to the engine's collector, here the
    database's ``otel_spans`` (read back by ``hatchet.traces`` and the HTTP API)."""
    if not isinstance(provider, SDKTracerProvider) or provider in _COLLECTING:
        return
    exporter = collector.DatabaseSpanExporter(collector.configured_dsn())
    provider.add_span_processor(collector.TaskRunAttributes())
    provider.add_span_processor(BatchSpanProcessor(exporter, **batch_options))
    _COLLECTING.add(provider)


class _Hooks:
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextlib.contextmanager
    def span(self, name: str, attributes: dict[str, Any]) -> Iterator[trace.Span]:
        with self._tracer.start_as_current_span(
            name, attributes=_attributes(attributes), kind=SpanKind.PRODUCER
        ) as span:
            yield span

    def traceparent(self) -> str | None:
        if not trace.get_current_span().get_span_context().is_valid:
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get(tracing.TRACEPARENT)

    @contextlib.contextmanager
    def task_run(
        self, attributes: dict[str, Any], traceparent: str | None
    ) -> Iterator[tracing.Done]:
        parent = _PROPAGATOR.extract({tracing.TRACEPARENT: traceparent}) if traceparent else None
        with self._tracer.start_as_current_span(
            "hatchet.start_step_run",
            context=parent,
            attributes=_attributes(attributes),
            kind=SpanKind.CONSUMER,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            hatchet_attributes = {
                k: v for k, v in _attributes(attributes).items() if k.startswith("hatchet.")
            }
            token = collector.task_run_attributes.set(hatchet_attributes)

            def done(status: str, error: str | None) -> None:
                span.set_attribute("hatchet.status", status)
                if error is not None and status.startswith("FAILED"):
                    span.add_event("exception", {"exception.message": error})
                    span.set_status(Status(StatusCode.ERROR, error.splitlines()[0][:200]))

            try:
                yield done
            finally:
                collector.task_run_attributes.reset(token)


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    """OpenTelemetry takes str, bool, int and float attribute values."""
    return {
        k: v if isinstance(v, str | bool | int | float) else str(v)
        for k, v in values.items()
        if v is not None
    }
