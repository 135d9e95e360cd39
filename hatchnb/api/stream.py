"""A run as server-sent events: ``status`` whenever the run's or a task's status changes,
``chunk`` for each ``ctx.put_stream`` chunk (through ``hatchet.runs.subscribe_to_stream``),
and ``done`` once the run is finished and every chunk was sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from hatchnb.records import FINAL, WorkflowRun

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

log = logging.getLogger("hatchnb.api")

#: seconds between status reads
POLL = 0.25
#: after the run is finished, how long its last chunks may take to arrive
DRAIN_TIMEOUT = 10.0
#: a comment line this often keeps proxies from closing a quiet stream
KEEPALIVE = 15.0


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def status_of(run: WorkflowRun) -> dict[str, Any]:
    return {
        "run_id": run.workflow_run_id,
        "status": run.status.value,
        "tasks": {t.task_name: t.status.value for t in run.tasks},
    }


async def run_events(hatchet: Hatchet, run_id: str) -> AsyncIterator[str]:
    chunks: asyncio.Queue[str] = asyncio.Queue()
    pump = asyncio.create_task(_pump(hatchet, run_id, chunks))
    last: dict[str, Any] | None = None
    quiet = 0.0
    try:
        while True:
            run = await asyncio.to_thread(hatchet.runs.get, run_id, task_events=False)
            if run.status in FINAL:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(pump), DRAIN_TIMEOUT)
            while not chunks.empty():
                yield sse("chunk", {"data": chunks.get_nowait()})
                quiet = 0.0
            state = status_of(run)
            if state != last:
                yield sse("status", state)
                last, quiet = state, 0.0
            if run.status in FINAL:
                yield sse("done", {"run_id": run_id, "status": run.status.value})
                return
            quiet += POLL
            if quiet >= KEEPALIVE:
                yield ": keepalive\n\n"
                quiet = 0.0
            with contextlib.suppress(TimeoutError):
                chunk = await asyncio.wait_for(chunks.get(), POLL)
                yield sse("chunk", {"data": chunk})
                quiet = 0.0
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump


async def _pump(hatchet: Hatchet, run_id: str, chunks: asyncio.Queue[str]) -> None:
    try:
        async for chunk in hatchet.runs.subscribe_to_stream(run_id):
            await chunks.put(chunk)
    except asyncio.CancelledError:
        raise
    except Exception:  # the statuses still flow; the chunks are lost to this stream only
        log.exception("reading the stream chunks of run %s", run_id)
