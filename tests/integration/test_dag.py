"""DAG workflows, standalone tasks, inputs, outputs, hooks, children: in-process worker."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import (
    Context,
    EmptyModel,
    FailedRunError,
    TriggerWorkflowOptions,
)
from hatchnb import errors as hatchnb_errors
from hatchnb.enqueue import INSERT_CHUNK

pytestmark = pytest.mark.integration


class Numbers(BaseModel):
    values: list[int]


class Total(BaseModel):
    total: int


def test_dag_runs_in_order_and_returns_every_output(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="etl", input_validator=Numbers)

    @wf.task()
    def extract(input: Numbers, ctx: Context) -> dict[str, Any]:
        return {"values": input.values}

    @wf.task(parents=[extract])
    async def square(input: Numbers, ctx: Context) -> dict[str, Any]:
        return {"values": [v * v for v in ctx.task_output(extract)["values"]]}

    @wf.task(parents=[extract])
    def negate(input: Numbers, ctx: Context) -> dict[str, Any]:
        return {"values": [-v for v in ctx.task_output(extract)["values"]]}

    @wf.task(parents=[square, negate])
    def combine(input: Numbers, ctx: Context) -> Total:
        return Total(
            total=sum(ctx.task_output(square)["values"]) + sum(ctx.task_output(negate)["values"])
        )

    start_worker(wf)
    result = wf.run(Numbers(values=[1, 2, 3]))
    assert result == {
        "extract": {"values": [1, 2, 3]},
        "square": {"values": [1, 4, 9]},
        "negate": {"values": [-1, -2, -3]},
        "combine": {"total": 8},
    }


def test_standalone_task_returns_its_output_typed_by_annotation(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.task(input_validator=Numbers)
    def add(input: Numbers, ctx: Context) -> Total:
        return Total(total=sum(input.values))

    @hatchet.task()
    async def echo(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"extra": input.model_extra}

    start_worker(add, echo)
    assert add.run({"values": [2, 3]}) == Total(total=5)
    assert echo.run({"a": 1}) == {"extra": {"a": 1}}
    assert asyncio.run(add.aio_run(Numbers(values=[4]))) == Total(total=4)
    assert asyncio.run(add.aio_run(Numbers(values=[5]))) == Total(total=5)  # a new loop


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_dataclass_and_dict_inputs(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(input_validator=Point)
    def norm(input: Point, ctx: Context) -> dict[str, int]:
        assert isinstance(input, Point)
        return {"n": abs(input.x) + abs(input.y)}

    @hatchet.task(input_validator=dict)
    def keys(input: dict[str, Any], ctx: Context) -> list[str]:
        return sorted(input)

    start_worker(norm, keys)
    assert norm.run(Point(3, -4)) == {"n": 7}
    assert norm.run({"x": 1, "y": 1}) == {"n": 2}
    assert keys.run({"b": 1, "a": 2}) == ["a", "b"]


def test_invalid_input_is_refused_at_trigger_and_nothing_is_stored(hatchet: Any, db: Any) -> None:
    @hatchet.task(input_validator=Numbers)
    def add(input: Numbers, ctx: Context) -> int:
        return sum(input.values)

    with pytest.raises(hatchnb_errors.InvalidInput, match="does not match Numbers"):
        add.run_no_wait({"values": "not a list"})
    assert db.execute("SELECT count(*) AS n FROM hatchnb.workflow_runs").fetchone()["n"] == 0


def test_failure_cancels_downstream_and_runs_on_failure(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="breaks")
    seen: dict[str, Any] = {}

    @wf.task()
    def ok(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    @wf.task(parents=[ok])
    def boom(input: EmptyModel, ctx: Context) -> None:
        raise RuntimeError("disk full")

    @wf.task(parents=[boom])
    def after(input: EmptyModel, ctx: Context) -> None:
        raise AssertionError("must not run")

    @wf.on_failure_task()
    def alert(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        seen.update(ctx.task_run_errors)
        return {"alerted": True}

    start_worker(wf)
    ref = wf.run_no_wait()
    with pytest.raises(FailedRunError) as info:
        ref.result(timeout=20)
    assert "disk full" in str(info.value)
    assert [e.task_name for e in info.value.exceptions] == ["boom"]
    run = hatchet.runs.get(ref.workflow_run_id)
    statuses = {t.task_name: t.status for t in run.tasks}
    assert statuses == {
        "ok": "SUCCEEDED",
        "boom": "FAILED",
        "after": "CANCELLED",
        "alert": "SUCCEEDED",
    }
    assert run.status == "FAILED"
    assert "RuntimeError: disk full" in seen["boom"]


def test_on_success_runs_only_after_everything_succeeded(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="celebrate")

    @wf.task()
    def work(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    @wf.on_success_task()
    def done(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"saw": ctx.task_output(work)}

    start_worker(wf)
    ref = wf.run_no_wait()
    assert ref.result(timeout=20) == {"work": {"n": 1}, "done": {"saw": {"n": 1}}}


def test_rich_outputs_come_back_as_objects(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="rich")

    @wf.task()
    def make(input: EmptyModel, ctx: Context) -> set[int]:
        return {3, 1, 2}

    @wf.task(parents=[make])
    def use(input: EmptyModel, ctx: Context) -> int:
        return sum(ctx.task_output(make))

    start_worker(wf)
    assert wf.run() == {"make": {1, 2, 3}, "use": 6}


def test_logs_from_ctx_and_logging_are_stored_per_task_run(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def chatty(input: EmptyModel, ctx: Context) -> None:
        ctx.log("hello from ctx")
        logging.getLogger("user.code").info("hello from logging")

    start_worker(chatty)
    ref = chatty.run_no_wait()
    ref.result(timeout=20)
    from tests.conftest import wait_until

    lines = wait_until(
        lambda: (
            [r["message"] for r in hatchet.runs.logs(ref.workflow_run_id)]
            if len(hatchet.runs.logs(ref.workflow_run_id)) >= 2
            else None
        ),
        message="two log lines",
    )
    assert "hello from ctx" in lines
    assert "user.code: hello from logging" in lines


def test_metadata_reaches_ctx_and_filters_runs(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def meta(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return ctx.additional_metadata

    start_worker(meta)
    opts = TriggerWorkflowOptions(additional_metadata={"team": "ml"})
    assert meta.run(options=opts) == {"team": "ml"}
    meta.run()
    assert len(hatchet.runs.list(additional_metadata={"team": "ml"})) == 1
    assert len(hatchet.runs.list(workflow_names=["meta"])) == 2


def test_run_many_bulk_and_priority_order(hatchet: Any, start_worker: Any, db: Any) -> None:
    order: list[str] = []

    @hatchet.task()
    def record(input: EmptyModel, ctx: Context) -> int:
        order.append(input.model_extra["tag"])
        return ctx.priority

    low = [record.create_bulk_run_item(input={"tag": f"low{i}"}) for i in range(3)]
    high = [
        record.create_bulk_run_item(
            input={"tag": f"high{i}"}, options=TriggerWorkflowOptions(priority=3)
        )
        for i in range(2)
    ]
    refs = record.run_many_no_wait(low + high)
    assert len(refs) == 5
    start_worker(record, slots=1)
    assert [r.result(timeout=20) for r in refs] == [1] * 3 + [3] * 2
    assert order == ["high0", "high1", "low0", "low1", "low2"]
    assert record.run_many([record.create_bulk_run_item(input={"tag": "x"})]) == [3 - 2]


def test_a_bulk_trigger_sent_in_several_statements_keeps_item_order_and_child_keys(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    count = 2 * INSERT_CHUNK + 3

    @hatchet.task()
    def item(input: EmptyModel, ctx: Context) -> None:
        return None

    refs = item.run_many_no_wait([item.create_bulk_run_item(input={"i": i}) for i in range(count)])
    rows = db.execute(
        "SELECT t.run_id, r.input FROM hatchnb.task_runs t"
        " JOIN hatchnb.workflow_runs r ON r.id = t.run_id ORDER BY t.id"
    ).fetchall()
    assert [r["input"]["i"] for r in rows] == list(range(count))  # FIFO across statements
    assert [str(r["run_id"]) for r in rows] == [ref.workflow_run_id for ref in refs]

    @hatchet.task()
    def spawner(input: EmptyModel, ctx: Context) -> list[str]:
        # the same child key in the first and the last statement: one run for both
        keys = [f"k{i}" for i in range(count - 1)] + ["k0"]
        items = [item.create_bulk_run_item(input={"i": i}, key=k) for i, k in enumerate(keys)]
        return [ref.workflow_run_id for ref in item.run_many_no_wait(items)]

    start_worker(spawner, item, slots=4)
    ids = spawner.run()
    assert len(ids) == count and ids[-1] == ids[0] and len(set(ids)) == count - 1
    children = "SELECT count(*) AS n FROM hatchnb.workflow_runs WHERE parent_task_run_id > 0"
    assert db.execute(children).fetchone()["n"] == count - 1


def test_child_runs_are_linked_and_child_key_deduplicates(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def child(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"n": input.model_extra["n"], "parent": ctx.parent_task_run_id}

    @hatchet.task()
    async def parent(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        opts = TriggerWorkflowOptions(child_key="only-once")
        first = await child.aio_run_no_wait({"n": 1}, options=opts)
        again = await child.aio_run_no_wait({"n": 2}, options=opts)
        results = await asyncio.gather(child.aio_run({"n": 10}), child.aio_run({"n": 20}))
        return {
            "same": first.workflow_run_id == again.workflow_run_id,
            "keyed": await first.aio_result(),
            "sum": sum(r["n"] for r in results),
            "me": ctx.task_run_id,
        }

    start_worker(parent, child, slots=5)
    out = parent.run()
    assert out["same"] is True
    assert out["keyed"] == {"n": 1, "parent": out["me"]}
    assert out["sum"] == 30
    assert len(hatchet.runs.list(parent_task_run_id=out["me"])) == 3


def test_a_parent_executed_again_gets_its_children_and_a_replay_spawns_anew(
    hatchet: Any, start_worker: Any
) -> None:
    spawned: list[list[str]] = []
    fail = {"first_attempt": True, "always": True}

    @hatchet.task()
    def kid(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"n": input.model_extra["n"]}

    @hatchet.task(retries=1)
    async def spawner(input: EmptyModel, ctx: Context) -> list[str]:
        refs = [await kid.aio_run_no_wait({"n": n}) for n in (1, 2)]
        spawned.append([r.workflow_run_id for r in refs])
        if fail["first_attempt"]:
            fail["first_attempt"] = False
            raise RuntimeError("fails after spawning, before reporting")
        if fail["always"]:
            raise RuntimeError("fails on the retry too")
        return spawned[-1]

    start_worker(spawner, kid, slots=5)
    ref = spawner.run_no_wait()
    with pytest.raises(Exception, match="fails on the retry too"):
        ref.result(timeout=20)
    assert len(spawned) == 2 and spawned[0] == spawned[1]  # the retry found the same children
    parent_id = hatchet.runs.get(ref.workflow_run_id).tasks[0].id
    assert len(hatchet.runs.list(parent_task_run_id=parent_id)) == 2

    fail["always"] = False
    hatchet.runs.replay(ref.workflow_run_id)
    new_children = ref.result(timeout=20)
    assert set(new_children).isdisjoint(spawned[0])
    assert len(hatchet.runs.list(parent_task_run_id=parent_id)) == 4
