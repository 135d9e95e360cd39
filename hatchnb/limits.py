"""Limits on what the API accepts, checked in the caller before anything reaches PostgreSQL
(docs/guarantees-bad-input.md): each refusal is a hatchnb error that says what to change."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any

from hatchnb import errors

#: run priorities, as hatchet_sdk's Priority: LOW (1, the default), MEDIUM (2), HIGH (3)
PRIORITIES = (1, 2, 3)
#: the longest name or key (workflow, task, cron, event key, scope, rate limit key, the value
#: of a concurrency key), in UTF-8 bytes: PostgreSQL indexes them, and a B-tree entry holds at
#: most 2,704 bytes (a concurrency slot joins a workflow name, a task name and a key)
MAX_NAME_BYTES = 500
#: the largest ``additional_metadata`` of a run, event, cron or schedule, as JSON
MAX_METADATA_BYTES = 64 * 1024
#: PostgreSQL's integer (rate limits, units, slots) and bigint (offsets, limits)
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def shown(value: Any, width: int = 60) -> str:
    """``repr(value)``, shortened: an error message must not repeat a megabyte of input."""
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def check_priority(
    priority: Any, what: str = "priority", error: type[errors.HatchnbError] = errors.InvalidInput
) -> int:
    """``priority`` as stored: 1, 2 or 3 (a bool or any other number is refused)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITIES:
        raise error(f"{what}={shown(priority)}: use Priority.LOW (1), MEDIUM (2) or HIGH (3)")
    return int(priority)


def optional_priority(priority: Any) -> int | None:
    """A run's priority where None means the workflow's default priority."""
    return None if priority is None else check_priority(priority)


def check_name(
    value: Any, what: str, error: type[errors.HatchnbError] = errors.InvalidInput
) -> str:
    """A name or key stored as text: a non-empty string PostgreSQL can store and index."""
    if not isinstance(value, str) or not value:
        raise error(f"{what}={shown(value)}: pass a non-empty string")
    if "\x00" in value:
        raise error(
            f"{what}={shown(value)} contains a NUL character (\\x00), which PostgreSQL cannot "
            "store; remove it"
        )
    size = utf8_size(value, what, error)
    if size > MAX_NAME_BYTES:
        raise error(
            f"{what}={shown(value)} is {size:,} bytes long, over the {MAX_NAME_BYTES:,}-byte "
            "limit for names and keys; use a shorter one (an id, not a document)"
        )
    return value


def utf8_size(text: str, what: str, error: type[errors.HatchnbError] = errors.InvalidInput) -> int:
    """The UTF-8 size of ``text``; a lone surrogate (half of a UTF-16 pair, e.g. '\\ud800',
    which a bad decode leaves behind) is refused: UTF-8 and PostgreSQL cannot hold it."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise error(
            f"{what} contains the lone surrogate {bad!r} at position {exc.start}, which UTF-8 "
            "(and PostgreSQL) cannot hold; decode the text with errors='replace' or remove it"
        ) from None


def id_text(
    value: Any, what: str, example: str, error: type[errors.HatchnbError] = errors.InvalidId
) -> str:
    """An id as PostgreSQL's ``uuid`` takes it; anything else is refused, naming where a
    valid id comes from (``example``): as not found (a lookup), or with ``error`` (a filter)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return str(uuid.UUID(value))
    raise error(f"{shown(value)} is not {what}: ids are UUIDs, as in {example}")


def whole_number(value: Any, what: str, least: int, most: int) -> int:
    """An int from ``least`` to ``most`` (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise errors.InvalidArgument(
            f"{what}={shown(value)}: pass a whole number from {least:,} to {most:,}"
        )
    return value


def optional_whole_number(value: Any, what: str, least: int, most: int = BIGINT_MAX) -> int | None:
    return None if value is None else whole_number(value, what, least, most)


def moment(value: Any, what: str) -> datetime | None:
    """Aware datetimes as they are; naive ones are local time, as ``datetime.now()`` gives."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise errors.InvalidArgument(
            f"{what}={shown(value)}: pass a datetime, e.g. datetime.now(UTC)"
        )
    try:
        return value if value.tzinfo else value.astimezone()
    except (OverflowError, ValueError):
        raise errors.InvalidArgument(
            f"{what}={shown(value)} is out of range; pass an aware datetime"
        ) from None


def names(values: Any, what: str) -> list[str] | None:
    """A list of names or keys to filter by (None: no filter)."""
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, list | tuple | set | frozenset):
        raise errors.InvalidArgument(f"{what}={shown(values)}: pass a list, e.g. [{shown(values)}]")
    return [check_name(v, f"{what} item") for v in values]
