"""Engine duty: durable task runs evicted while their children ran run again once a child
has finished (the replay finds the same children and reads their results)."""

from __future__ import annotations

from hatchnb.store.engine import LeaderSession


class ChildWaitsDuty:
    name = "durable child waits"
    interval = 0.0

    async def run(self, session: LeaderSession) -> None:
        await session.wake_child_waiters()
