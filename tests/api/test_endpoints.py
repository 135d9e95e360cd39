"""A round trip over real HTTP for every endpoint, on a real database (admin token)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from hatchnb import Context

pytestmark = pytest.mark.integration


class Order(BaseModel):
    item: str
    quantity: int


def _register(hatchet: Any) -> None:
    @hatchet.task(name="ship", input_validator=Order, on_events=["order:paid"])
    def ship(order: Order, ctx: Context) -> dict[str, Any]:
        return {"shipped": order.quantity}

    hatchet.register(ship)


def test_health_needs_no_token(api: Any) -> None:
    with httpx.Client(base_url=api.url) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get("/readyz").json() == {"status": "ok", "database": "ok"}
        assert http.get("/api/openapi.json").json()["openapi"].startswith("3.1")
        assert "swagger-ui" in http.get("/api/docs").text


def test_trigger_read_list_cancel_replay(hatchet: Any, client_for: Callable[..., Any]) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("admin")
    started = http.post(
        "/api/v1/workflows/ship/runs",
        json={
            "input": {"item": "book", "quantity": 2},
            "additional_metadata": {"customer": "acme"},
            "priority": 3,
        },
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    assert started.json()["created"] is True

    run = http.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "QUEUED"
    assert run["input"] == {"item": "book", "quantity": 2}
    assert run["priority"] == 3
    assert [t["task_name"] for t in run["tasks"]] == ["ship"]

    page = http.get(
        "/api/v1/runs", params={"metadata": "customer=acme", "workflow_names": "ship"}
    ).json()
    assert [r["run_id"] for r in page["rows"]] == [run_id]
    assert page["next_offset"] is None
    other = http.get("/api/v1/runs", params={"metadata": "customer=other"}).json()
    assert other["rows"] == []
    by_status = http.get("/api/v1/runs", params={"statuses": ["QUEUED", "RUNNING"]}).json()
    assert len(by_status["rows"]) == 1

    assert http.post(f"/api/v1/runs/{run_id}/cancel").json() == {"run_ids": [run_id]}
    assert hatchet.runs.get_status(run_id) == "CANCELLED"
    assert http.get(f"/api/v1/runs/{run_id}/logs").json() == []
    replayed = http.post(f"/api/v1/runs/{run_id}/replay", json={"failed_only": False})
    assert replayed.json() == {"run_ids": [run_id]}
    assert hatchet.runs.get_status(run_id) != "CANCELLED"


def test_bulk_cancel_and_replay_by_filter(hatchet: Any, client_for: Callable[..., Any]) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("admin")
    ids = [
        http.post(
            "/api/v1/workflows/ship/runs",
            json={"input": {"item": "pen", "quantity": n}, "additional_metadata": {"b": "1"}},
        ).json()["run_id"]
        for n in range(3)
    ]
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"filters": {"since": since, "additional_metadata": {"b": "1"}}}
    response = http.post("/api/v1/runs/cancel", json=body)
    assert response.status_code == 200, response.text
    cancelled = response.json()["run_ids"]
    assert sorted(cancelled) == sorted(ids)
    assert {hatchet.runs.get_status(r) for r in ids} == {"CANCELLED"}
    replayed = http.post("/api/v1/runs/replay", json={"ids": ids[:1]}).json()
    assert replayed == {"run_ids": ids[:1]}
    assert hatchet.runs.get_status(ids[0]) != "CANCELLED"
    both = http.post("/api/v1/runs/cancel", json={"ids": ids, "filters": body["filters"]})
    assert both.status_code == 422
    assert "exactly one of ids" in both.json()["error"]


def test_input_schema_and_bad_requests_are_422_with_the_field(
    hatchet: Any, client_for: Callable[..., Any]
) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("admin")
    wrong = http.post("/api/v1/workflows/ship/runs", json={"input": {"item": "x"}})
    assert wrong.status_code == 422
    assert "'quantity' is a required property" in wrong.json()["error"]
    typo = http.post("/api/v1/workflows/ship/runs", json={"inptu": {}})
    assert typo.status_code == 422
    assert "inptu" in typo.json()["error"]
    priority = http.post(
        "/api/v1/workflows/ship/runs", json={"input": {"item": "x", "quantity": 1}, "priority": 9}
    )
    assert priority.status_code == 422
    assert "priority" in priority.json()["error"]
    unknown = http.post("/api/v1/workflows/nope/runs", json={})
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]
    assert http.get("/api/v1/runs/not-a-uuid").status_code == 404
    missing = http.get("/api/v1/runs/01a24000-0000-7000-8000-000000000000")
    assert missing.status_code == 404
    bad_pair = http.get("/api/v1/runs", params={"metadata": "novalue"})
    assert bad_pair.status_code == 422
    assert "metadata" in bad_pair.json()["error"]


def test_idempotency_key_returns_the_first_run(
    hatchet: Any, client_for: Callable[..., Any]
) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("trigger")
    other: httpx.Client = client_for("trigger")
    body = {"input": {"item": "a", "quantity": 1}, "idempotency_key": "order-17"}
    first = http.post("/api/v1/workflows/ship/runs", json=body)
    again = http.post("/api/v1/workflows/ship/runs", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["run_id"] == first.json()["run_id"]
    assert again.json()["created"] is False
    # keys belong to their token: another token's same key starts its own run
    theirs = other.post("/api/v1/workflows/ship/runs", json=body)
    assert theirs.status_code == 201
    assert theirs.json()["run_id"] != first.json()["run_id"]
    assert len(hatchet.runs.list()) == 2


def test_events_push_and_bulk_start_listening_workflows(
    hatchet: Any, client_for: Callable[..., Any]
) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("trigger")
    pushed = http.post(
        "/api/v1/events",
        json={"key": "order:paid", "payload": {"item": "cup", "quantity": 4}},
    )
    assert pushed.status_code == 201, pushed.text
    event = pushed.json()
    assert event["key"] == "order:paid"
    assert len(event["run_ids"]) == 1
    assert hatchet.runs.get(event["run_ids"][0]).input == {"item": "cup", "quantity": 4}
    bulk = http.post(
        "/api/v1/events/bulk",
        json={
            "events": [
                {"key": "order:paid", "payload": {"item": "a", "quantity": 1}},
                {"key": "nobody:listens"},
            ]
        },
    )
    assert bulk.status_code == 201
    assert [len(e["run_ids"]) for e in bulk.json()] == [1, 0]
    nul = http.post("/api/v1/events", json={"key": "bad\u0000key"})
    assert nul.status_code == 422


def test_catalog_crons_and_schedules(hatchet: Any, client_for: Callable[..., Any]) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("admin")
    workflows = http.get("/api/v1/workflows").json()
    assert [w["name"] for w in workflows] == ["ship"]
    assert workflows[0]["input_schema"]["required"] == ["item", "quantity"]
    assert http.get("/api/v1/workers").json() == []

    cron = http.post(
        "/api/v1/crons",
        json={
            "workflow_name": "ship",
            "cron_name": "nightly",
            "expression": "0 3 * * *",
            "input": {"item": "x", "quantity": 1},
        },
    )
    assert cron.status_code == 201, cron.text
    cron_id = cron.json()["id"]
    assert [c["id"] for c in http.get("/api/v1/crons").json()] == [cron_id]
    bad_cron = http.post(
        "/api/v1/crons",
        json={"workflow_name": "ship", "cron_name": "n", "expression": "every day"},
    )
    assert bad_cron.status_code == 422
    assert http.delete(f"/api/v1/crons/{cron_id}").json() == {"id": cron_id, "deleted": True}
    assert http.get("/api/v1/crons").json() == []
    assert http.delete(f"/api/v1/crons/{cron_id}").status_code == 404

    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    schedule = http.post(
        "/api/v1/schedules",
        json={"workflow_name": "ship", "trigger_at": at, "input": {"item": "y", "quantity": 2}},
    )
    assert schedule.status_code == 201, schedule.text
    schedule_id = schedule.json()["id"]
    listed = http.get("/api/v1/schedules", params={"workflow_name": "ship"}).json()
    assert [s["id"] for s in listed] == [schedule_id]
    naive = http.post(
        "/api/v1/schedules",
        json={"workflow_name": "ship", "trigger_at": "2030-01-01T09:00:00"},
    )
    assert naive.status_code == 422
    deleted = http.delete(f"/api/v1/schedules/{schedule_id}")
    assert deleted.json() == {"id": schedule_id, "deleted": True}
    assert http.get("/api/v1/schedules").json() == []


def test_open_api_needs_no_token_on_loopback(hatchet: Any, open_api: Any) -> None:
    _register(hatchet)
    with httpx.Client(base_url=open_api.url) as http:
        started = http.post(
            "/api/v1/workflows/ship/runs", json={"input": {"item": "a", "quantity": 1}}
        )
        assert started.status_code == 201
        assert http.post(f"/api/v1/runs/{started.json()['run_id']}/cancel").status_code == 200


def test_retention_deletes_what_the_api_kept_of_a_run(
    hatchet: Any, client_for: Callable[..., Any], db: Any
) -> None:
    _register(hatchet)
    http: httpx.Client = client_for("trigger")
    body = {"input": {"item": "old", "quantity": 1}, "idempotency_key": "k1"}
    run_id = http.post("/api/v1/workflows/ship/runs", json=body).json()["run_id"]
    hatchet.runs.cancel(run_id)
    time.sleep(0.05)
    report = hatchet.runs.prune(timedelta(milliseconds=10))
    assert report.counts["workflow_runs"] == 1
    assert db.execute("SELECT count(*) AS n FROM hatchnb.api_triggers").fetchone()["n"] == 0
    again = http.post("/api/v1/workflows/ship/runs", json=body)
    assert again.status_code == 201  # the key went with its run


def test_racing_triggers_with_one_idempotency_key_start_one_run(hatchet: Any, api: Any) -> None:
    _register(hatchet)
    secret, _ = hatchet.tokens.create("racer", "trigger")
    body = {"input": {"item": "a", "quantity": 1}, "idempotency_key": "race"}

    def trigger(_: int) -> tuple[int, str | None]:
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {secret}"}) as c:
            response = c.post("/api/v1/workflows/ship/runs", json=body)
        return response.status_code, response.json().get("run_id")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(trigger, range(8)))
    codes = sorted(code for code, _ in answers)
    assert codes.count(201) == 1, answers
    assert set(codes) <= {200, 201, 409}  # 409: the first run was still being started
    assert len({run_id for code, run_id in answers if code != 409}) == 1
    assert len(hatchet.runs.list()) == 1
