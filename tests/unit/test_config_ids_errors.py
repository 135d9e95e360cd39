"""Settings from the environment, identifiers, and what error messages tell the user."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from hatchnb import config, errors, ids
from hatchnb.config import Settings, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("1h30m", 5400),
        ("90s", 90),
        ("2w", 14 * 86400),
        ("1.5h", 5400),
        ("45", 45),
        (" 12H ", 12 * 3600),
    ],
)
def test_durations_in_settings(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("off", ["0", "off", "none", "false", "OFF", "0s"])
def test_zero_or_off_is_no_duration(off: str) -> None:
    assert parse_duration(off) is None


@pytest.mark.parametrize("bad", ["soon", "1h30", "h", "1y", "1h 30m"])
def test_a_bad_duration_shows_the_accepted_forms(bad: str) -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 30d, 12h, 1h30m, 90s or 0/off"):
        parse_duration(bad)


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="is negative"):
        parse_duration("-5")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith("HATCHNB_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_without_environment(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    assert settings.dsn is None  # the embedded PostgreSQL
    assert (settings.worker_timeout, settings.poll_interval) == (15.0, 1.0)
    assert settings.retention == timedelta(days=30)
    assert settings.retention_interval == timedelta(minutes=10)
    assert settings.max_payload_bytes == 4 * 1024 * 1024
    assert settings.signing_key is None


def test_an_explicit_dsn_wins_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HATCHNB_DATABASE_URL", "postgresql://env/db")
    assert Settings.from_env("postgresql://given/db").dsn == "postgresql://given/db"
    assert Settings.from_env().dsn == "postgresql://env/db"


def test_empty_variables_are_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HATCHNB_WORKER_TIMEOUT", "")
    clean_env.setenv("HATCHNB_SIGNING_KEY", "")
    clean_env.setenv("HATCHNB_DATABASE_URL", "")
    settings = Settings.from_env()
    assert (settings.worker_timeout, settings.signing_key, settings.dsn) == (15.0, None, None)


def test_retention_can_be_switched_off(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HATCHNB_RETENTION", "off")
    clean_env.setenv("HATCHNB_RETENTION_INTERVAL", "0")
    settings = Settings.from_env()
    assert settings.retention is None
    assert settings.retention_interval == timedelta(minutes=10)  # 0 keeps the default


def test_retention_batch_is_at_least_one(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HATCHNB_RETENTION_BATCH", "0")
    assert Settings.from_env().retention_batch == 1


def test_byte_limits_are_whole_numbers(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HATCHNB_MAX_PAYLOAD_BYTES", "1e3")
    assert Settings.from_env().max_payload_bytes == 1000


def test_a_bad_duration_variable_is_named(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HATCHNB_RETENTION", "a month")
    with pytest.raises(ValueError, match="HATCHNB_RETENTION: 'a month' is not a duration"):
        Settings.from_env()


def test_a_bad_number_variable_is_named(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HATCHNB_POLL_INTERVAL", "fast")
    with pytest.raises(ValueError, match="HATCHNB_POLL_INTERVAL='fast' is not a number"):
        Settings.from_env()


def test_settings_are_frozen() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings(dsn=None).dsn = "x"  # type: ignore[misc]
    assert config.Settings(dsn=None).durable_evict_after == 15.0


# ---- ids ----------------------------------------------------------------------------------


def test_uuid7_has_version_and_variant() -> None:
    value = ids.uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_carries_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = ids.uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_uuid7_is_strictly_increasing_within_a_millisecond() -> None:
    made = [ids.uuid7() for _ in range(2000)]
    assert made == sorted(made) and len(set(made)) == len(made)


def test_uuid7_text_is_the_canonical_form_of_a_uuid7_in_sequence() -> None:
    made = [ids.uuid7(), uuid.UUID(ids.uuid7_text()), ids.uuid7()]
    text = ids.uuid7_text()
    assert text == str(uuid.UUID(text)) and uuid.UUID(text).version == 7
    assert made == sorted(made) and made[2] < uuid.UUID(text)


def test_task_run_ids_differ_by_task_and_by_run() -> None:
    run = ids.uuid7()
    assert ids.task_run_external_id(run, "a") == ids.task_run_external_id(str(run), "a")
    assert ids.task_run_external_id(run, "a") != ids.task_run_external_id(run, "b")
    assert ids.task_run_external_id(run, "a") != ids.task_run_external_id(ids.uuid7(), "a")


def test_a_task_run_id_leads_back_to_its_run() -> None:
    """runs.get_task_run finds a task run by what its id says of its run (no index on task
    ids): the run's millisecond and its last bytes, which differ between consecutive runs."""
    run, neighbour = ids.uuid7(), ids.uuid7()  # most often in the same millisecond
    task_id = ids.task_run_external_id(run, "ünïcode task")
    assert uuid.UUID(task_id).version == 7 and uuid.UUID(task_id).variant == uuid.RFC_4122
    low, high, tail = ids.run_locator(task_id)
    assert uuid.UUID(low) <= run <= uuid.UUID(high) and run.bytes.endswith(tail)
    assert not neighbour.bytes.endswith(tail)
    names = {ids.task_run_external_id(run, f"task-{i}") for i in range(1000)}
    assert len(names) == 1000


