"""Engine duty: a retention pass when one is due (HATCHNB_RETENTION), on a thread of its own."""

from __future__ import annotations

import logging
import threading
from typing import Any

from hatchnb.config import Settings
from hatchnb.store import retention

log = logging.getLogger("hatchnb.retention")


async def tick(conn: Any, dsn: str, settings: Settings) -> None:
    """When a pass is due, start it on a thread of its own so the other duties keep their
    pace while it runs (a first pass over a large backlog takes minutes)."""
    if settings.retention is None:
        return
    if not await retention.claim_due_pass(conn, settings.retention_interval):
        return
    # a daemon thread, not asyncio.to_thread: stopping a worker must not wait for the pass
    # (an interrupted batch rolls back whole)
    threading.Thread(
        target=_engine_pass, args=(dsn, settings), name="hatchnb-retention", daemon=True
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
