"""A worker lifespan's life: value at its yield, clean-up at exit, bad lifespans refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from hatchnb.runtime.lifespan import LifespanError, WorkerLifespan


def test_value_then_cleanup() -> None:
    steps: list[str] = []

    async def lifespan() -> AsyncGenerator[dict[str, Any], None]:
        steps.append("open")
        yield {"db": "conn"}
        steps.append("close")

    async def use() -> Any:
        life = WorkerLifespan(lifespan)
        value = await life.enter()
        assert steps == ["open"]
        await life.exit()
        await life.exit()  # once only
        return value

    assert asyncio.run(use()) == {"db": "conn"}
    assert steps == ["open", "close"]


def test_a_failing_start_is_a_lifespan_error_and_a_sync_function_is_refused() -> None:
    async def broken() -> AsyncGenerator[None, None]:
        raise OSError("no database")
        yield

    with pytest.raises(LifespanError, match="no database"):
        asyncio.run(WorkerLifespan(broken).enter())

    def not_async() -> Any:
        yield 1

    with pytest.raises(TypeError, match="async generator function"):
        WorkerLifespan(not_async)


def test_cleanup_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def lifespan() -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("close failed")

    async def use() -> None:
        life = WorkerLifespan(lifespan)
        await life.enter()
        await life.exit()

    asyncio.run(use())
    assert "failed after its yield" in caplog.text
