"""hatchet_sdk v1's run listing (written from its documented API): ``runs.list`` filters
by workflow id, parent task, triggering event and worker, and rows with the REST fields
(``.metadata.id``, ``.display_name``, ``.children``, ``.output``, ``.workflow_id``)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import Context, EmptyModel, V1TaskStatus

pytestmark = pytest.mark.integration


class Fan(BaseModel):
    n: int


def test_children_are_listed_by_their_parent_task(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(input_validator=Fan)
    def leaf(input: Fan, ctx: Context) -> dict[str, int]:
        return {"n": input.n}

    @hatchet.task(input_validator=Fan)
    async def spawner(input: Fan, ctx: Context) -> dict[str, Any]:
        refs = await leaf.aio_run_many(
            [leaf.create_bulk_run_item(Fan(n=i)) for i in range(input.n)],
            wait_for_result=False,
        )
        return {"spawned": [r.workflow_run_id for r in refs]}

    wf = hatchet.workflow(name="dag-spawner")

    @wf.task()
    async def first(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        ref = await leaf.aio_run(Fan(n=7), wait_for_result=False)
        return {"child": ref.workflow_run_id, "me": ctx.task_run_external_id}

    start_worker(leaf, spawner, wf)
    parent = spawner.run(Fan(n=3), wait_for_result=False)
    spawned = parent.result()["spawned"]
    # a standalone task's run id names its task, as in hatchet_sdk
    children = hatchet.runs.list(parent_task_external_id=parent.workflow_run_id).rows
    assert sorted(c.metadata.id for c in children) == sorted(spawned)
    assert all(c.workflow_name == leaf.name and c.display_name == leaf.name for c in children)

    dag = wf.run()
    by_task = hatchet.runs.list(parent_task_external_id=dag["first"]["me"]).rows
    assert [c.metadata.id for c in by_task] == [dag["first"]["child"]]
    assert hatchet.runs.list(parent_task_external_id=str(uuid.uuid4())).rows == []


def test_rows_carry_the_rest_fields(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="rest-fields")

    @wf.task()
    def a(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"x": "1"}

    @wf.task(parents=[a])
    def b(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"y": "2"}

    start_worker(wf)
    ref = wf.run_no_wait(additional_metadata={"k": "v"})
    ref.result()
    [row] = hatchet.runs.list(workflow_ids=[wf.id]).rows
    assert row.metadata.id == ref.workflow_run_id == row.workflow_run_external_id
    assert row.status == V1TaskStatus.COMPLETED and row.workflow_id == wf.id
    assert row.output == {"y": "2"}  # Hatchet's: the last task's output
    assert row.outputs == {"a": {"x": "1"}, "b": {"y": "2"}}
    assert [t.display_name.rsplit("-", 1)[0] for t in row.children] == ["a", "b"]
    assert all(t.additional_metadata == {"k": "v"} for t in row.children)
    assert row.duration is not None and row.duration >= 0
    assert hatchet.runs.list(workflow_ids=[hatchet.workflow(name="other").id]).rows == []
    assert hatchet.runs.list(include_payloads=False).rows[0].input is None
    details = hatchet.runs.get(ref.workflow_run_id)
    assert details.run.status == V1TaskStatus.COMPLETED
    assert {t.display_name: t.metadata.id for t in details.tasks} == {
        f"{t.task_name}-{int(t.queued_at.timestamp())}": t.external_id for t in details.tasks
    }


def test_runs_are_listed_by_event_and_worker(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(on_events=["listing:go"])
    def on_go(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"worker": ctx.worker.id()}

    worker = start_worker(on_go)
    event = hatchet.event.push("listing:go", {})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = hatchet.runs.list(triggering_event_external_id=event.event_id).rows
        if rows and rows[0].status == V1TaskStatus.COMPLETED:
            break
        time.sleep(0.1)
    [row] = rows
    worker_id = row.output["worker"]
    assert [r.metadata.id for r in hatchet.runs.list(worker_id=worker_id).rows] == [row.metadata.id]
    assert worker is not None
    assert hatchet.runs.list(worker_id=str(uuid.uuid4())).rows == []
    assert len(hatchet.runs.list_with_pagination(limit=1)) == 1


def test_unusable_id_filters_say_what_to_pass(hatchet: Any) -> None:
    with pytest.raises(ValueError, match="worker_id='w1': pass a UUID"):
        hatchet.runs.list(worker_id="w1")
    with pytest.raises(ValueError, match="parent_task_external_id"):
        hatchet.runs.list(parent_task_external_id="nope")


def test_children_inherit_the_parents_metadata(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(input_validator=Fan)
    def child(input: Fan, ctx: Context) -> dict[str, Any]:
        return dict(ctx.additional_metadata)

    parent_wf = hatchet.workflow(name="meta-parent")

    @parent_wf.task()
    def spawn(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        items = [
            child.create_bulk_run_item(Fan(n=1)),
            child.create_bulk_run_item(Fan(n=2), additional_metadata={"team": "child"}),
        ]
        return {"results": child.run_many(items)}

    start_worker(child, parent_wf, slots=4)
    ref = parent_wf.run_no_wait(additional_metadata={"test_run_id": "t1", "team": "parent"})
    assert ref.result(timeout=30)["spawn"]["results"] == [
        {"test_run_id": "t1", "team": "parent"},
        {"test_run_id": "t1", "team": "child"},
    ]
    rows = hatchet.runs.list(
        parent_task_external_id=ref.workflow_run_id, additional_metadata={"test_run_id": "t1"}
    ).rows
    assert len(rows) == 2
    assert all(c.additional_metadata["test_run_id"] == "t1" for r in rows for c in r.children)


def test_default_additional_metadata_under_the_triggers_own(
    hatchet: Any, start_worker: Any
) -> None:
    from hatchnb import Condition, OrGroup, SleepCondition, or_

    @hatchet.task(name="tagged", default_additional_metadata={"team": "data", "env": "dev"})
    def tagged(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return dict(ctx.additional_metadata)

    start_worker(tagged)
    assert tagged.run() == {"team": "data", "env": "dev"}
    assert tagged.run(additional_metadata={"env": "prod"}) == {"team": "data", "env": "prod"}
    pushed_by_name = hatchet.runs.create("tagged", {}, additional_metadata={"k": "v"})
    ref = hatchet.runs.get_run_ref(pushed_by_name.workflow_run_id)
    assert ref.result(timeout=20) == {"tagged": {"team": "data", "env": "dev", "k": "v"}}
    group = or_(SleepCondition("1s"))
    assert isinstance(group, OrGroup) and isinstance(group.conditions[0], Condition)


def test_context_tells_its_place_among_runs(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(input_validator=Fan, retries=2)
    def kid(input: Fan, ctx: Context) -> dict[str, Any]:
        return {
            "index": ctx.child_index,
            "key": ctx.child_key,
            "parent": ctx.parent_workflow_run_id,
            "max_attempts": ctx.max_attempts,
        }

    @hatchet.task()
    def mom(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        first = kid.run(Fan(n=1))
        named = kid.run(Fan(n=2), child_key="mine")
        return {"first": first, "named": named, "me": ctx.workflow_run_id}

    @hatchet.task(on_events=["facts:go"])
    def by_event(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"event": ctx.triggering_event_key, "parent": ctx.parent_workflow_run_id}

    start_worker(kid, mom, by_event, slots=4)
    out = mom.run()
    assert out["first"] == {"index": 0, "key": "spawn-1", "parent": out["me"], "max_attempts": 3}
    assert out["named"]["index"] is None and out["named"]["key"] == "mine"
    event = hatchet.event.push("facts:go", {})
    ref = hatchet.runs.get_run_ref(event.run_ids[0])
    assert ref.result(timeout=20) == {"by_event": {"event": "facts:go", "parent": None}}
    assert kid.mock_run(Fan(n=1))["max_attempts"] == 3
