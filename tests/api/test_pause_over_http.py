"""Pause and unpause of workflows, workers and crons, and cron backfill, over HTTP: the
runs of a paused workflow (or on a paused worker) stay queued while a real worker process
runs, and finish once unpaused; a backfill starts one run per missed tick; only an admin
token may do any of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hatchnb import Context, EmptyModel
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def _register(hatchet: Any) -> None:
    @hatchet.task(name="tick")
    def tick(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"ok": "yes"}

    hatchet.register(tick)


def _trigger(http: httpx.Client) -> str:
    started = http.post("/api/v1/workflows/tick/runs", json={})
    assert started.status_code == 201, started.text
    run_id: str = started.json()["run_id"]
    return run_id


def _status(http: httpx.Client, run_id: str) -> str:
    status: str = http.get(f"/api/v1/runs/{run_id}").json()["status"]
    return status


def _finishes(http: httpx.Client, run_id: str) -> None:
    wait_until(lambda: _status(http, run_id) == "SUCCEEDED", 30, f"run {run_id} to succeed")


@pytest.mark.workers
def test_a_paused_workflow_waits_for_unpause(
    hatchet: Any, client_for: Callable[..., Any], worker_process: Any
) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("admin")
    worker_process("--slots", "2")
    _finishes(http, _trigger(http))  # the worker runs the workflow

    paused = http.post(
        "/api/v1/workflows/tick/pause",
        json={"queue_ttl_seconds": 3600, "paused_workflow_cron_run_queue_behavior": "DROP"},
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["name"] == "tick" and paused.json()["is_paused"] is True
    assert hatchet.workflows.get("tick").is_paused
    waiting = _trigger(http)
    time.sleep(2)
    assert _status(http, waiting) == "QUEUED"

    resumed = http.post("/api/v1/workflows/tick/unpause")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["is_paused"] is False
    _finishes(http, waiting)
    # without a body: the defaults (a day's queue_ttl, QUEUE, QUEUE)
    assert http.post("/api/v1/workflows/tick/pause").json()["is_paused"] is True


@pytest.mark.workers
def test_a_paused_worker_claims_nothing_until_unpaused(
    hatchet: Any, client_for: Callable[..., Any], worker_process: Any
) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("admin")
    worker_process("--slots", "2", "--label", "gpu=1")
    _finishes(http, _trigger(http))
    workers = http.get("/api/v1/workers")
    assert workers.status_code == 200, workers.text
    [worker] = workers.json()
    assert worker["labels"] == {"gpu": 1}

    paused = http.post(f"/api/v1/workers/{worker['id']}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["id"] == worker["id"] and paused.json()["status"] == "PAUSED"
    time.sleep(1)  # the worker sees it at its next heartbeat (0.3 s here)
    waiting = _trigger(http)
    time.sleep(2)
    assert _status(http, waiting) == "QUEUED"

    resumed = http.post(f"/api/v1/workers/{worker['id']}/unpause")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "ACTIVE"
    _finishes(http, waiting)


def test_cron_pause_unpause_and_backfill(hatchet: Any, client_for: Callable[..., Any]) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("admin")
    cron = hatchet.cron.create("tick", "every-ten", "*/10 * * * *", additional_metadata={"a": 1})

    paused = http.post(f"/api/v1/crons/{cron.id}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["id"] == cron.id and paused.json()["paused"] is True
    assert hatchet.cron.get(cron.id).paused
    resumed = http.post(f"/api/v1/crons/{cron.id}/unpause")
    assert resumed.json()["paused"] is False

    # from one hour to the next, both included: 7 ticks of */10
    until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(hours=1)
    body = {"since": since.isoformat(), "until": until.isoformat()}
    backfilled = http.post(f"/api/v1/crons/{cron.id}/backfill", json=body)
    assert backfilled.status_code == 200, backfilled.text
    run_ids = backfilled.json()["run_ids"]
    ticks = [since + timedelta(minutes=10 * n) for n in range(7)]
    assert len(run_ids) == 7
    for run_id, tick in zip(run_ids, ticks, strict=True):
        metadata = http.get(f"/api/v1/runs/{run_id}").json()["additional_metadata"]
        assert metadata == {
            "a": 1,
            "hatchnb__cron_id": cron.id,
            "hatchnb__cron_tick": tick.isoformat(),
        }
    # every tick has its run now: a second backfill starts none
    again = http.post(f"/api/v1/crons/{cron.id}/backfill", json=body)
    assert again.status_code == 200 and again.json() == {"run_ids": []}
    # until defaults to now: the ticks of this hour so far
    later = http.post(f"/api/v1/crons/{cron.id}/backfill", json={"since": since.isoformat()})
    assert later.status_code == 200, later.text
    for run_id in later.json()["run_ids"]:
        metadata = http.get(f"/api/v1/runs/{run_id}").json()["additional_metadata"]
        assert until < datetime.fromisoformat(metadata["hatchnb__cron_tick"]) <= datetime.now(UTC)

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    refused = http.post(f"/api/v1/crons/{cron.id}/backfill", json={**body, "until": future})
    assert refused.status_code == 422 and "future" in refused.json()["error"]
    reversed_range = {"since": body["until"], "until": body["since"]}
    assert http.post(f"/api/v1/crons/{cron.id}/backfill", json=reversed_range).status_code == 422
    naive = http.post(f"/api/v1/crons/{cron.id}/backfill", json={"since": "2030-01-01T09:00"})
    assert naive.status_code == 422 and "since" in naive.json()["error"]
    assert http.post(f"/api/v1/crons/{cron.id}/backfill", json={}).status_code == 422


def test_only_admin_tokens_pause_and_unknown_names_are_404(
    hatchet: Any, client_for: Callable[..., Any]
) -> None:
    _register(hatchet)
    cron = hatchet.cron.create("tick", "hourly", "0 * * * *")
    some_id = "01a24000-0000-7000-8000-000000000000"
    since = {"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    calls: list[tuple[str, dict[str, Any] | None]] = [
        ("/api/v1/workflows/tick/pause", None),
        ("/api/v1/workflows/tick/unpause", None),
        (f"/api/v1/workers/{some_id}/pause", None),
        (f"/api/v1/workers/{some_id}/unpause", None),
        (f"/api/v1/crons/{cron.id}/pause", None),
        (f"/api/v1/crons/{cron.id}/unpause", None),
        (f"/api/v1/crons/{cron.id}/backfill", since),
    ]
    for scope in ("read", "trigger"):
        http: httpx.Client = client_for(scope)
        for path, body in calls:
            refused = http.post(path, json=body)
            assert refused.status_code == 403, (scope, path, refused.text)
            assert "this needs admin" in refused.json()["error"]
    assert not hatchet.workflows.get("tick").is_paused
    assert not hatchet.cron.get(cron.id).paused
    assert hatchet.runs.list() == []

    admin: httpx.Client = client_for("admin")
    for path, body in [
        ("/api/v1/workflows/nope/pause", None),
        ("/api/v1/workflows/nope/unpause", None),
        (f"/api/v1/workers/{some_id}/pause", None),
        (f"/api/v1/workers/{some_id}/unpause", None),
        ("/api/v1/workers/not-an-id/pause", None),
        (f"/api/v1/crons/{some_id}/pause", None),
        (f"/api/v1/crons/{some_id}/unpause", None),
        (f"/api/v1/crons/{some_id}/backfill", since),
    ]:
        missing = admin.post(path, json=body)
        assert missing.status_code == 404, (path, missing.text)
        name = "nope" if "nope" in path else "not-an-id" if "not-an-id" in path else some_id
        assert name in missing.json()["error"]

    for bad_body, field in [
        ({"queue_ttl_seconds": 0}, "queue_ttl_seconds"),
        ({"queue_ttl_seconds": "60"}, "queue_ttl_seconds"),
        ({"paused_workflow_scheduled_run_queue_behavior": "LATER"}, "scheduled_run"),
        ({"queue_ttl": 60}, "queue_ttl"),
    ]:
        bad = admin.post("/api/v1/workflows/tick/pause", json=bad_body)
        assert bad.status_code == 422, (bad_body, bad.text)
        assert field in bad.json()["error"]
    assert not hatchet.workflows.get("tick").is_paused
