"""hatchet_sdk's worker health check (written from its documented settings): a real worker
process started with HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED serves /health and /metrics
until it stops."""

from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_a_worker_process_answers_health_probes(worker_process: Any) -> None:
    port = _free_port()
    proc = worker_process(
        "--slots",
        "3",
        HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED="True",
        HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT=str(port),
    )
    base = f"http://127.0.0.1:{port}"
    status, body = wait_until(
        lambda: (lambda got: got if got[0] == 200 else None)(_get(base + "/health")),
        message="the worker to answer /health",
    )
    report = json.loads(body)
    assert report["status"] == "HEALTHY" and report["slots"] == 3 and report["database"] == "up"
    status, metrics = _get(base + "/metrics")
    assert status == 200 and f'worker_id="{report["worker_id"]}"' in metrics
    proc.proc.send_signal(signal.SIGTERM)
    proc.proc.wait(30)
    assert _get(base + "/health")[0] == 0  # the server went with the worker
