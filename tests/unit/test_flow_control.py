"""Flow-control declarations and decisions, without a database (rate limit lookups are a
small in-memory fake of the store's RateLimitLookup)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hatchnb import errors, expressions
from hatchnb import flow_control as fc


class FakeLimits:
    def __init__(self, known: dict[str, int] | None = None) -> None:
        self.known = dict(known or {})
        self.ensured: list[tuple[str, int, str]] = []

    def ensure(self, key: str, limit: int, duration: str) -> None:
        self.ensured.append((key, limit, duration))
        self.known.setdefault(key, limit)

    def limit_of(self, key: str) -> int | None:
        return self.known.get(key)


def _spec(**parts: Any) -> dict[str, Any]:
    return {"name": "wf", "tasks": [], **parts}


@pytest.mark.parametrize("units", [0, -1])
def test_rate_limit_units_must_be_positive(units: int) -> None:
    with pytest.raises(ValidationError, match="positive number"):
        fc.RateLimit(static_key="api", units=units)


def test_dynamic_rate_limit_needs_a_limit() -> None:
    with pytest.raises(ValidationError, match="needs limit="):
        fc.RateLimit(dynamic_key="input.user", units=1)


def test_concurrency_expression_must_compile() -> None:
    with pytest.raises(ValidationError, match="invalid CEL"):
        fc.ConcurrencyExpression(
            expression="input.x +",
            max_runs=1,
            limit_strategy=fc.ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        )


def test_a_number_is_one_constant_key() -> None:
    [only] = fc.concurrency_list(3)
    assert only.max_runs == 3
    assert only.expression == "'constant'"
    assert only.limit_strategy == fc.ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN


@pytest.mark.parametrize("value", ["x", 1.5, {"a": 1}])
def test_other_concurrency_values_are_refused_with_the_accepted_forms(value: Any) -> None:
    with pytest.raises(TypeError, match="ConcurrencyExpression"):
        fc.concurrency_list(value)


def test_none_is_no_concurrency() -> None:
    assert fc.concurrency_list(None) == []


def test_desired_labels_are_stored_as_plain_json() -> None:
    label = fc.DesiredWorkerLabel(value=1, required=True)
    spec = fc.desired_labels_spec({"gpu": label})
    assert spec == {"gpu": {"value": 1, "required": True, "weight": None, "comparator": "EQUAL"}}


def test_desired_labels_refuse_bare_values() -> None:
    with pytest.raises(TypeError, match="DesiredWorkerLabel"):
        fc.desired_labels_spec({"gpu": 1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (fc.StickyStrategy.SOFT, "SOFT"), (fc.StickyStrategy.HARD, "HARD")],
)
def test_sticky_names(value: Any, expected: str | None) -> None:
    assert fc.sticky_name(value) == expected


@pytest.mark.parametrize("value", ["soft", "x", 1])
def test_sticky_refuses_anything_else(value: Any) -> None:
    with pytest.raises(ValueError, match=r"StickyStrategy\.SOFT"):
        fc.sticky_name(value)


def test_a_spec_without_flow_control_is_plain() -> None:
    control = fc.FlowControl.from_spec(_spec())
    assert control.empty and control.is_plain


def test_sticky_alone_is_not_plain_but_empty() -> None:
    control = fc.FlowControl.from_spec(_spec(sticky="SOFT"))
    assert control.empty and not control.is_plain
    assert control.routing({}, {}, FakeLimits()) == {"sticky": "SOFT"}


def _keyed_spec() -> dict[str, Any]:
    expression = fc.ConcurrencyExpression(
        expression="input.tenant",
        max_runs=2,
        limit_strategy=fc.ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
    )
    return _spec(concurrency=[expression.model_dump(mode="json")])


def test_a_run_level_key_is_evaluated_from_the_input() -> None:
    control = fc.FlowControl.from_spec(_keyed_spec())
    routing = control.routing({"tenant": "acme"}, {}, FakeLimits())
    [slot] = routing["fc"]["run"]
    assert slot["key"] == "acme"
    assert slot["max_runs"] == 2
    assert slot["strategy"] == "GROUP_ROUND_ROBIN"


def test_a_key_from_a_missing_field_is_an_invalid_expression() -> None:
    control = fc.FlowControl.from_spec(_keyed_spec())
    with pytest.raises(expressions.InvalidExpression, match="guard optional fields"):
        control.routing({}, {}, FakeLimits())


@pytest.mark.parametrize(("tenant", "key"), [(7, "7"), (True, "true"), ("x", "x")])
def test_keys_are_text(tenant: Any, key: str) -> None:
    control = fc.FlowControl.from_spec(_keyed_spec())
    [slot] = control.routing({"tenant": tenant}, {}, FakeLimits())["fc"]["run"]
    assert slot["key"] == key


def test_a_key_that_is_not_a_scalar_is_refused() -> None:
    control = fc.FlowControl.from_spec(_keyed_spec())
    with pytest.raises(expressions.InvalidExpression, match="string or a number"):
        control.routing({"tenant": {"a": 1}}, {}, FakeLimits())


def _rate_limited_spec(limit: fc.RateLimit) -> dict[str, Any]:
    return _spec(tasks=[{"name": "call", "rate_limits": [limit.model_dump(mode="json")]}])


def test_a_static_rate_limit_needs_its_key_put_first() -> None:
    spec = _rate_limited_spec(fc.RateLimit(static_key="api", units=1))
    control = fc.FlowControl.from_spec(spec)
    with pytest.raises(errors.InvalidWorkflow, match=r"rate_limits\.put"):
        control.routing({}, {}, FakeLimits())


def test_static_units_over_the_limit_are_refused() -> None:
    spec = _rate_limited_spec(fc.RateLimit(static_key="api", units=5))
    control = fc.FlowControl.from_spec(spec)
    with pytest.raises(ValueError, match="api"):
        control.routing({}, {}, FakeLimits({"api": 2}))


def test_static_units_within_the_limit_are_routed() -> None:
    spec = _rate_limited_spec(fc.RateLimit(static_key="api", units=2))
    control = fc.FlowControl.from_spec(spec)
    routing = control.routing({}, {}, FakeLimits({"api": 10}))
    assert routing["fc"]["tasks"]["call"]["rate_limits"] == [{"key": "api", "units": 2}]


def test_a_dynamic_key_is_ensured_with_its_evaluated_limit() -> None:
    limit = fc.RateLimit(
        dynamic_key="input.user", units=1, limit="input.quota", duration=fc.RateLimitDuration.MINUTE
    )
    limits = FakeLimits()
    control = fc.FlowControl.from_spec(_rate_limited_spec(limit))
    routing = control.routing({"user": "ann", "quota": 4}, {}, limits)
    assert routing["fc"]["tasks"]["call"]["rate_limits"] == [{"key": "ann", "units": 1}]
    assert limits.ensured == [("ann", 4, "MINUTE")]


@pytest.mark.parametrize("quota", [0, -3, "many", True])
def test_a_dynamic_limit_must_evaluate_to_a_positive_number(quota: Any) -> None:
    limit = fc.RateLimit(dynamic_key="input.user", units=1, limit="input.quota")
    control = fc.FlowControl.from_spec(_rate_limited_spec(limit))
    with pytest.raises(expressions.InvalidExpression, match="need a number from 1 to"):
        control.routing({"user": "ann", "quota": quota}, {}, FakeLimits())
