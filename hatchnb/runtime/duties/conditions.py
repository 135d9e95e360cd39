"""Engine duty: evaluate the conditions of WAITING task runs each round. ``cancel_if``
holds -> CANCELLED, else ``skip_if`` holds -> SKIPPED, else ``wait_for`` holds -> QUEUED,
else the task keeps waiting. A condition expression that fails cancels the task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hatchnb import expressions
from hatchnb.conditions import event_counts, events_from
from hatchnb.store.db import Row
from hatchnb.store.waiting import WaitingTasks

#: the events pushed with a key since a moment
EventsSince = Callable[[str, datetime], list[Row]]


class _Evaluator:
    def __init__(self, row: Row, events_since: EventsSince) -> None:
        self.events_since = events_since
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
        events = self.events_since(cond["key"], events_from(cond, self.row["ready_at"]))
        return any(
            event_counts(cond, e.get("scope")) and self._payload_matches(cond, e) for e in events
        )

    @staticmethod
    def _payload_matches(cond: dict[str, Any], event: Row) -> bool:
        if not cond["expression"]:
            return True
        variables = {
            "input": event["payload"],
            "payload": event["payload"],
            "additional_metadata": event["additional_metadata"],
        }
        return expressions.evaluate(cond["expression"], variables) is True


def decide(row: Row, events_since: EventsSince) -> str | None:
    """CANCELLED, SKIPPED, QUEUED, or None to keep waiting."""
    spec = row["conditions"] or {}
    check = _Evaluator(row, events_since)
    if spec.get("cancel_if") and check.holds(spec["cancel_if"]):
        return "CANCELLED"
    if spec.get("skip_if") and check.holds(spec["skip_if"]):
        return "SKIPPED"
    if check.holds(spec.get("wait_for") or []):
        return "QUEUED"
    return None


def settle_waiting(dsn: str) -> int:
    """One engine round over WAITING task runs; returns how many changed state."""
    with WaitingTasks.open(dsn) as db:
        released: list[int] = []
        outcomes: dict[int, str] = {}
        for row in db.waiting():
            try:
                verdict = decide(row, db.events_since)
            except expressions.InvalidExpression:
                verdict = "CANCELLED"
            if verdict == "QUEUED":
                released.append(row["id"])
            elif verdict is not None:
                outcomes[row["id"]] = verdict
        db.settle(released, outcomes)
    return len(released) + len(outcomes)
