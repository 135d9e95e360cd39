"""Engine duties, done by one leader at a time (timeouts, dead workers, concurrency, crons and
schedules, conditions, alerts, retention, archive, statistics). Any worker (or ``hatchnb engine``)
competes for the leader lock; the leader runs each :class:`~hatchnb.runtime.duties.Duty` in
turn, each round."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from hatchnb import errors
from hatchnb.config import Settings
from hatchnb.runtime.duties import Duty
from hatchnb.runtime.duties.alerts import AlertDuty
from hatchnb.runtime.duties.concurrency import ConcurrencyDuty
from hatchnb.runtime.duties.crons import DueDuty
from hatchnb.runtime.duties.durable import ChildWaitsDuty
from hatchnb.runtime.duties.history import ArchiveDuty
from hatchnb.runtime.duties.pauses import PausedQueueDuty
from hatchnb.runtime.duties.retention import RetentionDuty
from hatchnb.runtime.duties.statistics import StatisticsDuty
from hatchnb.runtime.duties.timeouts import ExecutionTimeoutsDuty, ScheduleTimeoutsDuty
from hatchnb.runtime.duties.workers import DeadWorkersDuty
from hatchnb.runtime.supervise import supervised
from hatchnb.store.engine import DatabaseError, LeaderSession

log = logging.getLogger("hatchnb.engine")

#: arbitrary constant identifying the leader's session-level advisory lock
LEADER_LOCK = 7_413_902_119


class Engine:
    """Holds the leader lock on its own connection; the lock dies with the connection."""

    def __init__(self, dsn: str, settings: Settings) -> None:
        self.dsn = dsn
        self.settings = settings
        self.is_leader = False
        self.leader_since = 0.0
        self.statistics = StatisticsDuty()
        self.alerts = AlertDuty(dsn)
        self.duties: list[Duty] = [
            self.statistics,
            DeadWorkersDuty(settings, lambda: self.leader_since),
            ExecutionTimeoutsDuty(),
            ScheduleTimeoutsDuty(),
            ConcurrencyDuty(),
            DueDuty(dsn),
            PausedQueueDuty(),
            ChildWaitsDuty(),
            self.alerts,
            RetentionDuty(dsn, settings),
            ArchiveDuty(dsn, settings),
        ]
        #: monotonic time before which a duty with an interval does not run again
        self._next_run: dict[str, float] = {}

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with LeaderSession.open(self.dsn, f"hatchnb-engine-{os.getpid()}") as session:
                    await self._lead(session)
            except (errors.DatabaseUnavailable, DatabaseError) as exc:
                if self.is_leader:
                    log.warning("engine lost its database connection (%s)", exc)
                self.is_leader = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _lead(self, session: LeaderSession) -> None:
        interval = self.settings.engine_interval
        while True:
            if not self.is_leader:
                self.is_leader = await session.try_lock(LEADER_LOCK)
                if self.is_leader:
                    self.leader_since = time.monotonic()
                    log.info("this process is now the hatchnb engine leader")
            if self.is_leader:
                await self.round(session)
                await asyncio.sleep(interval)
            else:
                await asyncio.sleep(interval * 2)

    async def round(self, session: LeaderSession) -> None:
        """Each duty that is due, in order. A database error ends the round (the engine
        reconnects); any other error in a duty is logged with its traceback and the other
        duties still run."""
        for duty in self.duties:
            if duty.interval:
                now = time.monotonic()
                if now < self._next_run.get(duty.name, 0.0):
                    continue
                self._next_run[duty.name] = now + duty.interval
            try:
                await duty.run(session)
            except (errors.DatabaseUnavailable, DatabaseError):
                raise
            except Exception:
                log.exception("engine duty %r failed; it runs again next round", duty.name)


async def run_engine(dsn: str, settings: Settings) -> None:
    """Run only the engine duties (``hatchnb engine``)."""
    engine = Engine(dsn, settings)
    with contextlib.suppress(asyncio.CancelledError):
        await supervised("engine", engine.run)
