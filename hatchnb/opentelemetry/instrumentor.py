"""``HatchetInstrumentor``: hatchet_sdk's OpenTelemetry instrumentor for hatchnb.

    from hatchnb.opentelemetry.instrumentor import HatchetInstrumentor
    HatchetInstrumentor().instrument()    # in the code that triggers, and in each worker

Spans: ``hatchet.run_workflow`` around a trigger (its runs carry the trace context in their
metadata), ``hatchet.start_step_run`` for each task run on the worker (workflow, task, run,
attempt, worker and final status as attributes; a failure recorded as the span's error),
``hatchet.durable.*`` for durable sleeps and waits. Without a ``tracer_provider`` the global
one is used; when that is not an SDK provider, one is made that exports over OTLP as the
standard ``OTEL_*`` environment variables say (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``...)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hatchnb import tracing

_PROPAGATOR = TraceContextTextMapPropagator()


class HatchetInstrumentor:
    """Traces hatchnb's triggers, task runs and durable waits (hatchet_sdk's names)."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: Any = None,
        config: Any = None,
        enable_hatchet_otel_collector: bool = False,
        **batch_options: Any,
    ) -> None:
        if enable_hatchet_otel_collector:
            raise NotImplementedError(
                "enable_hatchet_otel_collector=True: hatchnb has no Hatchet engine to collect "
                "traces; export them with your own tracer_provider or the OTEL_* variables"
            )
        self.tracer_provider = tracer_provider or _default_provider(batch_options)
        self.meter_provider = meter_provider
        self.config = config
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
    current = trace.get_tracer_provider()
    if isinstance(current, SDKTracerProvider):
        return current
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = SDKTracerProvider(resource=Resource.create())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), **batch_options))
    trace.set_tracer_provider(provider)
    return provider


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

            def done(status: str, error: str | None) -> None:
                span.set_attribute("hatchet.status", status)
                if error is not None and status.startswith("FAILED"):
                    span.add_event("exception", {"exception.message": error})
                    span.set_status(Status(StatusCode.ERROR, error.splitlines()[0][:200]))

            yield done


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    """OpenTelemetry takes str, bool, int and float attribute values."""
    return {
        k: v if isinstance(v, str | bool | int | float) else str(v)
        for k, v in values.items()
        if v is not None
    }
