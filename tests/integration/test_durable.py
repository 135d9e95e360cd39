"""Durable tasks: replay after SIGKILL and eviction, event waits, non-determinism."""

from __future__ import annotations

import asyncio
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


def test_replay_of_a_finished_durable_task_reuses_its_log(hatchet: Any, start_worker: Any) -> None:
    computed: list[str] = []

    async def expensive(message: str) -> dict[str, str]:
        computed.append(message)
        return {"message": message.upper()}

    @hatchet.durable_task()
    async def memo(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        first = await ctx.aio_memo(expensive, dict, "a")
        second = await ctx._aio_memo(expensive, dict, "b")  # hatchet_sdk's name
        return {"memo": [first, second], "now": (await ctx.aio_now()).isoformat()}

    start_worker(memo, slots=2)
    ref = memo.run(wait_for_result=False)
    first = ref.result(timeout=10)
    hatchet.runs.replay(ref.workflow_run_id)
    wait_until(
        lambda: hatchet.runs.get_status(ref.workflow_run_id) == "SUCCEEDED",
        message="the replay to finish",
    )
    assert ref.result(timeout=10) == first
    assert first["memo"] == [{"message": "A"}, {"message": "B"}]
    assert computed == ["a", "b"]  # the replay returned both from the log


def test_replay_hands_concurrent_branches_their_own_children(
    hatchet: Any, start_worker: Any
) -> None:
    """Two asyncio.gather branches each spawn a child, then a second one. In the first
    execution b's first child finishes long before a's, so b spawns its second child first;
    on replay every child has finished, and whichever result is read back first, each branch
    must get its own children again (hatchet_sdk's concurrent_branches example)."""

    @hatchet.task()
    async def labelled(input: EmptyModel, ctx: Any) -> dict[str, str]:
        await asyncio.sleep(float(input.model_extra["delay"]))
        return {"label": input.model_extra["label"]}

    async def branch(name: str, delay: float) -> list[str]:
        first = await labelled.aio_run({"delay": delay, "label": f"{name}-first"})
        second = await labelled.aio_run({"delay": 0.05, "label": f"{name}-second"})
        return [first["label"], second["label"]]

    @hatchet.durable_task()
    async def branches(input: EmptyModel, ctx: DurableContext) -> dict[str, list[str]]:
        a, b = await asyncio.gather(branch("a", 1.5), branch("b", 0.1))
        return {"a": a, "b": b}

    start_worker(branches, labelled, slots=6)
    expected = {"a": ["a-first", "a-second"], "b": ["b-first", "b-second"]}
    ref = branches.run(wait_for_result=False)
    assert ref.result(timeout=30) == expected
    for _ in range(3):
        hatchet.runs.replay(ref.workflow_run_id)
        wait_until(
            lambda: hatchet.runs.get_status(ref.workflow_run_id) == "SUCCEEDED",
            message="the replay to finish",
        )
        assert ref.result(timeout=10) == expected
    assert len(hatchet.runs.list(workflow_names=["labelled"])) == 4  # none spawned again


def test_reset_durable_task_redoes_from_a_node_on_a_new_branch(
    hatchet: Any, start_worker: Any
) -> None:
    from hatchnb import errors

    steps: list[str] = []

    @hatchet.durable_task()
    async def three(input: EmptyModel, ctx: DurableContext) -> list[str]:
        for name in ("one", "two", "three"):
            await ctx.aio_step(name, steps.append, name)
        return steps

    start_worker(three, slots=2)
    ref = three.run(wait_for_result=False)
    ref.result(timeout=10)
    with pytest.raises(errors.InvalidInput, match="no branch 7"):
        hatchet.runs.reset_durable_task(ref.workflow_run_id, node_id=2, branch_id=7)

    reset = hatchet.runs.reset_durable_task(ref.workflow_run_id, node_id=2, branch_id=1)
    assert (reset.node_id, reset.branch_id) == (2, 2)
    wait_until(lambda: len(steps) == 5, message="steps two and three to run again")
    wait_until(lambda: hatchet.runs.get_status(ref.workflow_run_id) == "SUCCEEDED")
    assert steps == ["one", "two", "three", "two", "three"]

    # branch off the first branch again: everything from node 1 is redone
    assert hatchet.runs.reset_durable_task(ref.workflow_run_id, 1, 1).branch_id == 3
    wait_until(lambda: len(steps) == 8, message="all three steps to run again")
    log = hatchet.runs.durable_log(ref.workflow_run_id)
    assert {entry["branch"] for entry in log} == {3}
    assert log[0]["request"] == "from branch 1 at node 1"


def test_reset_of_a_running_durable_task_is_refused(hatchet: Any, start_worker: Any) -> None:
    from hatchnb import errors

    @hatchet.durable_task()
    async def slow(input: EmptyModel, ctx: DurableContext) -> None:
        await ctx.aio_sleep_for(30)

    start_worker(slow, slots=2)
    ref = slow.run(wait_for_result=False)
    wait_until(lambda: hatchet.runs.get_status(ref.workflow_run_id) == "RUNNING")
    with pytest.raises(errors.InvalidInput, match="once its run has finished"):
        hatchet.runs.reset_durable_task(ref.workflow_run_id, 1, 1)
    hatchet.runs.cancel(ref.workflow_run_id)


def test_nondeterminism_error_names_the_node(hatchet: Any, start_worker: Any) -> None:
    from hatchnb.runtime.durable import NonDeterminismError

    @hatchet.durable_task()
    async def grows(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        try:
            await ctx.aio_sleep_for(0.1 * ctx.attempt_number)
        except NonDeterminismError as exc:
            return {"node": exc.node_id, "invocation": exc.invocation_count}
        return {}

    start_worker(grows, slots=2)
    ref = grows.run(wait_for_result=False)
    assert ref.result(timeout=10) == {}
    hatchet.runs.replay(ref.workflow_run_id)
    wait_until(lambda: hatchet.runs.get_status(ref.workflow_run_id) == "SUCCEEDED")
    assert ref.result(timeout=10) == {"node": 1, "invocation": 2}
