"""Reporting what tasks did: results and log lines are buffered and written in batches (one
``finish_task_runs`` per batch, or carried by the worker's next claim); stream chunks are
written at once, in order."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from hatchnb import errors
from hatchnb.runtime.link import Link
from hatchnb.store.workers import (
    AsyncWorkersRepo,
    DatabaseError,
    LogLine,
    Result,
    connection_trouble,
)

log = logging.getLogger("hatchnb.worker")

#: how long results wait for a claim that is about to carry them before being reported alone
CARRY_WAIT = 0.005


class Reporter:
    def __init__(self, repo: AsyncWorkersRepo, link: Link, loop: asyncio.AbstractEventLoop) -> None:
        self.repo = repo
        self.link = link
        self.loop = loop
        self.results: list[Result] = []
        self.logs: list[LogLine] = []
        #: set when there is something to report
        self.ready = asyncio.Event()
        #: held while a report is in flight
        self.lock = asyncio.Lock()
        self.stream_lock = asyncio.Lock()  # keeps an async task's chunks in order
        self.stream_writes: dict[int, list[asyncio.Future[Any]]] = {}
        self.backoff = 0.1
        #: whether the worker is about to claim (its claim then carries the results)
        self.claim_coming: Callable[[], bool] = lambda: False

    async def loop_forever(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            if self.results and self.claim_coming():
                await asyncio.sleep(CARRY_WAIT)  # reports what the claim left, if anything
            await self.flush()
            if not self.results:
                await asyncio.sleep(0.05 if self.logs else 0)

    def take(self) -> list[Result]:
        """The buffered results, for the next claim to report. None while a report is in
        flight or log lines wait: a task's log lines are written before its result."""
        if self.lock.locked() or self.logs:
            return []
        results, self.results = self.results, []
        return results

    def give_back(self, results: list[Result]) -> None:
        """Results a claim took but did not report: reported again (alone)."""
        if results:
            self.results[:0] = results
            self.ready.set()

    async def flush(self) -> None:
        async with self.lock:
            await self._flush_unlocked()

    async def _flush_unlocked(self) -> None:
        """Report buffered results and logs. While the database is unreachable they stay
        buffered and are retried with backoff, however long that takes (a late report of a
        task the engine re-queued meanwhile changes nothing); data the database refuses is
        not retried."""
        results, self.results = self.results, []
        logs, self.logs = self.logs, []
        try:
            if logs:
                await self.repo.write_logs(logs)
                logs = []
            if results:
                await self.repo.finish(results)
            self.link.ok()
            self.backoff = 0.1
        except (errors.DatabaseUnavailable, DatabaseError) as exc:
            if not connection_trouble(exc):
                await self._refused(results, logs, exc)
                return
            self.link.failed(f"reporting {len(results)} result(s)", exc)
            self.results[:0] = results
            self.logs[:0] = logs
            await asyncio.sleep(self.backoff)
            self.backoff = min(self.backoff * 2, 2.0)
            self.ready.set()

    async def _refused(
        self, results: list[Result], logs: list[LogLine], exc: BaseException
    ) -> None:
        """The database refused a batch (say a NUL character in a JSON output): drop the
        logs, then report the results one at a time, failing those it refuses alone."""
        if logs:
            log.warning("dropped %d task log line(s) the database refused (%s)", len(logs), exc)
        for result in results:
            try:
                await self.repo.finish([result])
            except errors.DatabaseUnavailable:
                self.results.append(result)
            except DatabaseError as refused:
                reason = f"ResultRefused: the database refused the task's result ({refused})"
                failed = (result[0], result[1], "FAILED_FINAL", None, None, reason)
                with contextlib.suppress(errors.DatabaseUnavailable, DatabaseError):
                    await self.repo.finish([failed])
        if self.results:
            self.ready.set()

    def log(self, task_run_id: int, attempt: int, level: str, message: str) -> None:
        """A task's log line (from any thread); NUL characters and lone surrogates are
        escaped, as the database would refuse the whole batch of log lines for one of them."""
        entry = (task_run_id, attempt, level, errors.storable_text(message), datetime.now(UTC))
        self.loop.call_soon_threadsafe(self._add_log, entry)

    def _add_log(self, entry: LogLine) -> None:
        self.logs.append(entry)
        self.ready.set()

    def put_stream(self, run_id: str, task_run_id: int, data: str) -> None:
        """Written at once (not batched): readers follow the task live. From a sync task this
        waits for the write; from an async task it is scheduled in order on the loop, and the
        task's result is reported only after its writes."""
        write = on_loop(self.loop, self._stream_write(run_id, task_run_id, data))
        pending = write()
        if isinstance(pending, asyncio.Future):
            self.stream_writes.setdefault(task_run_id, []).append(pending)

    async def _stream_write(self, run_id: str, task_run_id: int, data: str) -> None:
        async with self.stream_lock:
            await self.repo.put_stream_chunk(run_id, task_run_id, data)


def on_loop(loop: asyncio.AbstractEventLoop, coro: Awaitable[Any]) -> Callable[[], Any]:
    """Run a coroutine on the worker loop from a task thread (or schedule it from the loop):
    call the result to wait for it (on the loop: get its task)."""
    if _in_loop(loop):
        task = asyncio.ensure_future(coro)
        return lambda: task
    future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(coro, loop)  # type: ignore[arg-type]
    return lambda: future.result(30)


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
