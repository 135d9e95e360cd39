"""OpenTelemetry across real processes: the notebook's trigger, a worker process exporting
over OTLP/HTTP to a collector, a DAG whose task spawns a child run; one trace."""

from __future__ import annotations

import http.server
import signal
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hatchnb import Context, EmptyModel
from hatchnb.opentelemetry.instrumentor import HatchetInstrumentor
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]


class Collector(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on localhost: the spans it was sent, as dicts."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[dict[str, Any]] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(http.server.BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.server.spans += [_as_dict(s) for s in scope.spans]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def _as_dict(span: Any) -> dict[str, Any]:
    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}
    return {
        "name": span.name,
        "trace": span.trace_id.hex(),
        "span": span.span_id.hex(),
        "parent": span.parent_span_id.hex() or None,
        "attributes": attributes,
        "error": span.status.code == 2,
    }


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def notebook() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    """The test process instrumented as a notebook would be: a tracer and what it recorded."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = HatchetInstrumentor(
        tracer_provider=provider, enable_hatchet_otel_collector=False
    ).instrument()
    yield provider.get_tracer("notebook"), exporter
    instrumentor.uninstrument()


def test_one_trace_from_the_trigger_through_a_dag_and_its_child_run(
    hatchet: Any,
    worker_process: Any,
    collector: Collector,
    notebook: tuple[Any, InMemorySpanExporter],
) -> None:
    tracer, recorded = notebook

    @hatchet.task()
    def kid(input: EmptyModel, ctx: Context) -> int:
        return 2

    @hatchet.task()
    def broken(input: EmptyModel, ctx: Context) -> None:
        raise ValueError("no good")

    wf = hatchet.workflow(name="traced")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> int:
        return 1

    @wf.task(parents=[first])
    async def second(input: EmptyModel, ctx: Context) -> int:
        return int(await kid.aio_run()) + int(ctx.task_output(first))

    for declared in (kid, broken, wf):
        hatchet.register(declared)
    proc = worker_process(
        "--slots",
        "4",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_SERVICE_NAME="hatchnb-worker",
    )
    with tracer.start_as_current_span("notebook cell") as cell:
        assert wf.run()["second"] == 3
        with pytest.raises(Exception, match="no good"):
            broken.run()
    trace_id = format(cell.get_span_context().trace_id, "032x")

    def task_spans() -> dict[str, dict[str, Any]]:
        return {
            s["attributes"]["hatchet.task_name"]: s
            for s in collector.spans
            if s["name"] == "hatchet.start_step_run"
        }

    wait_until(lambda: len(task_spans()) == 4, 30, f"four task spans in {collector.spans}")
    proc.proc.send_signal(signal.SIGTERM)
    proc.proc.wait(20)

    triggers = [s for s in recorded.get_finished_spans() if s.name == "hatchet.run_workflow"]
    spans = task_spans()
    assert {s["trace"] for s in collector.spans} == {trace_id}  # one trace, two processes
    triggered = format(triggers[0].context.span_id, "016x")  # wf.run()
    assert spans["first"]["parent"] == triggered
    # the child run: spawned inside `second`, its trigger span a child of second's span
    spawn = next(s for s in collector.spans if s["name"] == "hatchet.run_workflow")
    assert spawn["parent"] == spans["second"]["span"]
    assert spans["kid"]["parent"] == spawn["span"]
    assert spans["second"]["attributes"]["hatchet.workflow_name"] == "traced"
    assert spans["second"]["attributes"]["hatchet.status"] == "SUCCEEDED"
    assert spans["broken"]["error"] and spans["broken"]["attributes"]["hatchet.status"] == "FAILED"


def test_a_runs_trace_reads_back_from_hatchnbs_collector(
    hatchet: Any, worker_process: Any, collector: Collector
) -> None:
    """hatchet_sdk's default ``enable_hatchet_otel_collector=True``: the spans of the
    triggering process and of a real worker process go to the database; the run's trace
    reads back (hatchet.traces, the REST client's ObservabilityApi, the HTTP route) with
    the engine's spans made from the run, all in one trace."""
    from opentelemetry import trace

    provider = TracerProvider()
    instrumentor = HatchetInstrumentor(tracer_provider=provider).instrument()

    @hatchet.task(name="traced-one")
    def traced_one(input: EmptyModel, ctx: Context) -> int:
        with trace.get_tracer("user code").start_as_current_span("custom.child.span"):
            return 1

    hatchet.register(traced_one)
    worker_process(
        "--slots", "2", OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, OTEL_BSP_SCHEDULE_DELAY="50"
    )
    try:
        ref = traced_one.run(wait_for_result=False)
        assert ref.result(timeout=30) == 1
        provider.force_flush()
        expected = {
            "hatchet.run_workflow",
            "hatchet.engine.workflow_run",
            "hatchet.engine.queued",
            "hatchet.start_step_run",
            "hatchet.engine.start_step_run",
            "custom.child.span",
        }
        spans = wait_until(
            lambda: (
                (found := hatchet.traces.get(ref.workflow_run_id))
                and {s.span_name for s in found} == expected
                and found
            ),
            30,
            "the six spans of the run's trace",
        )
    finally:
        instrumentor.uninstrument()
    assert len(spans) == 6 and len({s.trace_id for s in spans}) == 1
    assert len({s.span_id for s in spans}) == 6
    by_name = {s.span_name: s for s in spans}
    step = by_name["hatchet.start_step_run"]
    assert step.span_attributes["instrumentor"] == "hatchet"
    assert step.span_attributes["hatchet.step_run_id"] == ref.workflow_run_id  # standalone
    child = by_name["custom.child.span"]
    assert child.parent_span_id == step.span_id
    assert child.span_attributes["hatchet.step_run_id"] == ref.workflow_run_id
    engine_run = by_name["hatchet.engine.workflow_run"]
    assert engine_run.span_attributes["hatchet.workflow_name"] == "traced-one"
    assert engine_run.parent_span_id == by_name["hatchet.run_workflow"].span_id

    names: dict[str, Any] = {}
    exec("from hatchnb.clients.rest.api.observability_api import ObservabilityApi", names)
    with hatchet.runs.client() as client:
        rest = names["ObservabilityApi"](client).v1_observability_get_trace(
            hatchet.tenant_id, ref.workflow_run_id
        )
    assert {s.span_id for s in rest.rows} == {s.span_id for s in spans}

    from hatchnb.api import AuthMode
    from hatchnb.api.serve import start_api

    api = start_api(hatchet, auth=AuthMode(required=False))
    try:
        body = httpx.get(
            f"{api.url}/api/v1/stable/tenants/{hatchet.tenant_id}/traces",
            params={"run_external_id": ref.workflow_run_id},
            timeout=30,
        ).json()
    finally:
        api.stop()
    assert {row["spanName"] for row in body["rows"]} == expected
    assert {row["traceId"] for row in body["rows"]} == {spans[0].trace_id}
