"""Hatchet's webhook example (examples/webhooks and webhook_with_scope), with the imports
changed to hatchnb and the HTTP request replaced by ``hatchet.webhooks.receive``: the same
models, keyword arguments and lookups (events by ``triggering_webhook_name``, runs by
``hatchet__event_id``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import Context, Hatchet, V1WebhookHMACAlgorithm, V1WebhookHMACEncoding
from tests import webhook_senders as send
from tests.conftest import wait_until

pytestmark = pytest.mark.integration

# the example's imports, each from the path hatchet_sdk users write (hatchet_sdk -> hatchnb)
_names: dict[str, Any] = {}
exec(
    "from hatchnb.clients.rest.models.v1_webhook import V1Webhook\n"
    "from hatchnb.clients.rest.models.v1_webhook_api_key_auth import V1WebhookAPIKeyAuth\n"
    "from hatchnb.clients.rest.models.v1_webhook_basic_auth import V1WebhookBasicAuth\n"
    "from hatchnb.clients.rest.models.v1_webhook_hmac_auth import V1WebhookHMACAuth\n"
    "from hatchnb.clients.rest.models.v1_webhook_source_name import V1WebhookSourceName\n",
    _names,
)
V1Webhook = _names["V1Webhook"]
V1WebhookAPIKeyAuth = _names["V1WebhookAPIKeyAuth"]
V1WebhookBasicAuth = _names["V1WebhookBasicAuth"]
V1WebhookHMACAuth = _names["V1WebhookHMACAuth"]
V1WebhookSourceName = _names["V1WebhookSourceName"]


class WebhookInput(BaseModel):
    type: str
    message: str


def _event_of(hatchet: Hatchet, webhook: Any, since: datetime) -> Any:
    rows = hatchet.event.list(since=since).rows
    return next((e for e in rows if e.triggering_webhook_name == webhook.name), None)


def _completed_run(hatchet: Hatchet, event_id: str, since: datetime) -> Any:
    rows = hatchet.runs.list(since=since, additional_metadata={"hatchet__event_id": event_id})
    return next((r for r in rows.rows if r.status.value == "SUCCEEDED"), None)


@pytest.mark.parametrize(
    ("algorithm", "encoding"),
    [
        (V1WebhookHMACAlgorithm.SHA1, V1WebhookHMACEncoding.HEX),
        (V1WebhookHMACAlgorithm.SHA256, V1WebhookHMACEncoding.BASE64),
        (V1WebhookHMACAlgorithm.SHA512, V1WebhookHMACEncoding.BASE64URL),
    ],
)
def test_hatchets_webhook_example(
    hatchet: Hatchet, start_worker: Any, algorithm: Any, encoding: Any
) -> None:
    @hatchet.task(input_validator=WebhookInput, on_events=["webhook:test"])
    def webhook(input: WebhookInput, ctx: Context) -> dict[str, str]:
        return input.model_dump()

    start_worker(webhook)
    test_start = datetime.now(UTC)
    body = WebhookInput(type="test", message="Hello, world!")
    raw = json.dumps(body.model_dump()).encode()
    hooks = {
        "BASIC": hatchet.webhooks.create(
            source_name=V1WebhookSourceName.GENERIC,
            name="test-webhook-basic",
            event_key_expression="'webhook:' + input.type",
            auth=V1WebhookBasicAuth(username="test_user", password="test_password"),
        ),
        "API_KEY": hatchet.webhooks.create(
            source_name=V1WebhookSourceName.GENERIC,
            name="test-webhook-apikey",
            event_key_expression="'webhook:' + input.type",
            auth=V1WebhookAPIKeyAuth(headerName="X-API-Key", apiKey="test_api_key_123"),
        ),
        "HMAC": hatchet.webhooks.create(
            source_name=V1WebhookSourceName.GENERIC,
            name="test-webhook-hmac",
            event_key_expression="'webhook:' + input.type",
            auth=V1WebhookHMACAuth(
                algorithm=algorithm,
                encoding=encoding,
                signatureHeaderName="X-Signature",
                signingSecret="test_hmac_secret",
            ),
        ),
    }
    headers = {
        "BASIC": send.basic("test_user", "test_password"),
        "API_KEY": {"X-API-Key": "test_api_key_123"},
        "HMAC": send.generic_hmac(
            raw, "test_hmac_secret", "X-Signature", algorithm.value.lower(), encoding.value
        ),
    }
    for auth_type, incoming_webhook in hooks.items():
        assert isinstance(incoming_webhook, V1Webhook)
        receipt = hatchet.webhooks.receive(
            incoming_webhook.name, method="POST", headers=headers[auth_type], body=raw
        )
        data = receipt.to_response()
        assert data["message"] == "ok" and data["event"]["metadata"]["id"]

        triggered_event = _event_of(hatchet, incoming_webhook, test_start)
        assert triggered_event is not None
        assert triggered_event.key == "webhook:test"
        assert triggered_event.payload == body.model_dump()
        event_id: str = triggered_event.metadata.id
        run = wait_until(
            lambda: _completed_run(hatchet, event_id, test_start),  # noqa: B023
            message="the webhook's run to complete",
        )
        assert run.additional_metadata["hatchet__event_id"] == triggered_event.metadata.id
        assert run.additional_metadata["hatchet__event_key"] == triggered_event.key
        hatchet.webhooks.delete(incoming_webhook.name)
    assert hatchet.webhooks.list().rows == []


def test_hatchets_update_scope_expression_example(hatchet: Hatchet) -> None:
    incoming_webhook = hatchet.webhooks.create(
        source_name=V1WebhookSourceName.GENERIC,
        name="test-webhook-scope",
        event_key_expression="'webhook-scope:' + input.type",
        scope_expression="input.type",
        auth=V1WebhookBasicAuth(username="test_user", password="test_password"),
    )
    updated = hatchet.webhooks.update(incoming_webhook.name, scope_expression="input.scope")
    assert updated.scope_expression == "input.scope"
    assert updated.event_key_expression == incoming_webhook.event_key_expression
    raw = json.dumps({"type": "test", "message": "hi", "scope": "test-scope-value"}).encode()
    receipt = hatchet.webhooks.receive(
        incoming_webhook.name,
        method="POST",
        headers=send.basic("test_user", "test_password"),
        body=raw,
    )
    assert receipt.event is not None and receipt.event.scope == "test-scope-value"
