"""Tokens over real HTTP: scopes per endpoint, expiry, revocation, failed-auth throttling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hatchnb import Context, EmptyModel
from hatchnb.api.serve import ApiHandle

pytestmark = pytest.mark.integration


def _register(hatchet: Any) -> None:
    @hatchet.task(name="noop", on_events=["wake"])
    def noop(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {}

    hatchet.register(noop)


def _start(http: httpx.Client) -> httpx.Response:
    return http.post("/api/v1/workflows/noop/runs", json={"input": {"secret": "s3"}})


def test_scopes_are_enforced_per_endpoint(hatchet: Any, client_for: Callable[..., Any]) -> None:
    _register(hatchet)
    reader: httpx.Client = client_for("read")
    trigger: httpx.Client = client_for("trigger")
    admin: httpx.Client = client_for("admin")

    assert _start(reader).status_code == 403
    assert reader.post("/api/v1/events", json={"key": "k"}).status_code == 403
    mine = _start(trigger)
    assert mine.status_code == 201
    run_id = mine.json()["run_id"]
    theirs = _start(admin).json()["run_id"]

    # read: everything, but no cancel, replay, crons or schedules
    assert reader.get(f"/api/v1/runs/{theirs}").json()["input"] == {"secret": "s3"}
    assert reader.get("/api/v1/runs").status_code == 200
    refused = reader.post(f"/api/v1/runs/{run_id}/cancel")
    assert refused.status_code == 403
    assert "has scope read" in refused.json()["error"]
    assert reader.post("/api/v1/runs/cancel", json={"ids": [run_id]}).status_code == 403
    cron = {"workflow_name": "noop", "cron_name": "c", "expression": "* * * * *"}
    assert reader.post("/api/v1/crons", json=cron).status_code == 403

    # trigger: its own runs only, no listing, no cancel
    assert trigger.get(f"/api/v1/runs/{run_id}").status_code == 200
    other = trigger.get(f"/api/v1/runs/{theirs}")
    assert other.status_code == 403
    assert "only the runs it started" in other.json()["error"]
    assert "s3" not in other.text
    assert trigger.get(f"/api/v1/runs/{theirs}/logs").status_code == 403
    assert trigger.get(f"/api/v1/runs/{theirs}/stream").status_code == 403
    assert trigger.get("/api/v1/runs").status_code == 403
    assert trigger.post(f"/api/v1/runs/{run_id}/cancel").status_code == 403
    # the runs of the events it pushed are its own too
    pushed = trigger.post("/api/v1/events", json={"key": "wake", "payload": {"n": 1}})
    (event_run,) = pushed.json()["run_ids"]
    assert trigger.get(f"/api/v1/runs/{event_run}").json()["input"] == {"n": 1}
    assert reader.get(f"/api/v1/runs/{event_run}").status_code == 200

    # admin: all of it
    assert admin.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200
    assert admin.post("/api/v1/crons", json=cron).status_code == 201


def test_revoked_and_expired_tokens_are_refused(hatchet: Any, api: ApiHandle, db: Any) -> None:
    secret, _ = hatchet.tokens.create("ci", "read")
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=api.url, headers=headers) as http:
        assert http.get("/api/v1/workflows").status_code == 200
        hatchet.tokens.revoke("ci")
        assert http.get("/api/v1/workflows").status_code == 401
    secret, _ = hatchet.tokens.create("ci", "read")  # the name is free again
    db.execute(
        "UPDATE hatchnb.api_tokens SET expires_at = now() - interval '1 second' "
        "WHERE revoked_at IS NULL"
    )
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {secret}"}) as http:
        expired = http.get("/api/v1/workflows")
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]
    assert expired.headers["WWW-Authenticate"] == "Bearer"
    states = [
        (t.name, t.revoked_at is not None, t.expires_at is not None) for t in hatchet.tokens.list()
    ]
    assert states == [("ci", False, True), ("ci", True, False)]  # newest first
    stored = db.execute("SELECT token_hash FROM hatchnb.api_tokens").fetchall()
    assert all(secret not in row["token_hash"] for row in stored)


def test_failed_auth_is_throttled_per_address(hatchet: Any, api: ApiHandle) -> None:
    """The fixture's API allows 3 failures per address, then answers 429 (even to a
    good token) until the wait is over."""
    secret, _ = hatchet.tokens.create("good", "read")
    with httpx.Client(base_url=api.url) as http:
        codes = [
            http.get("/api/v1/workflows", headers={"Authorization": "Bearer hnb_wrong"}).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 401]
        assert http.get("/api/v1/workflows").status_code == 429  # without a token too
        locked = http.get("/api/v1/workflows", headers={"Authorization": f"Bearer {secret}"})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "too many failed authentications" in locked.json()["error"]


def test_every_api_route_but_health_and_webhooks_needs_a_token(api: ApiHandle) -> None:
    with httpx.Client(base_url=api.url) as http:
        document = http.get("/api/openapi.json").json()
        for path, operations in document["paths"].items():
            if not path.startswith("/api/v1/") or "/webhooks/" in path:
                continue  # a webhook checks its own signature or credentials
            for method in operations:
                concrete = path.replace("{", "").replace("}", "")
                response = http.request(method, concrete)
                assert response.status_code in (401, 429), (method, path, response.text)
