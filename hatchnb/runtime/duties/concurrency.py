"""Engine duty: CANCEL_IN_PROGRESS / CANCEL_NEWEST, and waiters a race left BLOCKED."""

from __future__ import annotations

from hatchnb.store.engine import LeaderSession


class ConcurrencyDuty:
    name = "concurrency"
    interval = 0.0

    async def run(self, session: LeaderSession) -> None:
        await session.sweep_concurrency()
