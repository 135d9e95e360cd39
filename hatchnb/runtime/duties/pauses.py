"""Engine duty: cancel the runs of paused workflows that stayed queued past the pause's
``queue_ttl``."""

from __future__ import annotations

import logging

from hatchnb.store.engine import LeaderSession

log = logging.getLogger("hatchnb.engine")


class PausedQueueDuty:
    name = "paused workflows"
    interval = 1.0

    async def run(self, session: LeaderSession) -> None:
        cancelled = await session.cancel_expired_paused_runs()
        if cancelled:
            log.info("cancelled %d run(s) of paused workflows past their queue_ttl", cancelled)
