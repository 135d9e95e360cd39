"""The cancel notification's payload names attempts; a malformed part is skipped."""

from __future__ import annotations

from hatchnb.store.cancel_notes import cancel_payload, cancelled_attempts


def test_payload_round_trips_ids_with_their_attempts() -> None:
    payload = cancel_payload([(7, 1), (12, 3)])
    assert payload == "7:1,12:3"
    assert list(cancelled_attempts(payload)) == [(7, 1), (12, 3)]


def test_malformed_parts_are_skipped_and_a_bare_id_names_any_attempt() -> None:
    assert list(cancelled_attempts("x:1,8:,9:2,:3,10:y")) == [(9, 2)]
    assert list(cancelled_attempts("")) == []
    assert list(cancelled_attempts("7,9:2")) == [(7, None), (9, 2)]  # an older sender's
