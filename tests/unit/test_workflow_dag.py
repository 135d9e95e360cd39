"""Workflow declarations without a client: the DAG checks, hooks, task defaults, trigger
options and the conditions stored with a task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, errors
from hatchnb.conditions import ParentCondition, SleepCondition, UserEventCondition, or_
from hatchnb.expressions import InvalidExpression
from hatchnb.features.cron import InvalidCron
from hatchnb.types import ClientConfig, TaskDefaults, TriggerWorkflowOptions
from hatchnb.workflow import Workflow, check_acyclic, trigger_options


class _NoClient:
    """Declarations never touch the client (only its namespace setting)."""

    config = ClientConfig()
    _declared: dict[str, Any] = {}


def _wf(name: str = "wf", **options: Any) -> Workflow[Any]:
    return Workflow(_NoClient(), name, **options)  # type: ignore[arg-type]


def _noop(input: EmptyModel, ctx: Context) -> None:
    return None


def _other(input: EmptyModel, ctx: Context) -> None:
    return None


# ---- the graph --------------------------------------------------------------------------


def test_a_task_that_is_its_own_parent_is_a_cycle() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="cycle: a -> a"):
        check_acyclic({"a": ["a"]})


def test_a_longer_cycle_names_every_step_along_the_parents() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="cycle: b -> d -> c -> b"):
        check_acyclic({"a": [], "b": ["d", "a"], "c": ["b"], "d": ["c"]})


def test_an_undeclared_parent_is_named() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="unknown parent task 'ghost'"):
        check_acyclic({"a": ["ghost"]})


def test_an_empty_graph_is_acyclic() -> None:
    check_acyclic({})


def test_validate_accepts_a_chain_and_the_spec_marks_children() -> None:
    wf = _wf()
    a = wf.task(name="a")(_noop)
    b = wf.task(name="b", parents=[a])(_noop)
    wf.task(name="c", parents=[a, b])(_noop)
    spec = wf.spec()
    assert [t["has_children"] for t in spec["tasks"]] == [True, True, False]
    assert spec["tasks"][2]["parents"] == ["a", "b"]


def test_a_hook_is_not_a_dag_task() -> None:
    wf = _wf()
    with pytest.raises(errors.InvalidWorkflow, match="has no tasks"):
        wf.on_failure_task()(_noop)
        wf.validate()


def test_spec_lists_hooks_apart() -> None:
    wf = _wf()
    wf.task(name="a")(_noop)
    wf.on_failure_task(name="cleanup")(_other)
    spec = wf.spec()
    assert [t["name"] for t in spec["tasks"]] == ["a"]
    assert [(h["name"], h["kind"]) for h in spec["hooks"]] == [("cleanup", "on_failure")]


def test_a_second_failure_hook_is_refused() -> None:
    wf = _wf()
    wf.on_failure_task()(_noop)
    with pytest.raises(errors.InvalidWorkflow, match="already has an on_failure task"):
        wf.on_failure_task()(_other)


def test_a_hook_cannot_reuse_a_task_name() -> None:
    wf = _wf()
    wf.task(name="a")(_noop)
    with pytest.raises(errors.InvalidWorkflow, match="already has a task named 'a'"):
        wf.on_success_task(name="a")(_other)


def test_hooks_refuse_options_they_do_not_support() -> None:
    with pytest.raises(NotImplementedError, match="parents= is not supported"):
        _wf().on_failure_task(parents=["x"])


def test_get_task_finds_hooks_and_names_missing_ones() -> None:
    wf = _wf()
    hook = wf.on_success_task(name="done")(_noop)
    assert wf.get_task("done") is hook
    with pytest.raises(KeyError, match="workflow 'wf' has no task 'nope'"):
        wf.get_task("nope")


def test_task_name_defaults_to_the_function_name() -> None:
    wf = _wf()
    assert wf.task()(_other).name == "_other"


def test_a_parent_declared_later_is_unknown() -> None:
    wf, other = _wf(), _wf("other")
    early = other.task(name="p")(_noop)
    with pytest.raises(errors.InvalidWorkflow, match="declared earlier in workflow 'wf'"):
        wf.task(name="c", parents=[early])(_noop)


# ---- workflow and task options ----------------------------------------------------------


@pytest.mark.parametrize("name", ["", None, 5])
def test_a_workflow_needs_a_name(name: Any) -> None:
    with pytest.raises(errors.InvalidWorkflow, match="non-empty name"):
        _wf(name)


def test_a_workflow_name_with_nul_is_refused() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="NUL character"):
        _wf("a\x00b")


def test_a_bad_cron_is_refused_at_declaration() -> None:
    with pytest.raises(InvalidCron, match="five fields"):
        _wf(on_crons=["every morning"])


def test_task_defaults_apply_unless_a_task_sets_its_own() -> None:
    wf = _wf(task_defaults=TaskDefaults(retries=3, execution_timeout="2m", backoff_factor=1.5))
    inherited = wf.task(name="a")(_noop)
    own = wf.task(name="b", retries=0, execution_timeout=timedelta(seconds=5))(_noop)
    assert (inherited.retries, inherited.execution_timeout) == (3, timedelta(minutes=2))
    assert inherited.backoff_factor == 1.5
    assert (own.retries, own.execution_timeout) == (0, timedelta(seconds=5))


@pytest.mark.parametrize("cost", [True, 1.5, "2"])
def test_slot_cost_must_be_a_whole_number(cost: Any) -> None:
    with pytest.raises(ValueError, match="whole number of slots"):
        _wf().task(slot_cost=cost)


def test_durable_tasks_are_marked_in_the_spec() -> None:
    wf = _wf()
    wf.durable_task(name="d", retries=1)(_noop)
    [task] = wf.spec()["tasks"]
    assert task["durable"] is True and task["retries"] == 1


def test_async_tasks_are_marked_in_the_spec() -> None:
    async def work(input: EmptyModel, ctx: Context) -> None:
        return None

    wf = _wf()
    wf.task()(work)
    assert wf.spec()["tasks"][0]["is_async"] is True


def test_a_bad_schedule_timeout_names_the_option() -> None:
    with pytest.raises(ValueError, match="schedule_timeout='later'"):
        _wf().task(schedule_timeout="later")


def test_a_task_with_a_changed_option_changes_the_spec() -> None:
    first, second = _wf(), _wf()
    first.task(name="a", retries=1)(_noop)
    second.task(name="a", retries=2)(_noop)
    assert first.spec() != second.spec()


# ---- conditions in declarations ---------------------------------------------------------


def test_a_parent_condition_on_a_non_parent_says_to_add_it() -> None:
    wf = _wf()
    check = wf.task(name="check")(_noop)
    with pytest.raises(errors.InvalidWorkflow, match=r"reads 'check'.*add it to parents"):
        wf.task(name="t", skip_if=[ParentCondition(check, "output.ok")])(_noop)


def test_a_parent_condition_inside_an_or_group_is_checked_too() -> None:
    wf = _wf()
    wf.task(name="check")(_noop)
    group = or_(SleepCondition("1s"), ParentCondition("check", "output.ok"))
    with pytest.raises(errors.InvalidWorkflow, match="reads 'check'"):
        wf.task(name="t", wait_for=[group])(_noop)


def test_conditions_are_stored_with_the_task() -> None:
    wf = _wf()
    check = wf.task(name="check")(_noop)
    wf.task(
        name="t",
        parents=[check],
        wait_for=[SleepCondition("2m")],
        cancel_if=[UserEventCondition("stop", "payload.id == input.id")],
    )(_noop)
    stored = wf.spec()["tasks"][1]
    assert stored["has_conditions"] is True
    assert stored["conditions"] == {
        "wait_for": [{"kind": "sleep", "seconds": 120.0, "label": "sleep:2m"}],
        "cancel_if": [
            {
                "kind": "event",
                "key": "stop",
                "expression": "payload.id == input.id",
                "label": "stop",
            }
        ],
    }


def test_a_bad_condition_expression_is_refused_at_declaration() -> None:
    with pytest.raises(InvalidExpression, match="invalid CEL expression"):
        _wf().task(skip_if=[UserEventCondition("k", "payload.(")])(_noop)


def test_a_bad_sleep_duration_names_the_option() -> None:
    with pytest.raises(ValueError, match="duration='forever'"):
        SleepCondition("forever").spec()


# ---- trigger options --------------------------------------------------------------------


def test_trigger_keywords_override_the_options_object() -> None:
    base = TriggerWorkflowOptions(additional_metadata={"a": 1}, priority=1)
    merged = trigger_options(base, priority=3, child_key="k")
    assert (merged.priority, merged.child_key, merged.additional_metadata) == (3, "k", {"a": 1})
    assert base.priority == 1  # the caller's object is not changed


def test_no_trigger_keywords_return_the_given_options() -> None:
    base = TriggerWorkflowOptions(key="x")
    assert trigger_options(base) is base


def test_a_per_run_worker_must_be_a_worker_id() -> None:
    with pytest.raises(ValueError, match="desired_worker_id='w1': pass a worker's id"):
        trigger_options(TriggerWorkflowOptions(desired_worker_id="w1"))
    with pytest.raises(TypeError, match="desired_worker_labels= takes"):
        trigger_options(None, desired_worker_labels={"gpu": 1})


def test_a_trigger_priority_out_of_range_is_refused() -> None:
    with pytest.raises(errors.InvalidInput, match=r"priority=4: use Priority\.LOW \(1\)"):
        trigger_options(None, priority=4)
