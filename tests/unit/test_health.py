"""The worker health check: settings from hatchet_sdk's environment variables, and the HTTP
answers of the server (over real loopback sockets, with a report function standing in for
a running worker)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hatchnb.config import Settings
from hatchnb.runtime.health import HealthReport, HealthServer, WorkerStatus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_port_comes_from_hatchet_sdk_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env("postgresql://x/y").healthcheck_port is None
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED", "True")
    assert Settings.from_env("postgresql://x/y").healthcheck_port == 8001
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT", "9100")
    assert Settings.from_env("postgresql://x/y").healthcheck_port == 9100
    monkeypatch.setenv("HATCHNB_WORKER_HEALTHCHECK_PORT", "http")
    with pytest.raises(ValueError, match="use a TCP port number"):
        Settings.from_env("postgresql://x/y")


def _report(status: WorkerStatus) -> HealthReport:
    return HealthReport(status, "w-1", "worker-a", 4, 1, 1, "up")


async def _get(port: int, path: str, method: str = "GET") -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    raw = (await reader.read()).decode()
    writer.close()
    head, _, body = raw.partition("\r\n\r\n")
    return head.split("\r\n")[0], body


def test_health_and_metrics_answers() -> None:
    port = _free_port()
    state = {"status": WorkerStatus.HEALTHY}

    async def scenario() -> list[tuple[str, str]]:
        server = HealthServer(port, lambda: _report(state["status"]))
        await server.start()
        try:
            answers = [await _get(port, "/health"), await _get(port, "/metrics")]
            state["status"] = WorkerStatus.UNHEALTHY
            answers += [await _get(port, "/health"), await _get(port, "/nope")]
            answers.append(await _get(port, "/health", "POST"))
            return answers
        finally:
            await server.stop()

    ok, metrics, sick, missing, post = asyncio.run(scenario())
    assert ok[0] == "HTTP/1.1 200 OK" and '"status": "HEALTHY"' in ok[1]
    assert 'hatchnb_worker_slots{worker="worker-a",worker_id="w-1"} 4' in metrics[1]
    assert sick[0] == "HTTP/1.1 503 Service Unavailable" and "UNHEALTHY" in sick[1]
    assert missing[0].startswith("HTTP/1.1 404") and post[0].startswith("HTTP/1.1 405")