# ---- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "text"),
    [
        (errors.DatabaseUnavailable, "check HATCHNB_DATABASE_URL"),
        (errors.SchemaTooNew, "upgrade hatchnb"),
        (errors.PayloadTooLarge, "HATCHNB_MAX_PAYLOAD_BYTES"),
        (errors.RunNotFound, "No workflow run has this id"),
    ],
)
def test_errors_without_a_message_explain_themselves(cls: type[Exception], text: str) -> None:
    assert text in str(cls())


def test_a_given_message_replaces_the_default() -> None:
    assert str(errors.RunNotFound("run x is gone")) == "run x is gone"


def test_task_run_errors_split_type_message_and_trace() -> None:
    error = errors.TaskRunError("load", "ValueError: bad row\n\nTraceback ...\n  line 3")
    assert (error.exc_type, error.exc, error.trace) == (
        "ValueError",
        "bad row",
        "Traceback ...\n  line 3",
    )
    assert str(error).startswith("load: ValueError: bad row")


def test_a_failed_run_lists_every_task_error() -> None:
    failed = errors.FailedRunError(
        "r1", "FAILED", [errors.TaskRunError("a", "KeyError: x"), errors.TaskRunError("b", "E: y")]
    )
    assert str(failed) == "workflow run r1 FAILED:\na: KeyError: x\nb: E: y"
    assert len(failed.exceptions) == 2


def test_a_cancelled_run_without_errors_says_cancelled() -> None:
    cancelled = errors.CancelledRunError("r1", "CANCELLED", [])
    assert str(cancelled) == "workflow run r1 CANCELLED:\ncancelled"
    assert isinstance(cancelled, errors.FailedRunError) and isinstance(cancelled, ValueError)
    assert errors.FailedTaskRunExceptionGroup is errors.FailedRunError


def test_a_missing_package_says_what_to_install() -> None:
    message = errors.missing_module(
        ModuleNotFoundError("No module named 'sklearn'", name="sklearn"), "fit"
    )
    assert "task 'fit' needs the module 'sklearn'" in message
    assert "pip install sklearn" in message and "not retried" in message


def test_a_missing_submodule_says_to_upgrade_the_package() -> None:
    exc = ModuleNotFoundError("No module named 'pandas.newthing'", name="pandas.newthing")
    message = errors.missing_module(exc, "t")
    assert "the installed 'pandas' lacks what the task imports" in message
    assert "pip install -U pandas" in message


def test_a_missing_standard_module_says_to_change_python() -> None:
    message = errors.missing_module(ModuleNotFoundError("x", name="tomllib"), "t")
    assert "'tomllib' is part of Python's standard library" in message


def test_an_import_error_without_a_name_still_says_not_retried() -> None:
    message = errors.missing_module(ImportError("cannot import"), "t")
    assert message.startswith("task 't' could not import what it needs on this worker")
    assert message.endswith("until then")


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str is broken")

    def __repr__(self) -> str:
        raise RuntimeError("repr is broken too")


def test_an_exception_whose_str_raises_is_described_by_its_type() -> None:
    message = errors.message_of(_Unprintable())
    assert message.startswith("<str() of this _Unprintable raised RuntimeError; repr: <")
    assert "_Unprintable object at 0x" in message


def test_the_worker_describes_any_exception_without_raising() -> None:
    from hatchnb.runtime.executor import describe

    try:
        raise _Unprintable()
    except _Unprintable as exc:
        text = describe(exc)
    assert text.startswith("_Unprintable: <str() of this _Unprintable raised RuntimeError")
    assert "Traceback (most recent call last)" in text


def test_error_text_is_made_storable() -> None:
    assert errors.storable_text("a\x00b \ud800 é") == "a\\x00b \\ud800 é"
    from hatchnb.runtime.executor import describe

    text = describe(ValueError("nul \x00 and \udfff"))
    assert "\x00" not in text and "nul \\x00 and \\udfff" in text
    text.encode("utf-8")  # no lone surrogate left
