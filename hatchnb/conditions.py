"""Task conditions (``wait_for``, ``skip_if``, ``cancel_if``); the engine evaluates them
(``hatchnb.runtime.duties.conditions``).

A list of conditions holds when every item holds; an ``or_(...)`` group holds when any of its
members does. A task with conditions becomes WAITING when its parents are done (its
``ready_at``); from then on, each engine round: ``cancel_if`` holds -> CANCELLED, else
``skip_if`` holds -> SKIPPED (children still run; ``ctx.was_skipped`` tells them), else
``wait_for`` holds (an empty list always does) -> QUEUED, else it keeps waiting."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from hatchnb import expressions
from hatchnb.types import namespaced, to_timedelta


@dataclasses.dataclass(frozen=True)
class SleepCondition:
    """Holds once ``duration`` has passed since the task became ready."""

    duration: timedelta | str
    readable_data_key: str | None = None

    def spec(self) -> dict[str, Any]:
        seconds = to_timedelta(self.duration, "duration").total_seconds()
        label = self.readable_data_key or f"sleep:{duration_expression(seconds)}"
        return {"kind": "sleep", "seconds": seconds, "label": label}


def duration_expression(seconds: float) -> str:
    """A duration as Hatchet writes it in a sleep's key: ``2h``, ``5m`` or ``30s``."""
    whole = int(seconds)
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{seconds:g}s"


@dataclasses.dataclass(frozen=True)
class UserEventCondition:
    """Holds once an event ``event_key`` whose payload satisfies ``expression`` (CEL over
    ``input``/``payload``) was pushed after the task became ready."""

    event_key: str
    expression: str | None = None
    readable_data_key: str | None = None
    #: only events pushed with this scope count
    scope: str | None = None
    #: events pushed since this moment count too (not only those after the wait began)
    consider_events_since: datetime | None = None

    def spec(self) -> dict[str, Any]:
        if self.expression:
            expressions.compile_expression(self.expression)
        spec: dict[str, Any] = {
            "kind": "event",
            "key": self.event_key,
            "expression": self.expression,
            "label": self.readable_data_key or self.event_key,
        }
        if self.scope is not None:
            spec["scope"] = self.scope
        if self.consider_events_since is not None:
            since = self.consider_events_since
            if since.tzinfo is None:
                raise ValueError(
                    f"consider_events_since={since!r}: pass an aware datetime, e.g. "
                    "datetime.now(UTC) - timedelta(minutes=5)"
                )
            spec["since"] = since.isoformat()
        return spec


def event_counts(cond: dict[str, Any], scope: str | None) -> bool:
    """Whether an event pushed with ``scope`` can satisfy the event condition ``cond``."""
    return cond.get("scope") is None or cond["scope"] == scope


def events_from(cond: dict[str, Any], began: datetime) -> datetime:
    """From when events count for the event condition ``cond`` of a wait that began at
    ``began``."""
    since = cond.get("since")
    return min(began, datetime.fromisoformat(since)) if since else began


@dataclasses.dataclass(frozen=True)
class ParentCondition:
    """Holds when CEL ``expression`` is true of a parent's ``output``."""

    parent: Any
    expression: str
    readable_data_key: str | None = None

    def spec(self) -> dict[str, Any]:
        expressions.compile_expression(self.expression)
        name = self.parent if isinstance(self.parent, str) else self.parent.name
        return {"kind": "parent", "parent": name, "expression": self.expression}


@dataclasses.dataclass(frozen=True)
class OrGroup:
    conditions: tuple[Any, ...]

    def spec(self) -> dict[str, Any]:
        return {"or": [c.spec() for c in self.conditions]}


Condition = SleepCondition | UserEventCondition | ParentCondition


def or_(*conditions: Condition) -> OrGroup:
    """A group that holds when any of ``conditions`` holds."""
    return OrGroup(tuple(conditions))


def spec_of(items: list[Any] | None, namespace: str = "") -> list[dict[str, Any]]:
    """The stored form of conditions; event keys in ``namespace`` (as pushed events' are)."""
    return [_in_namespace(item.spec(), namespace) for item in items or []]


def _in_namespace(spec: dict[str, Any], namespace: str) -> dict[str, Any]:
    if "or" in spec:
        return {"or": [_in_namespace(member, namespace) for member in spec["or"]]}
    if spec.get("kind") == "event":
        return {**spec, "key": namespaced(namespace, spec["key"])}
    return spec


def parents_named(items: list[Any] | None) -> set[str]:
    """Parent tasks the conditions read (they must be declared parents)."""
    names = set()
    for item in items or []:
        members = item.conditions if isinstance(item, OrGroup) else (item,)
        names |= {
            m.parent if isinstance(m.parent, str) else m.parent.name
            for m in members
            if isinstance(m, ParentCondition)
        }
    return names


# ---- evaluation (engine) ------------------------------------------------------------------
