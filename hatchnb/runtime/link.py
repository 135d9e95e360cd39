"""The worker's link to the database: whether it answers (an outage is logged when it starts,
once a minute while it lasts and when it ends), heartbeats, and comparing notes with the
database after an outage or after the engine declared this worker dead."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from hatchnb import errors
from hatchnb.store.workers import AsyncWorkersRepo, DatabaseError

if TYPE_CHECKING:
    from hatchnb.runtime.claims import Claimer, Slots
    from hatchnb.runtime.reporter import Reporter

log = logging.getLogger("hatchnb.worker")


class Link:
    """Whether the database answers, as seen by all of a worker's loops."""

    REPEAT_AFTER = 60.0

    def __init__(self, url: str, repo: AsyncWorkersRepo, worker_id: str, heartbeat: float) -> None:
        self.url = url
        self.repo = repo
        self.worker_id = worker_id
        self.heartbeat_interval = heartbeat
        self.down_since: float | None = None
        self.last_said = 0.0
        #: set when the database is back: the worker then compares notes with it
        self.recovered = asyncio.Event()
        #: paused by hatchet.workers.pause: claim nothing new (seen at each heartbeat)
        self.paused = False

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, doing: str, exc: BaseException) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = self.last_said = now
            log.warning(
                "lost the database at %s while %s (%s); retrying with backoff",
                self.url,
                doing,
                first_line(exc),
            )
        elif now - self.last_said >= self.REPEAT_AFTER:
            self.last_said = now
            log.warning(
                "database at %s still unreachable after %.0fs (%s); still retrying",
                self.url,
                now - self.down_since,
                first_line(exc),
            )

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning(
                "reconnected to the database after %.1fs", time.monotonic() - self.down_since
            )
            self.down_since = None
            self.recovered.set()

    async def heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        try:
            previous = await self.repo.heartbeat(self.worker_id)
        except (errors.DatabaseUnavailable, DatabaseError) as exc:
            self.failed("sending a heartbeat", exc)
            return
        self.ok()
        self.paused = previous == "PAUSED"
        if previous == "DEAD":
            log.warning(
                "the engine had declared this worker dead and re-queued its running "
                "tasks; active again, dropping the tasks it gave to other workers"
            )
            self.recovered.set()


class QuietWhileDown(logging.Filter):
    """psycopg_pool warns at every connection attempt; while the worker has already said
    that the database is down, those only repeat it."""

    def __init__(self, link: Link) -> None:
        super().__init__()
        self.link = link

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.link.down and record.levelno <= logging.WARNING)


class Reconciler:
    """After an outage, or after being declared dead, the database and this worker may
    disagree on what runs here: a claim whose reply was lost, a result whose asynchronous
    commit a crash forgot, a task the engine re-queued or cancelled. The database wins:
    tasks it no longer gives this worker are dropped, and tasks it believes run here but
    do not are handed back to the queue (they run again: at-least-once)."""

    def __init__(self, link: Link, slots: Slots, claimer: Claimer, reporter: Reporter) -> None:
        self.link = link
        self.slots = slots
        self.claimer = claimer
        self.reporter = reporter

    async def loop(self) -> None:
        while True:
            await self.link.recovered.wait()
            self.link.recovered.clear()
            try:
                await self.reconcile()
            except (errors.DatabaseUnavailable, DatabaseError) as exc:
                self.link.failed("comparing running tasks with the database", exc)

    async def reconcile(self) -> None:
        repo, worker_id, running = self.link.repo, self.link.worker_id, self.slots.running
        async with self.claimer.lock, self.reporter.lock:  # no claim or report in flight
            held = await repo.running_task_runs(worker_id)
            taken = [
                (task, ctx)
                for task, ctx in running.values()
                if (ctx._claim.id, ctx._claim.attempt) not in held
            ]
            known = set(running) | {result[0] for result in self.reporter.results}
            orphans = sorted({task_run_id for task_run_id, _ in held} - known)
            if orphans:
                await repo.hand_back(orphans, worker_id)
        for task, ctx in taken:
            self.slots.abandon(task, ctx)
        if taken or orphans:
            log.warning(
                "compared with the database: dropped %d task run(s) it no longer gives this "
                "worker, re-queued %d it believed were running here",
                len(taken),
                len(orphans),
            )


def first_line(exc: BaseException) -> str:
    if isinstance(exc, errors.DatabaseUnavailable) and exc.__cause__ is not None:
        exc = exc.__cause__  # the libpq message; the URL is already in the log line
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
