"""Declaration checks that need no database: DAG validation, options, durations."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from hatchnb import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DesiredWorkerLabel,
    EmptyModel,
    RateLimit,
    StickyStrategy,
    errors,
)
from hatchnb.flow_control import FlowControl, concurrency_list
from hatchnb.types import ClientConfig, to_timedelta
from hatchnb.workflow import Workflow, check_acyclic, refuse_unsupported


class _NoClient:
    """Declarations never touch the client; triggering would."""

    config = ClientConfig()
    _declared: dict[str, Any] = {}


def _wf(name: str = "wf") -> Workflow[Any]:
    return Workflow(_NoClient(), name)  # type: ignore[arg-type]


def _noop(input: EmptyModel, ctx: Context) -> None:
    return None


def test_duplicate_task_name_is_refused() -> None:
    wf = _wf()
    wf.task(name="a")(_noop)
    with pytest.raises(errors.InvalidWorkflow, match="already has a task named 'a'"):
        wf.task(name="a")(_noop)


def test_parent_from_another_workflow_is_unknown() -> None:
    other, wf = _wf("other"), _wf()
    foreign = other.task(name="x")(_noop)
    with pytest.raises(errors.InvalidWorkflow, match="unknown parent 'x'"):
        wf.task(name="y", parents=[foreign])(_noop)


def test_parent_must_be_a_task() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="parents must be tasks"):
        _wf().task(name="y", parents=["x"])(_noop)  # type: ignore[list-item]


def test_cycle_is_reported_with_its_path() -> None:
    wf = _wf()
    a = wf.task(name="a")(_noop)
    b = wf.task(name="b", parents=[a])(_noop)
    a.parents.append(b)
    with pytest.raises(errors.InvalidWorkflow, match="cycle: a -> b -> a"):
        wf.validate()


def test_empty_workflow_is_refused() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="has no tasks"):
        _wf().spec()


def test_check_acyclic_accepts_diamond() -> None:
    check_acyclic({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})


def test_spec_carries_options_and_children() -> None:
    wf = _wf()
    a = wf.task(name="a", retries=2, backoff_factor=2.0, execution_timeout="90s")(_noop)
    wf.task(name="b", parents=[a])(_noop)
    spec: dict[str, Any] = wf.spec()
    first = spec["tasks"][0]
    assert first["has_children"] is True and first["retries"] == 2
    assert first["execution_timeout"] == "90.0 seconds"
    assert spec["tasks"][1]["parents"] == ["a"]


@pytest.mark.parametrize("bad", [{"retries": -1}, {"backoff_factor": 0}])
def test_bad_retry_options(bad: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidWorkflow):
        _wf().task(**bad)(_noop)


def test_unsupported_options_are_refused_not_ignored() -> None:
    with pytest.raises(NotImplementedError, match="lifespan= is not supported"):
        refuse_unsupported(lifespan=object())


def test_bad_flow_control_declarations_say_what_to_fix() -> None:
    with pytest.raises(TypeError, match="use ConcurrencyExpression"):
        _wf().task(concurrency=[object()])(_noop)
    with pytest.raises(ValueError, match=r"invalid CEL expression 'input\.\('"):
        ConcurrencyExpression(
            expression="input.(", max_runs=1, limit_strategy=ConcurrencyLimitStrategy.CANCEL_NEWEST
        )
    with pytest.raises(ValueError, match="greater than 0"):
        ConcurrencyExpression(
            expression="input.k", max_runs=0, limit_strategy=ConcurrencyLimitStrategy.CANCEL_NEWEST
        )
    with pytest.raises(ValueError, match="exactly one of static_key= or dynamic_key="):
        RateLimit(units=1)
    with pytest.raises(ValueError, match="needs limit="):
        RateLimit(dynamic_key="input.user")
    with pytest.raises(ValueError, match="can never run under a limit of 5"):
        RateLimit(dynamic_key="input.user", units=6, limit=5)
    with pytest.raises(ValueError, match="slot_cost=0"):
        _wf().task(slot_cost=0)(_noop)
    with pytest.raises(ValueError, match=r"StickyStrategy\.SOFT"):
        Workflow(_NoClient(), "wf", sticky="sometimes")  # type: ignore[arg-type]


def test_flow_control_survives_the_stored_spec() -> None:
    wf: Workflow[Any] = Workflow(
        _NoClient(),  # type: ignore[arg-type]
        "wf",
        concurrency=ConcurrencyExpression(
            expression="input.tenant",
            max_runs=2,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        ),
        sticky=StickyStrategy.HARD,
    )
    wf.task(
        concurrency=3,
        rate_limits=[RateLimit(dynamic_key="input.user", units=2, limit=10)],
        desired_worker_labels={"gpu": DesiredWorkerLabel(value=1, required=True)},
    )(_noop)
    rebuilt = FlowControl.from_spec(json.loads(json.dumps(wf.spec())))
    assert rebuilt == wf.flow_control()
    assert wf.spec()["tasks"][0]["desired_worker_labels"] == {
        "gpu": {"value": 1, "required": True, "weight": None, "comparator": "EQUAL"}
    }


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("250ms", 0.25), (12, 12)]
)
def test_durations(text: Any, seconds: float) -> None:
    assert to_timedelta(text, "x") == timedelta(seconds=seconds)


def test_bad_duration_names_the_option() -> None:
    with pytest.raises(ValueError, match="execution_timeout='soon'"):
        to_timedelta("soon", "execution_timeout")


def test_priority_out_of_range() -> None:
    with pytest.raises(errors.InvalidWorkflow, match=r"Priority\.LOW"):
        Workflow(_NoClient(), "p", default_priority=7)  # type: ignore[arg-type]


def test_concurrency_from_int_is_one_constant_group() -> None:
    limit = ConcurrencyExpression.from_int(4)
    assert (limit.expression, limit.max_runs) == ("'constant'", 4)
    assert limit.limit_strategy == ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN
    assert concurrency_list(4) == [limit]
    with pytest.raises(ValueError, match="max_runs"):
        ConcurrencyExpression.from_int(0)
