"""Engine duty: declare silent workers dead and queue their running task runs again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from hatchnb.config import Settings
from hatchnb.store.engine import LeaderSession

log = logging.getLogger("hatchnb.engine")


class DeadWorkersDuty:
    name = "dead workers"
    interval = 0.0

    def __init__(self, settings: Settings, leader_since: Callable[[], float]) -> None:
        self.settings = settings
        self.leader_since = leader_since

    async def run(self, session: LeaderSession) -> None:
        if time.monotonic() - self.leader_since() < self.settings.worker_timeout:
            return  # silence may be the database's (a restart, a new leader): let workers speak
        requeued = await session.reap_dead_workers(timedelta(seconds=self.settings.worker_timeout))
        if requeued:
            log.warning("re-queued %d task run(s) of dead workers", requeued)
