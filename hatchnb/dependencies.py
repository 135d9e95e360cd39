"""Dependency injection as in hatchet_sdk: a task parameter annotated
``Annotated[T, Depends(fn)]`` receives ``fn(input, ctx)``'s value, resolved before each call.
``fn`` may be sync or async, return a (sync or async) context manager that stays open for
the task's call, and depend on other dependencies the same way."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from hatchnb import errors

T = TypeVar("T")
TWorkflowInput = TypeVar("TWorkflowInput")


class Depends(Generic[T, TWorkflowInput]):
    """Mark a parameter as a dependency: ``db: Annotated[Session, Depends(open_session)]``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if len(inspect.signature(fn).parameters) < 2:
            name = getattr(fn, "__name__", repr(fn))
            raise errors.InvalidWorkflow(
                f"dependency {name} must take (input, ctx) first; further parameters may be "
                "dependencies themselves"
            )
        self._fn = fn

    def __repr__(self) -> str:
        return f"Depends({getattr(self._fn, '__name__', self._fn)!r})"


def dependencies_of(fn: Callable[..., Any]) -> dict[str, Depends[Any, Any]]:
    """``{parameter: Depends}`` of ``fn``'s parameters after (input, ctx)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable annotations: no dependencies can be read from them
        return {}
    found = {}
    for name in list(inspect.signature(fn).parameters)[2:]:
        marker = _depends_in(hints.get(name))
        if marker is not None:
            found[name] = marker
    return found


def _depends_in(annotation: Any) -> Depends[Any, Any] | None:
    value = getattr(annotation, "__value__", annotation)  # `type X = Annotated[...]` (3.12)
    for extra in getattr(value, "__metadata__", ()):
        if isinstance(extra, Depends):
            return extra
    return None


async def resolve(
    fn: Callable[..., Any],
    input: Any,
    ctx: Any,
    stack: contextlib.AsyncExitStack,
    given: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of ``fn``'s dependencies not in ``given``; context managers they return
    are entered on ``stack`` (closed when the caller closes it)."""
    values = {}
    for name, marker in dependencies_of(fn).items():
        if given and name in given:
            continue
        value = marker._fn(input, ctx, **await resolve(marker._fn, input, ctx, stack))
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, contextlib.AbstractAsyncContextManager):
            value = await stack.enter_async_context(value)
        elif isinstance(value, contextlib.AbstractContextManager):
            value = stack.enter_context(value)
        values[name] = value
    return values


def resolve_sync(
    fn: Callable[..., Any],
    input: Any,
    ctx: Any,
    stack: contextlib.ExitStack,
    loop: asyncio.AbstractEventLoop,
    given: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``resolve`` for a sync task: async dependencies run on ``loop`` (private to the call),
    so the task itself runs outside any event loop."""
    values = {}
    for name, marker in dependencies_of(fn).items():
        if given and name in given:
            continue
        value = marker._fn(input, ctx, **resolve_sync(marker._fn, input, ctx, stack, loop))
        if inspect.isawaitable(value):
            value = loop.run_until_complete(value)
        if isinstance(value, contextlib.AbstractAsyncContextManager):
            value = _enter_async(value, stack, loop)
        elif isinstance(value, contextlib.AbstractContextManager):
            value = stack.enter_context(value)
        values[name] = value
    return values


def _enter_async(
    manager: contextlib.AbstractAsyncContextManager[Any],
    stack: contextlib.ExitStack,
    loop: asyncio.AbstractEventLoop,
) -> Any:
    value = loop.run_until_complete(manager.__aenter__())
    stack.push(lambda *exc: loop.run_until_complete(manager.__aexit__(*exc)))
    return value


def inject(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` itself when it has no dependencies, else a ``(input, ctx)`` function (sync or
    async like ``fn``) that resolves them, calls ``fn`` and closes what they opened;
    dependencies passed as keywords (``mock_run(dependencies=...)``) are used as given."""
    if not dependencies_of(fn):
        return fn
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def call_async(input: Any, ctx: Any, **given: Any) -> Any:
            async with contextlib.AsyncExitStack() as stack:
                values = await resolve(fn, input, ctx, stack, given)
                return await fn(input, ctx, **values, **given)

        return call_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def call_sync(input: Any, ctx: Any, **given: Any) -> Any:
        loop = asyncio.new_event_loop()
        try:
            with contextlib.ExitStack() as stack:
                values = resolve_sync(fn, input, ctx, stack, loop, given)
                return fn(input, ctx, **values, **given)
        finally:
            loop.close()

    return call_sync
