"""A worker's ``lifespan`` (hatchet_sdk's): an async generator function whose first yielded
value every task reads as ``ctx.lifespan``; the code after the yield runs when the worker
stops, after its running tasks finished."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

log = logging.getLogger("hatchnb.worker")

LifespanFn = Callable[[], AsyncGenerator[Any, Any]]


class LifespanError(RuntimeError):
    """The worker's lifespan failed to start (the worker does not start either)."""


class WorkerLifespan:
    def __init__(self, fn: LifespanFn) -> None:
        if not inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"lifespan={fn!r}: pass an async generator function, e.g. "
                "async def lifespan(): yield resources"
            )
        self._fn = fn
        self._generator: AsyncGenerator[Any, Any] | None = None
        #: what the lifespan yielded (``ctx.lifespan``)
        self.value: Any = None

    async def enter(self) -> Any:
        """Run the lifespan up to its yield; its value."""
        generator = self._fn()
        try:
            self.value = await anext(generator)
        except StopAsyncIteration:
            return None  # returned without yielding: nothing to clean up
        except Exception as exc:
            raise LifespanError(f"the worker's lifespan failed before its yield: {exc!r}") from exc
        self._generator = generator
        return self.value

    async def exit(self) -> None:
        """Run the lifespan's code after its yield (errors are logged: the worker stops)."""
        generator, self._generator = self._generator, None
        if generator is None:
            return
        try:
            await anext(generator)
        except StopAsyncIteration:
            return
        except Exception:
            log.exception("the worker's lifespan failed after its yield")
            return
        await generator.aclose()
        log.warning("the worker's lifespan yielded more than once; only the first value is used")
