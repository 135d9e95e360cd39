"""Engine duty: a retention pass when one is due (HATCHNB_RETENTION), on a thread of its own."""

from __future__ import annotations

import logging
import threading

from hatchnb.config import Settings
from hatchnb.store import retention
from hatchnb.store.engine import LeaderSession

log = logging.getLogger("hatchnb.retention")


class RetentionDuty:
    name = "retention"
    interval = 0.0

    def __init__(self, dsn: str, settings: Settings) -> None:
        self.dsn = dsn
        self.settings = settings

    async def run(self, session: LeaderSession) -> None:
        """When a pass is due, start it on a thread of its own so the other duties keep their
        pace while it runs (a first pass over a large backlog takes minutes)."""
        if self.settings.retention is None:
            return
        if not await session.claim_retention_pass(self.settings.retention_interval):
            return
        # a daemon thread, not asyncio.to_thread: stopping a worker must not wait for the pass
        # (an interrupted batch rolls back whole)
        threading.Thread(
            target=_engine_pass,
            args=(self.dsn, self.settings),
            name="hatchnb-retention",
            daemon=True,
        ).start()


def _engine_pass(dsn: str, settings: Settings) -> None:
    if settings.retention is None:
        return
    try:
        report = retention.exclusive_pass(dsn, settings.retention, settings.retention_batch)
    except Exception:
        log.exception("retention pass failed; the next one retries")
        return
    if report is not None and report.total:
        log.info(
            "retention deleted %s in %.1f s (%d batches, longest %.2f s)",
            ", ".join(f"{n} {t}" for t, n in report.counts.items() if n),
            report.seconds,
            report.batches,
            report.longest_batch,
        )
