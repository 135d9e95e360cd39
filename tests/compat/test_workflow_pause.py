"""hatchet_sdk's workflow pause (written from its documented API): a paused workflow's runs
stay queued until it is unpaused or its queue_ttl passes; its crons and schedules queue
their runs or drop them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, HatchnbError, RunStatus
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]


@pytest.fixture
def pausable(hatchet: Any, start_worker: Any) -> Any:
    @hatchet.task()
    def pausable(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"result": "hello"}

    start_worker(pausable)
    return pausable


def _status(hatchet: Any, ref: Any) -> RunStatus:
    status: RunStatus = hatchet.runs.get_status(ref.workflow_run_id)
    return status


def test_runs_wait_while_paused_and_run_once_unpaused(hatchet: Any, pausable: Any) -> None:
    summary = pausable.pause(queue_ttl=timedelta(minutes=10))
    assert summary.is_paused and hatchet.workflows.get(pausable.id).is_paused
    ref = pausable.run_no_wait()
    deadline = time.monotonic() + 1.5  # workers poll faster than this in tests
    while time.monotonic() < deadline:
        assert _status(hatchet, ref) == RunStatus.QUEUED
        time.sleep(0.2)
    assert not pausable.unpause().is_paused
    assert ref.result(timeout=20) == {"result": "hello"}
    assert [r.metadata.id for r in pausable.list_runs()] == [ref.workflow_run_id]


def test_runs_still_queued_after_the_ttl_are_cancelled(hatchet: Any, pausable: Any) -> None:
    hatchet.workflows.pause(pausable.id, timedelta(seconds=1))
    ref = pausable.run_no_wait()
    wait_until(lambda: _status(hatchet, ref) == RunStatus.CANCELLED, message="cancelled run")
    hatchet.workflows.unpause(pausable.name)


def test_paused_schedules_and_crons_drop_or_queue(hatchet: Any, pausable: Any) -> None:
    pausable.pause(
        queue_ttl=timedelta(minutes=1),
        paused_workflow_cron_run_queue_behavior="DROP",
        paused_workflow_scheduled_run_queue_behavior="DROP",
    )
    dropped = pausable.schedule(datetime.now(UTC) + timedelta(seconds=0.5))
    wait_until(lambda: hatchet.scheduled.get(dropped.id).error, message="dropped schedule")
    assert "paused" in hatchet.scheduled.get(dropped.id).error
    cron = pausable.create_cron("every-second", "* * * * * *")
    wait_until(lambda: hatchet.cron.get(cron.metadata.id).last_fired_at, message="a tick")
    time.sleep(1.2)  # and another
    assert hatchet.cron.get(cron.metadata.id).last_error is None
    assert pausable.list_runs() == []
    hatchet.cron.delete(cron.metadata.id)

    # QUEUE: the schedule starts a run, which waits for the unpause
    pausable.pause(queue_ttl=timedelta(minutes=1))
    queued = pausable.schedule(datetime.now(UTC) + timedelta(seconds=0.5))
    wait_until(lambda: hatchet.scheduled.get(queued.id).workflow_run_id, message="queued run")
    run_id = hatchet.scheduled.get(queued.id).workflow_run_id
    assert hatchet.runs.get_status(run_id) == RunStatus.QUEUED
    pausable.unpause()
    assert hatchet.runs.get_run_ref(run_id).result(timeout=20) == {"pausable": {"result": "hello"}}


def test_bad_pause_settings_are_refused(hatchet: Any, pausable: Any) -> None:
    with pytest.raises(HatchnbError, match="queue_ttl=0: pass a positive timedelta"):
        pausable.pause(queue_ttl=0)
    with pytest.raises(HatchnbError, match="pass 'DROP' or 'QUEUE'"):
        pausable.pause(timedelta(seconds=5), paused_workflow_cron_run_queue_behavior="KEEP")
    with pytest.raises(HatchnbError, match="no registered workflow"):
        hatchet.workflows.pause("nope", timedelta(seconds=5))


def test_claimable_workflows_leaves_out_the_paused_ones(hatchet: Any, db: Any) -> None:
    @hatchet.task()
    def other(input: EmptyModel, ctx: Context) -> None:
        return None

    @hatchet.task()
    def held(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(other)
    hatchet.register(held)

    def claimable(workflows: list[str] | None) -> list[str] | None:
        sql = "SELECT hatchnb.claimable_workflows(%s::text[]) AS w"
        found: list[str] | None = db.execute(sql, [workflows]).fetchone()["w"]
        return found if found is None else sorted(found)

    assert claimable(None) is None  # nothing paused: every workflow, unlisted
    assert claimable(["held", "other"]) == ["held", "other"]
    held.pause(queue_ttl=timedelta(minutes=10))
    assert claimable(["held", "other"]) == ["other"]
    assert "held" not in (claimable(None) or []) and "other" in (claimable(None) or [])
