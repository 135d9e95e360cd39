"""Engine duty: create history partitions ahead and archive finished run trees
(HATCHNB_ARCHIVE_AFTER), every HATCHNB_ARCHIVE_INTERVAL, on a thread of its own."""

from __future__ import annotations

import logging
import threading

from hatchnb.config import Settings
from hatchnb.store import history
from hatchnb.store.engine import LeaderSession

log = logging.getLogger("hatchnb.history")


class ArchiveDuty:
    name = "archive"

    def __init__(self, dsn: str, settings: Settings) -> None:
        self.dsn = dsn
        self.settings = settings
        self.interval = settings.archive_interval
        self._running: threading.Thread | None = None

    async def run(self, session: LeaderSession) -> None:
        """Start a pass unless the last one still runs (a first pass over a large backlog
        takes minutes; the other duties keep their pace meanwhile)."""
        if self.settings.archive_after is None:
            return
        if self._running is not None and self._running.is_alive():
            return
        # a daemon thread: stopping a worker must not wait (an interrupted batch rolls back)
        self._running = threading.Thread(
            target=_engine_pass, args=(self.dsn, self.settings), name="hatchnb-archive", daemon=True
        )
        self._running.start()


def _engine_pass(dsn: str, settings: Settings) -> None:
    if settings.archive_after is None:
        return
    try:
        report = history.exclusive_pass(dsn, settings.archive_after, settings.archive_batch)
    except Exception:
        log.exception("archive pass failed; the next one retries")
        return
    if report is not None and report.runs:
        log.info(
            "archived %d runs (%d task runs) in %.1f s (%d batches)",
            report.runs,
            report.task_runs,
            report.seconds,
            report.batches,
        )
