"""Durable tasks: replay after SIGKILL and eviction, event waits, non-determinism."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from hatchnb import DurableContext, EmptyModel, FailedRunError
from tests.conftest import wait_until
from tests.integration.shipped import durable_flows

pytestmark = [pytest.mark.integration, pytest.mark.workers]


@pytest.fixture
def evicting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durable waits longer than 0.3 s give their slot back (request before ``hatchet``)."""
    monkeypatch.setenv("HATCHNB_DURABLE_EVICT_AFTER", "0.3")


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_sigkill_during_durable_sleep_replays_without_redoing_steps(
    hatchet: Any, worker_process: Any, tmp_path: Path, db: Any
) -> None:
    flows = durable_flows.declare(hatchet)
    marks = tmp_path / "marks"
    first = worker_process("--slots", "2")
    ref = flows["sleeper"].run_no_wait({"marks": str(marks), "seconds": 3})
    # kill inside the sleep: a kill between a step's side effect and its log record would
    # legitimately run the step again (at-least-once)
    wait_until(
        lambda: db.execute("SELECT 1 FROM hatchnb.durable_events WHERE kind = 'sleep'").fetchone(),
        message="the sleep to start",
    )
    os.kill(first.pid, signal.SIGKILL)
    worker_process("--slots", "2")
    assert ref.result(timeout=30) == {"steps": ["first", "second"]}
    assert _lines(marks) == ["first", "second"]


def test_sigkill_during_event_wait_then_event_completes_it(
    hatchet: Any, worker_process: Any, tmp_path: Path, db: Any
) -> None:
    flows = durable_flows.declare(hatchet)
    marks = tmp_path / "marks"
    first = worker_process("--slots", "2")
    ref = flows["approver"].run_no_wait({"marks": str(marks)})
    wait_until(
        lambda: db.execute("SELECT 1 FROM hatchnb.durable_events WHERE kind = 'event'").fetchone(),
        message="the wait to be recorded",
    )
    os.kill(first.pid, signal.SIGKILL)
    worker_process("--slots", "2")
    hatchet.event.push("approval:granted", {"ok": False, "by": "nobody"})
    hatchet.event.push("approval:granted", {"ok": True, "by": "alice"})
    assert ref.result(timeout=30) == {"by": "alice"}
    assert _lines(marks) == ["asked", "done"]


def test_long_waits_give_the_slot_back(
    evicting: None, hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:
    flows = durable_flows.declare(hatchet)

    @hatchet.task()
    def quick(input: EmptyModel, ctx: Any) -> str:
        return "quick"

    start_worker(flows["sleeper"], quick, slots=1)
    marks = tmp_path / "marks"
    slow = flows["sleeper"].run_no_wait({"marks": str(marks), "seconds": 2})
    wait_until(lambda: _lines(marks) == ["first"], message="the first step")
    assert quick.run(wait_for_result=False).result(timeout=1.5) == "quick"
    assert slow.result(timeout=20) == {"steps": ["first", "second"]}
    assert _lines(marks) == ["first", "second"]
    task = hatchet.runs.get(slow.workflow_run_id).tasks[0]
    assert task.attempt == 2 and task.retry_count == 0


def test_replay_that_asks_for_something_else_is_a_nondeterminism_error(
    evicting: None, hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:
    flag = tmp_path / "changed"

    @hatchet.durable_task()
    async def shifty(input: EmptyModel, ctx: DurableContext) -> None:
        name = "changed" if flag.exists() else "original"
        await ctx.aio_step(name, lambda: flag.touch())
        await ctx.aio_sleep_for(1)

    start_worker(shifty, slots=2)
    with pytest.raises(FailedRunError, match=r"position 1: the log recorded step 'original'"):
        shifty.run()


def test_children_of_a_durable_task_are_spawned_once(
    evicting: None, hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:

    @hatchet.task()
    def child(input: EmptyModel, ctx: Any) -> int:
        return int(input.model_extra["n"]) * 2

    @hatchet.durable_task()
    async def parent(input: EmptyModel, ctx: DurableContext) -> int:
        first = await child.aio_run({"n": 1})
        await ctx.aio_sleep_for(1)  # evicted: the replay must not spawn the child again
        second = await child.aio_run({"n": 2})
        return int(first) + int(second)

    start_worker(parent, child, slots=4)
    assert parent.run() == 6
    assert len(hatchet.runs.list(workflow_names=["child"])) == 2


def test_durable_wait_for_conditions_returns_what_satisfied_them(
    evicting: None, hatchet: Any, start_worker: Any
) -> None:
    from hatchnb import SleepCondition, UserEventCondition, or_

    @hatchet.durable_task()
    async def gate(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        got = await ctx.aio_wait_for(
            "gate", or_(SleepCondition("60s"), UserEventCondition("open", "input.code == 42"))
        )
        slept = await ctx.aio_wait_for("pause", SleepCondition("1s"))
        return {"got": got, "slept": slept}

    start_worker(gate, slots=2)
    ref = gate.run_no_wait()
    wait_until(lambda: hatchet.runs.get(ref.workflow_run_id).tasks[0].attempt >= 1)
    import time

    time.sleep(1.0)  # long enough for the wait to be evicted
    hatchet.event.push("open", {"code": 1})
    hatchet.event.push("open", {"code": 42})
    out = ref.result(timeout=20)
    assert out == {  # hatchet_sdk's shape: {action: {condition key: what satisfied it}}
        "got": {"CREATE": {"open": {"code": 42}}},
        "slept": {"CREATE": {"sleep:1s": {"seconds": 1.0}}},
    }


def test_sync_durable_task_has_blocking_twins(hatchet: Any, start_worker: Any, db: Any) -> None:
    @hatchet.durable_task()
    def blocking(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        value = ctx.step("double", lambda n: n * 2, 21)
        ctx.sleep_for("0.2s")
        event = ctx.wait_for_event("sync:go")
        return {"value": value, "event": event}

    start_worker(blocking)
    ref = blocking.run_no_wait()
    wait_until(
        lambda: db.execute("SELECT 1 FROM hatchnb.durable_events WHERE kind = 'event'").fetchone(),
        message="the event wait to start",
    )
    hatchet.event.push("sync:go", {"x": 1})
    assert ref.result(timeout=15) == {"value": 42, "event": {"x": 1}}
