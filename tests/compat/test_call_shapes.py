"""hatchet_sdk v1 call shapes (written from its documented API): trigger keyword
arguments, references from wait_for_result=False, triggering by name, status names."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import (
    Context,
    DesiredWorkerLabel,
    EmptyModel,
    FailedTaskRunExceptionGroup,
    Priority,
    TaskRunError,
    TriggerWorkflowOptions,
    V1TaskStatus,
    WorkflowRunRef,
    WorkflowRunTriggerConfig,
)
from hatchnb.errors import InvalidInput
from hatchnb.records import CANCELLED_BY_TASK
from hatchnb.results import TaskRunRef
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


class Numbers(BaseModel):
    x: int


def test_trigger_keywords_reach_the_run(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def echo(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"meta": ctx.additional_metadata}

    start_worker(echo)
    ref = echo.run(
        wait_for_result=False, additional_metadata={"team": "ml"}, priority=Priority.HIGH
    )
    assert isinstance(ref, TaskRunRef)
    assert ref.result() == {"meta": {"team": "ml"}}
    run = hatchet.runs.get(ref.workflow_run_id)
    assert run.priority == Priority.HIGH
    assert run.status == V1TaskStatus.COMPLETED


def test_keywords_override_the_deprecated_options(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def meta(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return dict(ctx.additional_metadata)

    start_worker(meta)
    options = TriggerWorkflowOptions(additional_metadata={"from": "options"}, priority=1)
    assert meta.run(options=options) == {"from": "options"}
    assert meta.run(options=options, additional_metadata={"from": "keyword"}) == {"from": "keyword"}


def test_a_workflow_without_waiting_returns_a_workflow_run_ref(
    hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="shapes")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    start_worker(wf)
    ref = wf.run(wait_for_result=False)
    assert type(ref) is WorkflowRunRef
    assert ref.result() == {"first": {"n": 1}}


def test_run_many_without_waiting_returns_refs(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(input_validator=Numbers)
    def double(input: Numbers, ctx: Context) -> int:
        return input.x * 2

    start_worker(double)
    items = [double.create_bulk_run_item({"x": i}, additional_metadata={"i": i}) for i in (1, 2)]
    refs = double.run_many(items, wait_for_result=False)
    assert all(isinstance(r, TaskRunRef) for r in refs)
    assert [r.result() for r in refs] == [2, 4]
    assert double.run_many([double.create_bulk_run_item({"x": 5})]) == [10]


def test_run_many_runs_each_item_as_the_workflow_that_built_it(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.task(input_validator=Numbers)
    def double(input: Numbers, ctx: Context) -> int:
        return input.x * 2

    @hatchet.task(input_validator=Numbers)
    def negate(input: Numbers, ctx: Context) -> int:
        return -input.x

    start_worker(double, negate)
    items = [double.create_bulk_run_item({"x": 3}), negate.create_bulk_run_item({"x": 4})]
    assert double.run_many(items) == [6, -4]  # as hatchet_sdk: each item names its workflow
    refs = negate.run_many_no_wait(items)
    assert [r.result() for r in refs] == [6, -4]
    stray = WorkflowRunTriggerConfig(workflow_name="elsewhere", input={"x": 1})
    with pytest.raises(InvalidInput, match="item 0 names workflow 'elsewhere'"):
        double.run_many([stray])
    # a task's code unpickled on a worker holds workflows its client never declared by name:
    # the item still knows the workflow that built it
    from_elsewhere = negate.create_bulk_run_item({"x": 5})
    hatchet._declared.pop(negate.name)
    assert double.run_many([from_elsewhere]) == [-5]


async def _aio_run(task: Any) -> Any:
    ref = await task.aio_run(wait_for_result=False, additional_metadata={"a": 1})
    return await ref.aio_result()


def test_aio_run_takes_the_same_keywords(hatchet: Any, start_worker: Any) -> None:
    import asyncio

    @hatchet.task()
    def meta(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return dict(ctx.additional_metadata)

    start_worker(meta)
    assert asyncio.run(_aio_run(meta)) == {"a": 1}


def test_trigger_by_name_without_the_code(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(input_validator=Numbers)
    def by_name(input: Numbers, ctx: Context) -> int:
        return input.x + 1

    start_worker(by_name)
    run = hatchet.runs.create("by_name", {"x": 41}, additional_metadata={"via": "name"})
    assert run.additional_metadata == {"via": "name"}
    assert hatchet.runs.get_result(run.workflow_run_id) == {"by_name": 42}


def test_trigger_by_name_of_an_unknown_workflow_says_how_to_register(hatchet: Any) -> None:
    with pytest.raises(Exception, match="not registered"):
        hatchet.runs.create("nobody", {})


def test_schedule_takes_metadata_and_priority(hatchet: Any) -> None:
    @hatchet.task()
    def later(input: EmptyModel, ctx: Context) -> None:
        return None

    at = datetime.now(UTC) + timedelta(hours=1)
    scheduled = later.schedule(at, additional_metadata={"k": "v"}, priority=3)
    assert scheduled.additional_metadata == {"k": "v"}
    assert scheduled.priority == 3


def test_desired_worker_id_runs_on_that_worker(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def where(input: EmptyModel, ctx: Context) -> str:
        return ctx.worker.id()

    start_worker(where, name="one")
    start_worker(where, name="two")
    workers = {w.name: w.id for w in hatchet.workers.list().rows}
    for name in ("one", "two"):
        refs = [where.run_no_wait(desired_worker_id=workers[name]) for _ in range(4)]
        assert {r.result(timeout=20) for r in refs} == {workers[name]}
    with pytest.raises(ValueError, match="desired_worker_id='w-1': pass a worker's id"):
        where.run_no_wait(desired_worker_id="w-1")
    with pytest.raises(TypeError, match="desired_worker_labels= takes"):
        where.run_no_wait(desired_worker_labels={"gpu": 1})


def test_desired_worker_labels_per_trigger_route_the_run(hatchet: Any) -> None:
    @hatchet.task(desired_worker_labels={"size": DesiredWorkerLabel(value="any", weight=1)})
    def where(input: EmptyModel, ctx: Context) -> str:
        return ctx.worker.id()

    workers = [
        hatchet.worker(f"zone-{zone}", slots=4, labels={"zone": zone}, workflows=[where])
        for zone in ("a", "b")
    ]
    for worker in workers:
        worker.start_background()
    try:
        ids = {w.name: w.id for w in hatchet.workers.list().rows}
        for zone in ("a", "b"):
            wanted = {"zone": DesiredWorkerLabel(value=zone, required=True)}
            refs = [where.run_no_wait(desired_worker_labels=wanted) for _ in range(4)]
            assert {r.result(timeout=20) for r in refs} == {ids[f"zone-{zone}"]}
        # the bulk item form, and a label no worker has: the run waits instead of running
        item = where.create_bulk_run_item(
            desired_worker_labels=[DesiredWorkerLabel(key="zone", value="c", required=True)]
        )
        [ref] = where.run_many_no_wait([item])
        with pytest.raises(TimeoutError):
            ref.result(timeout=1)
    finally:
        for worker in workers:
            worker.stop(timeout=10)


def test_completed_is_hatchets_name_for_succeeded() -> None:
    assert V1TaskStatus.COMPLETED is V1TaskStatus.SUCCEEDED  # type: ignore[comparison-overlap]
    assert V1TaskStatus("COMPLETED") is V1TaskStatus.SUCCEEDED
    assert "COMPLETED" not in [s.name for s in V1TaskStatus]


def test_run_details_by_task_name(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="details")

    @wf.task()
    def fine(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    @wf.task(parents=[fine])
    def broken(input: EmptyModel, ctx: Context) -> None:
        raise ValueError("no good")

    start_worker(wf)
    ref = wf.run_no_wait(additional_metadata={"k": "v"})
    with pytest.raises(Exception, match="no good"):
        ref.result(timeout=20)
    details = hatchet.runs.get_details(ref.workflow_run_id)
    assert details.done and details.status == V1TaskStatus.FAILED
    assert details.additional_metadata == {"k": "v"}
    assert details.task_runs["fine"].status == V1TaskStatus.COMPLETED
    assert details.task_runs["fine"].output == {"n": 1}
    assert details.task_runs["broken"].output is None
    assert "no good" in (details.task_runs["broken"].error or "")


def test_run_details_show_a_task_once_its_parents_are_done(
    hatchet: Any, start_worker: Any, tmp_path: Any
) -> None:
    wf = hatchet.workflow(name="details-lazy")
    gate = tmp_path / "open"

    @wf.task()
    def slow(input: EmptyModel, ctx: Context) -> None:
        while not gate.exists():
            time.sleep(0.05)

    @wf.task(parents=[slow])
    def after(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(wf)
    ref = wf.run_no_wait()
    wait_until(lambda: hatchet.runs.get_status(ref.workflow_run_id) == V1TaskStatus.RUNNING)
    assert list(hatchet.runs.get_details(ref.workflow_run_id).task_runs) == ["slow"]
    gate.touch()
    ref.result(timeout=20)
    assert set(hatchet.runs.get_details(ref.workflow_run_id).task_runs) == {"slow", "after"}


def test_run_lists_have_rows(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def listed(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(listed)
    listed.run()
    runs = hatchet.runs.list()
    assert runs.rows == list(runs) and len(runs.rows) == 1
    assert runs.rows[0].status == V1TaskStatus.COMPLETED


def test_cron_input_is_the_input_of_declared_crons(hatchet: Any) -> None:
    @hatchet.task(input_validator=Numbers, on_crons=["0 3 * * *"], cron_input=Numbers(x=7))
    def nightly(input: Numbers, ctx: Context) -> int:
        return input.x

    hatchet.register(nightly)
    [cron] = hatchet.cron.list(workflow_name=nightly)
    assert cron.input == {"x": 7}


def test_cron_input_is_validated_at_registration(hatchet: Any) -> None:
    @hatchet.task(input_validator=Numbers, on_crons=["0 3 * * *"], cron_input={"x": "many"})
    def broken_cron(input: Numbers, ctx: Context) -> int:
        return input.x

    with pytest.raises(Exception, match="x"):
        hatchet.register(broken_cron)


def test_listing_task_runs_alone(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="two-tasks")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    @wf.task(parents=[first])
    def second(input: EmptyModel, ctx: Context) -> None:
        raise ValueError("no")

    start_worker(wf)
    ref = wf.run_no_wait(additional_metadata={"k": "tasks"})
    with pytest.raises(FailedTaskRunExceptionGroup):
        ref.result(timeout=20)
    rows = hatchet.runs.list(only_tasks=True, additional_metadata={"k": "tasks"}).rows
    assert sorted(t.task_name for t in rows) == ["first", "second"]
    assert all(t.display_name.startswith(f"{t.task_name}-") for t in rows)
    assert all(t.workflow_run_external_id == ref.workflow_run_id for t in rows)
    assert all(t.workflow_id == wf.id and t.additional_metadata == {"k": "tasks"} for t in rows)
    failed = hatchet.runs.list(only_tasks=True, statuses=[V1TaskStatus.FAILED]).rows
    assert [t.task_name for t in failed] == ["second"]
    assert failed[0].error_message.startswith("ValueError: no\n")


def test_worker_options_it_cannot_honour_are_refused(hatchet: Any) -> None:
    with pytest.raises(TypeError, match="async generator function"):
        hatchet.worker("w", lifespan=object())


def test_a_worker_lifespan_is_ctx_lifespan_and_closes_after_the_tasks(hatchet: Any) -> None:
    from collections.abc import AsyncIterator

    from hatchnb.runtime.lifespan import LifespanError

    steps: list[str] = []

    async def lifespan() -> AsyncIterator[dict[str, str]]:
        steps.append("open")
        yield {"db": "connected"}
        steps.append("close")

    @hatchet.task()
    def uses(input: EmptyModel, ctx: Context) -> Any:
        return ctx.lifespan

    worker = hatchet.worker("with-lifespan", slots=2, workflows=[uses], lifespan=lifespan)
    worker.start_background()
    try:
        assert uses.run() == {"db": "connected"} and steps == ["open"]
    finally:
        worker.stop(timeout=30)
    assert steps == ["open", "close"]

    async def broken() -> AsyncIterator[None]:
        raise ConnectionError("no cache server")
        yield

    with pytest.raises(LifespanError, match="no cache server"):
        hatchet.worker("broken-lifespan", workflows=[uses], lifespan=broken).start_background()


def test_task_errors_from_a_worker_process_serialize_cleanly(
    hatchet: Any, worker_process: Any
) -> None:
    @hatchet.task()
    def broken(input: EmptyModel, ctx: Context) -> None:
        raise ValueError("Oh no!")

    hatchet.register(broken)
    worker_process("--slots", "2")  # Worker.start() in its own process, as hatchet_sdk's
    with pytest.raises(FailedTaskRunExceptionGroup) as raised:
        broken.run()
    [error] = raised.value.exceptions
    assert (error.exc_type, error.exc) == ("ValueError", "Oh no!")
    text = error.serialize(include_metadata=True)
    assert text.startswith("ValueError: Oh no!\nTraceback") and "in broken" in text
    # the worker's own start-up is not chained into every task's traceback
    assert "no running event loop" not in text
    again = TaskRunError.deserialize(text, "broken")
    assert (again.exc_type, again.exc) == ("ValueError", "Oh no!")


def test_on_failure_reads_the_failed_tasks_error(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="with-failure-hook")

    @wf.task()
    def breaks(input: EmptyModel, ctx: Context) -> None:
        raise RuntimeError("disk full")

    @wf.on_failure_task()
    def report(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        error = ctx.get_task_run_error(breaks)
        assert error is not None and ctx.get_task_run_error("unknown") is None
        return {"type": error.exc_type, "message": error.exc, "worker": ctx.worker_id}

    start_worker(wf)
    ref = wf.run_no_wait()
    with pytest.raises(FailedTaskRunExceptionGroup):
        ref.result(timeout=30)
    hook = [t for t in hatchet.runs.get(ref.workflow_run_id).tasks if t.kind == "on_failure"]
    assert hook[0].output["type"] == "RuntimeError" and hook[0].output["message"] == "disk full"
    assert hook[0].output["worker"] == hook[0].worker_id


def test_ctx_cancel_cancels_only_its_own_task_run(hatchet: Any, start_worker: Any) -> None:
    import asyncio
    import time as clock

    wf = hatchet.workflow(name="self-cancel")

    @wf.task()
    async def quits(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        await ctx.aio_cancel()
        await asyncio.sleep(30)  # interrupted: the task run is cancelled
        return {"reached": True}

    @wf.task()
    def quits_sync(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        ctx.cancel()
        deadline = clock.monotonic() + 30
        while not ctx.exit_flag and clock.monotonic() < deadline:
            clock.sleep(0.01)
        return {"reached": True}

    @wf.task(parents=[quits])
    def after(input: EmptyModel, ctx: Context) -> None:
        return None

    @wf.task()
    async def sibling(input: EmptyModel, ctx: Context) -> dict[str, int]:
        await asyncio.sleep(0.5)
        return {"n": 1}

    start_worker(wf)
    ref = wf.run_no_wait()
    # as in hatchet_sdk, a run its own tasks cancelled gives the other tasks' outputs
    assert ref.result(timeout=30) == {"sibling": {"n": 1}}
    assert hatchet.runs.get_status(ref.workflow_run_id) == V1TaskStatus.CANCELLED
    run = hatchet.runs.get(ref.workflow_run_id)
    states = {t.task_name: (t.status, t.error) for t in run.tasks}
    assert states["quits"] == ("CANCELLED", CANCELLED_BY_TASK)
    assert states["quits_sync"] == ("CANCELLED", CANCELLED_BY_TASK)
    assert states["after"][0] == "CANCELLED"
    assert states["sibling"] == ("SUCCEEDED", None)
    details = hatchet.runs.get_details(ref.workflow_run_id)
    assert details.task_runs["sibling"].output == {"n": 1}
    assert details.task_runs["quits"].error is None  # as in Hatchet: only failures have one


def test_a_task_annotated_to_return_none_gives_an_empty_model(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.task()
    def quiet(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(quiet)
    assert quiet.run() == EmptyModel()  # hatchet_sdk validates `-> None` outputs as EmptyModel
