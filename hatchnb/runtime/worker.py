"""Worker: claims task runs, runs them in slots, reports results in batches, heartbeats."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from hatchnb import ambient, errors, serialization
from hatchnb.runtime import durable
from hatchnb.runtime.context import ClaimedTask, Context, current_context
from hatchnb.runtime.engine import Engine
from hatchnb.runtime.supervise import supervised
from hatchnb.store import AsyncStore, connect_async
from hatchnb.store.db import redact

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.workflow import Workflow

log = logging.getLogger("hatchnb.worker")

#: what a finished task reports: (id, attempt, outcome, output json, blob, error)
Result = tuple[int, int, str, str | None, bytes | None, str | None]


class _TaskLogHandler(logging.Handler):
    """Routes ``logging`` records emitted inside a task to that task run's log."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = current_context.get()
        if ctx is not None and not record.name.startswith(("hatchnb", "psycopg")):
            ctx._worker.log(
                ctx._claim.id, ctx._claim.attempt, record.levelname, self.format(record)
            )


class _Link:
    """Whether the database answers, as seen by all of a worker's loops: an outage is logged
    when it starts, once a minute while it lasts and when it ends, not at every retry."""

    REPEAT_AFTER = 60.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.down_since: float | None = None
        self.last_said = 0.0
        #: set when the database is back: the worker then compares notes with it
        self.recovered = asyncio.Event()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, doing: str, exc: BaseException) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = self.last_said = now
            log.warning(
                "lost the database at %s while %s (%s); retrying with backoff",
                self.url,
                doing,
                _first_line(exc),
            )
        elif now - self.last_said >= self.REPEAT_AFTER:
            self.last_said = now
            log.warning(
                "database at %s still unreachable after %.0fs (%s); still retrying",
                self.url,
                now - self.down_since,
                _first_line(exc),
            )

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning(
                "reconnected to the database after %.1fs", time.monotonic() - self.down_since
            )
            self.down_since = None
            self.recovered.set()


class _QuietWhileDown(logging.Filter):
    """psycopg_pool warns at every connection attempt; while the worker has already said
    that the database is down, those only repeat it."""

    def __init__(self, link: _Link) -> None:
        super().__init__()
        self.link = link

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.link.down and record.levelno <= logging.WARNING)


