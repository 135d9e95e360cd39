"""Flow-control normalisation and the per-run decision (slots, rate limit units, sticky),
with an in-memory rate limit lookup instead of the database."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hatchnb import errors, expressions
from hatchnb import flow_control as fc

RR = fc.ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN


class Limits:
    """A RateLimitLookup over a dict; records the dynamic keys it was asked to ensure."""

    def __init__(self, **known: int) -> None:
        self.known = dict(known)
        self.ensured: list[tuple[str, int, str]] = []

    def ensure(self, key: str, limit: int, duration: str) -> None:
        self.ensured.append((key, limit, duration))

    def limit_of(self, key: str) -> int | None:
        return self.known.get(key)


def _expr(expression: str, max_runs: int = 1, strategy: Any = RR) -> fc.ConcurrencyExpression:
    return fc.ConcurrencyExpression(
        expression=expression, max_runs=max_runs, limit_strategy=strategy
    )


def _control(**parts: Any) -> fc.FlowControl:
    base: dict[str, Any] = {
        "workflow_name": "wf",
        "run_concurrency": [],
        "task_concurrency": {},
        "task_rate_limits": {},
    }
    return fc.FlowControl(**{**base, **parts})


# ---- declarations -----------------------------------------------------------------------


def test_concurrency_bool_is_refused_not_taken_as_one() -> None:
    with pytest.raises(TypeError, match="not a bool"):
        fc.concurrency_list(True)


def test_one_expression_becomes_a_list() -> None:
    expr = _expr("input.tenant", 2)
    assert fc.concurrency_list(expr) == [expr]


def test_a_tuple_of_expressions_is_kept_in_order() -> None:
    first, second = _expr("input.a"), _expr("input.b")
    assert fc.concurrency_list((first, second)) == [first, second]


def test_a_list_with_one_bad_item_names_it() -> None:
    with pytest.raises(TypeError, match=r"concurrency= got 'input\.a'"):
        fc.concurrency_list([_expr("input.b"), "input.a"])


def test_rate_limit_list_takes_none_and_refuses_strings() -> None:
    assert fc.rate_limit_list(None) == []
    with pytest.raises(TypeError, match=r"use RateLimit\(static_key=\.\.\., units=\.\.\.\)"):
        fc.rate_limit_list(["api"])


def test_a_rate_limit_with_both_keys_is_refused() -> None:
    with pytest.raises(ValidationError, match="exactly one of static_key= or dynamic_key="):
        fc.RateLimit(static_key="api", dynamic_key="input.user", limit=3)


def test_a_rate_limit_with_a_bad_units_expression_is_refused() -> None:
    with pytest.raises(ValidationError, match="invalid CEL expression"):
        fc.RateLimit(static_key="api", units="input.n +")


def test_static_limits_default_to_one_unit_per_minute() -> None:
    limit = fc.RateLimit(static_key="api")
    assert (limit.units, limit.duration) == (1, fc.RateLimitDuration.MINUTE)


def test_desired_labels_from_a_list_use_each_key() -> None:
    spec = fc.desired_labels_spec(
        [
            fc.DesiredWorkerLabel(
                key="gpu",
                value=2,
                required=True,
                weight=5,
                comparator=fc.WorkerLabelComparator.GREATER_THAN_OR_EQUAL,
            ),
            fc.DesiredWorkerLabel(key="zone", value="eu"),
        ]
    )
    assert spec == {
        "gpu": {"value": 2, "required": True, "weight": 5, "comparator": "GREATER_THAN_OR_EQUAL"},
        "zone": {"value": "eu", "required": False, "weight": None, "comparator": "EQUAL"},
    }


def test_desired_labels_accept_plain_dicts() -> None:
    spec = fc.desired_labels_spec({"zone": {"value": "eu", "comparator": 1}})
    assert spec == {
        "zone": {"value": "eu", "required": False, "weight": None, "comparator": "NOT_EQUAL"}
    }


def test_desired_labels_in_a_list_need_a_key() -> None:
    with pytest.raises(TypeError, match=r"DesiredWorkerLabel\(key=\.\.\., \.\.\.\)"):
        fc.desired_labels_spec([fc.DesiredWorkerLabel(value=1)])


@pytest.mark.parametrize("empty", [None, {}, []])
def test_no_desired_labels_is_none(empty: Any) -> None:
    assert fc.desired_labels_spec(empty) is None


@pytest.mark.parametrize("value", ["SOFT", fc.StickyStrategy.HARD])
def test_sticky_takes_names_and_members(value: Any) -> None:
    assert fc.sticky_name(value) == str(value)


def test_lowercase_sticky_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"sticky='soft': use StickyStrategy\.SOFT or"):
        fc.sticky_name("soft")


# ---- the stored spec --------------------------------------------------------------------


def test_hooks_flow_control_is_read_from_the_spec() -> None:
    limit = fc.RateLimit(static_key="api", units=2).model_dump(mode="json")
    spec = {
        "name": "wf",
        "tasks": [{"name": "a"}],
        "hooks": [{"name": "on_failure", "rate_limits": [limit]}],
    }
    control = fc.FlowControl.from_spec(spec)
    assert list(control.task_rate_limits) == ["on_failure"]
    assert control.task_rate_limits["on_failure"][0].units == 2
    assert control.task_concurrency == {} and control.sticky is None


def test_sticky_only_routing_has_no_fc_part() -> None:
    control = _control(sticky="SOFT")
    assert not control.is_plain and control.empty
    assert control.routing({}, {}, Limits()) == {"sticky": "SOFT"}


def test_plain_routing_is_empty() -> None:
    assert _control().routing({"x": 1}, {}, Limits()) == {}


# ---- evaluation at trigger time ---------------------------------------------------------


def test_run_slots_are_numbered_by_declaration_order() -> None:
    control = _control(run_concurrency=[_expr("input.a", 1), _expr("input.b", 4)])
    slots = control.evaluate({"a": "x", "b": 7}, {}, Limits())["run"]
    assert [s["slot"] for s in slots] == ["wf#0=x", "wf#1=7"]
    assert [s["max_runs"] for s in slots] == [1, 4]
    assert {s["scope"] for s in slots} == {"run"} and slots[0]["task_name"] is None


def test_task_slots_are_scoped_by_task() -> None:
    strategy = fc.ConcurrencyLimitStrategy.CANCEL_NEWEST
    control = _control(task_concurrency={"load": [_expr("input.t", 2, strategy)]})
    [slot] = control.evaluate({"t": "acme"}, {}, Limits())["tasks"]["load"]["concurrency"]
    assert slot["slot"] == "wf.load#0=acme"
    assert (slot["scope"], slot["task_name"], slot["strategy"]) == ("task", "load", "CANCEL_NEWEST")


def test_keys_can_come_from_metadata() -> None:
    control = _control(run_concurrency=[_expr("additional_metadata.team")])
    [slot] = control.evaluate({}, {"team": "ml"}, Limits())["run"]
    assert slot["key"] == "ml"


def test_boolean_keys_are_lowercase_text() -> None:
    control = _control(run_concurrency=[_expr("input.flag")])
    [slot] = control.evaluate({"flag": True}, {}, Limits())["run"]
    assert slot["key"] == "true"


def test_a_key_expression_giving_a_list_says_what_it_must_give() -> None:
    control = _control(run_concurrency=[_expr("input.tags")])
    with pytest.raises(expressions.InvalidExpression, match="must give a string or a number"):
        control.evaluate({"tags": ["a"]}, {}, Limits())


def test_units_from_an_expression() -> None:
    control = _control(task_rate_limits={"t": [fc.RateLimit(static_key="api", units="input.n")]})
    result = control.evaluate({"n": 3}, {}, Limits(api=10))
    assert result["tasks"]["t"]["rate_limits"] == [{"key": "api", "units": 3}]


@pytest.mark.parametrize("n", [0, -2, "three", True])
def test_units_from_an_expression_must_be_a_positive_number(n: Any) -> None:
    control = _control(task_rate_limits={"t": [fc.RateLimit(static_key="api", units="input.n")]})
    with pytest.raises(expressions.InvalidExpression, match="need a number from 1 to"):
        control.evaluate({"n": n}, {}, Limits(api=10))


def test_units_from_an_expression_over_a_static_limit_are_refused() -> None:
    control = _control(task_rate_limits={"t": [fc.RateLimit(static_key="api", units="input.n")]})
    with pytest.raises(errors.InvalidWorkflow, match="lower units= or raise the limit"):
        control.evaluate({"n": 11}, {}, Limits(api=10))


def test_a_dynamic_limit_from_an_expression_is_ensured_with_its_duration() -> None:
    limit = fc.RateLimit(
        dynamic_key="input.user",
        units=1,
        limit="input.quota",
        duration=fc.RateLimitDuration.HOUR,
    )
    limits = Limits()
    control = _control(task_rate_limits={"t": [limit]})
    result = control.evaluate({"user": "ann", "quota": 5}, {}, limits)
    assert result["tasks"]["t"]["rate_limits"] == [{"key": "ann", "units": 1}]
    assert limits.ensured == [("ann", 5, "HOUR")]


def test_unknown_static_key_says_how_to_put_it() -> None:
    control = _control(task_rate_limits={"t": [fc.RateLimit(static_key="api")]})
    with pytest.raises(errors.InvalidWorkflow, match=r"hatchet\.rate_limits\.put\('api'"):
        control.routing({}, {}, Limits())


def test_a_task_with_concurrency_and_limits_gets_both() -> None:
    control = _control(
        task_concurrency={"t": [_expr("'k'")]},
        task_rate_limits={"t": [fc.RateLimit(static_key="api")]},
    )
    entry = control.routing({}, {}, Limits(api=1))["fc"]["tasks"]["t"]
    assert set(entry) == {"concurrency", "rate_limits"}
