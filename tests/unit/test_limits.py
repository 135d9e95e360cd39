"""hatchnb.limits and the JSON checks: what the API refuses before PostgreSQL sees it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from hatchnb import errors, limits, serialization


@pytest.mark.parametrize("priority", [1, 2, 3])
def test_priorities_1_to_3_are_kept(priority: int) -> None:
    assert limits.check_priority(priority) == priority
    assert limits.optional_priority(None) is None


@pytest.mark.parametrize("priority", [0, 4, 99, -1, True, 2.0, "2", None])
def test_other_priorities_are_refused_naming_the_range(priority: Any) -> None:
    with pytest.raises(errors.InvalidInput, match=r"use Priority\.LOW \(1\), MEDIUM \(2\)"):
        limits.check_priority(priority)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "pass a non-empty string"),
        (7, "pass a non-empty string"),
        ("a\x00b", r"contains a NUL character \(\\x00\)"),
        ("a\ud800", r"contains the lone surrogate '\\ud800' at position 1"),
        ("n" * 501, r"is 501 bytes long, over the 500-byte limit for names and keys"),
        ("é" * 251, r"is 502 bytes long"),  # bytes, not characters
    ],
)
def test_names_postgres_cannot_store_or_index_are_refused(name: Any, message: str) -> None:
    with pytest.raises(errors.InvalidInput, match=message) as refused:
        limits.check_name(name, "workflow")
    assert len(str(refused.value)) < 300  # a long name is shown shortened


def test_a_name_at_the_limit_is_kept() -> None:
    assert limits.check_name("n" * limits.MAX_NAME_BYTES, "workflow") == "n" * 500


def test_ids_are_canonical_uuids_or_refused_saying_where_ids_come_from() -> None:
    value = uuid.uuid4()
    assert limits.id_text(str(value).upper(), "a cron id", "CronWorkflow.id") == str(value)
    assert limits.id_text(value, "a cron id", "CronWorkflow.id") == str(value)
    for bad in ("nope", "", "\ud800", 5, None, b"x" * 16):
        with pytest.raises(errors.InvalidId, match=r"is not a cron id: ids are UUIDs, as in Cron"):
            limits.id_text(bad, "a cron id", "CronWorkflow.id")
    assert issubclass(errors.InvalidId, LookupError) and issubclass(errors.InvalidId, ValueError)


@pytest.mark.parametrize("value", [-1, 2**63, True, 1.0, "3", None])
def test_whole_numbers_are_in_range(value: Any) -> None:
    with pytest.raises(errors.InvalidArgument, match="pass a whole number from 0 to"):
        limits.whole_number(value, "cap", 0, limits.BIGINT_MAX)


def test_moments_are_datetimes() -> None:
    with pytest.raises(errors.InvalidArgument, match="pass a datetime"):
        limits.moment("yesterday", "since")
    assert limits.moment(datetime(2026, 1, 1), "since").tzinfo is not None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value",
    [{"a": "\ud800"}, {"a": "x\udfff"}, {"\ud83d": 1}, ["\ud83d", "\ude00"]],
)
def test_json_with_a_lone_surrogate_is_refused(value: Any) -> None:
    with pytest.raises(errors.InvalidInput, match="contains a lone surrogate"):
        serialization.dump_json(value, "event payload", 10_000)


@pytest.mark.parametrize("value", [{"a": "\U0001f600"}, {"a": "\\ud800"}, {"a": "é\\\\ud800"}])
def test_json_with_paired_surrogates_or_escaped_text_is_kept(value: Any) -> None:
    assert serialization.dump_json(value, "event payload", 10_000)


def test_metadata_over_the_limit_is_refused() -> None:
    with pytest.raises(errors.InvalidInput, match=r"over the 65,536-byte limit"):
        serialization.dump_metadata({"blob": "x" * limits.MAX_METADATA_BYTES})
