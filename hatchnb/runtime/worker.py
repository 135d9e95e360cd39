"""Worker: claims task runs, runs them in slots, reports results in batches, heartbeats.

``Worker`` is the public face; a started worker's ``_Runtime`` wires the parts, each in its
module: ``claims`` (slots, the claim loop, LISTEN wake-ups), ``executor`` (running one claim),
``reporter`` (batched results and logs, streams), ``link`` (outages, heartbeats, comparing
notes after one), ``supervise`` (restarting a background loop that raised)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hatchnb import ambient, errors, serialization
from hatchnb.runtime.batches import start_batches
from hatchnb.runtime.claims import Claimer, Slots
from hatchnb.runtime.context import current_context
from hatchnb.runtime.durable import capacity_eviction_candidates
from hatchnb.runtime.engine import Engine
from hatchnb.runtime.executor import Executor
from hatchnb.runtime.health import HealthReport, HealthServer, WorkerStatus
from hatchnb.runtime.lifespan import LifespanFn, WorkerLifespan
from hatchnb.runtime.link import Link, QuietWhileDown, Reconciler
from hatchnb.runtime.reporter import Reporter, on_loop
from hatchnb.runtime.supervise import supervised
from hatchnb.store import AsyncStore
from hatchnb.store.db import redact
from hatchnb.store.durable import AsyncDurableRepo
from hatchnb.store.versions import AsyncVersionsRepo
from hatchnb.store.workers import AsyncWorkersRepo, ClaimedTask, DatabaseError, Registration

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.workflow import Workflow

log = logging.getLogger("hatchnb.worker")

#: seconds a kernel or interpreter shutting down lets running tasks finish when
#: HATCHNB_SHUTDOWN_GRACE is unset
_EXIT_GRACE = 10.0

#: seconds between two looks at whether waits hold every durable slot (hatchet_sdk's 1 s)
_CAPACITY_EVICTION_INTERVAL = 1.0


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
        durable_slots: int | None = None,
        labels: dict[str, str | int] | None = None,
        workflows: list[Workflow[Any]] | None = None,
        lifespan: LifespanFn | None = None,
    ) -> None:
        if slots < 1:
            raise ValueError(f"slots={slots}: a worker needs at least one slot")
        if durable_slots is not None and (type(durable_slots) is not int or durable_slots < 1):
            raise ValueError(
                f"durable_slots={durable_slots!r}: give a whole number of at least 1, or None "
                "for durable task runs to use the worker's slots"
            )
        self.client = client
        self.name = name
        self.slots = slots
        #: the separate pool of durable slots (None: durable task runs use ``slots``)
        self.durable_slots = durable_slots
        self.labels = dict(labels or {})
        self.workflows = workflows
        self.workflow_names = [w.name for w in workflows] if workflows is not None else None
        self.worker_id = str(uuid.uuid4())
        #: entered before the first claim (its value is ctx.lifespan), left after the last task
        self.lifespan = WorkerLifespan(lifespan) if lifespan is not None else None
        self._runtime: _Runtime | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def register_workflow(self, workflow: Workflow[Any]) -> None:
        """Also while running (a notebook adds workflows to its in-kernel worker)."""
        self.workflows = [*(self.workflows or []), workflow]
        if workflow.name not in (self.workflow_names or []):
            self.workflow_names = [*(self.workflow_names or []), workflow.name]
        if self._runtime is not None:
            self.client.register(workflow)
            self._runtime.claimer.workflows = self.workflow_names
            if self.runs_batches():
                self._runtime.claimer.start_batches = self._runtime._start_batches

    def runs_batches(self) -> bool:
        """Whether this worker claims batches: it declares a batch task, or runs any
        workflow (then each claim also asks for batches, one more round trip)."""
        if self.workflows is None:
            return True
        return any(t.batch is not None for w in self.workflows for t in w.all_tasks)

    def register_workflows(self, workflows: list[Workflow[Any]]) -> None:
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
            pass  # no loop: run one here (outside the except, so task errors do not chain it)
        else:
            return self.start_background()
        asyncio.run(self.aio_start(handle_signals=True))
        return self

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
        """Interpreter (kernel) shutdown: hand running tasks back instead of losing them (a
        kernel restart does not wait for long tasks)."""
        if self.running:
            grace = self.client._settings.shutdown_grace
            grace = _EXIT_GRACE if grace is None else grace
            self.stop(timeout=grace + 5, grace=grace)

    def stop(self, timeout: float | None = None, grace: float | None = None) -> None:
        """Stop gracefully: running tasks get ``grace`` seconds (default
        ``HATCHNB_SHUTDOWN_GRACE``, unset: until they finish) to finish, then are handed back;
        ``timeout`` bounds how long this call waits."""
        atexit.unregister(self._stop_at_exit)
        if self._runtime is not None:
            self._runtime.request_stop(grace)
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
            "durable_slots": self.durable_slots,
            "running_tasks": len(runtime.slots.running) if runtime else 0,
            "slots_used": runtime.slots.used() if runtime else 0,
            "alive": self.running,
            "loop_restarts": list(runtime.restarts) if runtime else [],
            "failure": runtime.failure if runtime else None,
        }


class _Runtime:
    """Everything a started worker does, on one event loop; the ``WorkerHandle`` of its
    tasks' contexts."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.client = worker.client
        self.settings = worker.client._settings
        #: how long a stop lets running tasks finish (None: until they do)
        self.grace: float | None = self.settings.shutdown_grace
        self.worker_id = worker.worker_id
        self.name = worker.name
        self.store = AsyncStore(self.client.dsn, max_size=4, durable=False, keep_reconnecting=True)
        self.repo = AsyncWorkersRepo(self.store)
        self.loop = asyncio.get_running_loop()
        self.link = Link(
            redact(self.client.dsn), self.repo, self.worker_id, self.settings.heartbeat_interval
        )
        self.stopping = asyncio.Event()
        self.stopped = threading.Event()
        self.slots = Slots(worker.slots, worker.durable_slots)
        self.reporter = Reporter(self.repo, self.link, self.loop)
        # tasks that called ctx.release_slot() keep their thread: room for a few more
        self.threads = ThreadPoolExecutor(
            max_workers=worker.slots + 16, thread_name_prefix=f"hatchnb-{worker.name}"
        )
        self.executor = Executor(
            self.client,
            self,
            self.slots,
            self.reporter,
            AsyncVersionsRepo(self.store),
            AsyncDurableRepo(self.store),
            self.threads,
        )
        self.claimer = Claimer(
            self.repo,
            self.link,
            self.slots,
            self.reporter,
            self.executor.start,
            self.settings,
            self.client.dsn,
            self.stopping,
            worker.workflow_names,
            self._start_batches if worker.runs_batches() else None,
        )
        self.reconciler = Reconciler(self.link, self.slots, self.claimer, self.reporter)
        self.engine = Engine(self.client.dsn, self.settings)
        #: background loops that failed and were restarted (newest last)
        self.restarts: list[str] = []
        #: why the worker stopped on its own, if it did
        self.failure: str | None = None
        #: what the worker's lifespan yielded (ctx.lifespan)
        self.lifespan: Any = None

    # ---- lifecycle -------------------------------------------------------------------

    def request_stop(self, grace: float | None = None) -> None:
        if grace is not None:
            self.grace = grace
        # a worker that stopped on its own (its loop closed) has nothing left to stop
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.stopping.set)

    async def run(self) -> None:
        ambient.adopt(self.client)
        handler = self._install_log_handler()
        quiet = QuietWhileDown(self.link)
        logging.getLogger("psycopg.pool").addFilter(quiet)
        await self.store.open()
        health = self._health_server()
        if health is not None:
            await health.start()
        lifespan = self.worker.lifespan
        if lifespan is not None:
            try:
                self.lifespan = await lifespan.enter()
            except BaseException:  # the worker does not start: undo what run() set up
                if health is not None:
                    await health.stop()
                await self.store.close()
                logging.getLogger().removeHandler(handler)
                logging.getLogger("psycopg.pool").removeFilter(quiet)
                self.stopped.set()
                raise
        await self._register()
        self.worker._started.set()
        loops = {
            "listen": self.claimer.listen_loop,
            "heartbeat": self.link.heartbeat_loop,
            "reconcile": self.reconciler.loop,
            "engine": self.engine.run,
        }
        if self.worker.durable_slots is not None:
            loops["capacity eviction"] = self._capacity_eviction_loop
        background = [
            asyncio.create_task(supervised(name, loop, self.restarts))
            for name, loop in loops.items()
        ]
        reporter = self.reporter
        flusher = asyncio.create_task(supervised("report", reporter.loop_forever, self.restarts))
        try:
            await self._claim_or_fail()
            await self._drain()
        finally:
            async with reporter.lock:  # never interrupt a report in flight
                flusher.cancel()
            for task in background:
                task.cancel()
            await asyncio.gather(flusher, *background, return_exceptions=True)
            await reporter.flush()
            if lifespan is not None:
                await lifespan.exit()
            if health is not None:
                await health.stop()
            with contextlib.suppress(errors.DatabaseUnavailable, DatabaseError):
                await self.repo.stop(self.worker_id)
            await self.store.close()
            self.threads.shutdown(wait=False, cancel_futures=True)
            logging.getLogger().removeHandler(handler)
            logging.getLogger("psycopg.pool").removeFilter(quiet)
            self.stopped.set()

    async def _capacity_eviction_loop(self) -> None:
        """Evict waiting durable task runs while their waits hold every durable slot."""
        durable_slots = self.worker.durable_slots
        assert durable_slots is not None
        min_wait = timedelta(seconds=self.settings.durable_capacity_min_wait)
        while not self.stopping.is_set():
            contexts = [ctx for _, ctx in self.slots.running.values()]
            for ctx in capacity_eviction_candidates(contexts, durable_slots, min_wait):
                log.info(
                    "evicting durable task run %s (%s): its wait holds one of the %d durable "
                    "slots, all of them held by waits",
                    ctx.task_run_external_id,
                    ctx.task_name,
                    durable_slots,
                )
                ctx.evict_requested = True
            await asyncio.sleep(_CAPACITY_EVICTION_INTERVAL)

    def _health_server(self) -> HealthServer | None:
        port = self.settings.healthcheck_port
        return HealthServer(port, self.health) if port is not None else None

    def health(self) -> HealthReport:
        """What /health and /metrics report."""
        healthy = not self.link.down and not self.stopping.is_set()
        return HealthReport(
            status=WorkerStatus.HEALTHY if healthy else WorkerStatus.UNHEALTHY,
            worker_id=self.worker_id,
            name=self.name,
            slots=self.worker.slots,
            slots_used=self.slots.used(),
            running_tasks=len(self.slots.running),
            database="down" if self.link.down else "up",
        )

    async def _claim_or_fail(self) -> None:
        """The claim loop cannot be restarted halfway through a claim: if it raises, the
        worker stops (running tasks finish or go back to the queue) and says why."""
        try:
            await self.claimer.claim_loop()
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
        await self.repo.register(
            Registration(
                id=self.worker_id,
                name=self.name,
                slots=self.worker.slots,
                durable_slots=self.worker.durable_slots,
                labels=self.worker.labels,
                workflows=self.claimer.workflows,
                python_version=serialization.PYTHON_VERSION,
                hostname=socket.gethostname(),
                pid=os.getpid(),
            )
        )
        log.info(
            "worker %s (%s) started with %d slots", self.name, self.worker_id, self.worker.slots
        )

    async def _drain(self) -> None:
        """Give running tasks the grace period (none set: until they finish, each bounded by
        its execution_timeout, as Hatchet's workers drain), then hand the rest back to the
        queue. The worker shows as PAUSED meanwhile, as Hatchet's does after SIGTERM."""
        running = self.slots.running
        if running:
            with contextlib.suppress(errors.DatabaseUnavailable, DatabaseError):
                await self.repo.mark_paused(self.worker_id)
            tasks = [t for t, _ in running.values()]
            await asyncio.wait(tasks, timeout=self.grace)
        leftover = dict(running)
        if not leftover:
            return
        for task, ctx in leftover.values():
            ctx._mark_cancelled()
            task.cancel()
        with contextlib.suppress(errors.DatabaseUnavailable, DatabaseError):
            await self.repo.hand_back(list(leftover), self.worker_id)
        log.warning("handed %d running task run(s) back to the queue", len(leftover))

    def _start_batches(self, members: list[ClaimedTask]) -> int:
        return start_batches(self.executor, members)

    # ---- WorkerHandle for contexts ---------------------------------------------------

    def log(self, task_run_id: int, attempt: int, level: str, message: str) -> None:
        self.reporter.log(task_run_id, attempt, level, message)

    def put_stream(self, run_id: str, task_run_id: int, data: str) -> None:
        self.reporter.put_stream(run_id, task_run_id, data)

    def refresh_timeout(self, task_run_id: int, attempt: int, increment: timedelta) -> None:
        on_loop(self.loop, self.repo.refresh_timeout(task_run_id, attempt, increment))()

    def release_slot(self, task_run_id: int, attempt: int) -> None:
        """ctx.release_slot(): free the task's slots now; it keeps running."""

        def release() -> None:
            if self.slots.costs.pop(task_run_id, None) is not None:
                self.slots.maybe_more = True
                self.slots.wake.set()
                self.loop.create_task(self.repo.release_slot(task_run_id, attempt))

        self.loop.call_soon_threadsafe(release)

    @property
    def labels(self) -> dict[str, str | int]:
        return dict(self.worker.labels)

    def upsert_labels(self, labels: dict[str, str | int]) -> None:
        """ctx.upsert_worker_labels(): the next assignment sees the new labels."""
        self.worker.labels.update(labels)
        on_loop(self.loop, self.repo.update_labels(self.worker_id, labels))()


def _in_ipython() -> bool:
    """Inside an IPython shell or Jupyter kernel (whether or not its loop is running)."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None
