"""hatchet_sdk v1's ``EvictionPolicy`` on durable tasks (written from its documented API):
``ttl`` is how long a wait keeps the worker slot before the task is evicted; ``None``
never evicts."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from hatchnb import DurableContext, EmptyModel, EvictionPolicy, RunStatus

pytestmark = pytest.mark.integration


@pytest.fixture
def evicting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker default: waits longer than 0.3 s give their slot back."""
    monkeypatch.setenv("HATCHNB_DURABLE_EVICT_AFTER", "0.3")


def test_the_policy_overrides_the_worker_default(
    evicting: None, hatchet: Any, start_worker: Any
) -> None:
    @hatchet.durable_task(eviction_policy=EvictionPolicy(ttl=None, allow_capacity_eviction=False))
    async def pinned(input: EmptyModel, ctx: DurableContext) -> Any:
        return await ctx.aio_wait_for_event("policy:go")

    @hatchet.durable_task()
    async def default(input: EmptyModel, ctx: DurableContext) -> Any:
        return await ctx.aio_wait_for_event("policy:go")

    @hatchet.durable_task(eviction_policy=EvictionPolicy(ttl=timedelta(hours=1)))
    async def long_ttl(input: EmptyModel, ctx: DurableContext) -> Any:
        return await ctx.aio_wait_for_event("policy:go")

    start_worker(pinned, default, long_ttl, slots=5)
    refs = {t.name: t.run_no_wait() for t in (pinned, default, long_ttl)}
    time.sleep(2.0)  # many times the 0.3 s default
    handed_back = {
        name: [a["outcome"] for a in hatchet.runs.attempts(ref.workflow_run_id)]
        for name, ref in refs.items()
    }
    assert handed_back["pinned"] == [] and handed_back["long_ttl"] == []
    assert handed_back["default"] and set(handed_back["default"]) == {"QUEUED"}
    assert hatchet.runs.get_status(refs["pinned"].workflow_run_id) == RunStatus.RUNNING
    hatchet.event.push("policy:go", {"n": 1})
    assert [r.result(timeout=30) for r in refs.values()] == [{"n": 1}] * 3


def _wait_for(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _evicted(hatchet: Any, run_id: str) -> bool:
    return any(t.is_evicted for t in hatchet.runs.get_details(run_id).task_runs.values())


def test_a_sleep_keeps_its_slot_for_the_ttl_then_is_evicted_and_restored_on_demand(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.durable_task(eviction_policy=EvictionPolicy(ttl=timedelta(seconds=1)))
    async def napper(input: EmptyModel, ctx: DurableContext) -> dict[str, str]:
        await ctx.aio_sleep_for(timedelta(seconds=6))
        return {"status": "completed"}

    start_worker(napper, slots=2)
    started = time.monotonic()
    ref = napper.run_no_wait()
    _wait_for(lambda: hatchet.runs.get_status(ref.workflow_run_id) == RunStatus.RUNNING)
    assert not _evicted(hatchet, ref.workflow_run_id)  # in its slot for the first second
    _wait_for(lambda: _evicted(hatchet, ref.workflow_run_id))
    task_id = next(iter(hatchet.runs.get_details(ref.workflow_run_id).task_runs.values()))
    assert hatchet.runs.restore_task(task_id.external_id) is True
    assert hatchet.runs.restore_task(task_id.external_id) is False  # restored already
    # back in a slot at once, for one more TTL, then evicted until the sleep is over
    _wait_for(lambda: not _evicted(hatchet, ref.workflow_run_id), timeout=5)
    assert ref.result(timeout=30) == {"status": "completed"}
    assert time.monotonic() - started >= 6


def test_a_parent_waiting_long_for_its_child_gives_its_slot_back_until_the_child_ends(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.task()
    async def slow_child(input: EmptyModel, ctx: Any) -> dict[str, int]:
        import asyncio

        await asyncio.sleep(3)
        return {"n": 7}

    @hatchet.durable_task(eviction_policy=EvictionPolicy(ttl=timedelta(seconds=0.5)))
    async def parent(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        return {"child": await slow_child.aio_run()}

    start_worker(parent, slow_child, slots=4)
    ref = parent.run_no_wait()
    _wait_for(lambda: _evicted(hatchet, ref.workflow_run_id))
    # woken by the engine when the child finishes (not an hour later), and the replay
    # finds the same child instead of starting another
    assert ref.result(timeout=30) == {"child": {"n": 7}}
    children = hatchet.runs.list(parent_task_external_id=ref.workflow_run_id).rows
    assert len(children) == 1
