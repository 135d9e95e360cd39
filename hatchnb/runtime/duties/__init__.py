"""The engine leader's duties, one module each, all behind the :class:`Duty` interface."""

from __future__ import annotations

from typing import Protocol

from hatchnb.store.engine import LeaderSession


class Duty(Protocol):
    """One duty of the engine leader: run on the leader's session at most every
    ``interval`` seconds (0: every round)."""

    @property
    def name(self) -> str: ...

    @property
    def interval(self) -> float: ...

    async def run(self, session: LeaderSession) -> None: ...
