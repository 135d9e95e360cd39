"""Task conditions (``wait_for``, ``skip_if``, ``cancel_if``) and their evaluation by the engine.

A list of conditions holds when every item holds; an ``or_(...)`` group holds when any of its
members does. A task with conditions becomes WAITING when its parents are done (its
``ready_at``); from then on, each engine round: ``cancel_if`` holds -> CANCELLED, else
``skip_if`` holds -> SKIPPED (children still run; ``ctx.was_skipped`` tells them), else
``wait_for`` holds (an empty list always does) -> QUEUED, else it keeps waiting."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from hatchnb import expressions
from hatchnb.store import connect, queries
from hatchnb.types import to_timedelta

if TYPE_CHECKING:
    import psycopg


@dataclasses.dataclass(frozen=True)
class SleepCondition:
    """Holds once ``duration`` has passed since the task became ready."""

    duration: timedelta | str
    readable_data_key: str | None = None

    def spec(self) -> dict[str, Any]:
        seconds = to_timedelta(self.duration, "duration").total_seconds()
        return {"kind": "sleep", "seconds": seconds}


@dataclasses.dataclass(frozen=True)
class UserEventCondition:
    """Holds once an event ``event_key`` whose payload satisfies ``expression`` (CEL over
    ``input``/``payload``) was pushed after the task became ready."""

    event_key: str
    expression: str | None = None
    readable_data_key: str | None = None

    def spec(self) -> dict[str, Any]:
        if self.expression:
            expressions.compile_expression(self.expression)
        return {"kind": "event", "key": self.event_key, "expression": self.expression}


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


def spec_of(items: list[Any] | None) -> list[dict[str, Any]]:
    return [item.spec() for item in items or []]


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


class _Evaluator:
    def __init__(self, conn: psycopg.Connection[Any], row: dict[str, Any]) -> None:
        self.conn = conn
        self.row = row
        self.now = datetime.now(UTC)

    def holds(self, items: list[dict[str, Any]]) -> bool:
        return all(self._item(item) for item in items)

    def _item(self, item: dict[str, Any]) -> bool:
        if "or" in item:
            return any(self._condition(c) for c in item["or"])
        return self._condition(item)

    def _condition(self, cond: dict[str, Any]) -> bool:
        if cond["kind"] == "sleep":
            return bool(self.now >= self.row["ready_at"] + timedelta(seconds=cond["seconds"]))
        if cond["kind"] == "parent":
            output = (self.row["parent_outputs"] or {}).get(cond["parent"])
            variables = {
                "output": output,
                "input": self.row["input"],
                "additional_metadata": self.row["additional_metadata"],
            }
            return expressions.evaluate(cond["expression"], variables) is True
        events = self.conn.execute(
            queries.get("events_since"), {"key": cond["key"], "since": self.row["ready_at"]}
        )
        return any(
            not cond["expression"]
            or expressions.evaluate(
                cond["expression"],
                {
                    "input": e["payload"],
                    "payload": e["payload"],
                    "additional_metadata": e["additional_metadata"],
                },
            )
            is True
            for e in events.fetchall()
        )


def decide(conn: psycopg.Connection[Any], row: dict[str, Any]) -> str | None:
    """CANCELLED, SKIPPED, QUEUED, or None to keep waiting."""
    spec = row["conditions"] or {}
    check = _Evaluator(conn, row)
    if spec.get("cancel_if") and check.holds(spec["cancel_if"]):
        return "CANCELLED"
    if spec.get("skip_if") and check.holds(spec["skip_if"]):
        return "SKIPPED"
    if check.holds(spec.get("wait_for") or []):
        return "QUEUED"
    return None


def settle_waiting(dsn: str) -> int:
    """One engine round over WAITING task runs; returns how many changed state."""

    with connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        rows = conn.execute(queries.get("waiting_task_runs")).fetchall()
        verdicts: dict[str, list[int]] = {"QUEUED": [], "SKIPPED": [], "CANCELLED": []}
        for row in rows:
            try:
                verdict = decide(conn, row)
            except expressions.InvalidExpression:
                verdict = "CANCELLED"
            if verdict is not None:
                verdicts[verdict].append(row["id"])
        with conn.transaction():
            _apply(conn, verdicts)
    return sum(len(v) for v in verdicts.values())


def _apply(conn: psycopg.Connection[Any], verdicts: dict[str, list[int]]) -> None:
    if verdicts["QUEUED"]:
        conn.execute(queries.get("release_waiting"), {"ids": verdicts["QUEUED"]})
        conn.execute(queries.get("notify_queued"))
    decided = verdicts["SKIPPED"] + verdicts["CANCELLED"]
    if not decided:
        return
    rows = conn.execute(queries.get("decide_waiting"), {"ids": decided}).fetchall()
    outcome = {i: "SKIPPED" for i in verdicts["SKIPPED"]} | {
        i: "CANCELLED" for i in verdicts["CANCELLED"]
    }
    conn.execute(
        queries.get("finish_task_runs"),
        {
            "ids": [r["id"] for r in rows],
            "attempts": [r["attempt"] for r in rows],
            "outcomes": [outcome[r["id"]] for r in rows],
            "outputs": [None] * len(rows),
            "blobs": [None] * len(rows),
            "errors": [
                None if outcome[r["id"]] == "SKIPPED" else "cancelled by cancel_if" for r in rows
            ],
        },
    )