def _connection_trouble(exc: BaseException) -> bool:
    return isinstance(exc, errors.DatabaseUnavailable | psycopg.OperationalError)


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, errors.DatabaseUnavailable) and exc.__cause__ is not None:
        exc = exc.__cause__  # the libpq message; the URL is already in the log line
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Worker:
    """Runs task runs of the given workflows (or of any registered workflow)."""

    def __init__(
        self,
        client: Hatchet,
        name: str,
        *,
        slots: int = 100,
        labels: dict[str, str | int] | None = None,
        workflows: list[Workflow] | None = None,
    ) -> None:
        if slots < 1:
            raise ValueError(f"slots={slots}: a worker needs at least one slot")
        self.client = client
        self.name = name
        self.slots = slots
        self.labels = dict(labels or {})
        self.workflows = workflows
        self.workflow_names = [w.name for w in workflows] if workflows is not None else None
        self.worker_id = str(uuid.uuid4())
        self._runtime: _Runtime | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def register_workflow(self, workflow: Workflow) -> None:
        """Also while running (a notebook adds workflows to its in-kernel worker)."""
        self.workflows = [*(self.workflows or []), workflow]
        if workflow.name not in (self.workflow_names or []):
            self.workflow_names = [*(self.workflow_names or []), workflow.name]
        if self._runtime is not None:
            self.client.register(workflow)
            self._runtime.workflow_filter = self.workflow_names

    def register_workflows(self, workflows: list[Workflow]) -> None:
        for workflow in workflows:
            self.register_workflow(workflow)

    def start(self) -> Worker:
        """Run until SIGTERM/SIGINT; inside a running event loop (a notebook) start in a
        background thread instead and return at once."""
        if _in_ipython():
            return self.start_background()  # even without a running loop: keep the prompt
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.aio_start(handle_signals=True))
            return self
        return self.start_background()

    async def aio_start(self, handle_signals: bool = False) -> None:
        for workflow in self.workflows or []:
            await asyncio.to_thread(self.client.register, workflow)
        self._runtime = _Runtime(self)
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._runtime.request_stop)
        await self._runtime.run()

    def start_background(self) -> Worker:
        """Run on a thread with its own event loop (notebooks); returns once the worker is
        registered, or raises what stopped it from starting."""
        failure: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self.aio_start())
            except BaseException as exc:
                failure.append(exc)
                self._started.set()

        self._thread = threading.Thread(
            target=main, name=f"hatchnb-worker-{self.name}", daemon=True
        )
        self._thread.start()
        self._started.wait(60)
        if failure:
            raise failure[0]
        atexit.register(self._stop_at_exit)
        return self

    def _stop_at_exit(self) -> None:
        """Interpreter (kernel) shutdown: hand running tasks back instead of losing them."""
        if self.running:
            self.stop(timeout=self.client._settings.shutdown_grace + 5)

    def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully: finish running tasks (up to the grace period) or hand them back."""
        atexit.unregister(self._stop_at_exit)
        if self._runtime is not None:
            self._runtime.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._runtime is not None and not self._runtime.stopped.is_set()

    def status(self) -> dict[str, Any]:
        runtime = self._runtime
        return {
            "worker_id": self.worker_id,
            "name": self.name,
            "slots": self.slots,
            "running_tasks": len(runtime.running) if runtime else 0,
            "slots_used": runtime.slots_used() if runtime else 0,
            "alive": self.running,
            "loop_restarts": list(runtime.restarts) if runtime else [],
            "failure": runtime.failure if runtime else None,
        }


class _Runtime:
    """Everything a started worker does, on one event loop."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.client = worker.client
        self.settings = worker.client._settings
        self.worker_id = worker.worker_id
        self.name = worker.name
        self.store = AsyncStore(self.client.dsn, max_size=4, durable=False, keep_reconnecting=True)
        self.link = _Link(redact(self.client.dsn))
        self.loop = asyncio.get_running_loop()
        # tasks that called ctx.release_slot() keep their thread: room for a few more
        self.executor = ThreadPoolExecutor(
            max_workers=worker.slots + 16, thread_name_prefix=f"hatchnb-{worker.name}"
        )
        self.running: dict[int, tuple[asyncio.Task[None], Context]] = {}
        #: task run id -> slots it occupies (absent once released)
        self.slot_costs: dict[int, int] = {}
        self.results: list[Result] = []
        self.logs: list[tuple[int, int, str, str, datetime]] = []
        self.code: dict[int, serialization.WorkflowCode] = dict(self.client._local_code)
        self.wake = asyncio.Event()
        self.results_ready = asyncio.Event()
        self.flush_lock = asyncio.Lock()
        self.claim_lock = asyncio.Lock()  # no claim in flight while comparing notes
        self.stream_lock = asyncio.Lock()  # keeps an async task's chunks in order
        self.stream_writes: dict[int, list[asyncio.Future[Any]]] = {}
        self.maybe_more = True
        self.flush_backoff = 0.1
        self.stopping = asyncio.Event()
        self.stopped = threading.Event()
        self.workflow_filter = worker.workflow_names
        self.engine = Engine(self.client.dsn, self.settings)
        #: background loops that failed and were restarted (newest last)
        self.restarts: list[str] = []
        #: why the worker stopped on its own, if it did
        self.failure: str | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def request_stop(self) -> None:
        # a worker that stopped on its own (its loop closed) has nothing left to stop
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.stopping.set)

    async def run(self) -> None:
        ambient.adopt(self.client)
        handler = self._install_log_handler()
        quiet = _QuietWhileDown(self.link)
        logging.getLogger("psycopg.pool").addFilter(quiet)
        await self.store.open()
        await self._register()
        self.worker._started.set()
        loops = {
            "listen": self._listen,
            "heartbeat": self._heartbeat,
            "reconcile": self._reconcile_loop,
            "engine": self.engine.run,
        }
        background = [
            asyncio.create_task(supervised(name, loop, self.restarts))
            for name, loop in loops.items()
        ]
        flusher = asyncio.create_task(supervised("report", self._flush_loop, self.restarts))
        try:
            await self._claim_or_fail()
            await self._drain()
        finally:
            async with self.flush_lock:  # never interrupt a report in flight
                flusher.cancel()
            for task in background:
                task.cancel()
            await asyncio.gather(flusher, *background, return_exceptions=True)
            await self._flush()
            with contextlib.suppress(errors.DatabaseUnavailable, psycopg.Error):
                await self.store.execute("stop_worker", id=self.worker_id)
            await self.store.close()
            self.executor.shutdown(wait=False, cancel_futures=True)
            logging.getLogger().removeHandler(handler)
            logging.getLogger("psycopg.pool").removeFilter(quiet)
            self.stopped.set()

    async def _claim_or_fail(self) -> None:
        """The claim loop cannot be restarted halfway through a claim: if it raises, the
        worker stops (running tasks finish or go back to the queue) and says why."""
        try:
            await self._claim_loop()
        except Exception as exc:
            log.exception("the claim loop failed; stopping this worker")
            self.failure = f"claim loop: {type(exc).__name__}: {exc}"
            self.stopping.set()

    def _install_log_handler(self) -> logging.Handler:
        handler = _TaskLogHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        return handler

    async def _register(self) -> None:
        await self.store.execute(
            "register_worker",
            id=self.worker_id,
            name=self.name,
            slots=self.worker.slots,
            labels=Jsonb(self.worker.labels),
            workflows=self.workflow_filter,
            python_version=serialization.PYTHON_VERSION,
            hostname=socket.gethostname(),
            pid=os.getpid(),
        )
        log.info(
            "worker %s (%s) started with %d slots", self.name, self.worker_id, self.worker.slots
        )

    async def _drain(self) -> None:
        """Give running tasks the grace period, then hand the rest back to the queue."""
        if self.running:
            tasks = [t for t, _ in self.running.values()]
            await asyncio.wait(tasks, timeout=self.settings.shutdown_grace)
        leftover = dict(self.running)
        if not leftover:
            return
        for task, ctx in leftover.values():
            ctx._mark_cancelled()
            task.cancel()
        with contextlib.suppress(errors.DatabaseUnavailable, psycopg.Error):
            await self.store.execute(
                "hand_back_task_runs", ids=list(leftover), worker_id=self.worker_id
            )
            await self.store.execute("notify_queued")
        log.warning("handed %d running task run(s) back to the queue", len(leftover))

    # ---- claiming ---------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        backoff = 0.1
        while not self.stopping.is_set():
            free = self.worker.slots - self.slots_used()
            if free > 0 and self.maybe_more:
                self.maybe_more = False  # a notification during the claim sets it again
                try:
                    rows = await self._claim(free)
                    backoff = 0.1
                except (errors.DatabaseUnavailable, psycopg.Error) as exc:
                    if _connection_trouble(exc):
                        self.link.failed("claiming tasks", exc)
                    else:
                        log.warning("cannot claim tasks (%s); retrying in %.1fs", exc, backoff)
                    self.maybe_more = True
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                if sum(r["slot_cost"] for r in rows) >= free:
                    self.maybe_more = True
                if self.maybe_more:
                    await self._wait_for_slot()
                    await asyncio.sleep(0)  # let finishing tasks free more slots: bigger claims
                    continue
            await self._wait_for_work()

    async def _claim(self, free: int) -> list[dict[str, Any]]:
        async with self.claim_lock:
            rows = await self.store.fetch_all(
                "claim_task_runs",
                worker_id=self.worker_id,
                limit=free,
                workflows=self.workflow_filter,
                python=serialization.PYTHON_VERSION,
            )
            self.link.ok()
            for row in rows:
                self._start(ClaimedTask.from_row(row))
        return rows

    def slots_used(self) -> int:
        return sum(self.slot_costs.values())

    async def _wait_for_slot(self) -> None:
        while self.slots_used() >= self.worker.slots and not self.stopping.is_set():
            self.wake.clear()
            await self._wait(self.wake, self.settings.poll_interval)

    async def _wait_for_work(self) -> None:
        self.wake.clear()
        if self.maybe_more:
            return  # work was announced while the last claim ran
        if not await self._wait(self.wake, self.settings.poll_interval):
            self.maybe_more = True  # poll fallback: retries whose delay passed, lost notifies

    async def _wait(self, event: asyncio.Event, timeout: float) -> bool:
        stop = asyncio.ensure_future(self.stopping.wait())
        wait = asyncio.ensure_future(event.wait())
        done, pending = await asyncio.wait(
            {stop, wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for fut in pending:
            fut.cancel()
        return bool(done)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    def _start(self, claim: ClaimedTask) -> None:
        stale = self.running.get(claim.id)
        if stale is not None:  # an older attempt the engine took away (declared us dead)
            self._abandon(*stale)
        ctx = Context(claim, self, self.client)
        task = self.loop.create_task(self._execute(claim, ctx))
        ctx._async_task = task
        self.running[claim.id] = (task, ctx)
        self.slot_costs[claim.id] = claim.slot_cost

    # ---- executing --------------------------------------------------------------------

    async def _execute(self, claim: ClaimedTask, ctx: Context) -> None:
        token = current_context.set(ctx)
        try:
            result = await self._call(claim, ctx)
            await asyncio.gather(*self.stream_writes.pop(claim.id, []), return_exceptions=True)
        except asyncio.CancelledError:
            return  # cancelled run or shutdown: the database already has the final state
        finally:
            current_context.reset(token)
            self._release(claim)
        self.results.append(result)
        self.results_ready.set()

    def _release(self, claim: ClaimedTask) -> None:
        entry = self.running.get(claim.id)
        if entry is not None and entry[1]._claim.attempt == claim.attempt:
            self.running.pop(claim.id)
            self.slot_costs.pop(claim.id, None)
            self.stream_writes.pop(claim.id, None)
        self.wake.set()

    def _abandon(self, task: asyncio.Task[None], ctx: Context) -> None:
        """Stop caring about a task the database gave to someone else (its thread, if any,
        runs on; whatever it returns is not reported)."""
        ctx._mark_cancelled()
        task.cancel()

    def release_slot(self, task_run_id: int, attempt: int) -> None:
        """ctx.release_slot(): free the task's slots now; it keeps running."""

        def release() -> None:
            if self.slot_costs.pop(task_run_id, None) is not None:
                self.maybe_more = True
                self.wake.set()
                self.loop.create_task(
                    self.store.execute("release_slot", id=task_run_id, attempt=attempt)
                )

        self.loop.call_soon_threadsafe(release)

    def upsert_labels(self, labels: dict[str, str | int]) -> None:
        """ctx.upsert_worker_labels(): the next assignment sees the new labels."""
        self.worker.labels.update(labels)
        self._run_coroutine(
            self.store.execute("update_worker_labels", id=self.worker_id, labels=Jsonb(labels))
        )()

    async def _call(self, claim: ClaimedTask, ctx: Context) -> Result:
        settings = self.settings
        try:
            code = self.code.get(claim.version_id) or await self._code_for(claim)
            fn = code.functions[claim.task_name]
            data = serialization.load_input(claim.input, code.input_validator)
            if claim.task_name in code.durable:
                ctx = await self._durable_context(claim, ctx)
            if asyncio.iscoroutinefunction(fn):
                value = await fn(data, ctx)
            else:
                call = contextvars.copy_context().run
                value = await self.loop.run_in_executor(self.executor, call, fn, data, ctx)
            output, blob = serialization.dump_output(
                value, settings.max_payload_bytes, settings.max_blob_bytes, settings.signing_key
            )
        except asyncio.CancelledError:
            raise
        except durable.Evicted as evicted:
            resume = json.dumps({"resume_at": evicted.resume_at.isoformat()})
            return (claim.id, claim.attempt, "EVICTED", resume, None, None)
        except (
            errors.NonRetryableException,
            errors.IncompatibleCode,
            errors.SerializationError,
        ) as exc:
            return (claim.id, claim.attempt, "FAILED_FINAL", None, None, _describe(exc))
        except ImportError as exc:  # an import inside the task body: not transient
            message = errors.missing_module(exc, claim.task_name)
            return (claim.id, claim.attempt, "FAILED_FINAL", None, None, _describe(exc, message))
        except Exception as exc:
            return (claim.id, claim.attempt, "FAILED", None, None, _describe(exc))
        return (claim.id, claim.attempt, "SUCCEEDED", output, blob, None)

    async def _durable_context(self, claim: ClaimedTask, ctx: Context) -> Context:
        """Swap the plain context for a DurableContext holding the run's event log."""
        log_rows = await self.store.fetch_all("durable_log", task_run_id=claim.id)
        durable_ctx = durable.DurableContext(
            claim, self, self.client, log_rows, self.settings.durable_evict_after
        )
        durable_ctx._async_task = ctx._async_task
        if ctx.is_cancelled:
            durable_ctx._mark_cancelled()
        if claim.id in self.running:
            self.running[claim.id] = (self.running[claim.id][0], durable_ctx)
        current_context.set(durable_ctx)
        return durable_ctx

    async def _code_for(self, claim: ClaimedTask) -> serialization.WorkflowCode:
        code = self.code.get(claim.version_id) or self.client._local_code.get(claim.version_id)
        if code is None:
            row = await self.store.fetch_one("get_workflow_version", id=claim.version_id)
            if row is None:
                raise errors.IncompatibleCode(f"workflow version {claim.version_id} is missing")
            serialization.check_signature(
                row["code"], row["signature"], self.settings.signing_key, claim.version_id
            )
            code = await asyncio.to_thread(
                serialization.load_code, row["code"], row["python_version"], claim.version_id
            )
        self.code[claim.version_id] = code
        return code

    # ---- reporting -------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self.results_ready.wait()
            self.results_ready.clear()
            await self._flush()
            if not self.results:
                await asyncio.sleep(0.05 if self.logs else 0)

    async def _flush(self) -> None:
        async with self.flush_lock:
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
                await self._write_logs(logs)
                logs = []
            if results:
                await self._finish(results)
            self.link.ok()
            self.flush_backoff = 0.1
        except (errors.DatabaseUnavailable, psycopg.Error) as exc:
            if not _connection_trouble(exc):
                await self._refused(results, logs, exc)
                return
            self.link.failed(f"reporting {len(results)} result(s)", exc)
            self.results[:0] = results
            self.logs[:0] = logs
            await asyncio.sleep(self.flush_backoff)
            self.flush_backoff = min(self.flush_backoff * 2, 2.0)
            self.results_ready.set()

    async def _refused(
        self,
        results: list[Result],
        logs: list[tuple[int, int, str, str, datetime]],
        exc: BaseException,
    ) -> None:
        """The database refused a batch (say a NUL character in a JSON output): drop the
        logs, then report the results one at a time, failing those it refuses alone."""
        if logs:
            log.warning("dropped %d task log line(s) the database refused (%s)", len(logs), exc)
        for result in results:
            try:
                await self._finish([result])
            except errors.DatabaseUnavailable:
                self.results.append(result)
            except psycopg.Error as refused:
                reason = f"ResultRefused: the database refused the task's result ({refused})"
                failed = (result[0], result[1], "FAILED_FINAL", None, None, reason)
                with contextlib.suppress(errors.DatabaseUnavailable, psycopg.Error):
                    await self._finish([failed])
        if self.results:
            self.results_ready.set()

    async def _write_logs(self, logs: list[tuple[int, int, str, str, datetime]]) -> None:
        ids, attempts, levels, messages, created = (list(c) for c in zip(*logs, strict=True))
        await self.store.execute(
            "insert_logs",
            task_run_ids=ids,
            attempts=attempts,
            levels=levels,
            messages=messages,
            created=created,
        )

    async def _finish(self, results: list[Result]) -> None:
        results.sort(key=lambda r: r[0])  # lock task rows in id order
        columns = (list(c) for c in zip(*results, strict=True))
        ids, attempts, outcomes, outputs, blobs, errs = columns
        for attempt in range(5):
            try:
                await self.store.execute(
                    "finish_task_runs",
                    ids=ids,
                    attempts=attempts,
                    outcomes=outcomes,
                    outputs=outputs,
                    blobs=blobs,
                    errors=errs,
                )
                return
            except psycopg.errors.DeadlockDetected:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))

    # ---- WorkerHandle for contexts ---------------------------------------------------

    def log(self, task_run_id: int, attempt: int, level: str, message: str) -> None:
        entry = (task_run_id, attempt, level, message, datetime.now(UTC))
        self.loop.call_soon_threadsafe(self._add_log, entry)

    def _add_log(self, entry: tuple[int, int, str, str, datetime]) -> None:
        self.logs.append(entry)
        self.results_ready.set()

    def refresh_timeout(self, task_run_id: int, attempt: int, increment: timedelta) -> None:
        run = self._run_coroutine(
            self.store.execute(
                "refresh_timeout", id=task_run_id, attempt=attempt, increment=increment
            )
        )
        run()

    def put_stream(self, run_id: str, task_run_id: int, data: str) -> None:
        """Written at once (not batched): readers follow the task live. From a sync task this
        waits for the write; from an async task it is scheduled in order on the loop, and the
        task's result is reported only after its writes."""
        write = self._run_coroutine(self._stream_lock_write(run_id, task_run_id, data))
        pending = write()
        if isinstance(pending, asyncio.Future):
            self.stream_writes.setdefault(task_run_id, []).append(pending)

    async def _stream_lock_write(self, run_id: str, task_run_id: int, data: str) -> None:
        async with self.stream_lock:
            await self.store.execute(
                "put_stream_chunk", run_id=run_id, task_run_id=task_run_id, data=data
            )

    def _run_coroutine(self, coro: Awaitable[Any]) -> Callable[[], Any]:
        """Run a coroutine on the worker loop from a task thread (or schedule it from the loop)."""
        if _in_loop(self.loop):
            task = asyncio.ensure_future(coro)
            return lambda: task
        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return lambda: future.result(30)

    # ---- notifications, heartbeats ---------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                conn = await connect_async(self.client.dsn)
                async with conn:
                    await conn.execute("LISTEN hatchnb_queued")
                    await conn.execute("LISTEN hatchnb_cancel")
                    self.link.ok()
                    self.maybe_more = True  # what was queued while nobody listened
                    self.wake.set()
                    backoff = 0.1
                    async for note in conn.notifies():
                        self._on_notify(note.channel, note.payload)
            except (errors.DatabaseUnavailable, psycopg.Error) as exc:
                self.link.failed("listening for notifications", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _on_notify(self, channel: str, payload: str) -> None:
        if channel == "hatchnb_queued":
            self.maybe_more = True
            self.wake.set()
            return
        for raw in payload.split(","):
            entry = self.running.get(int(raw)) if raw.isdigit() else None
            if entry is not None:
                entry[1]._mark_cancelled()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            try:
                row = await self.store.fetch_one("heartbeat_worker", id=self.worker_id)
            except (errors.DatabaseUnavailable, psycopg.Error) as exc:
                self.link.failed("sending a heartbeat", exc)
                continue
            self.link.ok()
            if row and row["previous_status"] == "DEAD":
                log.warning(
                    "the engine had declared this worker dead and re-queued its running "
                    "tasks; active again, dropping the tasks it gave to other workers"
                )
                self.link.recovered.set()

    async def _reconcile_loop(self) -> None:
        while True:
            await self.link.recovered.wait()
            self.link.recovered.clear()
            try:
                await self._reconcile()
            except (errors.DatabaseUnavailable, psycopg.Error) as exc:
                self.link.failed("comparing running tasks with the database", exc)

    async def _reconcile(self) -> None:
        """After an outage, or after being declared dead, the database and this worker may
        disagree on what runs here: a claim whose reply was lost, a result whose asynchronous
        commit a crash forgot, a task the engine re-queued or cancelled. The database wins:
        tasks it no longer gives this worker are dropped, and tasks it believes run here but
        do not are handed back to the queue (they run again: at-least-once)."""
        async with self.claim_lock, self.flush_lock:
            rows = await self.store.fetch_all("worker_running_task_runs", worker_id=self.worker_id)
            held = {(r["id"], r["attempt"]) for r in rows}
            taken = [
                (task, ctx)
                for task, ctx in self.running.values()
                if (ctx._claim.id, ctx._claim.attempt) not in held
            ]
            known = set(self.running) | {result[0] for result in self.results}
            orphans = sorted({r["id"] for r in rows} - known)
            if orphans:
                await self.store.execute(
                    "hand_back_task_runs", ids=orphans, worker_id=self.worker_id
                )
                await self.store.execute("notify_queued")
        for task, ctx in taken:
            self._abandon(task, ctx)
        if taken or orphans:
            log.warning(
                "compared with the database: dropped %d task run(s) it no longer gives this "
                "worker, re-queued %d it believed were running here",
                len(taken),
                len(orphans),
            )


def _in_ipython() -> bool:
    """Inside an IPython shell or Jupyter kernel (whether or not its loop is running)."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _describe(exc: BaseException, message: str | None = None) -> str:
    """``Type: message`` (``message`` replaces the exception's own), then the traceback."""
    text = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc if message is None else message}\n\n{text}"
