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
