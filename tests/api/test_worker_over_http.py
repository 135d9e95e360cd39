"""A run started over HTTP, executed by a real worker process, followed over server-sent
events (status changes and put_stream chunks), its output and logs read back over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from hatchnb import Context

pytestmark = [pytest.mark.integration, pytest.mark.workers]


class Words(BaseModel):
    words: list[str]


def _declare(hatchet: Any) -> None:
    wf = hatchet.workflow(name="shout", input_validator=Words)

    @wf.task()
    def upper(input: Words, ctx: Context) -> dict[str, Any]:
        ctx.log("shouting")
        for word in input.words:
            ctx.put_stream(word.upper())
        return {"words": [w.upper() for w in input.words]}

    @wf.task(parents=[upper])
    def count(input: Words, ctx: Context) -> dict[str, Any]:
        return {"n": len(ctx.task_output(upper)["words"])}

    hatchet.register(wf)


def _events(response: httpx.Response) -> list[tuple[str, Any]]:
    found = []
    for block in response.iter_text():
        for message in block.split("\n\n"):
            lines = dict(
                line.split(": ", 1) for line in message.splitlines() if not line.startswith(":")
            )
            if "event" in lines:
                found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_trigger_follow_and_read_outputs_over_http(
    hatchet: Any, client_for: Callable[..., Any], worker_process: Any
) -> None:
    _declare(hatchet)
    http: httpx.Client = client_for("trigger")
    started = http.post("/api/v1/workflows/shout/runs", json={"input": {"words": ["a", "b"]}})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    worker_process("--slots", "2")

    with http.stream("GET", f"/api/v1/runs/{run_id}/stream", timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)

    chunks = [data["data"] for kind, data in events if kind == "chunk"]
    assert chunks == ["A", "B"]
    statuses = [data for kind, data in events if kind == "status"]
    assert statuses[-1]["status"] == "SUCCEEDED"
    assert statuses[-1]["tasks"] == {"upper": "SUCCEEDED", "count": "SUCCEEDED"}
    assert len(statuses) >= 2  # it was seen before it finished
    assert events[-1] == ("done", {"run_id": run_id, "status": "SUCCEEDED"})

    run = http.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "SUCCEEDED"
    outputs = {t["task_name"]: t["output"] for t in run["tasks"]}
    assert outputs == {"upper": {"words": ["A", "B"]}, "count": {"n": 2}}
    assert all(t["duration_ms"] is not None for t in run["tasks"])
    logs = http.get(f"/api/v1/runs/{run_id}/logs").json()
    assert [line["message"] for line in logs] == ["shouting"]
