"""The real ``hatchnb`` command in a subprocess: tokens, trigger (--wait with a worker),
runs list/get/cancel/replay/logs, events push, and ``hatchnb server`` serving the API and
the dashboard from one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from hatchnb import Context, EmptyModel
from tests.conftest import FAST_SETTINGS, wait_until

pytestmark = pytest.mark.integration


def hatchnb(dsn: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatchnb", *args],
        capture_output=True,
        text=True,
        timeout=90,
        input=stdin,
        env={**os.environ, **FAST_SETTINGS, "HATCHNB_DATABASE_URL": dsn, "COLUMNS": "120"},
    )


class Sum(BaseModel):
    a: int
    b: int


def _declare(hatchet: Any) -> None:
    @hatchet.task(name="add", input_validator=Sum, on_events=["numbers"])
    def add(input: Sum, ctx: Context) -> dict[str, Any]:
        ctx.log(f"adding {input.a} and {input.b}")
        return {"sum": input.a + input.b}

    hatchet.register(add)


def test_tokens_create_list_revoke(dsn: str, hatchet: Any) -> None:
    created = hatchnb(
        dsn, "tokens", "create", "--name", "ci", "--scope", "trigger", "--expires", "30d"
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("hnb_")
    assert "shown only now" in created.stderr
    assert hatchet.tokens.authenticate(secret).name == "ci"
    again = hatchnb(dsn, "tokens", "create", "--name", "ci", "--scope", "read")
    assert again.returncode == 2
    assert "already a live token named 'ci'" in again.stderr
    listed = hatchnb(dsn, "tokens", "list").stdout
    assert "ci\ttrigger\tlive" in listed
    assert secret not in listed
    assert hatchnb(dsn, "tokens", "revoke", "ci").stdout.strip() == "revoked ci"
    assert hatchet.tokens.authenticate(secret) is None
    assert "ci\ttrigger\trevoked" in hatchnb(dsn, "tokens", "list").stdout
    bad = hatchnb(dsn, "tokens", "create", "--name", "x", "--scope", "root")
    assert bad.returncode == 2
    assert "invalid choice: 'root'" in bad.stderr


@pytest.mark.workers
def test_trigger_wait_runs_get_logs_list(dsn: str, hatchet: Any, worker_process: Any) -> None:
    _declare(hatchet)
    refused = hatchnb(dsn, "trigger", "add", "-i", "a=1")
    assert refused.returncode == 2
    assert "'b' is a required property" in refused.stderr
    worker_process("--slots", "2")
    done = hatchnb(
        dsn,
        "trigger",
        "add",
        "--input",
        '{"a": 2}',
        "-i",
        "b=3",
        "-m",
        "who=cli",
        "--wait",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "SUCCEEDED"
    assert run["tasks"][0]["output"] == {"sum": 5}
    assert run["additional_metadata"] == {"who": "cli"}

    table = hatchnb(dsn, "runs", "get", run["run_id"])
    assert table.returncode == 0
    assert "SUCCEEDED" in table.stdout and '{"sum": 5}' in table.stdout
    logs = hatchnb(dsn, "runs", "logs", run["run_id"]).stdout
    assert "adding 2 and 3" in logs
    listed = json.loads(hatchnb(dsn, "runs", "list", "--json").stdout)
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert run["run_id"] in hatchnb(dsn, "runs", "list", "--since", "1h").stdout


def test_trigger_cancel_replay_and_events(dsn: str, hatchet: Any) -> None:
    _declare(hatchet)
    started = hatchnb(dsn, "trigger", "add", "-i", "a=1", "-i", "b=1")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert hatchet.runs.get_status(run_id) == "QUEUED"
    assert hatchnb(dsn, "runs", "cancel", run_id).stdout.strip() == f"cancelled {run_id}"
    assert hatchet.runs.get_status(run_id) == "CANCELLED"
    replayed = hatchnb(dsn, "runs", "replay", run_id, "--json")
    assert json.loads(replayed.stdout) == {"replayed": [run_id]}
    assert hatchet.runs.get_status(run_id) != "CANCELLED"
    missing = hatchnb(dsn, "runs", "get", "nope")
    assert missing.returncode == 2
    assert "not a workflow run id" in missing.stderr

    pushed = hatchnb(dsn, "events", "push", "numbers", "--payload", '{"a": 4, "b": 5}', "--json")
    assert pushed.returncode == 0, pushed.stderr
    event = json.loads(pushed.stdout)
    assert event["key"] == "numbers" and len(event["run_ids"]) == 1
    assert hatchet.runs.get(event["run_ids"][0]).input == {"a": 4, "b": 5}
    bad = hatchnb(dsn, "events", "push", "numbers", "--payload", "[1]")
    assert bad.returncode == 2
    assert "pass a JSON object" in bad.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_serves_api_and_dashboard_in_one_process(
    dsn: str, hatchet: Any, tmp_path: Path
) -> None:
    @hatchet.task(name="noop")
    def noop(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {}

    hatchet.register(noop)
    secret, _ = hatchet.tokens.create("srv", "admin")
    api_port, dashboard_port = _free_port(), _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hatchnb",
            "server",
            "--port",
            str(api_port),
            "--dashboard-port",
            str(dashboard_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **FAST_SETTINGS, "HATCHNB_DATABASE_URL": dsn},
    )
    try:
        api = f"http://127.0.0.1:{api_port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{api}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=60, message="the API of hatchnb server")
        headers = {"Authorization": f"Bearer {secret}"}
        started = httpx.post(f"{api}/api/v1/workflows/noop/runs", json={}, headers=headers)
        assert started.status_code == 201
        assert httpx.get(f"{api}/api/v1/runs", headers=headers).json()["rows"]
        page = httpx.get(f"http://127.0.0.1:{dashboard_port}/", timeout=30, follow_redirects=True)
        assert page.status_code == 200
        assert "bokeh" in page.text.lower()
    finally:
        server.terminate()
        server.wait(15)
        log.close()
    assert server.returncode is not None


def test_no_auth_is_refused_off_loopback(dsn: str) -> None:
    refused = hatchnb(dsn, "api", "--address", "0.0.0.0", "--no-auth")
    assert refused.returncode == 2
    assert "--no-auth on 0.0.0.0" in refused.stderr
