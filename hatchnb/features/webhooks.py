"""``hatchet.webhooks``: inbound webhooks. A webhook is a named endpoint that verifies a
request (basic auth, an API key, or an HMAC by its source's scheme), turns it into an event
with CEL expressions, and pushes that event through ``hatchet.event``, so ``on_events``
workflows start. ``receive`` is what an HTTP route calls with the raw request."""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from hatchnb import errors, expressions, limits, secret_box, serialization
from hatchnb.config import Settings
from hatchnb.features.events import EventClient
from hatchnb.store import Store
from hatchnb.store.webhooks import NewWebhook, StoredWebhook, WebhooksRepo
from hatchnb.webhook_types import (
    CreateWebhookRequest,
    V1UpdateWebhookRequest,
    V1Webhook,
    V1WebhookAPIKeyAuth,
    V1WebhookAuthType,
    V1WebhookBasicAuth,
    V1WebhookHMACAuth,
    V1WebhookList,
    V1WebhookSourceName,
    WebhookAuth,
    WebhookReceipt,
)
from hatchnb.webhook_verify import SOURCE_SCHEMES, Credentials, InboundRequest, verify

#: webhook names appear in URLs (POST /api/v1/webhooks/<name>)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: an HTTP header name (RFC 9110 token)
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")


class WebhooksClient:
    """``hatchet.webhooks``: create, list, get, update and delete webhooks, and ``receive``
    the requests sent to them."""

    def __init__(self, store: Store, settings: Settings, events: EventClient) -> None:
        self._repo = WebhooksRepo(store)
        self._settings = settings
        self._box = secret_box.SecretBox(settings.secrets_key, settings.previous_secrets_keys)
        self._events = events

    # ---- managing webhooks ----------------------------------------------------------

    def create(
        self,
        source_name: V1WebhookSourceName | str,
        name: str,
        event_key_expression: str,
        auth: WebhookAuth,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        return_event_as_response_payload: bool = True,
    ) -> V1Webhook:
        """Create a webhook; its requests are verified by ``auth`` and become events whose
        key (and scope) the CEL expressions compute from ``input`` (the body, with
        ``static_payload`` merged over it), ``headers`` (lower-case names) and ``query``."""
        request = CreateWebhookRequest(
            sourceName=source_name,  # type: ignore[arg-type]  # validated by the model
            name=name,
            eventKeyExpression=event_key_expression,
            scopeExpression=scope_expression,
            staticPayload=static_payload,
            auth=auth,
            returnEventAsResponsePayload=return_event_as_response_payload,
        )
        _check_name(request.name)
        _check_expressions(request.event_key_expression, request.scope_expression)
        _check_auth(request.source_name, request.auth)
        settings, secret = self._seal(request.auth)
        stored = self._repo.create(
            NewWebhook(
                name=request.name,
                source_name=request.source_name.value,
                auth_type=request.auth_type.value,
                auth_settings=settings,
                secret=secret,
                event_key_expression=request.event_key_expression,
                scope_expression=request.scope_expression,
                static_payload=self._static_payload(request.static_payload),
                return_event_as_response_payload=request.return_event_as_response_payload
                is not False,
            )
        )
        if stored is None:
            raise errors.InvalidArgument(
                f"a webhook named {name!r} exists already: pick another name, or change it "
                f"with hatchet.webhooks.update({name!r}, ...)"
            )
        return _public(stored)

    def list(
        self,
        limit: int | None = None,
        offset: int | None = None,
        webhook_names: builtins.list[str] | None = None,
        source_names: builtins.list[V1WebhookSourceName] | None = None,
    ) -> V1WebhookList:
        """Webhooks by name, optionally only the given names and sources."""
        sources = None
        if source_names is not None:
            sources = [_source(s).value for s in source_names]
        rows = self._repo.list(
            limits.names(webhook_names, "webhook_names"),
            sources,
            limits.optional_whole_number(limit, "limit", 0) or 100,
            limits.optional_whole_number(offset, "offset", 0) or 0,
        )
        return V1WebhookList(_public(r) for r in rows)

    def get(self, webhook_name: str) -> V1Webhook:
        return _public(self._found(self._repo.get(_lookup_name(webhook_name)), webhook_name))

    def update(
        self,
        webhook_name: str,
        event_key_expression: str | None = None,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        return_event_as_response_payload: bool | None = None,
    ) -> V1Webhook:
        """Change the fields given; the others (and the auth method) stay as they are."""
        change = V1UpdateWebhookRequest(
            eventKeyExpression=event_key_expression,
            scopeExpression=scope_expression,
            staticPayload=static_payload,
            returnEventAsResponsePayload=return_event_as_response_payload,
        )
        _check_expressions(change.event_key_expression, change.scope_expression)
        stored = self._repo.update(
            _lookup_name(webhook_name),
            change.event_key_expression,
            change.scope_expression,
            self._static_payload(change.static_payload),
            change.return_event_as_response_payload,
        )
        return _public(self._found(stored, webhook_name))

    def delete(self, webhook_name: str) -> V1Webhook:
        """Delete a webhook; returns it. Its events stay."""
        return _public(self._found(self._repo.delete(_lookup_name(webhook_name)), webhook_name))

    def reseal_secrets(self) -> int:
        """Encrypt every HMAC signing secret again under the current HATCHNB_SECRETS_KEY
        (after a rotation, with the old key in HATCHNB_SECRETS_KEY_PREVIOUS; also seals
        secrets stored before a key was set). Returns how many changed. hatchnb's own."""
        if not self._box.encrypts:
            raise errors.ConfigurationError(
                "set HATCHNB_SECRETS_KEY (the new key) before resealing webhook secrets"
            )
        changed = 0
        for found in self._repo.list(None, None, 1_000_000, 0):
            if found.auth_type != V1WebhookAuthType.HMAC.value:
                continue
            resealed = self._box.reseal(found.secret)
            changed += self._repo.replace_secret(found.name, found.secret, resealed)
        return changed

    # ---- receiving requests ---------------------------------------------------------

    def receive(
        self,
        name: str,
        *,
        method: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        query: Mapping[str, Any] | None = None,
    ) -> WebhookReceipt:
        """Verify one request sent to the webhook ``name`` and push its event.

        Raises ``WebhookRejected`` with the HTTP status to answer: 404 unknown webhook, 405
        not a POST, 413 body too large, 403 bad or missing credentials (nothing is stored),
        400 body not JSON (or form-encoded) or an expression that fails on it."""
        request = InboundRequest.of(method, headers, body, query)
        found = self._repo.get(name) if _NAME.fullmatch(str(name)) else None
        if found is None:
            raise errors.WebhookRejected(404, f"no webhook is named {limits.shown(name)}")
        if request.method != "POST":
            raise errors.WebhookRejected(405, f"webhooks take POST requests, not {method}")
        if len(request.body) > self._settings.max_payload_bytes:
            raise errors.WebhookRejected(
                413, f"the body is over {self._settings.max_payload_bytes:,} bytes"
            )
        source = V1WebhookSourceName(found.source_name)
        verify(source, self._credentials(found), request, time.time())
        payload = _parse_body(request, source)
        if source is V1WebhookSourceName.SLACK and payload.get("type") == "url_verification":
            return WebhookReceipt(challenge=str(payload.get("challenge", "")))
        event_input = {**payload, **(found.static_payload or {})}
        variables = {"input": event_input, "headers": request.headers, "query": request.query}
        key = _key(found.event_key_expression, variables)
        scope = _scope(found.scope_expression, variables)
        try:
            event = self._events.push_received(key, event_input, scope, found.name)
        except errors.PayloadTooLarge as exc:
            raise errors.WebhookRejected(413, str(exc)) from None
        except (errors.SerializationError, expressions.InvalidExpression) as exc:
            raise errors.WebhookRejected(400, str(exc)) from None
        return WebhookReceipt(event=event, return_event=found.return_event_as_response_payload)

    # ---- helpers --------------------------------------------------------------------

    def _seal(self, auth: WebhookAuth) -> tuple[dict[str, str], str]:
        """The auth method's non-secret settings, and its secret as stored."""
        if isinstance(auth, V1WebhookBasicAuth):
            return {"username": auth.username}, secret_box.hash_secret(auth.password)
        if isinstance(auth, V1WebhookAPIKeyAuth):
            return {"header_name": auth.header_name}, secret_box.hash_secret(auth.api_key)
        settings = {
            "signature_header_name": auth.signature_header_name,
            "algorithm": auth.algorithm.value,
            "encoding": auth.encoding.value,
        }
        return settings, self._box.seal(auth.signing_secret)

    def _credentials(self, found: StoredWebhook) -> Credentials:
        auth_type = V1WebhookAuthType(found.auth_type)
        secret = found.secret
        if auth_type is V1WebhookAuthType.HMAC:
            secret = self._box.open(secret)
        return Credentials(auth_type, found.auth_settings, secret)

    def _static_payload(self, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        if payload is None:
            return None
        limit = self._settings.max_payload_bytes
        loaded: dict[str, Any] = json.loads(
            serialization.dump_json(payload, "static_payload", limit)
        )
        return loaded

    @staticmethod
    def _found(stored: StoredWebhook | None, name: str) -> StoredWebhook:
        if stored is None:
            raise errors.NotFound(
                f"no webhook is named {limits.shown(name)}; see hatchet.webhooks.list()"
            )
        return stored

    # hatchet_sdk's async twins

    async def aio_create(self, *args: Any, **kwargs: Any) -> V1Webhook:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    async def aio_list(self, *args: Any, **kwargs: Any) -> V1WebhookList:
        return await asyncio.to_thread(self.list, *args, **kwargs)

    async def aio_get(self, *args: Any, **kwargs: Any) -> V1Webhook:
        return await asyncio.to_thread(self.get, *args, **kwargs)

    async def aio_update(self, *args: Any, **kwargs: Any) -> V1Webhook:
        return await asyncio.to_thread(self.update, *args, **kwargs)

    async def aio_delete(self, *args: Any, **kwargs: Any) -> V1Webhook:
        return await asyncio.to_thread(self.delete, *args, **kwargs)

    async def aio_receive(self, *args: Any, **kwargs: Any) -> WebhookReceipt:
        return await asyncio.to_thread(self.receive, *args, **kwargs)


def _public(stored: StoredWebhook) -> V1Webhook:
    return V1Webhook(
        id=stored.id,
        name=stored.name,
        source_name=V1WebhookSourceName(stored.source_name),
        event_key_expression=stored.event_key_expression,
        scope_expression=stored.scope_expression,
        static_payload=stored.static_payload,
        auth_type=V1WebhookAuthType(stored.auth_type),
        return_event_as_response_payload=stored.return_event_as_response_payload,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
    )


def _source(value: Any) -> V1WebhookSourceName:
    try:
        return V1WebhookSourceName(value)
    except ValueError:
        known = ", ".join(s.value for s in V1WebhookSourceName)
        raise errors.InvalidArgument(
            f"source name {limits.shown(value)} is not one of {known}"
        ) from None


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise errors.InvalidArgument(
            f"webhook name {limits.shown(name)}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (the name is part of the webhook's URL)"
        )


def _lookup_name(name: Any) -> str:
    return limits.check_name(name, "webhook_name", errors.InvalidArgument)


def _check_expressions(key_expression: str | None, scope_expression: str | None) -> None:
    for expression in (key_expression, scope_expression):
        if expression is not None:
            expressions.compile_expression(expression)


def _check_auth(source: V1WebhookSourceName, auth: WebhookAuth) -> None:
    if isinstance(auth, V1WebhookBasicAuth):
        if ":" in auth.username:
            raise errors.InvalidArgument(
                "a basic-auth username cannot contain ':' (it separates user and password)"
            )
        return
    header = auth.header_name if isinstance(auth, V1WebhookAPIKeyAuth) else None
    header = header or getattr(auth, "signature_header_name", None)
    if header is not None and not _HEADER.fullmatch(header):
        raise errors.InvalidArgument(
            f"header name {limits.shown(header)} is not an HTTP header name: use letters, "
            "digits and '-', e.g. X-Signature"
        )
    if isinstance(auth, V1WebhookHMACAuth) and source in SOURCE_SCHEMES:
        _check_source_scheme(source, auth)


def _check_source_scheme(source: V1WebhookSourceName, auth: V1WebhookHMACAuth) -> None:
    """A known source signs its own way: refuse settings that say otherwise rather than
    ignore them."""
    scheme = SOURCE_SCHEMES[source]
    if (
        auth.signature_header_name.lower() != scheme.header.lower()
        or auth.algorithm is not scheme.algorithm
        or auth.encoding is not scheme.encoding
    ):
        raise errors.InvalidArgument(
            f"{source.value} signs requests with the {scheme.header} header, "
            f"{scheme.algorithm.value} and {scheme.encoding.value}: pass "
            f"V1WebhookHMACAuth(algorithm=V1WebhookHMACAlgorithm.{scheme.algorithm.value}, "
            f"encoding=V1WebhookHMACEncoding.{scheme.encoding.value}, "
            f"signatureHeaderName={scheme.header!r}, signingSecret=<the {source.value} "
            "signing secret>), or source_name=GENERIC for another scheme"
        )


def _parse_body(request: InboundRequest, source: V1WebhookSourceName) -> dict[str, Any]:
    """The body as a dict: a JSON object, or form fields (Slack's slash commands; its
    interactions put their JSON in the form's ``payload`` field)."""
    if not request.body.strip():
        raise errors.WebhookRejected(400, "the body is empty: send a JSON object")
    content_type = (request.header("Content-Type") or "").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _form_fields(request.body, source)
    try:
        parsed = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.WebhookRejected(
            400,
            f"the body is not JSON ({exc}): send a JSON object, or form fields with "
            "Content-Type: application/x-www-form-urlencoded",
        ) from None
    if not isinstance(parsed, dict):
        raise errors.WebhookRejected(
            400, f"the body is a JSON {type(parsed).__name__}: send a JSON object"
        )
    return parsed


def _form_fields(body: bytes, source: V1WebhookSourceName) -> dict[str, Any]:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.WebhookRejected(400, f"the form-encoded body does not parse ({exc})") from None
    flat: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
    if source is V1WebhookSourceName.SLACK and set(flat) == {"payload"}:
        try:
            inner = json.loads(flat["payload"])
        except ValueError:
            raise errors.WebhookRejected(
                400, "the form's payload field is not JSON (Slack sends a JSON object there)"
            ) from None
        if isinstance(inner, dict):
            return inner
    return flat


def _evaluate(expression: str, variables: dict[str, Any], what: str) -> Any:
    try:
        return expressions.evaluate(expression, variables)
    except expressions.InvalidExpression as exc:
        raise errors.WebhookRejected(
            400, f"the webhook's {what} expression failed on this request: {exc}"
        ) from None


def _key(expression: str, variables: dict[str, Any]) -> str:
    key = _evaluate(expression, variables, "event key")
    if not isinstance(key, str) or not key:
        raise errors.WebhookRejected(
            400,
            f"the event key expression {expression!r} gave {limits.shown(key)}, not a "
            "non-empty string: make it build a string, e.g. 'stripe:' + input.type",
        )
    return key


def _scope(expression: str | None, variables: dict[str, Any]) -> str | None:
    if expression is None:
        return None
    scope = _evaluate(expression, variables, "scope")
    if scope is not None and not isinstance(scope, str):
        raise errors.WebhookRejected(
            400,
            f"the scope expression {expression!r} gave {limits.shown(scope)}, not a string: "
            "make it build a string, e.g. input.customer_id",
        )
    return scope or None
