"""Verifying an inbound webhook request (no I/O): basic auth, an API key header, or an HMAC
signature by the source's documented scheme. Every comparison is constant time; a refusal
raises ``WebhookRejected(403, reason)``, where the reason says what was wrong, never a
secret."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hatchnb import errors, secret_box
from hatchnb.webhook_types import (
    V1WebhookAuthType,
    V1WebhookHMACAlgorithm,
    V1WebhookHMACEncoding,
    V1WebhookSourceName,
)

#: how old (or how far ahead) a signed timestamp may be, in seconds: Stripe's and Slack's
#: documented default of five minutes; an older request is treated as a replay
TOLERANCE_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class HmacScheme:
    """Where a source puts its signature and how it computes it."""

    header: str
    algorithm: V1WebhookHMACAlgorithm
    encoding: V1WebhookHMACEncoding


#: the sources whose signature scheme is fixed by the sender (GENERIC is configured)
SOURCE_SCHEMES: dict[V1WebhookSourceName, HmacScheme] = {
    V1WebhookSourceName.GITHUB: HmacScheme(
        "X-Hub-Signature-256", V1WebhookHMACAlgorithm.SHA256, V1WebhookHMACEncoding.HEX
    ),
    V1WebhookSourceName.STRIPE: HmacScheme(
        "Stripe-Signature", V1WebhookHMACAlgorithm.SHA256, V1WebhookHMACEncoding.HEX
    ),
    V1WebhookSourceName.SLACK: HmacScheme(
        "X-Slack-Signature", V1WebhookHMACAlgorithm.SHA256, V1WebhookHMACEncoding.HEX
    ),
    V1WebhookSourceName.LINEAR: HmacScheme(
        "Linear-Signature", V1WebhookHMACAlgorithm.SHA256, V1WebhookHMACEncoding.HEX
    ),
    V1WebhookSourceName.SVIX: HmacScheme(
        "svix-signature", V1WebhookHMACAlgorithm.SHA256, V1WebhookHMACEncoding.BASE64
    ),
}

_HASHES: dict[V1WebhookHMACAlgorithm, Callable[[], Any]] = {
    V1WebhookHMACAlgorithm.SHA1: hashlib.sha1,
    V1WebhookHMACAlgorithm.SHA256: hashlib.sha256,
    V1WebhookHMACAlgorithm.SHA512: hashlib.sha512,
    V1WebhookHMACAlgorithm.MD5: hashlib.md5,
}


@dataclasses.dataclass(frozen=True)
class InboundRequest:
    """The parts of an HTTP request a webhook reads; header names are lower case."""

    method: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, Any]

    @classmethod
    def of(
        cls,
        method: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        query: Mapping[str, Any] | None,
    ) -> InboundRequest:
        if not isinstance(body, bytes | bytearray | memoryview):
            raise errors.InvalidArgument(
                f"body={type(body).__name__}: pass the raw request body as bytes, exactly as "
                "received (signatures are computed over those bytes)"
            )
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        merged: dict[str, str] = {}
        for name, value in pairs:
            key = str(name).lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else str(value)
        return cls(str(method).upper(), merged, bytes(body), dict(query or {}))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclasses.dataclass(frozen=True)
class Credentials:
    """A webhook's auth method: its non-secret settings and its secret (the stored hash
    for basic auth and API keys, the opened signing secret for HMAC)."""

    auth_type: V1WebhookAuthType
    settings: dict[str, str]
    secret: str = dataclasses.field(repr=False)


def verify(
    source: V1WebhookSourceName, credentials: Credentials, request: InboundRequest, now: float
) -> None:
    """Refuse the request (WebhookRejected 403) unless it carries valid credentials."""
    if credentials.auth_type is V1WebhookAuthType.BASIC:
        verify_basic(request, credentials.settings["username"], credentials.secret)
    elif credentials.auth_type is V1WebhookAuthType.API_KEY:
        verify_api_key(request, credentials.settings["header_name"], credentials.secret)
    elif source in _SOURCE_VERIFIERS:
        _SOURCE_VERIFIERS[source](request, credentials.secret, now)
    else:
        verify_generic_hmac(
            request,
            credentials.secret,
            credentials.settings["signature_header_name"],
            V1WebhookHMACAlgorithm(credentials.settings["algorithm"]),
            V1WebhookHMACEncoding(credentials.settings["encoding"]),
        )


def _reject(reason: str) -> errors.WebhookRejected:
    return errors.WebhookRejected(403, reason)


def _required(request: InboundRequest, name: str) -> str:
    value = request.header(name)
    if not value:
        raise _reject(f"the request has no {name} header")
    return value


def verify_basic(request: InboundRequest, username: str, password_hash: str) -> None:
    scheme, _, encoded = _required(request, "Authorization").partition(" ")
    if scheme.lower() != "basic":
        raise _reject("the Authorization header is not HTTP basic auth (Basic <base64>)")
    try:
        given_user, sep, given_password = (
            base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise _reject(
            "the Authorization header's credentials are not base64 user:password"
        ) from None
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = secret_box.matches_hash(given_password, password_hash)
    if not (sep and user_ok and password_ok):
        raise _reject("wrong username or password")


def verify_api_key(request: InboundRequest, header_name: str, key_hash: str) -> None:
    if not secret_box.matches_hash(_required(request, header_name), key_hash):
        raise _reject(f"wrong API key in the {header_name} header")


def _mac(secret: bytes, message: bytes, algorithm: V1WebhookHMACAlgorithm) -> bytes:
    return hmac.new(secret, message, _HASHES[algorithm]).digest()


def _decode(signature: str, encoding: V1WebhookHMACEncoding) -> bytes:
    try:
        if encoding is V1WebhookHMACEncoding.HEX:
            return bytes.fromhex(signature)
        padded = signature + "=" * (-len(signature) % 4)
        if encoding is V1WebhookHMACEncoding.BASE64URL:
            return base64.urlsafe_b64decode(padded.encode())
        return base64.b64decode(padded.encode(), validate=True)
    except (ValueError, binascii.Error):
        raise _reject(f"the signature is not {encoding.value}-encoded") from None


def _same(given: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(given, expected)


def verify_generic_hmac(
    request: InboundRequest,
    secret: str,
    header: str,
    algorithm: V1WebhookHMACAlgorithm,
    encoding: V1WebhookHMACEncoding,
) -> None:
    """The configured header holds the encoded HMAC of the body (an ``sha256=``-style
    prefix naming the algorithm is allowed)."""
    given = _required(request, header).strip()
    prefix = f"{algorithm.value.lower()}="
    given = given[len(prefix) :] if given.lower().startswith(prefix) else given
    expected = _mac(secret.encode(), request.body, algorithm)
    if not _same(_decode(given, encoding), expected):
        raise _reject(f"the {header} signature does not match the body")


def verify_github(request: InboundRequest, secret: str, now: float) -> None:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``."""
    scheme, sep, hex_digest = _required(request, "X-Hub-Signature-256").partition("=")
    if not sep or scheme.strip() != "sha256":
        raise _reject("the X-Hub-Signature-256 header is not sha256=<hex>")
    expected = _mac(secret.encode(), request.body, V1WebhookHMACAlgorithm.SHA256)
    if not _same(_decode(hex_digest.strip(), V1WebhookHMACEncoding.HEX), expected):
        raise _reject("the X-Hub-Signature-256 signature does not match the body")


