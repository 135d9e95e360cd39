"""Durable tasks: ``DurableContext`` replays an append-only event log, so sleeps, event waits,
memoized steps and child runs completed before a crash or an eviction are not redone."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from hatchnb import errors, expressions, serialization, tracing
from hatchnb.conditions import event_counts, events_from
from hatchnb.runtime.context import Context, WorkerHandle
from hatchnb.store.durable import AsyncDurableRepo, DurableRepo, LogEntry, SeenEvent
from hatchnb.store.workers import ClaimedTask
from hatchnb.types import to_timedelta

if TYPE_CHECKING:
    from hatchnb.client import Hatchet


#: the running durable task's action key, and how many children each running durable task has
#: spawned so far (hatchet_sdk.runnables.contextvars' names: a child's index is its key)
ctx_action_key: ContextVar[str | None] = ContextVar("hatchnb_action_key", default=None)
workflow_spawn_indices: Counter[str] = Counter()
serialization.pickle_by_reference(ctx_action_key, __name__, "ctx_action_key")
serialization.pickle_by_reference(workflow_spawn_indices, __name__, "workflow_spawn_indices")
#: the log positions of the children this branch (asyncio task) of a durable task spawned
#: since its last wait for children
_spawned: ContextVar[tuple[Any, tuple[int, ...]]] = ContextVar(
    "hatchnb_durable_spawned", default=(None, ())
)


class NonDeterminismError(errors.HatchnbError):
    """A replayed durable task asked for something else than its log recorded at position
    ``node_id`` (hatchet_sdk's attributes)."""

    def __init__(
        self, message: str, *, node_id: int, task_external_id: str, invocation_count: int
    ) -> None:
        super().__init__(message)
        self.message = message
        self.node_id = node_id
        self.task_external_id = task_external_id
        self.invocation_count = invocation_count


class Evicted(BaseException):
    """Raised inside a durable task to give its slot back until ``resume_at``."""

    def __init__(self, resume_at: datetime) -> None:
        super().__init__(resume_at.isoformat())
        self.resume_at = resume_at


@dataclasses.dataclass(frozen=True)
class SleepResult:
    """What a durable sleep returns (hatchet_sdk's): how long it took from the first call,
    evictions and replays included."""

    duration: timedelta


def _slept(entry: LogEntry) -> SleepResult:
    return SleepResult(duration=max(_now() - (entry.since or _now()), timedelta(0)))


def _validated(payload: dict[str, Any], validator: type[Any] | None) -> Any:
    return payload if validator is None else TypeAdapter(validator).validate_python(payload)


def _now() -> datetime:
    return datetime.now(UTC)


#: how long an evicted event wait sleeps before re-checking on its own; an event push
#: wakes it at once
_EVENT_RECHECK = timedelta(hours=1)

#: how often a wait in the slot looks whether the worker wants its durable slot back
_CAPACITY_CHECK = 0.2

#: how long a replayed wait waits for its turn before going on anyway (its predecessor in
#: the first execution's order is not coming: the code took another path)
_TURN_TIMEOUT = 2.0


def capacity_eviction_candidates(
    contexts: Iterable[Any], durable_slots: int, min_wait: timedelta
) -> list[DurableContext]:
    """The waiting durable task runs to evict so the worker's ``durable_slots`` are not all
    held by waits (hatchet_sdk's capacity eviction): while as many runs wait as there are
    durable slots, the ones whose EvictionPolicy allows it and that have waited ``min_wait``
    go, lowest priority then longest waiting first, until fewer wait than there are slots."""
    waiting = [
        c
        for c in contexts
        if isinstance(c, DurableContext) and c.waiting_since is not None and not c.evict_requested
    ]
    now = _now()
    ranked = sorted(
        (
            c
            for c in waiting
            if c.capacity_priority is not None
            and c.waiting_since is not None
            and now - c.waiting_since >= min_wait
        ),
        key=lambda c: (c.capacity_priority, c.waiting_since),
    )
    excess = len(waiting) - durable_slots + 1
    return ranked[: max(excess, 0)] if durable_slots > 0 else []


class DurableContext(Context):
    """The context of ``@hatchet.durable_task`` functions."""

    def __init__(
        self,
        claim: ClaimedTask,
        worker: WorkerHandle,
        client: Hatchet,
        log: list[LogEntry],
        evict_after: float,
        capacity_priority: int | None = 0,
    ) -> None:
        super().__init__(claim, worker, client)
        self._action_key = f"{claim.id}/{claim.attempt}"
        workflow_spawn_indices.pop(self._action_key, None)  # each execution counts from 0
        self._branch = max((entry.branch for entry in log), default=1)
        self._log = {entry.seq: entry for entry in log if entry.seq > 0}
        now = _now()
        #: sleeps and children's results that woke the task before this execution, not yet
        #: replayed: a replay releases them in the order they woke it (see _take_turn)
        self._woken = {
            e.seq: e
            for e in self._log.values()
            if e.kind in ("sleep", "child") and e.wake_at is not None and e.wake_at <= now
        }
        self._seq = 0
        self._evict_after = evict_after
        #: its EvictionPolicy's priority when the worker may evict it to free a durable slot
        #: (lower first), None when it may not
        self.capacity_priority = capacity_priority
        #: since when it has been waiting (a sleep, an event, its children); None: not waiting
        self.waiting_since: datetime | None = None
        self._waits = 0
        #: set by the worker's capacity eviction: the current wait gives its slot back now
        self.evict_requested = False

    @property
    def invocation_count(self) -> int:
        """How many times this task run has been started (hatchnb counts attempts)."""
        return self.attempt_number

    @property
    def wait_index(self) -> int:
        """How many durable calls (sleeps, waits, spawns, steps) this execution made so far."""
        return self._seq

    @contextlib.contextmanager
    def _waiting(self) -> Iterator[None]:
        """Marks a wait (concurrent waits counted, so one ending does not end the others')."""
        self._waits += 1
        if self._waits == 1:
            self.waiting_since = _now()
            self.evict_requested = False  # a request that came as the last wait ended
        try:
            yield
        finally:
            self._waits -= 1
            if self._waits == 0:
                self.waiting_since = None

    def _must_leave(self, deadline: float) -> bool:
        """Whether a wait gives its slot back now: its eviction TTL passed or the worker
        needs the durable slot."""
        return self.evict_requested or time.monotonic() >= deadline

    async def _aio_hold(self, seconds: float) -> bool:
        """Wait up to ``seconds`` in the slot; True when evicted for capacity meanwhile."""
        deadline = time.monotonic() + seconds
        with self._waiting():
            while not self.evict_requested and (left := deadline - time.monotonic()) > 0:
                await asyncio.sleep(min(left, _CAPACITY_CHECK))
        return self.evict_requested

    def _hold(self, seconds: float) -> bool:
        """``_aio_hold`` for sync durable tasks (on their own thread)."""
        deadline = time.monotonic() + seconds
        with self._waiting():
            while not self.evict_requested and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, _CAPACITY_CHECK))
        return self.evict_requested

    def _next_child_key(self, workflow_name: str) -> str:
        """Children spawned without a child_key get one from their spawn index, so a replay
        finds the runs the first execution spawned instead of starting new ones; the spawn is
        recorded in the log like any other durable call. An index already bound to another
        workflow is a non-determinism error; bound to the same one, it is that child again."""
        index = workflow_spawn_indices[self._action_key]
        workflow_spawn_indices[self._action_key] = index + 1
        seq, entry = self._position("child", workflow_name)
        owner, spawned = _spawned.get()
        _spawned.set((self, (spawned if owner is self else ()) + (seq,)))
        if entry is not None:
            return str(entry.result)
        # a branch redoes its spawns: new keys, so it does not find the earlier children
        branch = "" if self._branch == 1 else f"b{self._branch}-"
        key = f"durable-child-{branch}{index + 1}"
        bound = next(
            (e.request for e in self._log.values() if e.kind == "child" and e.result == key), None
        )
        if bound is not None and bound != workflow_name:
            raise self._nondeterminism(
                f"child spawn index {index} is bound to {bound!r} but the code now spawns "
                f"{workflow_name!r}"
            )
        self._remember(
            LogEntry(seq=seq, kind="child", request=workflow_name, result=key, done=True)
        )
        return key

    def _nondeterminism(self, what: str) -> NonDeterminismError:
        return NonDeterminismError(
            f"non-determinism in durable task {self.task_name!r} at position {self._seq}: "
            f"{what}; durable task code must make the same calls in the same order on replay",
            node_id=self._seq,
            task_external_id=self.task_run_external_id,
            invocation_count=self.attempt_number,
        )

    # ---- the log ----------------------------------------------------------------------

    def _position(self, kind: str, request: str) -> tuple[int, LogEntry | None]:
        self._seq += 1
        entry = self._log.get(self._seq)
        if entry is not None and (entry.kind, entry.request) != (kind, request):
            raise self._nondeterminism(
                f"the log recorded {entry.kind} {entry.request!r} but the code now asks for "
                f"{kind} {request!r}"
            )
        return self._seq, entry

    def _remember(self, entry: LogEntry) -> None:
        DurableRepo(self._client._store).record(self.task_run_id, entry)
        self._log[entry.seq] = entry

    async def _aio_remember(self, entry: LogEntry) -> None:
        await (await self._durable_repo()).record(self.task_run_id, entry)
        self._log[entry.seq] = entry

    async def _durable_repo(self) -> AsyncDurableRepo:
        """On the client's pool of the task's event loop."""
        return AsyncDurableRepo(await self._client._astore())

    # ---- sleeps -----------------------------------------------------------------------

    async def aio_sleep_for(
        self, duration: timedelta | str | float, label: str | None = None
    ) -> SleepResult:
        """Sleep durably: a replay after a crash only sleeps what is left. The result's
        ``duration`` is how long it actually took from the first call; ``label`` names the
        sleep in the durable log."""
        delta = to_timedelta(duration, "duration")
        return await self._aio_sleep(_now() + delta, label or f"sleep_for({delta})")

    async def aio_sleep_until(self, wake_at: datetime, label: str | None = None) -> SleepResult:
        return await self._aio_sleep(wake_at, label or f"sleep_until({wake_at.isoformat()})")

    async def _aio_sleep(self, wake_at: datetime, request: str) -> SleepResult:
        seq, entry = self._position("sleep", request)  # a replay keeps the first wake_at
        if entry is None:
            entry = LogEntry(seq=seq, kind="sleep", request=request, wake_at=wake_at, since=_now())
            await self._aio_remember(entry)
        with tracing.span("hatchet.durable.sleep", **{"hatchet.durable.node_id": seq}):
            seconds, evict = self._in_place(entry.wake_at or wake_at)
            evict = await self._aio_hold(seconds) or evict
        if evict:
            raise Evicted(entry.wake_at or wake_at)
        await self._take_turn((seq,))
        return _slept(entry)

    def sleep_for(self, duration: timedelta | str | float, label: str | None = None) -> SleepResult:
        """Blocking twin of ``aio_sleep_for`` for sync durable tasks."""
        delta = to_timedelta(duration, "duration")
        return self._sleep(_now() + delta, label or f"sleep_for({delta})")

    def sleep_until(self, wake_at: datetime, label: str | None = None) -> SleepResult:
        return self._sleep(wake_at, label or f"sleep_until({wake_at.isoformat()})")

    def _sleep(self, wake_at: datetime, request: str) -> SleepResult:
        seq, entry = self._position("sleep", request)
        if entry is None:
            entry = LogEntry(seq=seq, kind="sleep", request=request, wake_at=wake_at, since=_now())
            self._remember(entry)
        seconds, evict = self._in_place(entry.wake_at or wake_at)
        evict = self._hold(seconds) or evict
        if evict:
            raise Evicted(entry.wake_at or wake_at)
        self._woken.pop(seq, None)  # a sync task has one branch: nothing to order
        return _slept(entry)

    def _in_place(self, wake_at: datetime) -> tuple[float, bool]:
        """How long to wait in the slot, and whether the run is evicted after that: a wait
        longer than the eviction TTL keeps the slot for the TTL, then gives it back."""
        remaining = (wake_at - _now()).total_seconds()
        if remaining > self._evict_after:
            return self._evict_after, True
        return max(remaining, 0.0), False

    async def _await_child(self, result: Awaitable[Any]) -> Any:
        """A child's result, awaited in the slot for the eviction TTL; a longer wait gives
        the slot back (the engine wakes the task when one of its children finishes, and the
        replay finds the same child by its key)."""
        owner, spawned = _spawned.get()
        seqs = spawned if owner is self else ()
        _spawned.set((self, ()))
        since = _now()
        waited = asyncio.ensure_future(result)
        deadline = time.monotonic() + self._evict_after
        with self._waiting():
            while not self._must_leave(deadline):
                left = min(deadline - time.monotonic(), _CAPACITY_CHECK)
                done, _ = await asyncio.wait({waited}, timeout=max(left, 0))
                if done:
                    await self._woke_by(seqs)
                    return waited.result()
        waited.cancel()
        await (await self._durable_repo()).await_children(self.task_run_id, since)
        raise Evicted(_now() + _EVENT_RECHECK)

    async def _woke_by(self, seqs: tuple[int, ...]) -> None:
        """The children spawned at ``seqs`` woke the task: in the first execution, record
        when; in a replay, wait for this wake-up's turn."""
        if any(s in self._woken for s in seqs):
            await self._take_turn(seqs)
            return
        fresh = [s for s in seqs if s in self._log and self._log[s].wake_at is None]
        if fresh:
            at = _now()
            for s in fresh:
                self._log[s] = dataclasses.replace(self._log[s], wake_at=at)
            await (await self._durable_repo()).woke(self.task_run_id, fresh, at)

    async def _take_turn(self, seqs: tuple[int, ...]) -> None:
        """A replayed wait returns only after the waits that woke the task before it did in
        the first execution: concurrent branches (``asyncio.gather``) then make their next
        durable calls in the first execution's order and find their own log entries and
        children, whichever of the already-finished waits is read back first."""
        mine = [self._woken[s] for s in seqs if s in self._woken]
        if not mine:
            return
        turn = max((e.wake_at or _now(), e.seq) for e in mine)
        deadline = time.monotonic() + _TURN_TIMEOUT
        while any(
            (e.wake_at or turn[0], e.seq) < turn
            for s, e in list(self._woken.items())
            if s not in seqs
        ):
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.005)
        for s in seqs:
            self._woken.pop(s, None)

    # ---- memoized steps and time ------------------------------------------------------

    async def aio_step(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` once; a replay returns the recorded (JSON) result."""
        seq, entry = self._position("step", name)
        if entry is not None and entry.done:
            return entry.result
        value = fn(*args)
        if isinstance(value, Awaitable):
            value = await value
        await self._aio_remember(
            LogEntry(seq=seq, kind="step", request=name, result=_json(value, name), done=True)
        )
        return value

    def step(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        seq, entry = self._position("step", name)
        if entry is not None and entry.done:
            return entry.result
        value = fn(*args)
        self._remember(
            LogEntry(seq=seq, kind="step", request=name, result=_json(value, name), done=True)
        )
        return value

    async def aio_memo(
        self,
        fn: Callable[..., Awaitable[Any]],
        result_validator: type[Any],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Await ``fn(*args, **kwargs)`` once per task run and arguments; a replay returns
        the recorded result, validated as ``result_validator`` (a pydantic model, dataclass,
        TypedDict or ``dict``). hatchet_sdk calls it ``_aio_memo``."""
        adapter = TypeAdapter(result_validator)
        request = f"{getattr(fn, '__qualname__', repr(fn))}({_digest(args, kwargs)})"
        seq, entry = self._position("memo", request)
        if entry is not None and entry.done:
            return adapter.validate_python(entry.result)
        value = adapter.validate_python(await fn(*args, **kwargs))
        result = adapter.dump_python(value, mode="json")
        await self._aio_remember(
            LogEntry(seq=seq, kind="memo", request=request, result=result, done=True)
        )
        return value

    _aio_memo = aio_memo

    async def aio_now(self) -> datetime:
        """The time of the first execution at this position (stable across replays)."""
        seq, entry = self._position("now", "now")
        if entry is not None and entry.done:
            return datetime.fromisoformat(entry.result)
        now = _now()
        await self._aio_remember(
            LogEntry(seq=seq, kind="now", request="now", result=now.isoformat(), done=True)
        )
        return now

    # ---- events -----------------------------------------------------------------------

    async def aio_wait_for_event(
        self,
        key: str,
        expression: str | None = None,
        *,
        payload_validator: type[Any] | None = None,
        scope: str | None = None,
        lookback_window: timedelta | None = None,
        label: str | None = None,
    ) -> Any:
        """Wait for an event ``key`` (pushed with ``scope``, when given) whose payload
        satisfies the CEL ``expression``; events pushed up to ``lookback_window`` before the
        first wait count too. The payload, validated by ``payload_validator`` when given;
        ``label`` names the wait in the durable log."""
        if expression:
            expressions.compile_expression(expression)
        key = self._client.config.apply_namespace(key)
        request = f"{label or key} if {expression or 'true'}"
        if scope is not None:
            request += f" in scope {scope}"
        seq, entry = self._position("event", request)
        if entry is not None and entry.done:
            return _validated(dict(entry.result), payload_validator)
        if entry is None:
            since = _now() - (lookback_window or timedelta(0))
            entry = LogEntry(
                seq=seq,
                kind="event",
                request=request,
                event_key=key,
                expression=expression,
                since=since,
            )
            await self._aio_remember(entry)
        attributes = {"hatchet.durable.node_id": seq, "hatchet.event_key": key}
        with tracing.span("hatchet.durable.wait_for_event", **attributes):
            found = await self._await_event(entry, scope)
        return _validated(found, payload_validator)

    async def aio_wait_for(
        self, signal_key: str, *conditions: Any, label: str | None = None
    ) -> dict[str, Any]:
        """Wait until every condition holds (``or_`` groups: any member); sleeps count from
        the first wait. Returns what satisfied them as hatchet_sdk does:
        ``{"CREATE": {condition key: data}}``, the key being the condition's
        ``readable_data_key``, its event key, or ``sleep:<duration>``. ``label`` names the
        wait in the durable log."""
        from hatchnb.conditions import spec_of

        items = spec_of(list(conditions), self._client.config.namespace)
        request = f"{label or signal_key}: {json.dumps(items, sort_keys=True)}"
        seq, entry = self._position("wait", request)
        if entry is not None and entry.done:
            return dict(entry.result)
        if entry is None:
            keys = "|".join(
                c["key"] for item in items for c in item.get("or", [item]) if c["kind"] == "event"
            )
            entry = LogEntry(
                seq=seq, kind="wait", request=request, since=_now(), event_key=keys or None
            )
            await self._aio_remember(entry)
        repo = await self._durable_repo()
        wait = _DurableWait(repo, entry.since or _now(), items)
        deadline = time.monotonic() + self._evict_after
        with self._waiting():
            while not await wait.holds():
                if self._must_leave(deadline):
                    raise Evicted(min(wait.next_deadline(), _now() + _EVENT_RECHECK))
                await asyncio.sleep(min(0.2, self._client._settings.poll_interval))
        result = {"CREATE": wait.found}  # hatchet_sdk's shape: {action: {condition key: data}}
        await repo.complete(self.task_run_id, seq, result)
        return result

    def wait_for_event(self, key: str, expression: str | None = None, **options: Any) -> Any:
        """Blocking twin of ``aio_wait_for_event`` for sync durable tasks (same options)."""
        return self._blocking(self.aio_wait_for_event(key, expression, **options))

    def wait_for(
        self, signal_key: str, *conditions: Any, label: str | None = None
    ) -> dict[str, Any]:
        """Blocking twin of ``aio_wait_for`` for sync durable tasks."""
        wait = self.aio_wait_for(signal_key, *conditions, label=label)
        result: dict[str, Any] = self._blocking(wait)
        return result

    def _blocking(self, coro: Any) -> Any:  # the caller states the result type
        """Run a durable coroutine on the worker's loop from a sync task's thread."""
        assert self._async_task is not None
        return asyncio.run_coroutine_threadsafe(coro, self._async_task.get_loop()).result()

    async def _await_event(self, entry: LogEntry, scope: str | None) -> dict[str, Any]:
        repo = await self._durable_repo()
        deadline = time.monotonic() + self._evict_after
        with self._waiting():
            while True:
                for event in await repo.events_since(entry.event_key, entry.since):
                    if (scope is None or event.scope == scope) and _matches(
                        entry.expression, event
                    ):
                        await repo.complete(self.task_run_id, entry.seq, event.payload)
                        return dict(event.payload)
                if self._must_leave(deadline):
                    raise Evicted(_now() + _EVENT_RECHECK)
                await asyncio.sleep(min(0.2, self._client._settings.poll_interval))


class _DurableWait:
    """Evaluates ``aio_wait_for`` conditions against the clock and the events table."""

    def __init__(
        self, repo: AsyncDurableRepo, since: datetime, items: list[dict[str, Any]]
    ) -> None:
        self.repo = repo
        self.since = since
        self.items = items
        self.found: dict[str, Any] = {}

    async def holds(self) -> bool:
        for item in self.items:
            members = item.get("or", [item])
            if not any([await self._condition(c) for c in members]):
                return False
        return True

    async def _condition(self, cond: dict[str, Any]) -> bool:
        if cond["kind"] == "sleep":
            done = _now() >= self.since + timedelta(seconds=cond["seconds"])
            if done:
                label = cond.get("label") or "sleep"
                self.found.setdefault(label, {"seconds": cond["seconds"]})
            return done
        since = events_from(cond, self.since)
        for event in await self.repo.events_since(cond["key"], since):
            if event_counts(cond, event.scope) and _matches(cond["expression"], event):
                self.found.setdefault(cond.get("label") or cond["key"], event.payload)
                return True
        return False

    def next_deadline(self) -> datetime:
        sleeps = [
            c["seconds"]
            for item in self.items
            for c in item.get("or", [item])
            if c["kind"] == "sleep"
        ]
        if sleeps:
            return self.since + timedelta(seconds=min(sleeps))
        return _now() + _EVENT_RECHECK


def _matches(expression: str | None, event: SeenEvent) -> bool:
    """No expression, or the CEL expression holds for the event."""
    if not expression:
        return True
    variables = {
        "input": event.payload,
        "payload": event.payload,
        "additional_metadata": event.additional_metadata,
    }
    return expressions.evaluate(expression, variables) is True


def _json(value: Any, name: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        raise errors.SerializationError(
            f"step {name!r} returned {type(value).__name__}, which is not JSON; durable steps "
            "must return JSON data so a replay can return it"
        ) from None


def _digest(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A short stable digest of memoized call arguments (they name the log position)."""
    data = to_jsonable_python([args, kwargs], fallback=repr)
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
