"""The metrics page's charts in Chromium: the throughput line drops to zero over minutes
without attempts (no line drawn across the gap) and the queue-depth chart opens with the
last hour's history."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb.dashboard.pages.metrics import per_bucket

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SOURCE_JS = """(name) => { const d = window.Bokeh && Bokeh.documents[0];
  const m = d && d.get_model_by_name(name); return m ? m.data : null; }"""


def _columns(page: Any, name: str) -> dict[str, list[Any]]:
    page.wait_for_function(f"() => ({SOURCE_JS})('{name}') !== null", timeout=15_000)
    data = page.evaluate(SOURCE_JS, name)
    return {key: list(values) for key, values in data.items()}


def _minute(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(second=0, microsecond=0)


def test_throughput_is_zero_filled_and_queue_depth_has_history(
    page: Any, seeded: dict[str, Any], db: Any
) -> None:
    # the seeded attempts all finished now: move the ok run's back to a waiting-then-running
    # attempt 20 minutes ago (queued at -20, started at -15, finished at -14)
    db.execute(
        "UPDATE hatchnb.task_attempts SET queued_at = now() - interval '20 minutes', "
        "started_at = now() - interval '15 minutes', finished_at = now() - interval '14 minutes' "
        "WHERE run_id = %s",
        (seeded["ok"],),
    )
    p = page.open("?page=metrics")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    throughput = _columns(p, "throughput")
    minutes = [_minute(t) for t in throughput["t"]]
    assert len(minutes) >= 61 and minutes == sorted(minutes)
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(minutes))
    ok_by_minute = dict(zip(minutes, throughput["succeeded"], strict=True))
    assert ok_by_minute[now - timedelta(minutes=14)] >= 1
    # every minute between the old attempts and today's has its zero
    between = [ok_by_minute[now - timedelta(minutes=m)] for m in range(3, 13)]
    assert between == [0] * 10
    depth = _columns(p, "queue_depth")
    assert len(depth["t"]) >= 60, "the chart should open with the last hour, not one point"
    waited = {_minute(t): n for t, n in zip(depth["t"], depth["depth"], strict=False)}
    assert waited[now - timedelta(minutes=17)] >= 1  # queued at -20, started at -15
    assert waited[now - timedelta(minutes=30)] == 0
    page.shot("metrics-charts")
    assert page.errors == []


def test_per_bucket_fills_every_minute_of_the_window() -> None:
    now = datetime(2026, 1, 1, 12, 30, 40, tzinfo=UTC)
    rows = [
        {"bucket": datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "outcome": "SUCCEEDED", "total": 3},
        {"bucket": datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "outcome": "FAILED", "total": 1},
        {"bucket": datetime(2026, 1, 1, 12, 30, tzinfo=UTC), "outcome": "SUCCEEDED", "total": 2},
        {"bucket": datetime(2026, 1, 1, 12, 30, tzinfo=UTC), "outcome": "QUEUED", "total": 5},
    ]
    data = per_bucket(rows, now)
    assert data["t"][0] == datetime(2026, 1, 1, 11, 30)
    assert data["t"][-1] == datetime(2026, 1, 1, 12, 30)
    assert len(data["t"]) == 61
    assert data["succeeded"][30] == 3 and data["failed"][30] == 1
    assert data["succeeded"][-1] == 2 and data["failed"][-1] == 0
    assert sum(data["succeeded"]) == 5 and sum(data["failed"]) == 1


def test_queue_depth_history_counts_task_runs_still_waiting(hatchet: Any, db: Any) -> None:
    idle = hatchet.workflow(name="no_worker_serves_this")

    @idle.task()
    def wait(input: dict[str, Any], ctx: Any) -> None:
        return None

    refs = [idle.run_no_wait({}) for _ in range(3)]
    # queued 10 minutes ago and still waiting: no worker runs this workflow
    db.execute(
        "UPDATE hatchnb.task_runs SET queued_at = now() - interval '10 minutes' "
        "WHERE run_id = ANY(%s::uuid[])",
        ([r.workflow_run_id for r in refs],),
    )
    history = dict(hatchet.metrics.queue_depth_history(timedelta(hours=1)))
    now = datetime.now(UTC)
    moments = sorted(history)
    assert len(moments) in (60, 61)
    assert all(m <= now for m in moments)
    waiting = [history[m] for m in moments if m >= now - timedelta(minutes=9)]
    earlier = [history[m] for m in moments if m <= now - timedelta(minutes=11)]
    assert waiting and set(waiting) == {3}
    assert earlier and set(earlier) == {0}
