"""Claiming task runs: the worker's slots and who holds them, the claim loop (a claim also
reports the results waiting to be reported), and the notifications (LISTEN) that wake it
when work is queued or a running task is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from hatchnb import errors, serialization
from hatchnb.runtime.link import Link
from hatchnb.runtime.reporter import Reporter
from hatchnb.store.cancel_notes import cancelled_attempts
from hatchnb.store.workers import (
    QUEUED,
    AsyncWorkersRepo,
    ClaimedTask,
    DatabaseError,
    Result,
    connection_trouble,
    listen,
)

if TYPE_CHECKING:
    from hatchnb.config import Settings
    from hatchnb.runtime.context import Context

log = logging.getLogger("hatchnb.worker")


class Slots:
    """The task runs running here and the slots they occupy."""

    def __init__(self, total: int, durable_total: int | None = None) -> None:
        self.total = total
        #: the separate pool of durable slots (None: durable task runs use the slots too)
        self.durable_total = durable_total
        self.running: dict[int, tuple[asyncio.Task[None], Context]] = {}
        #: task run id -> slots it occupies (absent once released)
        self.costs: dict[int, int] = {}
        #: the task runs occupying durable slots
        self.in_durable_pool: set[int] = set()
        #: set when a slot frees up or work is announced
        self.wake = asyncio.Event()
        #: whether queued work may be waiting (a claim would not come back empty)
        self.maybe_more = True

    def used(self) -> int:
        """Slots used (durable slots apart)."""
        pool = self.in_durable_pool
        return sum(cost for run, cost in self.costs.items() if run not in pool)

    def durable_used(self) -> int:
        return sum(self.costs.get(run, 0) for run in self.in_durable_pool)

    def free(self) -> int:
        return self.total - self.used()

    def durable_free(self) -> int | None:
        """Free durable slots (None: no separate pool)."""
        if self.durable_total is None:
            return None
        return self.durable_total - self.durable_used()

    def any_free(self) -> bool:
        return self.free() > 0 or (self.durable_free() or 0) > 0

    def occupy(self, claim: ClaimedTask) -> None:
        self.costs[claim.id] = claim.slot_cost
        if claim.durable_slot:
            self.in_durable_pool.add(claim.id)

    def claim_coming(self) -> bool:
        """Whether the claim loop is about to claim: work may wait and a slot is free."""
        return self.maybe_more and self.any_free()

    def release(self, claim: ClaimedTask) -> bool:
        """The task finished; whether it still was this attempt's (then it is forgotten)."""
        entry = self.running.get(claim.id)
        released = entry is not None and entry[1]._claim.attempt == claim.attempt
        if released:
            self.running.pop(claim.id)
            self.costs.pop(claim.id, None)
            self.in_durable_pool.discard(claim.id)
        self.wake.set()
        return released

    def abandon(self, task: asyncio.Task[None], ctx: Context) -> None:
        """Stop caring about a task the database gave to someone else (its thread, if any,
        runs on; whatever it returns is not reported)."""
        ctx._mark_cancelled()
        task.cancel()


