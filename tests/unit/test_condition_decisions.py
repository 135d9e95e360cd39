"""The engine's verdict for a waiting task run (``decide``), from stored condition specs and
events given by a fake lookup: which check wins, how groups combine, what expressions see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hatchnb.conditions import ParentCondition, SleepCondition, UserEventCondition, or_, spec_of
from hatchnb.runtime.duties.conditions import decide


def _row(ready_ago: float = 0, parent_outputs: Any = None, **conditions: Any) -> dict[str, Any]:
    return {
        "conditions": {k: spec_of(v) for k, v in conditions.items()},
        "ready_at": datetime.now(UTC) - timedelta(seconds=ready_ago),
        "input": {"id": 7},
        "additional_metadata": {"team": "ml"},
        "parent_outputs": parent_outputs,
    }


def _events(**by_key: list[dict[str, Any]]) -> Any:
    def since(key: str, moment: datetime) -> list[dict[str, Any]]:
        return [{"payload": p, "additional_metadata": {}} for p in by_key.get(key, [])]

    return since


def test_no_stored_conditions_release_the_task() -> None:
    row = _row()
    row["conditions"] = None
    assert decide(row, _events()) == "QUEUED"


def test_skip_if_wins_over_wait_for() -> None:
    row = _row(skip_if=[SleepCondition("0s")], wait_for=[SleepCondition("1h")])
    assert decide(row, _events()) == "SKIPPED"


def test_cancel_if_that_does_not_hold_lets_wait_for_decide() -> None:
    row = _row(cancel_if=[UserEventCondition("stop")], wait_for=[SleepCondition("1s")], ready_ago=5)
    assert decide(row, _events()) == "QUEUED"


def test_an_or_group_holds_when_one_member_does() -> None:
    group = or_(SleepCondition("1h"), UserEventCondition("go"))
    assert decide(_row(wait_for=[group]), _events(go=[{}])) == "QUEUED"
    assert decide(_row(wait_for=[group]), _events()) is None


def test_a_sleep_counts_from_when_the_task_became_ready() -> None:
    assert decide(_row(ready_ago=59, wait_for=[SleepCondition("1m")]), _events()) is None
    assert decide(_row(ready_ago=61, wait_for=[SleepCondition("1m")]), _events()) == "QUEUED"


def test_in_an_event_expression_input_is_the_event_payload() -> None:
    # as in Hatchet: ``input`` and ``payload`` both name the event's payload, not the run input
    wait = [UserEventCondition("order", "input.id == 8 && payload.id == 8")]
    assert decide(_row(wait_for=wait), _events(order=[{"id": 7}])) is None
    assert decide(_row(wait_for=wait), _events(order=[{"id": 7}, {"id": 8}])) == "QUEUED"


def test_events_of_another_key_do_not_count() -> None:
    assert decide(_row(wait_for=[UserEventCondition("a")]), _events(b=[{}])) is None


def test_a_parent_condition_must_be_exactly_true() -> None:
    skip = [ParentCondition("check", "output.count")]
    assert decide(_row(parent_outputs={"check": {"count": 3}}, skip_if=skip), _events()) == "QUEUED"


def test_a_parent_condition_sees_metadata() -> None:
    skip = [ParentCondition("check", "additional_metadata.team == 'ml' && output.ok")]
    row = _row(parent_outputs={"check": {"ok": True}}, skip_if=skip)
    assert decide(row, _events()) == "SKIPPED"
