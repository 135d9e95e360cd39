"""The supervisor's restart policy, without a database: delays double up to a ceiling, a
failing loop is restarted, cancellation is never swallowed."""

from __future__ import annotations

import asyncio

import pytest

from hatchnb.runtime import supervise


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