def _timestamp(text: str, what: str, now: float, scale: float = 1.0) -> int:
    try:
        stamp = int(text.strip())
    except ValueError:
        raise _reject(f"the {what} {text!r} is not a Unix timestamp") from None
    age = now - stamp / scale
    if abs(age) > TOLERANCE_SECONDS:
        raise _reject(
            f"the {what} is {abs(age):.0f} s {'old' if age > 0 else 'in the future'}, outside "
            f"the {TOLERANCE_SECONDS} s tolerance (a replayed request, or the sender's clock)"
        )
    return stamp


def verify_stripe(request: InboundRequest, secret: str, now: float) -> None:
    """``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]``, HMAC-SHA256 of ``<t>.<body>``."""
    items = [p.partition("=") for p in _required(request, "Stripe-Signature").split(",")]
    stamps = [v.strip() for k, _, v in items if k.strip() == "t"]
    candidates = [v.strip() for k, _, v in items if k.strip() == "v1"]
    if len(stamps) != 1 or not candidates:
        raise _reject("the Stripe-Signature header has no t=<timestamp> and v1=<signature>")
    _timestamp(stamps[0], "Stripe-Signature timestamp", now)
    signed = f"{stamps[0]}.".encode() + request.body
    expected = _mac(secret.encode(), signed, V1WebhookHMACAlgorithm.SHA256).hex()
    if not any(hmac.compare_digest(c.lower(), expected) for c in candidates):
        raise _reject("no v1 signature of the Stripe-Signature header matches the body")


