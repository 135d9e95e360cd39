"""Task conditions: their declarations, their stored spec and the engine's decision for a
waiting task run (pure: the events are given by a fake lookup)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import expressions
from hatchnb.conditions import (
    ParentCondition,
    SleepCondition,
    UserEventCondition,
    or_,
    parents_named,
    spec_of,
)
from hatchnb.runtime.duties.conditions import decide

READY = datetime(2026, 1, 1, tzinfo=UTC)


def _row(**conditions: Any) -> dict[str, Any]:
    return {
        "conditions": {k: spec_of(v) for k, v in conditions.items()},
        "ready_at": READY,
        "input": {"n": 1},
        "additional_metadata": {"team": "ml"},
        "parent_outputs": {"check": {"ok": True, "n": 0}},
    }


def _events(*payloads: dict[str, Any]) -> Any:
    def since(key: str, moment: datetime) -> list[dict[str, Any]]:
        assert moment == READY  # events count from when the task became ready
        return [{"payload": p, "additional_metadata": {}} for p in payloads]

    return since


NO_EVENTS = _events()


def test_specs_of_each_condition_kind() -> None:
    specs = spec_of(
        [
            SleepCondition(timedelta(seconds=5)),
            or_(
                UserEventCondition(event_key="k", expression="input.a == 1"),
                ParentCondition(parent="p", expression="output.n > 0"),
            ),
        ]
    )
    assert specs == [
        {"kind": "sleep", "seconds": 5.0, "label": "sleep:5s"},
        {
            "or": [
                {"kind": "event", "key": "k", "expression": "input.a == 1", "label": "k"},
                {"kind": "parent", "parent": "p", "expression": "output.n > 0"},
            ]
        },
    ]


def test_parents_named_reaches_inside_or_groups() -> None:
    conditions = [or_(ParentCondition(parent="p", expression="true")), SleepCondition("1s")]
    assert parents_named(conditions) == {"p"}


def test_no_conditions_release_at_once() -> None:
    assert decide(_row(), NO_EVENTS) == "QUEUED"


def test_a_sleep_not_over_keeps_waiting() -> None:
    row = _row(wait_for=[SleepCondition(timedelta(days=36500))])
    assert decide(row, NO_EVENTS) is None


def test_a_sleep_that_is_over_releases() -> None:
    assert decide(_row(wait_for=[SleepCondition(timedelta(seconds=1))]), NO_EVENTS) == "QUEUED"


def test_cancel_if_wins_over_skip_if() -> None:
    holds = ParentCondition(parent="check", expression="output.ok")
    row = _row(cancel_if=[holds], skip_if=[holds])
    assert decide(row, NO_EVENTS) == "CANCELLED"


def test_skip_if_on_a_parent_output() -> None:
    row = _row(skip_if=[ParentCondition(parent="check", expression="output.n == 0")])
    assert decide(row, NO_EVENTS) == "SKIPPED"


def test_a_skip_if_that_does_not_hold_falls_through_to_wait_for() -> None:
    row = _row(skip_if=[ParentCondition(parent="check", expression="output.n > 5")])
    assert decide(row, NO_EVENTS) == "QUEUED"


def test_waiting_for_an_event_that_did_not_come() -> None:
    row = _row(wait_for=[UserEventCondition(event_key="approve", expression="")])
    assert decide(row, NO_EVENTS) is None


def test_an_event_releases_when_its_payload_matches() -> None:
    wait = UserEventCondition(event_key="approve", expression="input.ok == true")
    assert decide(_row(wait_for=[wait]), _events({"ok": False})) is None
    assert decide(_row(wait_for=[wait]), _events({"ok": False}, {"ok": True})) == "QUEUED"


def test_a_list_needs_every_condition_an_or_group_any() -> None:
    parent = ParentCondition(parent="check", expression="output.ok")
    never = SleepCondition(timedelta(days=36500))
    assert decide(_row(wait_for=[parent, never]), NO_EVENTS) is None
    assert decide(_row(wait_for=[or_(parent, never)]), NO_EVENTS) == "QUEUED"


def test_a_failing_expression_is_an_invalid_expression() -> None:
    row = _row(wait_for=[ParentCondition(parent="check", expression="output.missing > 1")])
    with pytest.raises(expressions.InvalidExpression):
        decide(row, NO_EVENTS)


def test_conditions_see_input_and_metadata() -> None:
    check = ParentCondition(
        parent="check", expression="input.n == 1 && additional_metadata.team == 'ml'"
    )
    assert decide(_row(skip_if=[check]), NO_EVENTS) == "SKIPPED"


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        ("input.a + 1", {"input": {"a": 2}}, 3),
        ("input.name == 'x'", {"input": {"name": "x"}}, True),
        ("has(input.t) ? input.t : 'none'", {"input": {}}, "none"),
        ("size(input.items)", {"input": {"items": [1, 2, 3]}}, 3),
        ("additional_metadata.team", {"additional_metadata": {"team": "ml"}}, "ml"),
    ],
)
def test_cel_evaluates(expression: str, variables: dict[str, Any], expected: Any) -> None:
    assert expressions.evaluate(expression, variables) == expected


def test_cel_syntax_errors_say_how_to_write_one() -> None:
    with pytest.raises(expressions.InvalidExpression, match="Fix its syntax"):
        expressions.compile_expression("input.a +")


def test_cel_missing_fields_say_how_to_guard_them() -> None:
    with pytest.raises(expressions.InvalidExpression, match=r"has\(input\.tenant\)"):
        expressions.evaluate("input.b", {"input": {"a": 2}})
