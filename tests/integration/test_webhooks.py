"""``hatchet.webhooks`` on a real PostgreSQL: managing webhooks, and requests signed by each
sender's documented scheme becoming events that start ``on_events`` workflows; refused
requests (tampered, wrong secret, missing header, replayed) store nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from hatchnb import Context, EmptyModel, Hatchet, RunStatus, errors
from hatchnb.webhook_types import (
    V1Webhook,
    V1WebhookAPIKeyAuth,
    V1WebhookAuthType,
    V1WebhookBasicAuth,
    V1WebhookHMACAlgorithm,
    V1WebhookHMACAuth,
    V1WebhookHMACEncoding,
    V1WebhookSourceName,
)
from tests import webhook_senders as send

pytestmark = pytest.mark.integration

SECRET = "test-signing-secret"
Source = V1WebhookSourceName
SHA256, HEX = V1WebhookHMACAlgorithm.SHA256, V1WebhookHMACEncoding.HEX


def _hmac(header: str, secret: str = SECRET, encoding: V1WebhookHMACEncoding = HEX) -> Any:
    return V1WebhookHMACAuth(
        algorithm=SHA256, encoding=encoding, signatureHeaderName=header, signingSecret=secret
    )


def _counts(db: Any) -> tuple[int, int]:
    events = db.execute("SELECT count(*) AS n FROM hatchnb.events").fetchone()["n"]
    runs = db.execute("SELECT count(*) AS n FROM hatchnb.workflow_runs").fetchone()["n"]
    return events, runs


def _listener(hatchet: Hatchet, pattern: str) -> Any:
    @hatchet.task(name=f"on-{pattern.replace('*', 'any').replace(':', '-')}", on_events=[pattern])
    def listener(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return dict(input.model_extra or {})

    hatchet.register(listener)
    return listener


def _run_row(db: Any, run_id: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT workflow_name, event_id, input FROM hatchnb.workflow_runs WHERE id = %s",
        (run_id,),
    ).fetchone()
    assert row is not None, f"no run row {run_id}"
    return dict(row)


# ---- managing webhooks -------------------------------------------------------------------


def test_create_list_get_update_delete(hatchet: Hatchet) -> None:
    basic = hatchet.webhooks.create(
        source_name=Source.GENERIC,
        name="orders-basic",
        event_key_expression="'order:' + input.type",
        auth=V1WebhookBasicAuth(username="shop", password="p4ssword"),
    )
    assert isinstance(basic, V1Webhook)
    assert basic.auth_type is V1WebhookAuthType.BASIC
    assert basic.return_event_as_response_payload is True and basic.scope_expression is None
    assert basic.metadata.id == basic.id and basic.metadata.created_at is not None
    keyed = hatchet.webhooks.create(
        Source.GENERIC,
        "orders-key",
        "'order:' + input.type",
        V1WebhookAPIKeyAuth(headerName="X-API-Key", apiKey="k-123456"),
        scope_expression="input.shop",
        static_payload={"via": "webhook"},
        return_event_as_response_payload=False,
    )
    github = hatchet.webhooks.create(
        Source.GITHUB, "gh", "'github:' + headers['x-github-event'] + ':' + input.action",
        _hmac("X-Hub-Signature-256"),
    )  # fmt: skip
    assert [w.name for w in hatchet.webhooks.list()] == ["gh", "orders-basic", "orders-key"]
    assert [w.name for w in hatchet.webhooks.list(source_names=[Source.GITHUB])] == ["gh"]
    assert [w.name for w in hatchet.webhooks.list(webhook_names=["orders-key"]).rows] == [
        "orders-key"
    ]
    assert [w.name for w in hatchet.webhooks.list(limit=1, offset=1)] == ["orders-basic"]
    assert hatchet.webhooks.get("orders-key") == keyed
    assert keyed.static_payload == {"via": "webhook"} and keyed.scope_expression == "input.shop"

    updated = hatchet.webhooks.update("orders-key", scope_expression="input.region")
    assert updated.scope_expression == "input.region"
    assert updated.event_key_expression == keyed.event_key_expression
    assert updated.static_payload == {"via": "webhook"} and updated.updated_at > keyed.updated_at

    assert hatchet.webhooks.delete("gh") == github
    with pytest.raises(errors.NotFound, match="no webhook is named 'gh'"):
        hatchet.webhooks.get("gh")
    with pytest.raises(errors.NotFound):
        hatchet.webhooks.update("gh", event_key_expression="'x'")
    shown = json.dumps([w.to_dict() for w in hatchet.webhooks.list()]) + repr(
        hatchet.webhooks.list()
    )
    assert "p4ssword" not in shown and "k-123456" not in shown


@pytest.mark.asyncio
async def test_async_twins(hatchet: Hatchet) -> None:
    auth = V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="abc")
    created = await hatchet.webhooks.aio_create(Source.GENERIC, "aio", "'k'", auth)
    assert await hatchet.webhooks.aio_get("aio") == created
    assert [w.name for w in await hatchet.webhooks.aio_list()] == ["aio"]
    assert (await hatchet.webhooks.aio_update("aio", event_key_expression="'j'")).name == "aio"
    receipt = await hatchet.webhooks.aio_receive(
        "aio", method="POST", headers={"X-Key": "abc"}, body=b"{}"
    )
    assert receipt.key == "j"
    assert (await hatchet.webhooks.aio_delete("aio")).name == "aio"


def test_create_refuses_bad_definitions(hatchet: Hatchet) -> None:
    auth = V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="abc")
    hatchet.webhooks.create(Source.GENERIC, "taken", "'k'", auth)
    with pytest.raises(errors.InvalidArgument, match="exists already"):
        hatchet.webhooks.create(Source.GENERIC, "taken", "'k'", auth)
    with pytest.raises(errors.InvalidArgument, match="part of the webhook's URL"):
        hatchet.webhooks.create(Source.GENERIC, "has/slash", "'k'", auth)
    with pytest.raises(errors.HatchnbError, match="invalid CEL expression"):
        hatchet.webhooks.create(Source.GENERIC, "bad-cel", "input.(", auth)
    with pytest.raises(errors.InvalidArgument, match="signs requests with the Stripe-Signature"):
        hatchet.webhooks.create(Source.STRIPE, "stripe", "'k'", _hmac("X-Signature"))
    with pytest.raises(errors.InvalidArgument, match="not an HTTP header name"):
        hatchet.webhooks.create(
            Source.GENERIC, "hdr", "'k'", V1WebhookAPIKeyAuth(headerName="X Key", apiKey="a")
        )
    with pytest.raises(ValueError, match="source"):
        hatchet.webhooks.create("GITLAB", "gl", "'k'", auth)
    assert [w.name for w in hatchet.webhooks.list()] == ["taken"]


def test_secrets_are_hashed_or_sealed_at_rest(
    dsn: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCHNB_SECRETS_KEY", "a key from the settings")
    keyed = Hatchet(dsn=dsn)
    try:
        keyed.webhooks.create(
            Source.GENERIC, "b", "'k'", V1WebhookBasicAuth(username="u", password="pw-basic")
        )
        keyed.webhooks.create(
            Source.GENERIC, "a", "'k'", V1WebhookAPIKeyAuth(headerName="X-K", apiKey="pw-key")
        )
        keyed.webhooks.create(Source.GITHUB, "g", "'k'", _hmac("X-Hub-Signature-256"))
        rows = db.execute("SELECT name, secret, auth_settings FROM hatchnb.webhooks").fetchall()
        stored = json.dumps([dict(r) for r in rows])
        for secret in ("pw-basic", "pw-key", SECRET):
            assert secret not in stored
        forms = {r["name"]: r["secret"].split(":")[0] for r in rows}
        assert forms == {"b": "sha256", "a": "sha256", "g": "fernet"}
        body = send.body_of({"action": "opened"})
        receipt = keyed.webhooks.receive(
            "g", method="POST", headers=send.github(body, SECRET), body=body
        )
        assert receipt.key == "k"
    finally:
        keyed.close()
    monkeypatch.delenv("HATCHNB_SECRETS_KEY")
    keyless = Hatchet(dsn=dsn)
    try:
        with pytest.raises(errors.ConfigurationError, match="HATCHNB_SECRETS_KEY"):
            keyless.webhooks.receive(
                "g", method="POST", headers=send.github(body, SECRET), body=body
            )
    finally:
        keyless.close()


# ---- each source's scheme ---------------------------------------------------------------

PR = {"action": "opened", "pull_request": {"number": 7}, "repository": {"full_name": "o/r"}}
PAYMENT = {"type": "payment_intent.succeeded", "data": {"object": {"amount": 500}}}
MENTION = {"type": "event_callback", "event": {"type": "app_mention", "user": "U1"}}
ISSUE = {"type": "Issue", "action": "create", "data": {"id": "i1"}}
SVIX_MSG = {"type": "invoice.paid", "data": {"id": "in_1"}}

SOURCES: list[tuple[V1WebhookSourceName, str, str, dict[str, Any], str, Callable[..., Any]]] = [
    (
        Source.GITHUB,
        "X-Hub-Signature-256",
        "'github:' + headers['x-github-event'] + ':' + input.action",
        PR,
        "github:pull_request:opened",
        send.github,
    ),
    (Source.STRIPE, "Stripe-Signature", "'stripe:' + input.type", PAYMENT,
     "stripe:payment_intent.succeeded", send.stripe),
    (Source.SLACK, "X-Slack-Signature", "'slack:event:' + input.event.type", MENTION,
     "slack:event:app_mention", send.slack),
    (Source.LINEAR, "Linear-Signature", "'linear:' + input.type + ':' + input.action", ISSUE,
     "linear:Issue:create", send.linear),
    (Source.SVIX, "svix-signature", "'svix:' + input.type", SVIX_MSG, "svix:invoice.paid",
     send.svix),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "header", "expression", "payload", "key", "sign"),
    SOURCES,
    ids=[s[0].value for s in SOURCES],
)
def test_a_signed_request_from_each_source_starts_the_on_events_workflow(
    hatchet: Hatchet,
    db: Any,
    source: V1WebhookSourceName,
    header: str,
    expression: str,
    payload: dict[str, Any],
    key: str,
    sign: Callable[..., dict[str, str]],
) -> None:
    secret = send.SVIX_SECRET if source is Source.SVIX else SECRET
    encoding = V1WebhookHMACEncoding.BASE64 if source is Source.SVIX else HEX
    _listener(hatchet, key.split(":")[0] + ":*")
    hatchet.webhooks.create(source, "hook", expression, _hmac(header, secret, encoding))
    body = send.body_of(payload)
    headers = sign(body, secret)

    for tampered, why in [
        (body.replace(b"}", b" }", 1), "tampered body"),
        (body, "wrong secret"),
    ]:
        wrong = sign(body, secret[:-1] + "x") if why == "wrong secret" else headers
        with pytest.raises(errors.WebhookRejected) as refused:
            hatchet.webhooks.receive("hook", method="POST", headers=wrong, body=tampered)
        assert refused.value.status == 403, why
    without = {k: v for k, v in headers.items() if k.lower() != header.lower()}
    with pytest.raises(errors.WebhookRejected, match=f"no {header} header"):
        hatchet.webhooks.receive("hook", method="POST", headers=without, body=body)
    assert _counts(db) == (0, 0)

    receipt = hatchet.webhooks.receive("hook", method="POST", headers=headers, body=body)
    assert receipt.key == key and len(receipt.run_ids) == 1
    event = hatchet.event.get(receipt.event_id or "")
    assert event.triggering_webhook_name == "hook" and event.payload == payload
    run = _run_row(db, receipt.run_ids[0])
    assert str(run["event_id"]) == receipt.event_id and run["input"] == payload
    answer = receipt.to_response()
    assert answer["message"] == "ok" and answer["event"]["metadata"]["id"] == receipt.event_id


@pytest.mark.parametrize(
    ("source", "header", "sign"),
    [
        (Source.STRIPE, "Stripe-Signature", send.stripe),
        (Source.SLACK, "X-Slack-Signature", send.slack),
        (Source.SVIX, "svix-signature", send.svix),
    ],
)
def test_a_replayed_request_outside_the_tolerance_stores_nothing(
    hatchet: Hatchet, db: Any, source: V1WebhookSourceName, header: str, sign: Any
) -> None:
    secret = send.SVIX_SECRET if source is Source.SVIX else SECRET
    encoding = V1WebhookHMACEncoding.BASE64 if source is Source.SVIX else HEX
    _listener(hatchet, "paid")
    hatchet.webhooks.create(source, "hook", "'paid'", _hmac(header, secret, encoding))
    body = send.body_of(PAYMENT)
    replayed = sign(body, secret, at=time.time() - 3600)
    with pytest.raises(errors.WebhookRejected, match="tolerance") as refused:
        hatchet.webhooks.receive("hook", method="POST", headers=replayed, body=body)
    assert refused.value.status == 403
    assert _counts(db) == (0, 0)


def test_generic_hmac_basic_and_api_key(hatchet: Hatchet, db: Any) -> None:
    _listener(hatchet, "webhook:*")
    key_expression = "'webhook:' + input.type"
    body = send.body_of({"type": "test", "message": "Hello, world!"})
    hmac_auth = V1WebhookHMACAuth(
        algorithm=V1WebhookHMACAlgorithm.SHA512,
        encoding=V1WebhookHMACEncoding.BASE64URL,
        signatureHeaderName="X-Signature",
        signingSecret=SECRET,
    )
    hatchet.webhooks.create(Source.GENERIC, "hmac", key_expression, hmac_auth)
    hatchet.webhooks.create(
        Source.GITHUB, "basic", key_expression, V1WebhookBasicAuth(username="u", password="pw")
    )
    api_key = V1WebhookAPIKeyAuth(headerName="X-API-Key", apiKey="test_api_key_123")
    hatchet.webhooks.create(Source.GENERIC, "apikey", key_expression, api_key)

    good = {
        "hmac": send.generic_hmac(body, SECRET, "X-Signature", "sha512", "BASE64URL"),
        "basic": send.basic("u", "pw"),
        "apikey": {"X-API-Key": "test_api_key_123"},
    }
    bad = {
        "hmac": send.generic_hmac(body, SECRET, "X-Signature", "sha256", "BASE64URL"),
        "basic": send.basic("u", "wrong"),
        "apikey": {"X-API-Key": "test_api_key_124"},
    }
    for name in good:
        with pytest.raises(errors.WebhookRejected) as refused:
            hatchet.webhooks.receive(name, method="POST", headers=bad[name], body=body)
        assert refused.value.status == 403
        with pytest.raises(errors.WebhookRejected):
            hatchet.webhooks.receive(name, method="POST", headers={}, body=body)
    assert _counts(db) == (0, 0)
    for name, headers in good.items():
        receipt = hatchet.webhooks.receive(name, method="POST", headers=headers, body=body)
        assert receipt.key == "webhook:test" and len(receipt.run_ids) == 1
    assert _counts(db) == (3, 3)


def test_cel_scope_from_payload_headers_and_static_payload(hatchet: Hatchet, db: Any) -> None:
    @hatchet.task(name="scoped", on_events=["webhook-scope:*"])
    def scoped(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(scoped)
    hatchet.filters.create(scoped, "true", scope="cust-123")
    auth = V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="k")
    key = "'webhook-scope:' + input.type"
    hatchet.webhooks.create(Source.GENERIC, "from-body", key, auth, scope_expression="input.scope")
    hatchet.webhooks.create(
        Source.GENERIC, "from-header", key, auth, scope_expression="headers['x-custom-scope']"
    )
    hatchet.webhooks.create(
        Source.GENERIC,
        "from-static",
        key,
        auth,
        scope_expression="input.customer_id",
        static_payload={"customer_id": "cust-123", "source": "static"},
    )

    def post(name: str, payload: dict[str, Any], **headers: str) -> Any:
        body = send.body_of(payload)
        return hatchet.webhooks.receive(
            name, method="POST", headers={"X-Key": "k", **headers}, body=body
        )

    by_body = post("from-body", {"type": "test", "scope": "cust-123"})
    by_header = post("from-header", {"type": "test"}, **{"X-Custom-Scope": "cust-123"})
    other_scope = post("from-header", {"type": "test"}, **{"X-Custom-Scope": "cust-999"})
    by_static = post("from-static", {"type": "test", "source": "original"})
    assert [r.event.scope for r in (by_body, by_header, other_scope, by_static)] == [
        "cust-123", "cust-123", "cust-999", "cust-123",
    ]  # fmt: skip
    assert [len(r.run_ids) for r in (by_body, by_header, other_scope, by_static)] == [1, 1, 0, 1]
    # the static payload is merged over the body, and wins
    assert by_static.event.payload == {
        "type": "test",
        "source": "static",
        "customer_id": "cust-123",
    }
    assert _run_row(db, by_static.run_ids[0])["input"]["source"] == "static"


def test_refusals_name_their_status_and_what_to_fix(hatchet: Hatchet, db: Any) -> None:
    auth = V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="k")
    hatchet.webhooks.create(Source.GENERIC, "hook", "'k:' + input.type", auth)
    hatchet.webhooks.create(Source.GENERIC, "num", "1 + 1", auth, scope_expression="input.n")
    ok = {"X-Key": "k"}

    def status(name: str, body: bytes, method: str = "POST", headers: Any = ok) -> int:
        with pytest.raises(errors.WebhookRejected) as refused:
            hatchet.webhooks.receive(name, method=method, headers=headers, body=body)
        assert refused.value.reason
        return refused.value.status

    assert status("missing", b"{}") == 404
    assert status("hook", b"{}", method="GET") == 405
    assert status("hook", b"{}", headers={"X-Key": "no"}) == 403
    assert status("hook", b"not json") == 400
    assert status("hook", b"[1, 2]") == 400
    assert status("hook", b"") == 400
    assert status("hook", b"{}") == 400  # input.type is missing: the expression fails
    assert status("num", b'{"n": 1}') == 400  # the key is not a string
    with pytest.raises(errors.WebhookRejected, match="not a non-empty string"):
        hatchet.webhooks.receive("num", method="POST", headers=ok, body=b"{}")
    assert _counts(db) == (0, 0)


def test_slack_url_verification_and_form_encoded_requests(hatchet: Hatchet, db: Any) -> None:
    _listener(hatchet, "slack:*")
    hatchet.webhooks.create(
        Source.SLACK,
        "slack",
        "has(input.command) ? 'slack:command:' + input.command : 'slack:interaction:' + input.type",
        _hmac("X-Slack-Signature"),
    )
    challenge = send.body_of({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV"})
    with pytest.raises(errors.WebhookRejected):  # the challenge is signed too
        hatchet.webhooks.receive(
            "slack", method="POST", headers=send.slack(challenge, "nope"), body=challenge
        )
    receipt = hatchet.webhooks.receive(
        "slack", method="POST", headers=send.slack(challenge, SECRET), body=challenge
    )
    assert receipt.to_response() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}
    assert receipt.event is None and _counts(db) == (0, 0)

    command = urlencode({"command": "/deploy", "text": "api", "user_name": "ada"}).encode()
    headers = send.slack(command, SECRET, form=True)
    receipt = hatchet.webhooks.receive("slack", method="POST", headers=headers, body=command)
    assert receipt.key == "slack:command:/deploy"
    assert receipt.event is not None and receipt.event.payload["user_name"] == "ada"

    action = {"type": "block_actions", "actions": [{"action_id": "approve"}]}
    interaction = urlencode({"payload": json.dumps(action)}).encode()
    headers = send.slack(interaction, SECRET, form=True)
    receipt = hatchet.webhooks.receive("slack", method="POST", headers=headers, body=interaction)
    assert receipt.key == "slack:interaction:block_actions"
    assert receipt.event is not None and receipt.event.payload == action
    assert _counts(db) == (2, 2)


def test_return_event_as_response_payload_false_hides_the_event(hatchet: Hatchet) -> None:
    auth = V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="k")
    hatchet.webhooks.create(
        Source.GENERIC, "quiet", "'k'", auth, return_event_as_response_payload=False
    )
    receipt = hatchet.webhooks.receive("quiet", method="POST", headers={"X-Key": "k"}, body=b"{}")
    assert receipt.event_id is not None and receipt.to_response() == {"message": "ok"}


@pytest.mark.workers
def test_a_worker_process_runs_the_workflow_a_github_webhook_started(
    hatchet: Hatchet, worker_process: Any
) -> None:
    @hatchet.task(name="handle-github-pr", on_events=["github:pull_request:opened"])
    def handle_github_pr(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        extra = input.model_extra or {}
        return {"repo": extra["repository"]["full_name"], "pr": extra["pull_request"]["number"]}

    hatchet.register(handle_github_pr)
    hatchet.webhooks.create(
        Source.GITHUB,
        "github",
        "'github:' + headers['x-github-event'] + ':' + input.action",
        _hmac("X-Hub-Signature-256"),
    )
    worker = worker_process("--slots", "2")
    body = send.body_of(PR)
    receipt = hatchet.webhooks.receive(
        "github", method="POST", headers=send.github(body, SECRET), body=body
    )
    ref = hatchet.runs.get_run_ref(receipt.run_ids[0])
    try:
        result = ref.result(timeout=20)
    except TimeoutError:
        raise AssertionError(worker.output()) from None
    assert result == {"handle-github-pr": {"repo": "o/r", "pr": 7}}, worker.output()
    run = hatchet.runs.get(receipt.run_ids[0])
    assert run.status is RunStatus.SUCCEEDED
    assert run.additional_metadata["hatchet__event_id"] == receipt.event_id


def test_rotating_the_secrets_key(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = send.body_of({"action": "opened"})

    def receive_with(key: str, previous: str = "") -> Any:
        monkeypatch.setenv("HATCHNB_SECRETS_KEY", key)
        monkeypatch.setenv("HATCHNB_SECRETS_KEY_PREVIOUS", previous)
        client = Hatchet(dsn=dsn)
        try:
            if not client.webhooks.list().rows:
                client.webhooks.create(Source.GITHUB, "g", "'k'", _hmac("X-Hub-Signature-256"))
            headers = send.github(body, SECRET)
            return client.webhooks.receive("g", method="POST", headers=headers, body=body)
        finally:
            client.close()

    assert receive_with("old key").key == "k"
    with pytest.raises(errors.ConfigurationError, match="HATCHNB_SECRETS_KEY_PREVIOUS"):
        receive_with("new key")
    assert receive_with("new key", previous="old key").key == "k"
    monkeypatch.setenv("HATCHNB_SECRETS_KEY_PREVIOUS", "old key")
    rotating = Hatchet(dsn=dsn)
    try:
        assert rotating.webhooks.reseal_secrets() == 1
    finally:
        rotating.close()
    assert receive_with("new key").key == "k"  # the old key is no longer needed


def test_query_parameters_reach_the_expressions(hatchet: Hatchet) -> None:
    auth = V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="k")
    hatchet.webhooks.create(
        Source.GENERIC, "q", "'ci:' + query['pipeline']", auth, scope_expression="query.env"
    )
    receipt = hatchet.webhooks.receive(
        "q",
        method="POST",
        headers={"X-Key": "k"},
        body=b'{"ok": true}',
        query={"pipeline": "build", "env": "prod"},
    )
    assert receipt.key == "ci:build" and receipt.event is not None
    assert receipt.event.scope == "prod"
    with pytest.raises(errors.InvalidArgument, match="not one of GENERIC"):
        hatchet.webhooks.list(source_names=["GITLAB"])  # type: ignore[list-item]