def verify_slack(request: InboundRequest, secret: str, now: float) -> None:
    """``X-Slack-Signature: v0=<hex>``, HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the
    timestamp of ``X-Slack-Request-Timestamp``."""
    stamp = _required(request, "X-Slack-Request-Timestamp").strip()
    version, sep, hex_digest = _required(request, "X-Slack-Signature").partition("=")
    if not sep or version.strip() != "v0":
        raise _reject("the X-Slack-Signature header is not v0=<hex>")
    _timestamp(stamp, "X-Slack-Request-Timestamp", now)
    signed = f"v0:{stamp}:".encode() + request.body
    expected = _mac(secret.encode(), signed, V1WebhookHMACAlgorithm.SHA256)
    if not _same(_decode(hex_digest.strip(), V1WebhookHMACEncoding.HEX), expected):
        raise _reject("the X-Slack-Signature signature does not match the body")


def verify_linear(request: InboundRequest, secret: str, now: float) -> None:
    """``Linear-Signature: <hex HMAC-SHA256 of the body>``; the body's ``webhookTimestamp``
    (milliseconds), when present, must be within the tolerance."""
    expected = _mac(secret.encode(), request.body, V1WebhookHMACAlgorithm.SHA256)
    given = _required(request, "Linear-Signature").strip()
    if not _same(_decode(given, V1WebhookHMACEncoding.HEX), expected):
        raise _reject("the Linear-Signature signature does not match the body")
    try:
        stamp = json.loads(request.body).get("webhookTimestamp")
    except (ValueError, AttributeError):
        return  # the body is checked (and refused with a 400) when it is parsed
    if stamp is not None:
        _timestamp(str(stamp), "body's webhookTimestamp", now, scale=1000.0)


def verify_svix(request: InboundRequest, secret: str, now: float) -> None:
    """Svix (Standard Webhooks): ``svix-signature: v1,<base64> ...``, HMAC-SHA256 of
    ``<svix-id>.<svix-timestamp>.<body>`` keyed by the base64 part of ``whsec_...``."""
    message_id = _required(request, "svix-id")
    stamp = _required(request, "svix-timestamp").strip()
    _timestamp(stamp, "svix-timestamp", now)
    key = secret.encode()
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise errors.ConfigurationError(
                "the webhook's Svix signing secret is not whsec_<base64>: recreate the webhook "
                "with the secret the Svix dashboard shows"
            ) from None
    signed = f"{message_id}.{stamp}.".encode() + request.body
    expected = _mac(key, signed, V1WebhookHMACAlgorithm.SHA256)
    given = [
        part.partition(",")[2]
        for part in _required(request, "svix-signature").split()
        if part.startswith("v1,")
    ]
    if not any(_same(_decode(g, V1WebhookHMACEncoding.BASE64), expected) for g in given):
        raise _reject("no v1 signature of the svix-signature header matches the body")


_SOURCE_VERIFIERS: dict[V1WebhookSourceName, Callable[[InboundRequest, str, float], None]] = {
    V1WebhookSourceName.GITHUB: verify_github,
    V1WebhookSourceName.STRIPE: verify_stripe,
    V1WebhookSourceName.SLACK: verify_slack,
    V1WebhookSourceName.LINEAR: verify_linear,
    V1WebhookSourceName.SVIX: verify_svix,
}
