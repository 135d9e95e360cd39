"""``POST /api/v1/webhooks/<name>`` on the real server: no bearer token, the webhook's own
signature check; a GitHub-signed delivery starts the ``on_events`` workflow, a tampered or
unsigned one is a 403 and stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hatchnb import ClientConfig, Context, EmptyModel
from hatchnb.webhook_types import (
    V1WebhookBasicAuth,
    V1WebhookHMACAlgorithm,
    V1WebhookHMACAuth,
    V1WebhookHMACEncoding,
    V1WebhookSourceName,
)
from tests import webhook_senders as send

pytestmark = pytest.mark.integration

SECRET = "route-secret"


def _events(db: Any) -> int:
    return int(db.execute("SELECT count(*) AS n FROM hatchnb.events").fetchone()["n"])


def test_a_signed_delivery_over_http_starts_the_workflow(hatchet: Any, api: Any, db: Any) -> None:
    @hatchet.task(on_events=["github:pull_request"])
    def on_pr(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"seen": True}

    hatchet.register(on_pr)
    hatchet.webhooks.create(
        V1WebhookSourceName.GITHUB,
        "gh",
        "'github:' + headers['x-github-event']",
        V1WebhookHMACAuth(
            algorithm=V1WebhookHMACAlgorithm.SHA256,
            encoding=V1WebhookHMACEncoding.HEX,
            signatureHeaderName="X-Hub-Signature-256",
            signingSecret=SECRET,
        ),
    )
    body = send.body_of({"action": "opened", "number": 7})
    url = f"{api.url}/api/v1/webhooks/gh"
    with httpx.Client(timeout=30) as http:  # no Authorization header: not needed here
        tampered = http.post(url, content=body + b" ", headers=send.github(body, SECRET))
        assert tampered.status_code == 403 and "signature" in tampered.json()["error"]
        unsigned = http.post(url, content=body, headers={"Content-Type": "application/json"})
        assert unsigned.status_code == 403
        assert _events(db) == 0
        assert http.post(f"{api.url}/api/v1/webhooks/nope", content=body).status_code == 404
        answer = http.post(url, content=body, headers=send.github(body, SECRET))
        assert answer.status_code == 200, answer.text
        assert answer.json()["message"] == "ok"
        hatchets_url = f"{api.url}/api/v1/stable/tenants/any-tenant/webhooks/gh"
        again = http.post(hatchets_url, content=body, headers=send.github(body, SECRET))
        assert again.status_code == 200, again.text
    events = hatchet.event.list(keys=["github:pull_request"]).rows
    assert [len(e.run_ids) for e in events] == [1, 1]


def test_the_url_hatchet_code_builds_from_its_config_reaches_the_route(
    hatchet: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hatchet's examples build a webhook's URL from ``hatchet.config.server_url`` (here
    from HATCHET_CLIENT_SERVER_URL, as hatchet_sdk reads it) and ``hatchet.tenant_id``."""
    monkeypatch.setenv("HATCHET_CLIENT_SERVER_URL", f"{api.url}/")
    config = ClientConfig()
    assert config.server_url == api.url
    hatchet.webhooks.create(
        V1WebhookSourceName.GENERIC,
        "basic-hook",
        "'hook:' + input.type",
        V1WebhookBasicAuth(username="u", password="p"),
    )
    url = f"{config.server_url}/api/v1/stable/tenants/{hatchet.tenant_id}/webhooks/basic-hook"
    body = send.body_of({"type": "ping"})
    with httpx.Client(timeout=30) as http:
        refused = http.post(url, content=body, headers=send.basic("u", "wrong"))
        assert refused.status_code == 403
        answer = http.post(url, content=body, headers=send.basic("u", "p"))
        assert answer.status_code == 200, answer.text
    assert [e.key for e in hatchet.event.list(keys=["hook:ping"]).rows] == ["hook:ping"]
