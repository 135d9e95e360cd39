"""Supervision of background loops: a loop that raises is logged with its traceback and
started again after a growing delay, instead of dying silently with its task."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("hatchnb.supervise")

#: first restart delay, its ceiling, and how long a loop must run to count as healthy again
FIRST_DELAY = 0.1
MAX_DELAY = 10.0
HEALTHY_AFTER = 60.0


def next_delay(previous: float | None) -> float:
    """The delay before the next restart, doubling from FIRST_DELAY up to MAX_DELAY."""
    return FIRST_DELAY if previous is None else min(previous * 2, MAX_DELAY)


async def supervised(
    name: str,
    loop: Callable[[], Awaitable[None]],
    restarts: list[str] | None = None,
) -> None:
    """Run ``loop()`` until it returns or is cancelled; restart it whenever it raises.
    ``restarts`` (if given) collects one line per failure, for ``Worker.status()``."""
    delay: float | None = None
    while True:
        started = time.monotonic()
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if time.monotonic() - started > HEALTHY_AFTER:
                delay = None
            delay = next_delay(delay)
            log.exception("the %s loop failed; restarting it in %.1fs", name, delay)
            if restarts is not None:
                restarts.append(f"{name}: {type(exc).__name__}: {exc}")
                del restarts[:-20]
            await asyncio.sleep(delay)
