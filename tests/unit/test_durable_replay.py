"""Durable replay without a database: positions in the event log, memoized steps, sleeps
and evictions, event waits. The client's stores are fakes that record the named queries a
durable context runs and answer ``events_since`` from a list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from hatchnb import errors, expressions
from hatchnb.conditions import SleepCondition
from hatchnb.runtime import durable
from hatchnb.runtime.durable import DurableContext, Evicted, NonDeterminismError
from hatchnb.store.durable import LogEntry, SeenEvent
from hatchnb.store.workers import ClaimedTask
from hatchnb.types import ClientConfig


class FakeStore:
    """Named queries as calls; ``events`` answers ``events_since``."""

    def __init__(self, events: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.events = events or []

    def execute(self, name: str, **params: Any) -> None:
        self.calls.append((name, params))


class FakeAsyncStore(FakeStore):
    async def execute(self, name: str, **params: Any) -> None:  # type: ignore[override]
        self.calls.append((name, params))

    async def fetch_all(self, name: str, **params: Any) -> list[dict[str, Any]]:
        self.calls.append((name, params))
        return [e for e in self.events if e["key"] == params["key"]]


def _claim() -> ClaimedTask:
    return ClaimedTask(
        id=42,
        run_id="01900000-0000-7000-8000-000000000001",
        workflow_name="wf",
        task_name="dur",
        kind="task",
        version_id=1,
        attempt=1,
        retry_count=0,
        priority=1,
        input={},
        additional_metadata={},
        parent_task_run_id=None,
        filter_payload=None,
        event_id=None,
        siblings={},
    )


def _context(
    log: list[LogEntry] | None = None, evict_after: float = 60.0, events: Any = None
) -> tuple[DurableContext, FakeStore, FakeAsyncStore]:
    sync, astore = FakeStore(), FakeAsyncStore(events)

    async def get_astore() -> FakeAsyncStore:
        return astore

    client = SimpleNamespace(
        _store=sync,
        _astore=get_astore,
        _settings=SimpleNamespace(poll_interval=0.01),
        config=ClientConfig(),
    )
    worker = SimpleNamespace(worker_id="w1", name="worker")
    ctx = DurableContext(_claim(), worker, client, log or [], evict_after)  # type: ignore[arg-type]
    return ctx, sync, astore


def _recorded(store: FakeStore) -> list[tuple[int, str, str]]:
    return [
        (p["seq"], p["kind"], p["request"]) for name, p in store.calls if name == "durable_record"
    ]


# ---- steps and positions ----------------------------------------------------------------


def test_a_first_step_runs_and_is_recorded_at_position_one() -> None:
    ctx, store, _ = _context()
    assert ctx.step("fetch", lambda n: n * 2, 21) == 42
    assert _recorded(store) == [(1, "step", "fetch")]
    [(_, params)] = store.calls
    assert params["task_run_id"] == 42 and params["done"] is True


def test_a_replayed_step_returns_its_result_without_running() -> None:
    ctx, store, _ = _context([LogEntry(seq=1, kind="step", request="fetch", result=7, done=True)])

    def explode() -> int:
        raise AssertionError("a recorded step must not run again")

    assert ctx.step("fetch", explode) == 7
    assert store.calls == []


def test_a_step_that_never_finished_runs_again_at_its_position() -> None:
    ctx, store, _ = _context([LogEntry(seq=1, kind="step", request="fetch", done=False)])
    assert ctx.step("fetch", lambda: "again") == "again"
    assert _recorded(store) == [(1, "step", "fetch")]


def test_positions_count_every_durable_call() -> None:
    ctx, store, _ = _context()
    ctx.step("a", lambda: 1)
    ctx.step("b", lambda: 2)
    ctx.step("a", lambda: 3)
    assert [seq for seq, _, _ in _recorded(store)] == [1, 2, 3]


def test_a_step_result_is_recorded_as_json() -> None:
    ctx, store, _ = _context()
    assert ctx.step("pair", lambda: (1, 2)) == (1, 2)
    [(_, params)] = store.calls
    assert params["result"].obj == [1, 2]


def test_a_step_returning_non_json_names_the_step() -> None:
    ctx, _, _ = _context()
    with pytest.raises(
        errors.SerializationError, match="step 'bad' returned set, which is not JSON"
    ):
        ctx.step("bad", lambda: {1})


def test_another_step_at_a_recorded_position_is_non_determinism() -> None:
    ctx, _, _ = _context([LogEntry(seq=1, kind="step", request="fetch", result=1, done=True)])
    with pytest.raises(
        NonDeterminismError,
        match=r"position 1: the log recorded step 'fetch'.*"
        r"asks for step 'load'",
    ):
        ctx.step("load", lambda: 1)


def test_another_kind_at_a_recorded_position_is_non_determinism() -> None:
    wake = datetime.now(UTC)
    ctx, _, _ = _context(
        [LogEntry(seq=1, kind="sleep", request="sleep_for(0:00:05)", wake_at=wake)]
    )
    with pytest.raises(NonDeterminismError, match="same calls in the same order"):
        ctx.step("fetch", lambda: 1)


def test_async_steps_await_coroutines_once() -> None:
    ctx, _, astore = _context()
    calls: list[int] = []

    async def fetch() -> dict[str, int]:
        calls.append(1)
        return {"n": 1}

    assert asyncio.run(ctx.aio_step("fetch", fetch)) == {"n": 1}
    assert calls == [1]
    assert [(p["seq"], p["kind"]) for _, p in astore.calls] == [(1, "step")]


def test_now_is_stable_across_replays() -> None:
    then = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    log = [LogEntry(seq=1, kind="now", request="now", result=then.isoformat(), done=True)]
    ctx, _, astore = _context(log)
    assert asyncio.run(ctx.aio_now()) == then
    assert astore.calls == []


# ---- children ---------------------------------------------------------------------------


def test_children_without_a_key_are_keyed_by_order_and_logged() -> None:
    ctx, store, _ = _context()
    assert ctx._next_child_key("child") == "durable-child-1"
    assert ctx._next_child_key("child") == "durable-child-2"
    assert _recorded(store) == [(1, "child", "child"), (2, "child", "child")]


def test_a_replayed_child_spawn_is_not_logged_again() -> None:
    log = [LogEntry(seq=1, kind="child", request="child", result="durable-child-1", done=True)]
    ctx, store, _ = _context(log)
    assert ctx._next_child_key("child") == "durable-child-1"
    assert store.calls == []


# ---- sleeps and eviction ----------------------------------------------------------------


def test_a_long_sleep_evicts_the_task_until_its_wake_time() -> None:
    ctx, store, _ = _context(evict_after=1.0)
    before = datetime.now(UTC)
    with pytest.raises(Evicted) as evicted:
        ctx.sleep_for("1h")
    assert timedelta(minutes=59) < evicted.value.resume_at - before <= timedelta(hours=1, seconds=5)
    assert _recorded(store) == [(1, "sleep", "sleep_for(1:00:00)")]


def test_a_replayed_sleep_keeps_its_first_wake_time() -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    ctx, store, _ = _context(
        [LogEntry(seq=1, kind="sleep", request="sleep_for(1:00:00)", wake_at=past)]
    )
    ctx.sleep_for(timedelta(hours=1))  # over already: returns at once
    assert store.calls == []


def test_a_replayed_sleep_not_over_evicts_until_the_recorded_time() -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    log = [LogEntry(seq=1, kind="sleep", request="sleep_for(1:00:00)", wake_at=later)]
    ctx, _, _ = _context(log, evict_after=1.0)
    with pytest.raises(Evicted) as evicted:
        ctx.sleep_for(3600)
    assert evicted.value.resume_at == later


def test_sleep_until_is_its_own_request() -> None:
    when = datetime(2020, 1, 1, tzinfo=UTC)
    ctx, store, _ = _context()
    ctx.sleep_until(when)
    assert _recorded(store) == [(1, "sleep", f"sleep_until({when.isoformat()})")]


def test_a_labelled_sleep_is_logged_under_its_label() -> None:
    when = datetime(2020, 1, 1, tzinfo=UTC)
    ctx, store, _ = _context()
    ctx.sleep_until(wake_at=when, label="nap")
    ctx.sleep_for(0, label="second nap")
    assert _recorded(store) == [(1, "sleep", "nap"), (2, "sleep", "second nap")]
    assert ctx.wait_index == 2 and ctx.invocation_count == 1


def test_a_replay_returns_concurrent_waits_in_the_order_they_first_woke_the_task() -> None:
    now = datetime.now(UTC)
    log = [  # branch a's sleep is first in the log but woke the task after branch b's
        LogEntry(seq=1, kind="sleep", request="a", wake_at=now - timedelta(seconds=1)),
        LogEntry(seq=2, kind="sleep", request="b", wake_at=now - timedelta(seconds=2)),
    ]
    ctx, _, _ = _context(log)
    order: list[str] = []

    async def branch(name: str) -> None:
        await ctx.aio_sleep_for(60, label=name)
        order.append(name)

    async def both() -> None:
        await asyncio.gather(branch("a"), branch("b"))

    asyncio.run(both())
    assert order == ["b", "a"]


def test_eviction_is_not_an_exception_tasks_catch() -> None:
    assert not issubclass(Evicted, Exception)
    assert str(Evicted(datetime(2026, 1, 1, tzinfo=UTC))) == "2026-01-01T00:00:00+00:00"


# ---- event waits ------------------------------------------------------------------------


def test_a_bad_event_expression_is_refused_before_taking_a_position() -> None:
    ctx, _, astore = _context()
    with pytest.raises(expressions.InvalidExpression):
        asyncio.run(ctx.aio_wait_for_event("k", "payload.("))
    assert astore.calls == [] and ctx._seq == 0


def test_a_matching_event_completes_the_wait() -> None:
    events = [
        {"key": "order", "payload": {"id": 1}, "additional_metadata": {}},
        {"key": "order", "payload": {"id": 2}, "additional_metadata": {}},
    ]
    ctx, _, astore = _context(events=events)
    assert asyncio.run(ctx.aio_wait_for_event("order", "payload.id == 2")) == {"id": 2}
    names = [name for name, _ in astore.calls]
    assert names == ["durable_record", "events_since", "durable_complete"]
    assert astore.calls[-1][1]["seq"] == 1 and astore.calls[-1][1]["result"].obj == {"id": 2}


def test_no_matching_event_evicts_the_wait() -> None:
    ctx, _, _ = _context(evict_after=0.0)
    with pytest.raises(Evicted):
        asyncio.run(ctx.aio_wait_for_event("order"))


def test_a_completed_wait_replays_its_result() -> None:
    log = [LogEntry(seq=1, kind="event", request="order if true", result={"id": 9}, done=True)]
    ctx, _, astore = _context(log)
    assert asyncio.run(ctx.aio_wait_for_event("order")) == {"id": 9}
    assert astore.calls == []


def test_events_match_when_the_expression_is_exactly_true() -> None:
    event = SeenEvent(payload={"n": 3, "name": "x"}, additional_metadata={"team": "ml"})
    assert durable._matches(None, event)
    assert durable._matches("payload.n > 2 && additional_metadata.team == 'ml'", event)
    assert not durable._matches("payload.name", event)  # truthy is not true
    assert not durable._matches("input.n < 2", event)


def test_a_wait_for_sleep_holds_once_its_time_passed() -> None:
    since = datetime.now(UTC) - timedelta(seconds=10)
    sleep = SleepCondition(timedelta(seconds=5)).spec()
    wait = durable._DurableWait(None, since, [sleep])  # type: ignore[arg-type]
    assert asyncio.run(wait.holds())
    assert wait.found == {"sleep:5s": {"seconds": 5}}


def test_a_wait_deadline_is_its_shortest_sleep() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    items = [{"or": [{"kind": "sleep", "seconds": 60}, {"kind": "sleep", "seconds": 30}]}]
    wait = durable._DurableWait(None, since, items)  # type: ignore[arg-type]
    assert wait.next_deadline() == since + timedelta(seconds=30)


def test_children_get_keys_from_their_spawn_index_and_a_rebound_index_is_non_determinism() -> None:
    ctx, _, _ = _context([])
    assert ctx._next_child_key("child-a") == "durable-child-1"
    assert ctx._next_child_key("child-b") == "durable-child-2"
    durable.workflow_spawn_indices[ctx._action_key] -= 1  # the next spawn takes index 1 again
    with pytest.raises(NonDeterminismError, match=r"non-determinism.*index 1 is bound to 'child-b"):
        ctx._next_child_key("child-a")
    durable.workflow_spawn_indices[ctx._action_key] = 0  # index 0: child-a's own binding
    assert ctx._next_child_key("child-a") == "durable-child-1"
    durable.workflow_spawn_indices.pop(ctx._action_key)
