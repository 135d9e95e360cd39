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
import traceback
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from hatchnb import client as client_module
from hatchnb import durable, errors, serialization
from hatchnb.context import ClaimedTask, Context, current_context
from hatchnb.engine import Engine
from hatchnb.store import AsyncStore, connect_async

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
        }


class _Runtime:
    """Everything a started worker does, on one event loop."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.client = worker.client
        self.settings = worker.client._settings
        self.worker_id = worker.worker_id
        self.name = worker.name
        self.store = AsyncStore(self.client.dsn, max_size=4, durable=False)
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
        self.stream_lock = asyncio.Lock()  # keeps an async task's chunks in order
        self.stream_writes: dict[int, list[asyncio.Future[Any]]] = {}
        self.maybe_more = True
        self.stopping = asyncio.Event()
        self.stopped = threading.Event()
        self.workflow_filter = worker.workflow_names
        self.engine = Engine(self.client.dsn, self.settings)

    # ---- lifecycle -------------------------------------------------------------------

    def request_stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)

    async def run(self) -> None:
        client_module._ambient = client_module._ambient or self.client
        handler = self._install_log_handler()
        await self.store.open()
        await self._register()
        self.worker._started.set()
        background = [
            asyncio.create_task(c) for c in (self._listen(), self._heartbeat(), self.engine.run())
        ]
        flusher = asyncio.create_task(self._flush_loop())
        try:
            await self._claim_loop()
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
            self.stopped.set()

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
                try:
                    rows = await self.store.fetch_all(
                        "claim_task_runs",
                        worker_id=self.worker_id,
                        limit=free,
                        workflows=self.workflow_filter,
                        python=serialization.PYTHON_VERSION,
                    )
                    backoff = 0.1
                except (errors.DatabaseUnavailable, psycopg.Error) as exc:
                    log.warning("cannot claim tasks (%s); retrying in %.1fs", exc, backoff)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                self.maybe_more = sum(r["slot_cost"] for r in rows) >= free
                for row in rows:
                    self._start(ClaimedTask.from_row(row))
                if self.maybe_more:
                    await self._wait_for_slot()
                    await asyncio.sleep(0)  # let finishing tasks free more slots: bigger claims
                    continue
            await self._wait_for_work()

    def slots_used(self) -> int:
        return sum(self.slot_costs.values())

    async def _wait_for_slot(self) -> None:
        while self.slots_used() >= self.worker.slots and not self.stopping.is_set():
            self.wake.clear()
            await self._wait(self.wake, self.settings.poll_interval)

    async def _wait_for_work(self) -> None:
        self.wake.clear()
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
            self.stream_writes.pop(claim.id, None)
            self._release(claim.id)
        self.results.append(result)
        self.results_ready.set()

    def _release(self, task_run_id: int) -> None:
        self.running.pop(task_run_id, None)
        self.slot_costs.pop(task_run_id, None)
        self.wake.set()

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
        """Report buffered results and logs; on a database error keep them for the next try."""
        results, self.results = self.results, []
        logs, self.logs = self.logs, []
        try:
            if logs:
                await self._write_logs(logs)
                logs = []
            if results:
                await self._finish(results)
        except (errors.DatabaseUnavailable, psycopg.Error) as exc:
            log.warning("cannot report %d result(s) yet (%s); will retry", len(results), exc)
            self.results[:0] = results
            self.logs[:0] = logs
            await asyncio.sleep(0.5)
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
                await asyncio.sleep(0.01 * (attempt + 1))
        raise errors.HatchnbError("could not report results after 5 deadlock retries")

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
                    self.maybe_more = True
                    self.wake.set()
                    backoff = 0.1
                    async for note in conn.notifies():
                        self._on_notify(note.channel, note.payload)
            except (errors.DatabaseUnavailable, psycopg.Error) as exc:
                log.warning("notification connection lost (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

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
                log.warning("heartbeat failed (%s)", exc)
                continue
            if row and row["previous_status"] == "DEAD":
                log.warning(
                    "the engine had declared this worker dead; its running tasks were "
                    "re-queued and their results here will be discarded"
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


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc}\n\n{text}"
