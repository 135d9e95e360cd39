"""hatchet_sdk v1's bulk cancel/replay options and task events (written from its documented
API): ``BulkCancelReplayOpts(ids=...|filters=RunFilter(...))``, a replay counting as a
retry, and ``runs.get(id).task_events`` with ``V1TaskEventType``."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from hatchnb import (
    BulkCancelReplayOpts,
    Context,
    EmptyModel,
    RunFilter,
    V1TaskEventType,
    V1TaskStatus,
)

pytestmark = pytest.mark.integration


def _wait_for(hatchet: Any, run_ids: list[str], status: V1TaskStatus) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(hatchet.runs.get_status(r) == status for r in run_ids):
            return
        time.sleep(0.1)
    raise AssertionError(f"runs did not all reach {status}")


def test_replay_by_filter_counts_as_a_retry(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(retries=1)
    def flaky(input: EmptyModel, ctx: Context) -> dict[str, int]:
        if ctx.retry_count < 2:
            raise ValueError("not yet")
        return {"retry_count": ctx.retry_count}

    start_worker(flaky)
    since = datetime.now(UTC)
    tag = {"batch": uuid.uuid4().hex}
    refs = flaky.run_many(
        [flaky.create_bulk_run_item(additional_metadata=tag) for _ in range(3)],
        wait_for_result=False,
    )
    ids = [r.workflow_run_id for r in refs]
    _wait_for(hatchet, ids, V1TaskStatus.FAILED)

    opts = BulkCancelReplayOpts(
        filters=RunFilter(since=since, workflow_ids=[flaky.id], additional_metadata=tag)
    )
    hatchet.runs.bulk_replay(opts)
    assert [r.result() for r in refs] == [{"retry_count": 2}] * 3
    rows = hatchet.runs.list(additional_metadata=tag).rows
    assert {(r.retry_count, r.attempt) for r in rows} == {(2, 3)}

    events = hatchet.runs.get(ids[0]).task_events
    kinds = [e.event_type for e in events]
    assert kinds.count(V1TaskEventType.FAILED) == 2
    assert kinds.count(V1TaskEventType.RETRYING) == 1
    assert kinds[-1] == V1TaskEventType.FINISHED
    assert {e.task_id for e in events} == {hatchet.runs.get(ids[0]).tasks[0].metadata.id}


def test_bulk_cancel_by_ids(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def sleepy(input: EmptyModel, ctx: Context) -> None:
        time.sleep(30)

    start_worker(sleepy)
    refs = [sleepy.run_no_wait() for _ in range(2)]
    ids = [r.workflow_run_id for r in refs]
    hatchet.runs.bulk_cancel(BulkCancelReplayOpts(ids=ids))
    _wait_for(hatchet, ids, V1TaskStatus.CANCELLED)


def test_options_need_exactly_one_selection() -> None:
    with pytest.raises(ValueError, match="exactly one of ids= and filters="):
        BulkCancelReplayOpts()
    with pytest.raises(ValueError, match="exactly one"):
        BulkCancelReplayOpts(ids=["x"], filters=RunFilter(since=datetime.now(UTC)))
