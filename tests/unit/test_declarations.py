"""Declaration checks that need no database: DAG validation, options, durations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, errors
from hatchnb.types import to_timedelta
from hatchnb.workflow import Workflow, check_acyclic


class _NoClient:
    """Declarations never touch the client; triggering would."""


def _wf(name: str = "wf") -> Workflow:
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
    with pytest.raises(NotImplementedError, match="concurrency= is not supported"):
        _wf().task(concurrency=[object()])(_noop)


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
