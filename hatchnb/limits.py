"""Limits on what the API accepts, checked in the caller before anything reaches PostgreSQL
(docs/guarantees-bad-input.md): each refusal is a hatchnb error that says what to change."""

from __future__ import annotations

from typing import Any

from hatchnb import errors

#: run priorities, as hatchet_sdk's Priority: LOW (1, the default), MEDIUM (2), HIGH (3)
PRIORITIES = (1, 2, 3)


def check_priority(
    priority: Any, what: str = "priority", error: type[errors.HatchnbError] = errors.InvalidInput
) -> int:
    """``priority`` as stored: 1, 2 or 3 (a bool or any other number is refused)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITIES:
        raise error(f"{what}={priority!r}: use Priority.LOW (1), MEDIUM (2) or HIGH (3)")
    return int(priority)


def optional_priority(priority: Any) -> int | None:
    """A run's priority where None means the workflow's default priority."""
    return None if priority is None else check_priority(priority)
