"""Crons, one-off schedules, events with wildcards and filters."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import (
    BulkPushEventWithMetadata,
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    EmptyModel,
    HatchnbError,
)
from hatchnb.expressions import InvalidExpression
from hatchnb.features.cron import InvalidCron
from hatchnb.store import queries
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def _runs(db: Any, workflow: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.execute(
        "SELECT id, status, triggered_by, input, additional_metadata FROM hatchnb.workflow_runs "
        "WHERE workflow_name = %s ORDER BY created_at",
        (workflow,),
    ).fetchall()
    return rows


def test_cron_tick_fires_exactly_once_with_two_engines(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task()
    def tick(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"n": input.model_extra["n"]}

    cron = tick.create_cron(
        "every-minute", "* * * * *", input={"n": 7}, additional_metadata={"src": "cron"}
    )
    assert cron.next_fire_at > datetime.now(UTC)
    start_worker(tick, name="w1")
    start_worker(tick, name="w2")
    for fired in range(1, 4):
        db.execute("UPDATE hatchnb.crons SET next_fire_at = now() - interval '1 second'")
        wait_until(
            lambda: db.execute(
                "SELECT next_fire_at > now() AS later FROM hatchnb.crons"
            ).fetchone()["later"],
            message="the engine to fire the tick",
        )
        wait_until(lambda n=fired: len(_runs(db, "tick")) == n, message=f"{fired} run(s)")  # type: ignore[misc]
    runs = _runs(db, "tick")
    assert [r["triggered_by"] for r in runs] == ["cron:every-minute"] * 3
    assert all(r["input"] == {"n": 7} for r in runs)
    wait_until(lambda: all(r["status"] == "SUCCEEDED" for r in _runs(db, "tick")))


def test_missed_ticks_fire_once_then_resume(hatchet: Any, start_worker: Any, db: Any) -> None:
    @hatchet.task()
    def nightly(input: EmptyModel, ctx: Context) -> None:
        return None

    nightly.create_cron("nightly", "0 3 * * *")
    db.execute("UPDATE hatchnb.crons SET next_fire_at = now() - interval '3 days'")
    start_worker(nightly)
    wait_until(lambda: len(_runs(db, "nightly")) == 1, message="one catch-up run")
    row = db.execute("SELECT next_fire_at FROM hatchnb.crons").fetchone()
    assert row["next_fire_at"] > datetime.now(UTC)
    assert row["next_fire_at"].astimezone(UTC).hour == 3
    assert len(_runs(db, "nightly")) == 1


def test_declared_crons_follow_the_newest_registration(hatchet: Any) -> None:
    wf = hatchet.workflow(name="report", on_crons=["0 6 * * *", "30 18 * * 1-5"])

    @wf.task()
    def build(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(wf)
    assert sorted(c.expression for c in hatchet.cron.list(workflow_name="report")) == [
        "0 6 * * *",
        "30 18 * * 1-5",
    ]
    wf2 = hatchet.workflow(name="report", on_crons=["0 7 * * *"])
    wf2.task(name="build")(build.fn)
    hatchet.register(wf2)
    assert [c.expression for c in hatchet.cron.list(workflow_name="report")] == ["0 7 * * *"]
    cron = hatchet.cron.list(workflow_name="report")[0]
    assert hatchet.cron.get(cron.id).name == "0 7 * * *"
    hatchet.cron.delete(cron.id)
    assert hatchet.cron.list(workflow_name="report") == []


def test_backfill_starts_each_missed_tick_once(hatchet: Any, start_worker: Any, db: Any) -> None:
    @hatchet.task()
    def hourly(input: EmptyModel, ctx: Context) -> str:
        return str(ctx.additional_metadata["hatchnb__cron_tick"])

    cron = hourly.create_cron("hourly", "0 * * * *", additional_metadata={"team": "data"})
    # the engine down since three hours ago: its one catch-up run covers the oldest tick
    now = datetime.now(UTC)
    oldest = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    db.execute("UPDATE hatchnb.crons SET next_fire_at = %s", (oldest,))
    start_worker(hourly)
    wait_until(lambda: len(_runs(db, "hourly")) == 1, message="the catch-up run")
    started = hatchet.cron.backfill(cron.metadata.id, now - timedelta(hours=3), now)
    assert len(started) == 2  # three ticks in range, the oldest already ran
    assert hatchet.cron.backfill(cron, now - timedelta(hours=3), now) == []  # no double runs
    ticks = sorted(hatchet.runs.get_run_ref(r).result(timeout=20)["hourly"] for r in started)
    expected = [(oldest + timedelta(hours=h)).isoformat() for h in (1, 2)]
    assert ticks == expected
    runs = _runs(db, "hourly")
    assert all(r["additional_metadata"]["team"] == "data" for r in runs)
    assert (
        sorted(r["triggered_by"] for r in runs) == ["cron:hourly"] + ["cron:hourly (backfill)"] * 2
    )
    with pytest.raises(HatchnbError, match="must be aware datetimes"):
        hatchet.cron.backfill(cron, datetime(2026, 1, 1), now)
    with pytest.raises(HatchnbError, match="more than 1000 ticks"):
        hatchet.cron.backfill(cron, now - timedelta(days=60), now)
    with pytest.raises(HatchnbError, match="in the future"):
        hatchet.cron.backfill(cron, now, now + timedelta(hours=1))


def test_a_paused_cron_starts_no_run_and_resumes_at_its_next_tick(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task()
    def minutely(input: EmptyModel, ctx: Context) -> None:
        return None

    cron = minutely.create_cron("every-minute", "* * * * *")
    other = minutely.create_cron("also-every-minute", "* * * * *")
    start_worker(minutely)
    assert hatchet.cron.pause(cron.metadata.id).paused
    db.execute("UPDATE hatchnb.crons SET next_fire_at = now() - interval '1 second'")
    wait_until(lambda: len(_runs(db, "minutely")) == 1, message="the other cron's run")
    time.sleep(0.5)  # a few engine rounds
    assert [r["triggered_by"] for r in _runs(db, "minutely")] == ["cron:also-every-minute"]
    assert hatchet.cron.get(cron.metadata.id).paused
    resumed = hatchet.cron.unpause(cron)
    assert not resumed.paused and resumed.next_fire_at > datetime.now(UTC)
    assert not hatchet.cron.get(other.metadata.id).paused


def test_cron_in_a_time_zone(hatchet: Any) -> None:
    @hatchet.task()
    def paris(input: EmptyModel, ctx: Context) -> None:
        return None

    cron = paris.create_cron("paris-9am", "0 9 * * *", timezone="Europe/Paris")
    local = cron.next_fire_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute) == (9, 0)


@pytest.mark.parametrize("expression", ["61 * * * *", "every day", "* * *"])
def test_invalid_cron_names_the_fix(hatchet: Any, expression: str) -> None:
    with pytest.raises(InvalidCron, match="minute hour day-of-month"):
        hatchet.workflow(name="bad", on_crons=[expression])

    @hatchet.task()
    def ok(input: EmptyModel, ctx: Context) -> None:
        return None

    with pytest.raises(InvalidCron):
        ok.create_cron("x", expression)


def test_one_off_schedule_runs_at_its_time_and_can_be_deleted(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task()
    def later(input: EmptyModel, ctx: Context) -> int:
        return int(input.model_extra["n"])

    soon = datetime.now(UTC) + timedelta(seconds=1)
    kept = later.schedule(soon, {"n": 1})
    dropped = later.schedule(soon, {"n": 2})
    hatchet.scheduled.delete(dropped.id)
    with pytest.raises(ValueError, match="no time zone"):
        later.schedule(datetime.now() + timedelta(seconds=1), {"n": 3})
    start_worker(later)
    run_id = wait_until(lambda: hatchet.scheduled.get(kept.id).workflow_run_id)
    assert hatchet.runs.get_run_ref(run_id).result(timeout=10) == {"later": 1}
    created = hatchet.runs.get(run_id).created_at
    assert created >= soon - timedelta(milliseconds=50)
    assert [s.id for s in hatchet.scheduled.list(workflow_name="later")] == [kept.id]


def _per_tenant(hatchet: Any) -> Any:
    """A workflow whose concurrency key needs ``input.tenant``."""
    wf = hatchet.workflow(
        name="per-tenant",
        concurrency=ConcurrencyExpression(
            expression="input.tenant",
            max_runs=1,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        ),
    )

    @wf.task()
    def work(input: EmptyModel, ctx: Context) -> None:
        return None

    return wf


def _orphaned(db: Any, trigger: Any, table: str) -> Any:
    """A cron or schedule of a workflow that is not registered: the API refuses to create
    one, so this is what an older hatchnb (or a hand-written row) leaves behind."""
    db.execute(
        f"UPDATE hatchnb.{table} SET workflow_name = 'never-registered' WHERE id = %s",
        (trigger.id,),
    )
    return trigger


def test_a_cron_that_cannot_start_its_run_shows_why_and_blocks_no_other(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task()
    def heartbeat(input: EmptyModel, ctx: Context) -> None:
        return None

    per_tenant = _per_tenant(hatchet)
    bad = per_tenant.create_cron("no-tenant", "* * * * *", input={"user": "u1"})
    orphan = _orphaned(db, heartbeat.create_cron("orphan", "* * * * *"), "crons")
    good = heartbeat.create_cron("every-minute", "* * * * *")
    start_worker(heartbeat, per_tenant)
    for fired in range(1, 4):
        # the failing crons are due first, so before the fix they blocked the good one
        db.execute(
            "UPDATE hatchnb.crons SET next_fire_at = now() - CASE WHEN name = 'every-minute' "
            "THEN interval '1 second' ELSE interval '1 minute' END"
        )
        wait_until(
            lambda: db.execute(
                "SELECT bool_and(next_fire_at > now()) AS later FROM hatchnb.crons"
            ).fetchone()["later"],
            message="the engine to move every cron to its next tick",
        )
        wait_until(lambda n=fired: len(_runs(db, "heartbeat")) == n, message=f"{fired} run(s)")  # type: ignore[misc]
    assert _runs(db, "per-tenant") == []
    error = hatchet.cron.get(bad.id).last_error
    assert error is not None
    assert "cron 'no-tenant' of workflow 'per-tenant' could not start a run" in error
    assert "has(input.tenant)" in error  # the key expression's own advice
    assert "fires again at its next tick" in error
    listed = {c.name: c.last_error for c in hatchet.cron.list()}
    assert listed["no-tenant"] == error
    assert "workflow 'never-registered' is not registered" in (listed["orphan"] or "")
    assert listed["every-minute"] is None and hatchet.cron.get(good.id).last_error is None
    assert hatchet.cron.get(orphan.id).next_fire_at > datetime.now(UTC)

    # the engine round is not stuck: a one-off schedule still starts
    ref = heartbeat.schedule(datetime.now(UTC), {})
    wait_until(lambda: hatchet.scheduled.get(ref.id).workflow_run_id, message="the schedule")

    # fixed (same name: updated in place), the cron starts its run and the error is cleared
    per_tenant.create_cron("no-tenant", "* * * * *", input={"tenant": "t1"})
    db.execute("UPDATE hatchnb.crons SET next_fire_at = now() WHERE name = 'no-tenant'")
    wait_until(lambda: len(_runs(db, "per-tenant")) == 1, message="the fixed cron's run")
    wait_until(lambda: hatchet.cron.get(bad.id).last_error is None, message="the error cleared")


def test_a_schedule_that_cannot_start_its_run_is_marked_failed_and_blocks_no_other(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task()
    def later(input: EmptyModel, ctx: Context) -> None:
        return None

    per_tenant = _per_tenant(hatchet)
    now = datetime.now(UTC)
    bad = per_tenant.schedule(now - timedelta(minutes=1), {"user": "u1"})
    orphan = _orphaned(db, later.schedule(now - timedelta(minutes=1), {}), "scheduled_runs")
    good = later.schedule(now, {})
    start_worker(later, per_tenant)
    run_id = wait_until(lambda: hatchet.scheduled.get(good.id).workflow_run_id)
    assert hatchet.runs.get_run_ref(run_id).result(timeout=10) == {"later": None}
    failed = wait_until(lambda: hatchet.scheduled.get(bad.id).error, message="the failure")
    assert "scheduled run of workflow 'per-tenant' could not start" in failed
    assert "has(input.tenant)" in failed
    assert hatchet.scheduled.get(bad.id).workflow_run_id is None
    orphaned = wait_until(lambda: hatchet.scheduled.get(orphan.id).error)
    assert "workflow 'never-registered' is not registered" in orphaned
    assert _runs(db, "per-tenant") == []
    # a failed schedule is not due any more: the engine does not retry it every round
    assert db.execute(queries.get("anything_due")).fetchone()["due"] is False
    hatchet.scheduled.delete(bad.id)
    assert [s.id for s in hatchet.scheduled.list(workflow_name="per-tenant")] == []
    # once its workflow is registered, trigger_now tries the failed schedule again
    registered = hatchet.workflow(name="never-registered")
    registered.task()(later.fn)
    hatchet.register(registered)
    hatchet.scheduled.trigger_now(orphan.id)
    wait_until(lambda: hatchet.scheduled.get(orphan.id).workflow_run_id, message="the retry")
    assert hatchet.scheduled.get(orphan.id).error is None


def test_events_trigger_matching_workflows_with_wildcards(
    hatchet: Any, start_worker: Any, db: Any
) -> None:
    @hatchet.task(on_events=["user:*"])
    def on_user(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"email": input.model_extra["email"], "by_event": ctx.was_triggered_by_event}

    @hatchet.task(on_events=["order:paid"])
    def on_order(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(on_user, on_order)
    event = hatchet.event.push(
        "user:created", {"email": "a@b.c"}, additional_metadata={"source": "signup"}
    )
    assert len(event.run_ids) == 1
    result = hatchet.runs.get_run_ref(event.run_ids[0]).result(timeout=10)
    assert result == {"on_user": {"email": "a@b.c", "by_event": True}}
    assert hatchet.event.push("order:refunded", {}).run_ids == []
    assert hatchet.event.push("user_created", {}).run_ids == []  # '_' is not a wildcard
    pushed = hatchet.event.bulk_push(
        [
            BulkPushEventWithMetadata(key="user:deleted", payload={"email": "x@y.z"}),
            BulkPushEventWithMetadata(key="order:paid", payload={}),
        ]
    )
    assert [len(e.run_ids) for e in pushed] == [1, 1]
    assert hatchet.event.get(event.event_id).run_ids == event.run_ids
    assert hatchet.runs.get(event.run_ids[0]).additional_metadata == {
        "source": "signup",
        "hatchet__event_id": event.event_id,  # as in Hatchet
        "hatchet__event_key": "user:created",
    }


def test_filters_admit_events_and_hand_over_their_payload(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(on_events=["invoice:*"])
    def bill(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"amount": input.model_extra["amount"], "filter": ctx.filter_payload}

    hatchet.register(bill)
    hatchet.filters.create(bill, "input.amount > 100", scope="tenant-a", payload={"tier": "big"})
    start_worker(bill)
    small = hatchet.event.push("invoice:new", {"amount": 50}, scope="tenant-a")
    big = hatchet.event.push("invoice:new", {"amount": 500}, scope="tenant-a")
    # as in Hatchet: once a workflow has filters, an event no filter's scope names is dropped
    other = hatchet.event.push("invoice:new", {"amount": 500}, scope="tenant-b")
    unscoped = hatchet.event.push("invoice:new", {"amount": 500})
    assert small.run_ids == [] and len(big.run_ids) == 1
    assert other.run_ids == [] and unscoped.run_ids == []
    out = hatchet.runs.get_run_ref(big.run_ids[0]).result(timeout=10)
    assert out == {"bill": {"amount": 500, "filter": {"tier": "big"}}}
    assert [f.expression for f in hatchet.filters.list(workflow_ids=[bill])] == [
        "input.amount > 100"
    ]


def test_invalid_filter_expression_is_refused(hatchet: Any) -> None:
    with pytest.raises(InvalidExpression, match="invalid CEL expression"):
        hatchet.filters.create("any", "input.amount >", scope="s")


def test_stream_chunks_reach_a_subscriber_in_order(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    async def talk(input: EmptyModel, ctx: Context) -> None:
        for word in ("one", "two", "three"):
            ctx.put_stream(word)
            await asyncio.sleep(0.05)

    @hatchet.task()
    def talk_sync(input: EmptyModel, ctx: Context) -> None:
        for word in ("a", "b"):
            ctx.put_stream(word.encode())

    start_worker(talk, talk_sync)

    async def read(ref: Any) -> list[str]:
        return [chunk async for chunk in hatchet.runs.subscribe_to_stream(ref.workflow_run_id)]

    assert asyncio.run(read(talk.run_no_wait())) == ["one", "two", "three"]
    assert asyncio.run(read(talk_sync.run_no_wait())) == ["a", "b"]
