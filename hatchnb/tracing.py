"""Where hatchnb reports what it does to a tracer: a trigger, each task run, each durable
wait. ``hatchnb.opentelemetry.HatchetInstrumentor`` installs OpenTelemetry behind these hooks;
without it each hook costs one check. The trace context travels with a run as a W3C
``traceparent`` in its additional metadata (as in Hatchet), so the task runs a worker
executes, and the runs they spawn, continue the trace of the code that triggered them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

TRACEPARENT = "traceparent"

#: ``done(status, error)`` ends a task run's span: SUCCEEDED, FAILED, CANCELLED, EVICTED...
Done = Callable[[str, str | None], None]


class Hooks(Protocol):
    def span(self, name: str, attributes: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
        """A span for the duration of the block, child of the current one."""
        ...

    def traceparent(self) -> str | None:
        """The current span as a W3C traceparent (None outside any span)."""
        ...

    def task_run(
        self, attributes: dict[str, Any], traceparent: str | None
    ) -> contextlib.AbstractContextManager[Done]:
        """The span of one task run, child of the run's ``traceparent``."""
        ...


_hooks: Hooks | None = None


def install(hooks: Hooks | None) -> None:
    """Report to ``hooks`` from now on (None: stop reporting)."""
    global _hooks
    _hooks = hooks


def active() -> bool:
    return _hooks is not None


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    if _hooks is None:
        yield
        return
    with _hooks.span(name, attributes):
        yield


def with_traceparent(metadata: dict[str, Any]) -> dict[str, Any]:
    """A run's metadata carrying the current trace context (a child run gets the spawning
    task run's, not its parent run's inherited one)."""
    if _hooks is None:
        return metadata
    current = _hooks.traceparent()
    return {**metadata, TRACEPARENT: current} if current else metadata


def _ignore(status: str, error: str | None) -> None:
    return None


@contextlib.contextmanager
def task_run(attributes: dict[str, Any], metadata: dict[str, Any]) -> Iterator[Done]:
    if _hooks is None:
        yield _ignore
        return
    carried = metadata.get(TRACEPARENT)
    with _hooks.task_run(attributes, carried if isinstance(carried, str) else None) as done:
        yield done
