"""What users pass in that is checked before anything reaches Postgres: run list filters,
run ids, cron expressions and time zones, durations, payload limits, text, metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import config, errors, ids, serialization
from hatchnb.features.cron import InvalidCron, next_tick
from hatchnb.features.runs import run_filters, run_uuid

NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _filters(**given: Any) -> Any:
    args = {
        "since": None,
        "until": None,
        "statuses": None,
        "additional_metadata": None,
        "workflow_names": None,
        "parent_task_run_id": None,
        **given,
    }
    return run_filters(**args)


def test_default_list_window_is_the_last_day() -> None:
    where = _filters()
    assert timedelta(hours=23) < datetime.now(UTC) - where.since <= timedelta(days=1, seconds=5)


def test_naive_datetimes_are_local_time() -> None:
    where = _filters(since=datetime(2026, 1, 1, 12))
    assert where.since.tzinfo is not None


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"statuses": ["NOPE"]}, "use only PENDING"),
        ({"statuses": "FAILED"}, "pass a list"),
        ({"since": "yesterday"}, "pass a datetime"),
        ({"until": 5}, "pass a datetime"),
        ({"parent_task_run_id": 0}, "whole number from 1"),
        ({"parent_task_run_id": True}, "whole number from 1"),
        ({"parent_task_run_id": 2**63}, "whole number from 1"),
        ({"workflow_names": ["a\x00b"]}, "NUL"),
        ({"additional_metadata": {"x": float("nan")}}, "JSON"),
    ],
)
def test_bad_filters_say_what_to_pass(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _filters(**given)


def test_statuses_take_enum_members_and_names() -> None:
    from hatchnb import RunStatus

    assert _filters(statuses=[RunStatus.FAILED, "QUEUED"]).statuses == ["FAILED", "QUEUED"]


def test_empty_metadata_is_no_filter() -> None:
    assert _filters(additional_metadata={}).metadata is None


@pytest.mark.parametrize("value", ["abc", "", "123", None])
def test_run_ids_are_uuids(value: Any) -> None:
    with pytest.raises(errors.RunNotFound, match="run ids are UUIDs"):
        run_uuid(value)


def test_run_ids_are_normalised() -> None:
    raw = "01A23F24-14FE-7000-8129-11FFF9CA2C2E"
    assert run_uuid(raw) == raw.lower()


@pytest.mark.parametrize(
    ("expression", "zone", "expected"),
    [
        ("0 0 * * *", "UTC", datetime(2026, 1, 2, tzinfo=UTC)),
        ("0 0 * * *", "Europe/Paris", datetime(2026, 1, 1, 23, tzinfo=UTC)),
        ("*/15 * * * *", "UTC", datetime(2026, 1, 1, 12, 15, tzinfo=UTC)),
        ("0 9 * * 1", "UTC", datetime(2026, 1, 5, 9, tzinfo=UTC)),
    ],
)
def test_next_tick(expression: str, zone: str, expected: datetime) -> None:
    assert next_tick(expression, zone, NOON) == expected


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("bad", "UTC", "five fields"),
        ("61 * * * *", "UTC", "five fields"),
        ("0 0 * * *", "Mars/Base", "IANA name"),
    ],
)
def test_invalid_crons_say_how_to_write_one(expression: str, zone: str, message: str) -> None:
    with pytest.raises(InvalidCron, match=message):
        next_tick(expression, zone, NOON)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("0", None),
        ("off", None),
    ],
)
def test_durations(text: str, expected: timedelta | None) -> None:
    assert config.parse_duration(text) == expected


def test_a_bad_duration_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="30d, 12h"):
        config.parse_duration("abc")


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHNB_POLL_INTERVAL", "0.7")
    monkeypatch.setenv("HATCHNB_RETENTION", "off")
    settings = config.Settings.from_env("postgresql://h/db")
    assert settings.dsn == "postgresql://h/db"
    assert settings.poll_interval == 0.7
    assert settings.retention is None


def test_a_bad_number_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HATCHNB_POLL_INTERVAL", "fast")
    with pytest.raises(ValueError, match="HATCHNB_POLL_INTERVAL"):
        config.Settings.from_env()


def test_uuid7_is_time_ordered() -> None:
    first, second = ids.uuid7(), ids.uuid7()
    assert first.version == 7 and second.version == 7
    assert first.int >> 80 <= second.int >> 80


def test_task_run_external_ids_are_stable() -> None:
    run = "01a23f24-14fe-7000-8129-11fff9ca2c2e"
    assert ids.task_run_external_id(run, "t") == ids.task_run_external_id(run, "t")
    assert ids.task_run_external_id(run, "t") != ids.task_run_external_id(run, "u")


def test_payloads_over_the_limit_are_refused_with_the_setting_to_raise() -> None:
    with pytest.raises(errors.PayloadTooLarge, match="HATCHNB_MAX_PAYLOAD_BYTES"):
        serialization.dump_input({"a": 1}, dict, 5)


def test_nul_characters_are_refused_by_name() -> None:
    with pytest.raises(errors.InvalidInput, match="key="):
        serialization.check_text("a\x00b", "key")


def test_metadata_must_be_json() -> None:
    with pytest.raises(errors.InvalidInput, match="JSON"):
        serialization.dump_metadata({"a": float("nan")})
