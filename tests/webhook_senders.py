"""Requests signed the way each webhook sender documents it, for the webhook tests: headers
a real GitHub, Stripe, Slack, Linear or Svix delivery would carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def github(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": "pull_request",
        "Content-Type": "application/json",
    }


def stripe(body: bytes, secret: str, at: float | None = None) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    signed = f"{stamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # Stripe also sends a v0 (test-mode scheme) signature; only v1 counts
    return {
        "Stripe-Signature": f"t={stamp},v1={digest},v0=deadbeef",
        "Content-Type": "application/json",
    }


def slack(body: bytes, secret: str, at: float | None = None, form: bool = False) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    signed = f"v0:{stamp}:".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    return {
        "X-Slack-Signature": f"v0={digest}",
        "X-Slack-Request-Timestamp": stamp,
        "Content-Type": content_type,
    }


def linear(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Linear-Signature": digest, "Content-Type": "application/json"}


def svix(body: bytes, secret: str, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    message_id = "msg_2a8yNvqbJ6WvZ1"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{stamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "svix-id": message_id,
        "svix-timestamp": stamp,
        "svix-signature": f"v1,bm90IHRoaXMgb25l v1,{digest}",
        "Content-Type": "application/json",
    }


def generic_hmac(
    body: bytes, secret: str, header: str, algorithm: str = "sha256", encoding: str = "HEX"
) -> dict[str, str]:
    raw = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).digest()
    if encoding == "HEX":
        value = raw.hex()
    elif encoding == "BASE64":
        value = base64.b64encode(raw).decode()
    else:
        value = base64.urlsafe_b64encode(raw).decode()
    return {header: value, "Content-Type": "application/json"}


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


SVIX_SECRET = "whsec_" + base64.b64encode(b"svix test signing key, 24+").decode()
