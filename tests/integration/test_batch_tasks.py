"""Batch tasks (``batch_task``) against real PostgreSQL and real worker processes: batches
formed by size and by interval, group keys, group max runs, each caller's own result,
failures of the whole batch and of one member, and a worker killed mid-batch."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import CancelledRunError, Context, FailedRunError, TaskDefaults
from hatchnb.batching import BatchMemberId
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]

LONG = timedelta(seconds=30)


class Item(BaseModel):
    message: str
    group: str = "g"
    marks: str = ""
    fail: bool = False
    sleep: float = 0.0


def _batch_output(tasks: dict[BatchMemberId, Item]) -> dict[BatchMemberId, dict[str, Any]]:
    batch = str(uuid.uuid4())
    return {
        member: {
            "upper": item.message.upper(),
            "size": len(tasks),
            "groups": sorted({i.group for i in tasks.values()}),
            "batch": batch,
            "pid": os.getpid(),
        }
        for member, item in tasks.items()
    }


def _mark(path: str, line: str) -> None:
    with Path(path).open("a") as f:
        f.write(f"{line} {time.time()}\n")


def test_batch_flushes_when_max_size_members_wait(hatchet: Any, worker_process: Any) -> None:
    @hatchet.batch_task(batch_max_size=3, batch_max_interval=LONG, input_validator=Item)
    def by_size(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        return _batch_output(tasks)

    proc = worker_process("--slots", "4")
    started = time.monotonic()
    refs = [by_size.run_no_wait(Item(message=m)) for m in ["alpha", "bravo", "charlie"]]
    results = [ref.result() for ref in refs]
    elapsed = time.monotonic() - started
    assert [r["upper"] for r in results] == ["ALPHA", "BRAVO", "CHARLIE"]  # each its own
    assert {r["size"] for r in results} == {3}
    assert len({r["batch"] for r in results}) == 1  # one call of the function
    assert {r["pid"] for r in results} == {proc.pid}
    assert elapsed < 15, "a full batch must not wait for its 30 s interval"


def test_partial_batch_flushes_after_the_interval(hatchet: Any, worker_process: Any) -> None:
    @hatchet.batch_task(
        batch_max_size=10, batch_max_interval=timedelta(milliseconds=700), input_validator=Item
    )
    def by_interval(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        return _batch_output(tasks)

    worker_process("--slots", "4")
    by_interval.run(Item(message="warm"))  # the worker is up and has loaded the code
    started = time.monotonic()
    refs = [by_interval.run_no_wait(Item(message=m)) for m in ["delta", "echo"]]
    results = [ref.result() for ref in refs]
    elapsed = time.monotonic() - started
    assert [r["upper"] for r in results] == ["DELTA", "ECHO"]
    assert [r["size"] for r in results] == [2, 2]
    assert len({r["batch"] for r in results}) == 1
    assert 0.7 <= elapsed < 5, elapsed


def test_a_batch_carries_at_most_4_mb_of_inputs(hatchet: Any, worker_process: Any) -> None:
    @hatchet.batch_task(
        batch_max_size=100, batch_max_interval=timedelta(seconds=1), input_validator=Item
    )
    def bulky(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        return _batch_output(tasks)

    worker_process("--slots", "4")
    big = "x" * 900_000  # four fit in 4 MB, five do not
    refs = bulky.run_many(
        [bulky.create_bulk_run_item(Item(message=big)) for _ in range(12)],
        wait_for_result=False,
    )
    results = [ref.result() for ref in refs]
    assert [r["size"] for r in results] == [4] * 12
    assert len({r["batch"] for r in results}) == 3


def test_group_key_separates_batches(hatchet: Any, worker_process: Any) -> None:
    @hatchet.batch_task(
        batch_max_size=2,
        batch_max_interval=LONG,
        batch_group_key="input.group",
        input_validator=Item,
    )
    def keyed(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        return _batch_output(tasks)

    worker_process("--slots", "4")
    inputs = [("alpha", "t1"), ("charlie", "t2"), ("bravo", "t1"), ("delta", "t2")]
    refs = [keyed.run_no_wait(Item(message=m, group=g)) for m, g in inputs]
    results = [ref.result() for ref in refs]
    for (message, group), result in zip(inputs, results, strict=True):
        assert result["upper"] == message.upper()
        assert result["groups"] == [group]
        assert result["size"] == 2
    assert results[0]["batch"] == results[2]["batch"] != results[1]["batch"] == results[3]["batch"]


def test_group_max_runs_limits_batches_of_one_group_at_once(
    hatchet: Any, worker_process: Any, tmp_path: Path
) -> None:
    marks = str(tmp_path / "marks.txt")

    @hatchet.batch_task(
        batch_max_size=1,
        batch_max_interval=timedelta(milliseconds=50),
        batch_group_key="input.group",
        batch_group_max_runs=1,
        input_validator=Item,
    )
    def one_at_a_time(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        (item,) = tasks.values()
        _mark(item.marks, f"start {item.group} {item.message}")
        time.sleep(item.sleep)
        _mark(item.marks, f"end {item.group} {item.message}")
        return _batch_output(tasks)

    worker_process("--slots", "10")
    work = [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B")]
    refs = [
        one_at_a_time.run_no_wait(Item(message=m, group=g, marks=marks, sleep=0.6)) for m, g in work
    ]
    for ref in refs:
        ref.result()
    spans: dict[str, list[float]] = {}
    for line in Path(marks).read_text().splitlines():
        _kind, group, message, at = line.split()
        spans.setdefault(f"{group} {message}", []).append(float(at))
    group_a = sorted(spans[f"A {m}"] for m in ("a1", "a2", "a3"))
    for earlier, later in itertools.pairwise(group_a):
        assert later[0] >= earlier[1], f"two batches of group A overlapped: {group_a}"
    b_start, b_end = spans["B b1"]
    assert any(start < b_end and b_start < end for start, end in group_a), (
        "group B should have run next to group A (the limit is per group)"
    )


def test_an_exception_fails_every_member_and_retries(hatchet: Any, worker_process: Any) -> None:
    wf = hatchet.workflow(
        name="batch-retries", input_validator=Item, task_defaults=TaskDefaults(retries=1)
    )

    @wf.batch_task(batch_max_size=2, batch_max_interval=LONG)
    def explode(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        raise RuntimeError(f"model crashed on {len(tasks)} inputs")

    worker_process("--slots", "4")
    refs = [wf.run_no_wait(Item(message=m)) for m in ["x", "y"]]
    for ref in refs:
        with pytest.raises(FailedRunError, match="model crashed on 2 inputs"):
            ref.result()
    for ref in refs:
        (task,) = hatchet.runs.get(ref.workflow_run_id).tasks
        assert task.status == "FAILED"
        assert task.retry_count == 1  # retried once, as task_defaults says


def test_a_missing_member_fails_alone(hatchet: Any, worker_process: Any) -> None:
    @hatchet.batch_task(batch_max_size=3, batch_max_interval=LONG, input_validator=Item)
    def forgetful(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        return {k: v for k, v in _batch_output(tasks).items() if not tasks[k].fail}

    worker_process("--slots", "4")
    refs = [
        forgetful.run_no_wait(Item(message=m, fail=m == "lost")) for m in ["kept", "lost", "too"]
    ]
    assert refs[0].result()["upper"] == "KEPT"
    assert refs[2].result()["upper"] == "TOO"
    with pytest.raises(FailedRunError, match="returned no output for member"):
        refs[1].result()


def test_broadcast_output_gives_every_member_the_same_output(
    hatchet: Any, worker_process: Any
) -> None:
    @hatchet.batch_task(
        batch_max_size=4, batch_max_interval=LONG, input_validator=Item, broadcast_output=True
    )
    def total(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[str, int]:
        return {"letters": sum(len(i.message) for i in tasks.values())}

    worker_process("--slots", "2")
    refs = [total.run_no_wait(Item(message=m)) for m in ["ab", "cde", "f", "ghij"]]
    assert [ref.result() for ref in refs] == [{"letters": 10}] * 4


def test_killing_the_worker_mid_batch_loses_no_member(
    hatchet: Any, worker_process: Any, tmp_path: Path, db: Any
) -> None:
    marks = str(tmp_path / "marks.txt")

    @hatchet.batch_task(
        batch_max_size=3, batch_max_interval=LONG, input_validator=Item, execution_timeout="60s"
    )
    def slow_batch(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        _mark(marks, f"start {os.getpid()} {len(tasks)}")
        time.sleep(next(iter(tasks.values())).sleep)
        return _batch_output(tasks)

    first = worker_process("--slots", "4")
    refs = [slow_batch.run_no_wait(Item(message=m, sleep=2.0)) for m in ["p", "q", "r"]]
    wait_until(lambda: Path(marks).exists(), timeout=20, message="the batch to start")
    first.stop()  # SIGKILL, mid-batch
    running = db.execute(
        "SELECT count(*) AS n FROM hatchnb.task_runs WHERE status = 'RUNNING'"
    ).fetchone()
    assert running["n"] == 3, "every member was running on the killed worker"
    second = worker_process("--slots", "4")
    results = [ref.result() for ref in refs]
    assert [r["upper"] for r in results] == ["P", "Q", "R"]
    assert {r["pid"] for r in results} == {second.pid}
    assert {r["size"] for r in results} == {3}  # handed back together, batched again
    rows = db.execute("SELECT attempt, retry_count FROM hatchnb.task_runs ORDER BY id").fetchall()
    assert [(r["attempt"], r["retry_count"]) for r in rows] == [(2, 0)] * 3


def test_cancelling_one_member_leaves_the_batch_running(
    hatchet: Any, worker_process: Any, tmp_path: Path
) -> None:
    marks = str(tmp_path / "marks.txt")

    @hatchet.batch_task(batch_max_size=2, batch_max_interval=LONG, input_validator=Item)
    async def patient(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        _mark(marks, "start")
        await asyncio.sleep(1.5)
        return _batch_output(tasks)

    worker_process("--slots", "2")
    refs = [patient.run_no_wait(Item(message=m)) for m in ["stay", "go"]]
    wait_until(lambda: Path(marks).exists(), message="the batch to start")
    hatchet.runs.cancel(refs[1].workflow_run_id)
    assert refs[0].result()["upper"] == "STAY"
    with pytest.raises(CancelledRunError):
        refs[1].result()


def test_a_timeout_interrupts_the_batch_and_fails_every_member(
    hatchet: Any, worker_process: Any
) -> None:
    @hatchet.batch_task(
        batch_max_size=2, batch_max_interval=LONG, input_validator=Item, execution_timeout="1s"
    )
    async def too_slow(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        await asyncio.sleep(30)
        return _batch_output(tasks)

    worker_process("--slots", "1")
    started = time.monotonic()
    refs = [too_slow.run_no_wait(Item(message=m)) for m in ["a", "b"]]
    for ref in refs:
        with pytest.raises(FailedRunError, match=r"timed out|timeout"):
            ref.result()
    assert time.monotonic() - started < 20


def test_ctx_cancel_cancels_every_member(hatchet: Any, worker_process: Any) -> None:
    @hatchet.batch_task(
        batch_max_size=3, batch_max_interval=LONG, input_validator=Item, broadcast_output=True
    )
    async def gives_up(tasks: dict[BatchMemberId, Item], ctx: Context) -> None:
        await ctx.aio_cancel()

    worker_process("--slots", "1")
    refs = [gives_up.run_no_wait(Item(message=m)) for m in ["a", "b", "c"]]
    for ref in refs:
        ref.result()  # a run cancelled by its own task gives its other outputs: none here
        (task,) = hatchet.runs.get(ref.workflow_run_id).tasks
        assert task.status == "CANCELLED"


def test_a_stream_of_plain_tasks_does_not_starve_batches(
    hatchet: Any, worker_process: Any, db: Any
) -> None:
    @hatchet.task(execution_timeout="60s")
    def busy(input: Item, ctx: Context) -> None:
        time.sleep(0.1)

    @hatchet.batch_task(batch_max_size=2, batch_max_interval=LONG, input_validator=Item)
    def pair(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        return _batch_output(tasks)

    busy.run_many_no_wait([busy.create_bulk_run_item(Item(message="x")) for _ in range(60)])
    refs = [pair.run_no_wait(Item(message=m)) for m in ["a", "b"]]
    worker_process("--slots", "1")  # every claim could be filled by the plain backlog
    assert [ref.result()["size"] for ref in refs] == [2, 2]
    waiting = db.execute(
        "SELECT count(*) AS n FROM hatchnb.task_runs WHERE task_name = 'busy' AND status = 'QUEUED'"
    ).fetchone()["n"]
    assert waiting > 20, "the batch waited for the plain backlog to drain"


class MaybeKeyed(BaseModel):
    message: str
    group: str | int


def test_a_group_key_that_fails_fails_only_that_member(hatchet: Any, worker_process: Any) -> None:
    @hatchet.batch_task(
        batch_max_size=2,
        batch_max_interval=timedelta(milliseconds=200),
        batch_group_key="input.group",
        input_validator=MaybeKeyed,
    )
    def keyed(tasks: dict[BatchMemberId, MaybeKeyed], ctx: Context) -> dict[BatchMemberId, Any]:
        return {k: v.message.upper() for k, v in tasks.items()}

    worker_process("--slots", "2")
    good = keyed.run_no_wait(MaybeKeyed(message="hello", group="tenant-1"))
    bad = keyed.run_no_wait(MaybeKeyed(message="world", group=123))  # the trigger succeeds
    with pytest.raises(FailedRunError, match="failed to parse batch group key expression"):
        bad.result()
    assert good.result() == "HELLO"


def test_a_member_with_bad_input_fails_alone_with_its_own_error(
    hatchet: Any, worker_process: Any, db: Any
) -> None:
    @hatchet.batch_task(batch_max_size=3, batch_max_interval=LONG, input_validator=Item)
    def strict(tasks: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Any]:
        if any(item.fail for item in tasks.values()):
            raise RuntimeError(f"boom with {len(tasks)} members")
        return _batch_output(tasks)

    hatchet.register(strict)
    # runs started by name are not checked against the input validator at the trigger
    bad = hatchet.runs.create("strict", {"not_a_message": 1})
    good = [strict.run_no_wait(Item(message=m, fail=True)) for m in ["a", "b"]]
    worker_process("--slots", "2")
    for ref in good:
        with pytest.raises(FailedRunError, match="boom with 2 members"):
            ref.result()
    with pytest.raises(FailedRunError, match="does not match Item"):
        hatchet.runs.get_run_ref(bad.workflow_run_id).result()
    attempts = db.execute("SELECT count(*) AS n FROM hatchnb.task_attempts").fetchone()
    assert attempts["n"] == 3  # one result per member
