"""Retries with Hatchet's backoff, non-retryable errors, execution and schedule timeouts."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, FailedRunError, NonRetryableException
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def test_retries_until_success_with_retry_count(hatchet: Any, start_worker: Any) -> None:
    seen: list[int] = []

    @hatchet.task(retries=2)
    def flaky(input: EmptyModel, ctx: Context) -> dict[str, int]:
        seen.append(ctx.retry_count)
        if ctx.retry_count < 2:
            raise ConnectionError("try again")
        return {"attempt": ctx.attempt_number}

    start_worker(flaky)
    assert flaky.run() == {"attempt": 3}
    assert seen == [0, 1, 2]


def test_retries_exhausted_fail_the_run(hatchet: Any, start_worker: Any) -> None:
    calls: list[int] = []

    @hatchet.task(retries=1)
    def broken(input: EmptyModel, ctx: Context) -> None:
        calls.append(ctx.retry_count)
        raise ValueError("bad data")

    start_worker(broken)
    with pytest.raises(FailedRunError, match="ValueError: bad data"):
        broken.run()
    assert calls == [0, 1]


def test_backoff_delays_retries_by_factor_power_n(hatchet: Any, start_worker: Any) -> None:
    stamps: list[float] = []

    @hatchet.task(retries=2, backoff_factor=1.5, backoff_max_seconds=60)
    def slow_flaky(input: EmptyModel, ctx: Context) -> int:
        stamps.append(time.monotonic())
        if ctx.retry_count < 2:
            raise RuntimeError("later")
        return ctx.retry_count

    start_worker(slow_flaky)
    assert slow_flaky.run() == 2
    first, second = stamps[1] - stamps[0], stamps[2] - stamps[1]
    assert 1.5 <= first < 3.0  # 1.5 ** 1
    assert 2.25 <= second < 4.0  # 1.5 ** 2


def test_non_retryable_exception_skips_remaining_retries(hatchet: Any, start_worker: Any) -> None:
    calls: list[int] = []

    @hatchet.task(retries=5)
    def refuse(input: EmptyModel, ctx: Context) -> None:
        calls.append(1)
        raise NonRetryableException("invalid account")

    start_worker(refuse)
    with pytest.raises(FailedRunError, match="invalid account"):
        refuse.run()
    assert calls == [1]


def test_execution_timeout_cancels_async_task_and_retries(hatchet: Any, start_worker: Any) -> None:
    outcomes: list[str] = []

    @hatchet.task(execution_timeout=timedelta(seconds=1), retries=1)
    async def sleepy(input: EmptyModel, ctx: Context) -> str:
        try:
            await asyncio.sleep(30 if ctx.retry_count == 0 else 0)
        except asyncio.CancelledError:
            outcomes.append("cancelled")
            raise
        return "second attempt"

    start_worker(sleepy)
    assert sleepy.run() == "second attempt"
    assert outcomes == ["cancelled"]


def test_execution_timeout_error_names_the_limit(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(execution_timeout="1s")
    def stuck(input: EmptyModel, ctx: Context) -> None:
        ctx.wait_cancelled(20)

    start_worker(stuck)
    # hatchet_sdk's words (TIMED_OUT, "Task exceeded timeout"), then hatchnb's explanation
    with pytest.raises(
        FailedRunError, match=r"TIMED_OUT: Task exceeded timeout.*execution_timeout"
    ):
        stuck.run()


def test_refresh_timeout_extends_the_deadline(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(execution_timeout=timedelta(seconds=1))
    async def long(input: EmptyModel, ctx: Context) -> str:
        ctx.refresh_timeout(timedelta(seconds=5))
        await asyncio.sleep(2)
        return "done"

    start_worker(long)
    assert long.run() == "done"


def test_schedule_timeout_fails_tasks_nobody_picks_up(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(schedule_timeout=timedelta(seconds=1))
    def orphan(input: EmptyModel, ctx: Context) -> None:
        raise AssertionError("no worker serves this workflow")

    @hatchet.task()
    def other(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(other)  # runs the engine, but not `orphan`
    with pytest.raises(FailedRunError, match="schedule_timeout"):
        orphan.run()


def test_attempt_history_of_finished_and_cancelled_task_runs(hatchet: Any, db: Any) -> None:
    """finish_task_runs writes its attempt rows itself (migration 0027) and the row trigger
    writes the others: one row per attempt either way, holding the attempt's worker and queue
    time (not the values the finish leaves in the task run), also when a finish and a cancel
    share a transaction."""

    @hatchet.task(name="attempts-retried", retries=1)
    def retried(input: EmptyModel, ctx: Context) -> None:
        pass

    @hatchet.task(name="attempts-cancelled")
    def cancelled(input: EmptyModel, ctx: Context) -> None:
        pass

    hatchet.register(retried)
    hatchet.register(cancelled)
    first = retried.run_no_wait().workflow_run_id
    other = cancelled.run_no_wait().workflow_run_id
    worker = uuid.uuid4()

    def claim() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = db.execute(
            "SELECT c.id, c.run_id, c.attempt FROM hatchnb.claim_task_runs("
            " %(worker)s, 10, NULL, (SELECT python_version FROM hatchnb.workflow_versions"
            " LIMIT 1)) c ORDER BY c.id",
            {"worker": worker},
        ).fetchall()
        return rows

    def finish(row: dict[str, Any], outcome: str) -> None:
        db.execute(
            "SELECT hatchnb.finish_task_runs(ARRAY[%s]::bigint[], ARRAY[%s], ARRAY[%s],"
            " ARRAY[NULL]::jsonb[], ARRAY[NULL]::bytea[], ARRAY['boom'])",
            (row["id"], row["attempt"], outcome),
        )

    def attempts(run_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = db.execute(
            "SELECT attempt, worker_id, outcome, error, queued_at, started_at, finished_at"
            " FROM hatchnb.task_attempts WHERE run_id = %s ORDER BY id",
            (run_id,),
        ).fetchall()
        return rows

    claimed = claim()
    assert [str(r["run_id"]) for r in claimed] == [first, other]
    queued_at = db.execute(
        "SELECT queued_at FROM hatchnb.task_runs WHERE id = %s", (claimed[0]["id"],)
    ).fetchone()["queued_at"]
    with db.transaction():
        finish(claimed[0], "FAILED")  # retried: back to QUEUED, worker cleared
        db.execute("SELECT * FROM hatchnb.cancel_runs(ARRAY[%s]::uuid[])", (other,))

    (failed,) = attempts(first)
    assert failed["attempt"] == 1 and failed["outcome"] == "QUEUED"
    assert failed["worker_id"] == worker and failed["error"] == "boom"
    assert failed["queued_at"] == queued_at <= failed["started_at"] <= failed["finished_at"]
    assert [(a["attempt"], a["outcome"], a["worker_id"]) for a in attempts(other)] == [
        (1, "CANCELLED", worker)
    ]

    (again,) = claim()  # no backoff: queued again at once
    finish(again, "SUCCEEDED")
    assert [(a["attempt"], a["outcome"], a["worker_id"]) for a in attempts(first)] == [
        (1, "QUEUED", worker),
        (2, "SUCCEEDED", worker),
    ]
    assert attempts(first)[1]["queued_at"] >= failed["finished_at"]


def test_a_late_cancel_note_for_an_earlier_attempt_leaves_the_retry_running(
    hatchet: Any, start_worker: Any, db: Any, tmp_path: Path
) -> None:
    """A timed-out attempt is retried at once, so the worker may already run the next attempt
    when the cancel note about the old one arrives: only a note naming the running attempt
    cancels it."""
    started, stale_sent, seen = (tmp_path / n for n in ("started", "stale", "seen"))

    @hatchet.task(retries=1)
    def retried(input: EmptyModel, ctx: Context) -> None:
        if ctx.retry_count == 0:
            raise ConnectionError("the first attempt fails")
        started.write_text(str(ctx.task_run_id))
        while not stale_sent.exists():
            time.sleep(0.02)
        seen.write_text(f"after stale note: {ctx.wait_cancelled(1.5)}")
        seen.write_text(f"after cancel: {ctx.wait_cancelled(20)}")

    start_worker(retried)
    ref = retried.run_no_wait()
    task_run_id = wait_until(lambda: started.exists() and started.read_text(), message="retry")
    db.execute("SELECT pg_notify('hatchnb_cancel', %s)", (f"{task_run_id}:1",))
    stale_sent.touch()
    wait_until(seen.exists, message="the stale note's window")
    assert seen.read_text() == "after stale note: False"
    hatchet.runs.cancel(ref.workflow_run_id)  # its note names attempt 2
    wait_until(lambda: seen.read_text() == "after cancel: True", message="the cancel")
