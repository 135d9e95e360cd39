"""Cancellation reaches running tasks and pending children; replay re-runs what failed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hatchnb import CancelledRunError, Context, EmptyModel, FailedRunError, V1TaskStatus
from hatchnb import errors as hatchnb_errors
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def test_cancel_reaches_async_and_sync_tasks_and_pending_children(
    hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:
    wf = hatchet.workflow(name="cancellable")
    seen: list[str] = []
    started = tmp_path / "started"

    @wf.task()
    async def waits(input: EmptyModel, ctx: Context) -> None:
        started.touch()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("async cancelled")
            raise

    @wf.task()
    def polls(input: EmptyModel, ctx: Context) -> None:
        if ctx.wait_cancelled(30):
            seen.append(f"sync saw is_cancelled={ctx.is_cancelled}")

    @wf.task(parents=[waits])
    def downstream(input: EmptyModel, ctx: Context) -> None:
        raise AssertionError("never runs")

    start_worker(wf)
    ref = wf.run_no_wait()
    wait_until(started.exists, message="the task to start")
    hatchet.runs.cancel(ref.workflow_run_id)
    with pytest.raises(CancelledRunError):
        ref.result(timeout=10)
    wait_until(lambda: len(seen) == 2, message="both tasks to observe the cancellation")
    assert sorted(seen) == ["async cancelled", "sync saw is_cancelled=True"]
    run = hatchet.runs.get(ref.workflow_run_id)
    assert {t.task_name: t.status for t in run.tasks} == {
        "waits": "CANCELLED",
        "polls": "CANCELLED",
        "downstream": "CANCELLED",
    }


def test_cancel_propagates_to_child_runs(hatchet: Any, start_worker: Any, tmp_path: Path) -> None:
    child_started = tmp_path / "child-started"

    @hatchet.task()
    async def child(input: EmptyModel, ctx: Context) -> None:
        child_started.touch()
        await asyncio.sleep(30)

    @hatchet.task()
    async def parent(input: EmptyModel, ctx: Context) -> None:
        await child.aio_run()

    start_worker(parent, child)
    ref = parent.run_no_wait()
    wait_until(child_started.exists, message="the child to start")
    hatchet.runs.cancel(ref.workflow_run_id)
    children = wait_until(lambda: hatchet.runs.list(workflow_names=["child"]))
    wait_until(
        lambda: hatchet.runs.get_status(children[0].workflow_run_id) == "CANCELLED",
        message="child run cancelled",
    )


def test_replay_reruns_only_failed_and_downstream_tasks(
    hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:
    wf = hatchet.workflow(name="fixable")
    fixed = tmp_path / "fixed"
    calls: list[str] = []

    @wf.task()
    def upstream(input: EmptyModel, ctx: Context) -> dict[str, int]:
        calls.append("upstream")
        return {"n": 20}

    @wf.task(parents=[upstream])
    def fragile(input: EmptyModel, ctx: Context) -> dict[str, int]:
        calls.append("fragile")
        if not fixed.exists():
            raise RuntimeError("bug")
        return {"n": ctx.task_output(upstream)["n"] + 1}

    @wf.task(parents=[fragile])
    def last(input: EmptyModel, ctx: Context) -> dict[str, int]:
        calls.append("last")
        return {"n": ctx.task_output(fragile)["n"] * 2}

    start_worker(wf)
    ref = wf.run_no_wait()
    with pytest.raises(FailedRunError):
        ref.result(timeout=10)
    fixed.touch()
    hatchet.runs.replay(ref.workflow_run_id, failed_only=True)
    assert ref.result(timeout=10)["last"] == {"n": 42}
    assert calls == ["upstream", "fragile", "fragile", "last"]


def test_replay_of_a_succeeded_run_runs_every_task_again_and_finishes(
    hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="again")
    calls: list[tuple[str, int]] = []

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> dict[str, int]:
        calls.append(("first", ctx.retry_count))
        return {"n": ctx.retry_count}

    @wf.task(parents=[first])
    def second(input: EmptyModel, ctx: Context) -> dict[str, int]:
        calls.append(("second", ctx.retry_count))
        return {"n": ctx.task_output(first)["n"] + 10}

    start_worker(wf)
    ref = wf.run_no_wait()
    assert ref.result(timeout=10)["second"] == {"n": 10}
    for failed_only in (False, True):  # nothing failed: failed_only runs it all again too
        hatchet.runs.replay(ref.workflow_run_id, failed_only=failed_only)
        wait_until(
            lambda: hatchet.runs.get_status(ref.workflow_run_id) == V1TaskStatus.COMPLETED,
            message="replayed run completed",
        )
    assert ref.result(timeout=10)["second"] == {"n": 12}
    assert calls == [(name, n) for n in range(3) for name in ("first", "second")]


def test_unknown_run_id_is_a_clear_error(hatchet: Any) -> None:
    with pytest.raises(hatchnb_errors.RunNotFound, match="no workflow run"):
        hatchet.runs.get("00000000-0000-0000-0000-000000000000")


def test_bulk_cancel_and_aio_run_many(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    async def nap(input: EmptyModel, ctx: Context) -> int:
        await asyncio.sleep(float(input.model_extra["s"]))
        return 1

    start_worker(nap)
    slow = nap.run_many_no_wait([nap.create_bulk_run_item({"s": 30}) for _ in range(3)])
    hatchet.runs.bulk_cancel([r.workflow_run_id for r in slow])
    items = [nap.create_bulk_run_item({"s": 0}) for _ in range(4)]
    assert asyncio.run(nap.aio_run_many(items)) == [1, 1, 1, 1]
    for ref in slow:
        with pytest.raises(CancelledRunError):
            ref.result(timeout=10)
