"""The worker's health check (hatchet_sdk's): with ``HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED``
(or ``HATCHNB_WORKER_HEALTHCHECK_PORT``) a worker answers ``GET /health`` (200 HEALTHY, 503
UNHEALTHY while its database link is down or it is stopping) and ``GET /metrics``
(Prometheus text) on the port. It is served by the worker's event loop, so a loop blocked by
a task stops answering, which probes read as unhealthy too."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger("hatchnb.worker")


class WorkerStatus(StrEnum):
    INITIALIZED = "INITIALIZED"
    STARTING = "STARTING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"


@dataclass(frozen=True)
class HealthReport:
    status: WorkerStatus
    worker_id: str
    name: str
    slots: int
    slots_used: int
    running_tasks: int
    database: str

    def json(self) -> str:
        return json.dumps({**self.__dict__, "status": self.status.value})

    def metrics(self) -> str:
        labels = f'worker="{self.name}",worker_id="{self.worker_id}"'
        lines = [
            "# TYPE hatchnb_worker_healthy gauge",
            f"hatchnb_worker_healthy{{{labels}}} {int(self.status == WorkerStatus.HEALTHY)}",
            "# TYPE hatchnb_worker_slots gauge",
            f"hatchnb_worker_slots{{{labels}}} {self.slots}",
            "# TYPE hatchnb_worker_slots_used gauge",
            f"hatchnb_worker_slots_used{{{labels}}} {self.slots_used}",
            "# TYPE hatchnb_worker_running_tasks gauge",
            f"hatchnb_worker_running_tasks{{{labels}}} {self.running_tasks}",
        ]
        return "\n".join(lines) + "\n"


class HealthServer:
    """A minimal HTTP/1.1 server for the two read-only paths (no framework needed)."""

    def __init__(self, port: int, report: Callable[[], HealthReport]) -> None:
        self.port = port
        self._report = report
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, host="0.0.0.0", port=self.port)
        log.info("worker health check on http://0.0.0.0:%d/health", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            method, path, *_ = request.decode("latin-1").split(" ", 2)
            status, kind, body = self._route(method, path.split("?", 1)[0])
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
            pass  # a client that sent no request, or went away: nothing to answer
        finally:
            writer.close()

    def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/health":
            report = self._report()
            healthy = report.status == WorkerStatus.HEALTHY
            status = "200 OK" if healthy else "503 Service Unavailable"
            return status, "application/json", report.json().encode()
        if path == "/metrics":
            return "200 OK", "text/plain; version=0.0.4", self._report().metrics().encode()
        return "404 Not Found", "text/plain", b"try /health or /metrics\n"
