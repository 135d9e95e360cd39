"""OpenTelemetry across real processes: the notebook's trigger, a worker process exporting
over OTLP/HTTP to a collector, a DAG whose task spawns a child run; one trace."""

from __future__ import annotations

import http.server
import signal
import threading
from collections.abc import Iterator
from typing import Any

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
    instrumentor = HatchetInstrumentor(tracer_provider=provider).instrument()
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
