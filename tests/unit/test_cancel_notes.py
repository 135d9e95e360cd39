"""The cancel notification's payload names attempts, and a malformed part is skipped."""

from __future__ import annotations

from hatchnb.store.cancel_notes import cancel_payload, cancelled_attempts


def test_payload_round_trips_ids_with_their_attempts() -> None:
    payload = cancel_payload([(7, 1), (12, 3)])
    assert payload == "7:1,12:3"
    assert list(cancelled_attempts(payload)) == [(7, 1), (12, 3)]


def test_parts_without_an_attempt_or_not_numbers_are_skipped() -> None:
    assert list(cancelled_attempts("7,x:1,8:,9:2")) == [(9, 2)]
    assert list(cancelled_attempts("")) == []
