"""wait_for / skip_if / cancel_if with sleep, event and parent conditions, and or_ groups."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hatchnb import (
    Context,
    EmptyModel,
    ParentCondition,
    SleepCondition,
    UserEventCondition,
    errors,
    or_,
)
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def test_skip_if_parent_condition_and_was_skipped(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="branchy")

    @wf.task()
    def start(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": int(input.model_extra["n"])}

    @wf.task(parents=[start], skip_if=[ParentCondition(parent=start, expression="output.n < 10")])
    def big(input: EmptyModel, ctx: Context) -> str:
        return "big"

    @wf.task(parents=[start], skip_if=[ParentCondition(parent=start, expression="output.n >= 10")])
    def small(input: EmptyModel, ctx: Context) -> str:
        return "small"

    @wf.task(parents=[big, small])
    def join(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"big_skipped": ctx.was_skipped(big), "small_skipped": ctx.was_skipped(small)}

    start_worker(wf)
    out = wf.run({"n": 3})
    assert out["small"] == "small" and out["big"] == {"skipped": True}  # hatchet_sdk shape
    assert out["join"] == {"big_skipped": True, "small_skipped": False}
    ref = wf.run_no_wait({"n": 30})
    assert ref.result(timeout=10)["join"] == {"big_skipped": False, "small_skipped": True}
    statuses = {t.task_name: t.status for t in hatchet.runs.get(ref.workflow_run_id).tasks}
    assert statuses["small"] == "SKIPPED" and hatchet.runs.get_status(ref.workflow_run_id) == (
        "SUCCEEDED"
    )


def test_wait_for_sleep_or_event(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="patient")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> None:
        return None

    @wf.task(
        parents=[first],
        wait_for=[or_(SleepCondition("30s"), UserEventCondition("go", "input.now == true"))],
    )
    def second(input: EmptyModel, ctx: Context) -> str:
        return "went"

    @wf.task(wait_for=[SleepCondition("1s")])
    def delayed(input: EmptyModel, ctx: Context) -> float:
        return time.time()

    start_worker(wf)
    started = time.time()
    ref = wf.run_no_wait()
    wait_until(
        lambda: any(
            t.status == "WAITING" and t.task_name == "second"
            for t in hatchet.runs.get(ref.workflow_run_id).tasks
        ),
        message="second to wait",
    )
    hatchet.event.push("go", {"now": False})
    time.sleep(0.5)
    assert {t.task_name: t.status for t in hatchet.runs.get(ref.workflow_run_id).tasks}[
        "second"
    ] == "WAITING"
    hatchet.event.push("go", {"now": True})
    out = ref.result(timeout=10)
    assert out["second"] == "went"
    assert out["delayed"] - started >= 1.0


def test_cancel_if_event_cancels_the_task_and_downstream(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="abortable")

    @wf.task(wait_for=[SleepCondition("30s")], cancel_if=[UserEventCondition("abort")])
    def slow(input: EmptyModel, ctx: Context) -> None:
        return None

    @wf.task(parents=[slow])
    def after(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(wf)
    ref = wf.run_no_wait()
    wait_until(lambda: hatchet.runs.get(ref.workflow_run_id).tasks[0].status == "WAITING")
    hatchet.event.push("abort", {})
    # as in hatchet_sdk, a run cancelled by its conditions gives what its other tasks produced
    assert ref.result(timeout=10) == {}
    run = hatchet.runs.get(ref.workflow_run_id)
    assert run.status == "CANCELLED"
    assert {t.task_name: (t.status, t.error) for t in run.tasks} == {
        "slow": ("CANCELLED", "cancelled by cancel_if"),
        "after": ("CANCELLED", "an upstream task did not succeed"),
    }


def test_condition_errors_are_caught_at_declaration(hatchet: Any) -> None:
    wf = hatchet.workflow(name="bad-conditions")

    @wf.task()
    def a(input: EmptyModel, ctx: Context) -> None:
        return None

    with pytest.raises(errors.InvalidWorkflow, match="not one of its parents"):
        wf.task(name="b", skip_if=[ParentCondition(parent=a, expression="true")])(a.fn)
    with pytest.raises(ValueError, match="invalid CEL expression"):
        wf.task(
            name="c", parents=[a], skip_if=[ParentCondition(parent=a, expression="output.n >")]
        )(a.fn)
