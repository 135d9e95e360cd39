"""Debounce of runs started by name: events, ``runs.create``, crons and schedules fold a
burst with one key into one run; a cron backfill still starts one run per tick."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import Context, DebounceConfig, EmptyModel
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]

WINDOW = timedelta(seconds=0.6)


def _runs(db: Any, workflow: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.execute(
        "SELECT id, input, status FROM hatchnb.workflow_runs WHERE workflow_name = %s "
        "ORDER BY created_at",
        (workflow,),
    ).fetchall()
    return rows


def test_a_burst_of_events_with_one_key_starts_one_run(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task(
        on_events=["doc:saved"],
        debounce=DebounceConfig(key_expression="input.doc", window=WINDOW),
    )
    def index_doc(input: EmptyModel, ctx: Context) -> str:
        return str(input.model_extra["text"])

    hatchet.register(index_doc)
    started = time.monotonic()
    pushed = [hatchet.event.push("doc:saved", {"doc": "a", "text": t}) for t in ("x", "xy")]
    other = hatchet.event.push("doc:saved", {"doc": "b", "text": "hi"})
    pushed.append(hatchet.event.push("doc:saved", {"doc": "a", "text": "xyz"}))
    assert len({e.run_ids[0] for e in pushed}) == 1  # each push names the run it feeds
    assert other.run_ids[0] != pushed[0].run_ids[0]
    start_worker(index_doc)
    ref = hatchet.runs.get_run_ref(pushed[0].run_ids[0])
    assert ref.result(timeout=20) == {"index_doc": "xyz"}  # the last payload
    assert time.monotonic() - started >= WINDOW.total_seconds()
    assert len(_runs(db, "index_doc")) == 2


def test_runs_create_by_name_is_debounced(hatchet: Any, start_worker: Any, db: Any) -> None:
    @hatchet.task(debounce=DebounceConfig(key_expression="input.user", window=WINDOW))
    def notify(input: EmptyModel, ctx: Context) -> int:
        return int(input.model_extra["n"])

    hatchet.register(notify)
    runs = [hatchet.runs.create("notify", {"user": "ann", "n": n}) for n in range(4)]
    assert len({r.workflow_run_id for r in runs}) == 1
    start_worker(notify)
    assert hatchet.runs.get_run_ref(runs[0].workflow_run_id).result(timeout=20) == {"notify": 3}


def test_schedules_firing_together_fold_into_one_run(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task(debounce=DebounceConfig(key_expression="'all'", window=WINDOW))
    def digest(input: EmptyModel, ctx: Context) -> int:
        return int(input.model_extra["n"])

    at = datetime.now(UTC) + timedelta(seconds=1)
    for n in range(3):
        digest.schedule(at, {"n": n})
    start_worker(digest)
    wait_until(
        lambda: [r["status"] for r in _runs(db, "digest")] == ["SUCCEEDED"],
        timeout=20,
        message="one run for the three schedules",
    )


def test_a_cron_backfill_is_not_debounced(hatchet: Any, db: Any) -> None:
    @hatchet.task(debounce=DebounceConfig(key_expression="'all'", window=timedelta(hours=1)))
    def hourly(input: EmptyModel, ctx: Context) -> None:
        return None

    cron = hourly.create_cron("hourly-debounced", "0 * * * *")
    now = datetime.now(UTC)
    db.execute("UPDATE hatchnb.crons SET next_fire_at = %s", (now + timedelta(hours=1),))
    started = hatchet.cron.backfill(cron, now - timedelta(hours=3), now)
    assert len(started) == 3 and len(set(started)) == 3  # one run per missed tick