class Claimer:
    """Claims as many task runs as there are free slots whenever work may be waiting; each
    claim reports the results the reporter holds in the same round trip."""

    def __init__(
        self,
        repo: AsyncWorkersRepo,
        link: Link,
        slots: Slots,
        reporter: Reporter,
        start: Callable[[ClaimedTask], None],
        settings: Settings,
        dsn: str,
        stopping: asyncio.Event,
        workflows: list[str] | None,
        start_batches: Callable[[list[ClaimedTask]], int] | None = None,
    ) -> None:
        self.repo = repo
        self.link = link
        self.slots = slots
        self.reporter = reporter
        reporter.claim_coming = slots.claim_coming
        self.start = start
        self.settings = settings
        self.dsn = dsn
        self.stopping = stopping
        #: the workflows this worker runs (None: any)
        self.workflows = workflows
        #: starts claimed batches (None: this worker runs no batch task, never claims them)
        self.start_batches = start_batches
        #: loop time when the next partial batch comes due (None: none waits)
        self.batch_due: float | None = None
        #: the last batch claim started batches (more may be ready)
        self.batches_found = True
        #: loop time of the last batch claim
        self.batches_claimed_at = 0.0
        self.lock = asyncio.Lock()  # no claim in flight while comparing notes

    async def claim_loop(self) -> None:
        slots = self.slots
        backoff = 0.1
        while not self.stopping.is_set():
            if self.link.paused:  # workers.pause(): claim nothing until unpaused
                slots.maybe_more = True
                await self._sleep(self.settings.poll_interval)
                continue
            free = slots.free()
            durable_free = slots.durable_free()
            if slots.any_free() and slots.maybe_more:
                slots.maybe_more = False  # a notification during the claim sets it again
                try:
                    taken = await self._claim(max(free, 0), durable_free)
                    backoff = 0.1
                except (errors.DatabaseUnavailable, DatabaseError) as exc:
                    if connection_trouble(exc):
                        self.link.failed("claiming tasks", exc)
                    else:
                        log.warning("cannot claim tasks (%s); retrying in %.1fs", exc, backoff)
                    slots.maybe_more = True
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                if taken >= free + max(durable_free or 0, 0):
                    slots.maybe_more = True
                if slots.maybe_more:
                    await self._wait_for_slot()
                    await asyncio.sleep(0)  # let finishing tasks free more slots: bigger claims
                    continue
            await self._wait_for_work()

    async def _claim(self, free: int, durable_free: int | None = None) -> int:
        """Claim task runs and, on a worker running batch tasks, batches; the slots taken.
        Batches go first while some are ready (or once per poll interval, so a stream of
        plain task runs filling every slot cannot starve them); otherwise they get the
        slots the task runs left."""
        async with self.lock:
            taken = 0
            batches_first = self.start_batches is not None and self._batches_may_be_ready()
            if batches_first:
                taken = await self._claim_batches(free)
            if taken < free or durable_free:
                taken += await self._claim_task_runs(max(free - taken, 0), durable_free)
            if self.start_batches is not None and not batches_first and taken < free:
                taken += await self._claim_batches(free - taken)
        return taken

    def _batches_may_be_ready(self) -> bool:
        now = asyncio.get_running_loop().time()
        due = self.batch_due is not None and self.batch_due <= now
        return (
            self.batches_found
            or due
            or now - self.batches_claimed_at >= self.settings.poll_interval
        )

    async def _claim_task_runs(self, free: int, durable_free: int | None) -> int:
        results = self.reporter.take()
        try:
            claimed = await self._report_and_claim(results, free, durable_free)
        except BaseException:
            self.reporter.give_back(results)
            raise
        self.link.ok()
        for claim in claimed:
            self.start(claim)
        return sum(c.slot_cost for c in claimed)

    async def _claim_batches(self, free: int) -> int:
        """Claim up to ``free`` batches (one slot each) and note when the next partial
        batch comes due, so the loop wakes up for it."""
        assert self.start_batches is not None
        members, due_in = await self.repo.claim_batches(
            self.link.worker_id, free, self.workflows, serialization.PYTHON_VERSION
        )
        self.link.ok()
        now = asyncio.get_running_loop().time()
        self.batch_due = None if due_in is None else now + max(due_in, 0.0)
        self.batches_claimed_at = now
        self.batches_found = bool(members)
        return self.start_batches(members) if members else 0

    async def _report_and_claim(
        self, results: list[Result], free: int, durable_free: int | None
    ) -> list[ClaimedTask]:
        """Claim, reporting ``results`` in the same round trip. Results the database refuses
        go back to the reporter (it reports them one at a time) and the claim is made alone."""
        args = (self.link.worker_id, free, self.workflows, serialization.PYTHON_VERSION)
        pool = None if durable_free is None else max(durable_free, 0)
        if not results:
            return await self.repo.claim(*args, durable_limit=pool)
        try:
            return await self.repo.finish_and_claim(results, *args, durable_limit=pool)
        except DatabaseError as exc:
            if connection_trouble(exc):
                raise
        self.reporter.give_back(results[:])
        results.clear()  # given back already: not again if the claim alone fails
        return await self.repo.claim(*args, durable_limit=pool)

    async def _wait_for_slot(self) -> None:
        slots = self.slots
        while not slots.any_free() and not self.stopping.is_set():
            slots.wake.clear()
            await self._wait(slots.wake, self.settings.poll_interval)

    async def _wait_for_work(self) -> None:
        self.slots.wake.clear()
        if self.slots.maybe_more:
            return  # work was announced while the last claim ran
        timeout = self.settings.poll_interval
        if self.batch_due is not None:  # a partial batch flushes at its interval
            timeout = min(timeout, max(self.batch_due - asyncio.get_running_loop().time(), 0))
        if not await self._wait(self.slots.wake, timeout):
            self.slots.maybe_more = True  # poll fallback: retries whose delay passed, lost notifies

    async def _wait(self, event: asyncio.Event, timeout: float) -> bool:
        stop = asyncio.ensure_future(self.stopping.wait())
        wait = asyncio.ensure_future(event.wait())
        done, pending = await asyncio.wait(
            {stop, wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for fut in pending:
            fut.cancel()
        return bool(done)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def listen_loop(self) -> None:
        backoff = 0.1
        while True:
            try:
                async with listen(self.dsn) as notes:
                    self.link.ok()
                    self.slots.maybe_more = True  # what was queued while nobody listened
                    self.slots.wake.set()
                    backoff = 0.1
                    async for note in notes:
                        self.on_notify(note.channel, note.payload)
            except (errors.DatabaseUnavailable, DatabaseError) as exc:
                self.link.failed("listening for notifications", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def on_notify(self, channel: str, payload: str) -> None:
        if channel == QUEUED:
            self.slots.maybe_more = True
            self.slots.wake.set()
            return
        for task_run_id, attempt in cancelled_attempts(payload):
            entry = self.slots.running.get(task_run_id)
            if entry is not None and attempt in (None, entry[1]._claim.attempt):
                entry[1]._mark_cancelled()
