"""The supervisor's restart policy, without a database: delays double up to a ceiling, a
failing loop is restarted, cancellation is never swallowed; the engine leader's round logs a
failing duty and goes on, ends at a database error, and runs a duty with an interval no more
often than that."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from hatchnb import errors
from hatchnb.config import Settings
from hatchnb.runtime import supervise
from hatchnb.runtime.engine import Engine
from hatchnb.store.engine import LeaderSession


def test_restart_delays_double_up_to_the_ceiling() -> None:
    delays = [supervise.next_delay(None)]
    for _ in range(10):
        delays.append(supervise.next_delay(delays[-1]))
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert max(delays) == supervise.MAX_DELAY
    assert delays[-1] == supervise.MAX_DELAY


def test_a_failing_loop_is_restarted_until_it_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise, "FIRST_DELAY", 0.001)
    runs: list[int] = []
    restarts: list[str] = []

    async def loop() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise ValueError(f"failure {len(runs)}")

    asyncio.run(supervise.supervised("test", loop, restarts))
    assert len(runs) == 3
    assert restarts == ["test: ValueError: failure 1", "test: ValueError: failure 2"]


def test_cancelling_a_supervised_loop_cancels_it() -> None:
    async def forever() -> None:
        await asyncio.sleep(3600)

    async def main() -> None:
        task = asyncio.create_task(supervise.supervised("forever", forever))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_restart_log_keeps_the_last_twenty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise, "FIRST_DELAY", 0.0)
    monkeypatch.setattr(supervise, "MAX_DELAY", 0.0)
    runs: list[int] = []
    restarts: list[str] = []

    async def loop() -> None:
        runs.append(1)
        if len(runs) <= 25:
            raise OSError(str(len(runs)))

    asyncio.run(supervise.supervised("busy", loop, restarts))
    assert len(restarts) == 20
    assert restarts[-1] == "busy: OSError: 25"


class _Duty:
    def __init__(self, name: str, interval: float = 0.0, error: Exception | None = None) -> None:
        self.name = name
        self.interval = interval
        self.error = error
        self.runs = 0

    async def run(self, session: object) -> None:
        self.runs += 1
        if self.error is not None:
            raise self.error


#: the duties above never touch their session
NO_SESSION = cast(LeaderSession, None)


def _engine_with(duties: list[_Duty]) -> Engine:
    engine = Engine("postgresql://nowhere.invalid/db", Settings.from_env())
    engine.duties = list(duties)
    return engine


def test_a_failing_engine_duty_is_logged_and_the_round_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = _Duty("broken", error=ValueError("duty broke"))
    after = _Duty("after")
    engine = _engine_with([broken, after])
    asyncio.run(engine.round(NO_SESSION))
    assert (broken.runs, after.runs) == (1, 1)
    failure = next(r for r in caplog.records if "'broken' failed" in r.getMessage())
    assert failure.exc_info is not None and "duty broke" in str(failure.exc_info[1])


def test_a_database_error_in_a_duty_ends_the_round() -> None:
    lost = _Duty("lost", error=errors.DatabaseUnavailable("gone"))
    after = _Duty("after")
    engine = _engine_with([lost, after])
    with pytest.raises(errors.DatabaseUnavailable):
        asyncio.run(engine.round(NO_SESSION))
    assert after.runs == 0


def test_a_duty_with_an_interval_runs_at_most_that_often() -> None:
    slow = _Duty("slow", interval=3600.0)
    every = _Duty("every")
    engine = _engine_with([slow, every])

    async def rounds() -> None:
        for _ in range(3):
            await engine.round(NO_SESSION)

    asyncio.run(rounds())
    assert (slow.runs, every.runs) == (1, 3)
