"""Background loops of a real worker are supervised: a loop that raises is logged with its
traceback and comes back; a claim loop that raises stops the worker and says why."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hatchnb import Context, EmptyModel
from hatchnb.runtime.claims import Claimer
from hatchnb.runtime.link import Link
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def test_a_failed_heartbeat_loop_is_logged_and_restarted(
    hatchet: Any, start_worker: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    original = Link.heartbeat
    calls: list[int] = []

    async def heartbeat_failing_once(self: Any) -> None:
        """One step of the heartbeat loop raises: the loop itself ends with it."""
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("heartbeat broke")
        await original(self)

    monkeypatch.setattr(Link, "heartbeat", heartbeat_failing_once)

    @hatchet.task()
    def ping(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"pong": "yes"}

    caplog.set_level(logging.ERROR, logger="hatchnb.supervise")
    worker = start_worker(ping)
    wait_until(lambda: len(calls) >= 2, message="the heartbeat loop to start again")
    failure = next(r for r in caplog.records if "heartbeat loop failed" in r.getMessage())
    assert failure.exc_info is not None and "heartbeat broke" in str(failure.exc_info[1])
    assert worker.status()["loop_restarts"] == ["heartbeat: RuntimeError: heartbeat broke"]

    first = hatchet.workers.list()[0].last_heartbeat_at
    wait_until(
        lambda: hatchet.workers.list()[0].last_heartbeat_at > first,
        message="a heartbeat from the restarted loop",
    )
    assert ping.run() == {"pong": "yes"}
    assert worker.running


def test_a_failed_claim_loop_stops_the_worker_and_says_why(
    hatchet: Any, start_worker: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    async def claim_loop_failing(self: Any) -> None:
        raise RuntimeError("claims broke")

    monkeypatch.setattr(Claimer, "claim_loop", claim_loop_failing)

    @hatchet.task()
    def idle(input: EmptyModel, ctx: Context) -> None:
        return None

    caplog.set_level(logging.ERROR, logger="hatchnb.worker")
    worker = start_worker(idle)
    wait_until(lambda: not worker.running, message="the worker to stop")
    assert worker.status()["failure"] == "claim loop: RuntimeError: claims broke"
    assert any("claim loop failed" in r.getMessage() for r in caplog.records)
