"""hatchet_sdk v1's results of conditional workflows (written from its documented
behaviour): a skipped task's output is ``{"skipped": True}``; a run cancelled by a
``cancel_if`` condition is CANCELLED, yet ``result`` / ``aio_result`` return the other
tasks' outputs; ``UserEventCondition`` takes ``scope`` and
``consider_events_since``."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import (
    CancelledRunError,
    Context,
    EmptyModel,
    ParentCondition,
    RunStatus,
    UserEventCondition,
)

pytestmark = pytest.mark.integration


def test_skipped_and_condition_cancelled_results(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="conditional-results")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"stop": True}

    @wf.task(parents=[first], skip_if=[ParentCondition(parent=first, expression="output.stop")])
    def skipped(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"ran": 1}

    @wf.task(parents=[first], cancel_if=[ParentCondition(parent=first, expression="output.stop")])
    def cancelled(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"ran": 1}

    start_worker(wf)
    ref = wf.run_no_wait()
    outputs = asyncio.run(ref.aio_result(timeout=30))
    assert outputs == {"first": {"stop": True}, "skipped": {"skipped": True}}
    assert hatchet.runs.get_details(ref.workflow_run_id).status == RunStatus.CANCELLED
    assert ref.result() == outputs


def test_a_user_cancelled_run_still_raises_from_aio_result(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def slow(input: EmptyModel, ctx: Context) -> None:
        time.sleep(30)

    start_worker(slow)
    ref = slow.run_no_wait()
    time.sleep(0.5)
    hatchet.runs.cancel(ref.workflow_run_id)
    with pytest.raises(CancelledRunError):
        asyncio.run(ref.aio_result(timeout=30))


def test_event_conditions_take_scope_and_earlier_events(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="scoped-wait")

    @wf.task(wait_for=[UserEventCondition(event_key="scoped:go", scope="tenant-a")])
    def scoped(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"ran": True}

    early = hatchet.workflow(name="early-wait")
    since = datetime.now(UTC) - timedelta(minutes=1)

    @early.task(wait_for=[UserEventCondition(event_key="early:go", consider_events_since=since)])
    def earlier(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"ran": True}

    hatchet.event.push("early:go", {})  # before the run exists
    start_worker(wf, early)
    assert early.run() == {"earlier": {"ran": True}}

    ref = wf.run_no_wait()
    hatchet.event.push("scoped:go", {}, scope="tenant-b")
    time.sleep(2)
    assert hatchet.runs.get_status(ref.workflow_run_id) in (RunStatus.QUEUED, RunStatus.RUNNING)
    hatchet.event.push("scoped:go", {}, scope="tenant-a")
    assert ref.result(timeout=30) == {"scoped": {"ran": True}}


def test_consider_events_since_must_be_aware() -> None:
    naive = datetime.now()
    with pytest.raises(ValueError, match="aware datetime"):
        UserEventCondition(event_key="k", consider_events_since=naive).spec()


def test_durable_event_waits_take_scope_and_a_payload_validator(
    hatchet: Any, start_worker: Any
) -> None:
    from pydantic import BaseModel

    from hatchnb import DurableContext

    class Go(BaseModel):
        n: int

    @hatchet.durable_task()
    async def waiter(input: EmptyModel, ctx: DurableContext) -> dict[str, int]:
        got = await ctx.aio_wait_for_event(
            "durable:go",
            "input.n > 1",
            payload_validator=Go,
            scope="team-a",
            label="go",
            lookback_window=timedelta(minutes=1),  # the pushes may come before the wait
        )
        assert isinstance(got, Go)
        return {"n": got.n}

    start_worker(waiter)
    ref = waiter.run_no_wait()
    hatchet.event.push("durable:go", {"n": 5}, scope="team-b")
    hatchet.event.push("durable:go", {"n": 1}, scope="team-a")
    hatchet.event.push("durable:go", {"n": 7}, scope="team-a")
    assert ref.result(timeout=30) == {"n": 7}


def test_durable_sleeps_return_how_long_they_took(hatchet: Any, start_worker: Any) -> None:
    from hatchnb import DurableContext

    @hatchet.durable_task()
    async def napper(input: EmptyModel, ctx: DurableContext) -> float:
        slept = await ctx.aio_sleep_for(timedelta(seconds=0.5))
        return slept.duration.total_seconds()

    start_worker(napper)
    assert 0.5 <= napper.run() < 10
