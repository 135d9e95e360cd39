"""Idempotency declarations and keys (no database)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hatchnb import StatusBasedIdempotencyConfig, TTLBasedIdempotencyConfig, errors
from hatchnb.idempotency import Idempotency, IdempotencyMethod


def test_configs_become_a_stored_spec_and_back() -> None:
    ttl = Idempotency.declared(
        TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(minutes=1))
    )
    assert ttl is not None and ttl.method is IdempotencyMethod.TTL
    assert Idempotency.from_spec({"idempotency": ttl.spec()}) == ttl
    status = Idempotency.declared(
        StatusBasedIdempotencyConfig(key_expression="input.id", fallback_ttl=timedelta(hours=1))
    )
    assert status is not None and status.spec()["method"] == "STATUS"
    assert Idempotency.from_spec({}) is None


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(TypeError, match="idempotency= takes TTLBasedIdempotencyConfig"):
        Idempotency.declared({"key_expression": "input.id"})
    with pytest.raises(errors.InvalidWorkflow, match="ttl must be positive"):
        Idempotency.declared(TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(0)))
    with pytest.raises(errors.HatchnbError, match="invalid CEL expression"):
        Idempotency.declared(
            TTLBasedIdempotencyConfig(key_expression="input.", ttl=timedelta(seconds=5))
        )


def test_keys_come_from_input_and_metadata() -> None:
    idem = Idempotency(
        IdempotencyMethod.TTL, "input.user + ':' + additional_metadata.k", timedelta(seconds=1)
    )
    assert idem.key({"user": "ann"}, {"k": "v"}) == "ann:v"
    number = Idempotency(IdempotencyMethod.TTL, "input.n", timedelta(seconds=1))
    assert number.key({"n": 3}, {}) == "3"


def test_a_key_that_is_not_text_or_missing_is_a_clear_error() -> None:
    idem = Idempotency(IdempotencyMethod.TTL, "input.ids", timedelta(seconds=1))
    with pytest.raises(errors.InvalidInput, match="must give a string or a number"):
        idem.key({"ids": [1, 2]}, {})
    with pytest.raises(errors.InvalidInput, match="failed on this input"):
        idem.key({}, {})
    with pytest.raises(errors.InvalidInput, match="at most 1000"):
        idem.key({"ids": "x" * 1001}, {})
