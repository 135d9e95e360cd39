"""The webhook signature verifiers and secret sealing, without a database: each source's
documented scheme is accepted, and tampering, a wrong secret, a missing header or a replay
outside the tolerance is refused with a 403."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hatchnb import errors, secret_box
from hatchnb.webhook_types import (
    V1WebhookAuthType,
    V1WebhookHMACAlgorithm,
    V1WebhookHMACEncoding,
    V1WebhookSourceName,
)
from hatchnb.webhook_verify import TOLERANCE_SECONDS, Credentials, InboundRequest, verify
from tests import webhook_senders as send

SECRET = "whsec_test_signing_secret"
BODY = send.body_of({"type": "payment_intent.succeeded", "data": {"amount": 5}})
Source = V1WebhookSourceName


def _hmac(secret: str = SECRET, **settings: str) -> Credentials:
    return Credentials(V1WebhookAuthType.HMAC, settings, secret)


def _check(
    source: V1WebhookSourceName,
    headers: dict[str, str],
    body: bytes = BODY,
    credentials: Credentials | None = None,
) -> None:
    request = InboundRequest.of("POST", headers, body, None)
    verify(source, credentials or _hmac(), request, time.time())


def _refused(reason_part: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(errors.WebhookRejected) as caught:
        _check(*args, **kwargs)
    assert caught.value.status == 403
    assert reason_part in caught.value.reason
    assert SECRET not in str(caught.value)


SIGNERS = {
    Source.GITHUB: send.github,
    Source.STRIPE: send.stripe,
    Source.SLACK: send.slack,
    Source.LINEAR: send.linear,
}


@pytest.mark.parametrize("source", list(SIGNERS))
def test_each_source_scheme_accepts_its_signature_and_refuses_tampering(
    source: V1WebhookSourceName,
) -> None:
    headers = SIGNERS[source](BODY, SECRET)
    _check(source, headers)
    _refused("match", source, headers, body=BODY.replace(b"5", b"6"))
    _refused("match", source, headers, credentials=_hmac("another secret"))
    signature_header = next(h for h in headers if "ignature" in h)
    missing = {k: v for k, v in headers.items() if k != signature_header}
    _refused(f"no {signature_header} header", source, missing)


def test_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in send.github(BODY, SECRET).items()}
    _check(Source.GITHUB, headers)
    pairs = [(k.upper(), v) for k, v in send.slack(BODY, SECRET).items()]
    verify(Source.SLACK, _hmac(), InboundRequest.of("post", pairs, BODY, None), time.time())


def test_svix_signs_id_timestamp_and_body_with_the_decoded_whsec_key() -> None:
    headers = send.svix(BODY, send.SVIX_SECRET)
    _check(Source.SVIX, headers, credentials=_hmac(send.SVIX_SECRET))
    _refused(
        "matches",
        Source.SVIX,
        {**headers, "svix-id": "msg_other"},
        credentials=_hmac(send.SVIX_SECRET),
    )


@pytest.mark.parametrize(
    ("source", "sign"),
    [
        (Source.STRIPE, send.stripe),
        (Source.SLACK, send.slack),
        (Source.SVIX, send.svix),
    ],
)
def test_a_replayed_request_outside_the_tolerance_is_refused(
    source: V1WebhookSourceName, sign: Any
) -> None:
    secret = send.SVIX_SECRET if source is Source.SVIX else SECRET
    own = _hmac(secret)
    old = time.time() - TOLERANCE_SECONDS - 60
    # the signature is valid: only its age gives the replay away
    _refused("outside the 300 s tolerance", source, sign(BODY, secret, at=old), credentials=own)
    ahead = time.time() + TOLERANCE_SECONDS + 60
    _refused("in the future", source, sign(BODY, secret, at=ahead), credentials=own)
    _check(source, sign(BODY, secret, at=time.time() - 60), credentials=own)


def test_stripe_checks_every_v1_signature_and_the_timestamp_it_signed() -> None:
    headers = send.stripe(BODY, SECRET)
    stamp, v1, v0 = headers["Stripe-Signature"].split(",")
    _check(Source.STRIPE, {"Stripe-Signature": f"{stamp},v1=00ff,{v1}"})
    # the timestamp is part of what is signed: moving it breaks the signature
    moved = f"t={int(stamp[2:]) - 1}"
    _refused("no v1 signature", Source.STRIPE, {"Stripe-Signature": f"{moved},{v1}"})
    _refused("no t=<timestamp>", Source.STRIPE, {"Stripe-Signature": v0})


def test_slack_timestamp_is_signed_too() -> None:
    headers = send.slack(BODY, SECRET)
    later = str(int(headers["X-Slack-Request-Timestamp"]) + 1)
    _refused("does not match", Source.SLACK, {**headers, "X-Slack-Request-Timestamp": later})
    _refused("not a Unix timestamp", Source.SLACK, {**headers, "X-Slack-Request-Timestamp": "x"})


@pytest.mark.parametrize(
    ("algorithm", "encoding"),
    [
        ("SHA256", "HEX"),
        ("SHA1", "BASE64"),
        ("SHA512", "BASE64URL"),
        ("MD5", "HEX"),
    ],
)
def test_generic_hmac_uses_the_configured_header_algorithm_and_encoding(
    algorithm: str, encoding: str
) -> None:
    credentials = _hmac(signature_header_name="X-Signature", algorithm=algorithm, encoding=encoding)
    headers = send.generic_hmac(BODY, SECRET, "X-Signature", algorithm.lower(), encoding)
    _check(Source.GENERIC, headers, credentials=credentials)
    _refused("does not match", Source.GENERIC, headers, b"{}", credentials)
    _refused("no X-Signature header", Source.GENERIC, {}, credentials=credentials)


def test_generic_hmac_accepts_an_algorithm_prefix_and_refuses_bad_encoding() -> None:
    credentials = _hmac(signature_header_name="X-Sig", algorithm="SHA256", encoding="HEX")
    digest = send.generic_hmac(BODY, SECRET, "X-Sig")["X-Sig"]
    _check(Source.GENERIC, {"X-Sig": f"sha256={digest}"}, credentials=credentials)
    _refused("not HEX-encoded", Source.GENERIC, {"X-Sig": "zz"}, credentials=credentials)


def test_basic_auth_and_api_key_compare_with_stored_hashes() -> None:
    basic = Credentials(
        V1WebhookAuthType.BASIC, {"username": "hook"}, secret_box.hash_secret("s3cret-pass")
    )
    _check(Source.GENERIC, send.basic("hook", "s3cret-pass"), credentials=basic)
    _check(Source.GITHUB, send.basic("hook", "s3cret-pass"), credentials=basic)  # auth decides
    for user, password in [("hook", "wrong"), ("other", "s3cret-pass"), ("", "")]:
        headers = send.basic(user, password)
        _refused("wrong username or password", Source.GENERIC, headers, credentials=basic)
    _refused("no Authorization header", Source.GENERIC, {}, credentials=basic)
    _refused("not HTTP basic", Source.GENERIC, {"Authorization": "Bearer x"}, credentials=basic)
    api_key = Credentials(
        V1WebhookAuthType.API_KEY, {"header_name": "X-API-Key"}, secret_box.hash_secret("k-123")
    )
    _check(Source.GENERIC, {"x-api-key": "k-123"}, credentials=api_key)
    _refused("wrong API key", Source.GENERIC, {"X-API-Key": "k-124"}, credentials=api_key)
    _refused("no X-API-Key header", Source.GENERIC, {}, credentials=api_key)


def test_secret_box_encrypts_with_the_key_and_needs_the_same_key_to_open() -> None:
    sealed = secret_box.SecretBox("key one").seal("signing secret")
    assert sealed.startswith("fernet:") and "signing secret" not in sealed
    assert secret_box.SecretBox("key one").open(sealed) == "signing secret"
    with pytest.raises(errors.ConfigurationError, match="another HATCHNB_SECRETS_KEY"):
        secret_box.SecretBox("key two").open(sealed)
    with pytest.raises(errors.ConfigurationError, match="is not set"):
        secret_box.SecretBox(None).open(sealed)
    plain = secret_box.SecretBox(None).seal("signing secret")
    assert secret_box.SecretBox("any key").open(plain) == "signing secret"


def test_hashed_secrets_are_salted() -> None:
    key = "api-key-0123456789"
    first, second = secret_box.hash_secret(key), secret_box.hash_secret(key)
    assert first != second and key not in first
    assert secret_box.matches_hash(key, first) and secret_box.matches_hash(key, second)
    assert not secret_box.matches_hash(key.upper(), first)


def test_request_body_must_be_bytes() -> None:
    with pytest.raises(errors.InvalidArgument, match="raw request body as bytes"):
        InboundRequest.of("POST", {}, "{}", None)  # type: ignore[arg-type]


def test_hmac_enums_cover_hatchets_values() -> None:
    assert {a.value for a in V1WebhookHMACAlgorithm} == {"SHA1", "SHA256", "SHA512", "MD5"}
    assert {e.value for e in V1WebhookHMACEncoding} == {"HEX", "BASE64", "BASE64URL"}


def test_secret_box_rotation_opens_with_previous_keys_and_seals_with_the_new_one() -> None:
    old = secret_box.SecretBox("old key").seal("signing secret")
    rotating = secret_box.SecretBox("new key", ("old key",))
    assert rotating.open(old) == "signing secret"
    resealed = rotating.reseal(old)
    assert secret_box.SecretBox("new key").open(resealed) == "signing secret"
    with pytest.raises(errors.ConfigurationError, match="another HATCHNB_SECRETS_KEY"):
        secret_box.SecretBox("old key").open(resealed)
    with pytest.raises(errors.ConfigurationError, match="without HATCHNB_SECRETS_KEY"):
        secret_box.SecretBox(None, ("old key",))
