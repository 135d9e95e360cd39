"""hatchet_sdk's ``hatchet.worker(durable_slots=...)`` (written from its documented API): a
separate pool for durable task runs, and capacity eviction: while waits hold every durable
slot, the waiting run whose ``EvictionPolicy`` allows it (lowest ``priority``, then longest
waiting) is evicted to make room."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from hatchnb import (
    Context,
    DesiredWorkerLabel,
    DurableContext,
    EmptyModel,
    EvictionPolicy,
    RunStatus,
)

pytestmark = pytest.mark.integration

PINNED = EvictionPolicy(ttl=None, allow_capacity_eviction=False)


@pytest.fixture
def quick_capacity_eviction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits may be evicted for capacity after 0.5 s (hatchet_sdk's default is 10 s)."""
    monkeypatch.setenv("HATCHNB_DURABLE_CAPACITY_MIN_WAIT", "0.5")


def _wait_for(condition: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _evicted(hatchet: Any, run_id: str) -> bool:
    return any(t.is_evicted for t in hatchet.runs.get_details(run_id).task_runs.values())


def _status(hatchet: Any, ref: Any) -> RunStatus:
    return RunStatus(hatchet.runs.get_status(ref.workflow_run_id))


def test_durable_runs_fill_the_durable_pool_and_leave_the_slots_to_other_tasks(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.durable_task(eviction_policy=PINNED)
    async def waiter(input: EmptyModel, ctx: DurableContext) -> Any:
        return await ctx.aio_wait_for_event("pool:go")

    @hatchet.task()
    def plain(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"ran": True}

    start_worker(waiter, plain, slots=1, durable_slots=2)
    waiting = [waiter.run_no_wait() for _ in range(3)]
    _wait_for(lambda: sum(_status(hatchet, r) == RunStatus.RUNNING for r in waiting) == 2)
    # the durable runs hold no slot: a plain task runs in the worker's one slot meanwhile
    assert plain.run() == {"ran": True}
    time.sleep(1.0)
    statuses = sorted(_status(hatchet, r) for r in waiting)
    assert statuses == sorted([RunStatus.RUNNING, RunStatus.RUNNING, RunStatus.QUEUED])
    assert not any(_evicted(hatchet, r.workflow_run_id) for r in waiting)  # not evictable
    hatchet.event.push("pool:go", {"n": 1})
    first_two = [r for r in waiting if _status(hatchet, r) == RunStatus.RUNNING]
    assert [r.result(timeout=30) for r in first_two] == [{"n": 1}] * 2
    (last,) = set(waiting) - set(first_two)  # a freed durable slot takes it
    _wait_for(lambda: _status(hatchet, last) == RunStatus.RUNNING)
    time.sleep(0.5)  # its wait began (it counts events from then on, as in Hatchet)
    hatchet.event.push("pool:go", {"n": 2})
    assert last.result(timeout=30) == {"n": 2}


def test_a_full_durable_pool_evicts_the_waiting_run_its_policy_ranks_first(
    quick_capacity_eviction: None, hatchet: Any, start_worker: Any
) -> None:
    @hatchet.durable_task(eviction_policy=EvictionPolicy(ttl=None, priority=5))
    async def important(input: EmptyModel, ctx: DurableContext) -> dict[str, str]:
        await ctx.aio_sleep_for(timedelta(seconds=6))
        return {"status": "completed"}

    @hatchet.durable_task(eviction_policy=EvictionPolicy(ttl=None, priority=0))
    async def expendable(input: EmptyModel, ctx: DurableContext) -> dict[str, str]:
        await ctx.aio_sleep_for(timedelta(seconds=6))
        return {"status": "completed"}

    @hatchet.durable_task(eviction_policy=PINNED)
    async def pinned(input: EmptyModel, ctx: DurableContext) -> dict[str, str]:
        await ctx.aio_sleep_for(timedelta(seconds=2))
        return {"status": "completed"}

    start_worker(important, expendable, pinned, slots=1, durable_slots=3)
    first = important.run_no_wait()
    second = expendable.run_no_wait()
    _wait_for(lambda: all(_status(hatchet, r) == RunStatus.RUNNING for r in (first, second)))
    time.sleep(1.5)  # two waits in three durable slots: no pressure, and both may now go
    assert not _evicted(hatchet, first.workflow_run_id)
    assert not _evicted(hatchet, second.workflow_run_id)
    third = pinned.run_no_wait()
    # three waits in three durable slots: of the two that may go, the lower priority one
    # goes, although the other has waited longer
    _wait_for(lambda: _evicted(hatchet, second.workflow_run_id))
    assert not _evicted(hatchet, first.workflow_run_id)
    assert _status(hatchet, first) == RunStatus.RUNNING
    # evicted is not lost: it resumes when its sleep ends and returns as if never evicted
    assert second.result(timeout=30) == {"status": "completed"}
    assert first.result(timeout=30) == {"status": "completed"}
    assert third.result(timeout=30) == {"status": "completed"}
    assert not _evicted(hatchet, third.workflow_run_id)


def test_routed_runs_go_to_the_worker_their_labels_require_in_either_pool(
    hatchet: Any, start_worker: Any
) -> None:
    required = {"gpu": DesiredWorkerLabel(value="yes", required=True)}

    @hatchet.durable_task(desired_worker_labels=required)
    async def durable_on_gpu(input: EmptyModel, ctx: DurableContext) -> str:
        await ctx.aio_sleep_for(timedelta(seconds=0.1))
        return ctx.worker.id()

    @hatchet.task(desired_worker_labels=required)
    def plain_on_gpu(input: EmptyModel, ctx: Context) -> str:
        return ctx.worker.id()

    start_worker(durable_on_gpu, plain_on_gpu, slots=1, durable_slots=1, name="cpu")
    gpu = start_worker(
        durable_on_gpu, plain_on_gpu, slots=1, durable_slots=1, name="gpu", labels={"gpu": "yes"}
    )
    refs = [durable_on_gpu.run_no_wait() for _ in range(3)]
    refs += [plain_on_gpu.run_no_wait() for _ in range(3)]
    assert {r.result(timeout=30) for r in refs} == {gpu.worker_id}


def test_a_busy_durable_pool_leaves_the_worker_preferred_for_other_tasks(
    hatchet: Any, start_worker: Any
) -> None:
    """The preferred worker's durable slot is held by a waiting run; its own slot is free,
    so a task preferring it waits for it instead of going to the other worker."""
    on_gpu = {"gpu": DesiredWorkerLabel(value="yes", required=True)}
    prefers_gpu = {"gpu": DesiredWorkerLabel(value="yes", required=False, weight=10)}

    @hatchet.durable_task(desired_worker_labels=on_gpu, eviction_policy=PINNED)
    async def holder(input: EmptyModel, ctx: DurableContext) -> Any:
        return await ctx.aio_wait_for_event("routing:release")

    @hatchet.task(desired_worker_labels=prefers_gpu)
    def prefers(input: EmptyModel, ctx: Context) -> str:
        return ctx.worker.id()

    gpu = start_worker(holder, prefers, slots=1, durable_slots=1, name="gpu", labels={"gpu": "yes"})
    start_worker(holder, prefers, slots=1, durable_slots=1, name="cpu")
    held = holder.run_no_wait()
    _wait_for(lambda: _status(hatchet, held) == RunStatus.RUNNING)
    assert [prefers.run() for _ in range(3)] == [gpu.worker_id] * 3
    time.sleep(0.5)  # the wait began (it counts events from then on)
    hatchet.event.push("routing:release", {"done": True})
    assert held.result(timeout=30) == {"done": True}


def test_durable_slots_must_be_a_positive_whole_number(hatchet: Any) -> None:
    with pytest.raises(ValueError, match="durable_slots=0"):
        hatchet.worker("w", durable_slots=0)
