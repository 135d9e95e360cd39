"""``Hatchet``: the one object users build; declarations, triggering and results."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import threading
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from hatchnb import ambient, embedded, engine_compat, errors, serialization, signing
from hatchnb.config import Settings
from hatchnb.debounce import DebounceConfig
from hatchnb.enqueue import Enqueuer
from hatchnb.features.alerts import AlertsClient
from hatchnb.features.cel import CELClient
from hatchnb.features.concurrency import ConcurrencyClient
from hatchnb.features.cron import CronClient
from hatchnb.features.events import EventClient
from hatchnb.features.filters import FiltersClient
from hatchnb.features.logs import LogsClient
from hatchnb.features.metrics import MetricsClient
from hatchnb.features.rate_limits import RateLimitsClient
from hatchnb.features.runs import RunsClient
from hatchnb.features.scheduled import ScheduledClient
from hatchnb.features.tokens import TokensClient
from hatchnb.features.traces import TracesClient
from hatchnb.features.users import AuditClient, UsersClient
from hatchnb.features.webhooks import WebhooksClient
from hatchnb.features.workers import WorkersClient
from hatchnb.features.workflows import WorkflowsClient, declared_crons, task_sources
from hatchnb.flow_control import WorkerLabel, worker_labels
from hatchnb.idempotency import IdempotencyConfig
from hatchnb.results import ResultReader, WorkflowRunRef
from hatchnb.runtime.context import Context, current_context
from hatchnb.store import AsyncStore, Store, migrate
from hatchnb.store.versions import NewVersion, VersionsRepo
from hatchnb.types import (
    ClientConfig,
    DefaultFilter,
    EvictionPolicy,
    Priority,
    TaskDefaults,
    WorkflowRunTriggerConfig,
)
from hatchnb.workflow import _UNSET, Standalone, Workflow, refuse_unsupported

if TYPE_CHECKING:
    from hatchnb.runtime.lifespan import LifespanFn
    from hatchnb.runtime.worker import Worker

R = TypeVar("R")


def _restore_client(dsn: str | None) -> Hatchet:
    ambient_client: Hatchet | None = ambient.current()
    if ambient_client is not None:
        return ambient_client
    return Hatchet(dsn=dsn)


class Hatchet:
    """Entry point: ``hatchet = Hatchet()`` (HATCHNB_DATABASE_URL, else embedded Postgres)."""

    def __init__(
        self,
        dsn: str | None = None,
        debug: bool = False,
        client: Any = None,
        config: ClientConfig | None = None,
    ) -> None:
        refuse_unsupported(client=client)
        if config is not None and not isinstance(config, ClientConfig):
            raise TypeError(f"config={config!r}: pass a hatchnb.ClientConfig")
        #: hatchet_sdk's client settings (``logger``, ``debug``; see ClientConfig)
        self.config = config or ClientConfig(debug=debug)
        debug = debug or self.config.debug
        forward_logs(self.config.logger)
        self._settings = dataclasses.replace(
            Settings.from_env(dsn), namespace=self.config.namespace
        )
        self._explicit_dsn = dsn
        self._dsn = self._settings.dsn or embedded.ensure_running()
        migrate(self._dsn)
        self._store = Store(self._dsn)
        self._versions_repo = VersionsRepo(self._store)
        self._enqueuer = Enqueuer(self._store, self._settings)
        self._astores: dict[int, tuple[asyncio.AbstractEventLoop, AsyncStore]] = {}
        # workflow -> (its revision when registered, version id)
        #: declared workflows by name (run_many runs each item as the workflow it names)
        self._declared: weakref.WeakValueDictionary[str, Workflow[Any]] = (
            weakref.WeakValueDictionary()
        )
        self._versions: weakref.WeakKeyDictionary[Workflow[Any], tuple[int, int]] = (
            weakref.WeakKeyDictionary()
        )
        self._local_code: dict[int, serialization.WorkflowCode] = {}
        self._register_lock = threading.Lock()
        #: set in `hatchnb worker` processes, which run code registered elsewhere: the child
        #: runs their tasks start use the version registered under the child's name, as
        #: Hatchet triggers children by name, instead of storing a re-pickled copy (which
        #: a worker database role may not do)
        self._trigger_registered_versions = False
        self._reader = ResultReader(self._store, self._settings)
        store, settings = self._store, self._settings
        self.runs = RunsClient(store, settings, self._reader, self._astore, self._ref)
        self.rate_limits = RateLimitsClient(store)
        self.concurrency = ConcurrencyClient(store)
        self.workers = WorkersClient(store, settings)
        self.cron = CronClient(store, settings)
        self.scheduled = ScheduledClient(store, settings)
        self.event = EventClient(store, settings)
        self.filters = FiltersClient(store, settings)
        self.webhooks = WebhooksClient(store, settings, self.event)
        self.workflows = WorkflowsClient(store, settings, on_delete=self._forget_versions)
        self.logs = LogsClient(store, self.runs)
        self.metrics = MetricsClient(store, settings, self.runs)
        self.cel = CELClient()
        self.traces = TracesClient(store, self.runs, self.config.tenant_id)
        self.runs.traces = self.traces
        self.alerts = AlertsClient(store, settings)
        self.users = UsersClient(store)
        self.audit = AuditClient(store)
        self.tokens = TokensClient(store)
        self.debug = debug

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_client, (self._explicit_dsn,))

    def close(self) -> None:
        """Close this client's connections (async pools close with their event loops)."""
        self._reader.close()
        self._store.close()

    @property
    def dsn(self) -> str:
        return self._dsn

    # ---- declarations ---------------------------------------------------------------

    def workflow(
        self,
        *,
        name: str,
        description: str | None = None,
        input_validator: type[Any] | None = None,
        on_events: list[str] | None = None,
        on_crons: list[str] | None = None,
        cron_input: Any = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int = Priority.LOW,
        concurrency: Any = None,
        task_defaults: TaskDefaults | None = None,
        default_filters: list[DefaultFilter] | None = None,
        default_additional_metadata: dict[str, Any] | None = None,
        idempotency: IdempotencyConfig | None = None,
        debounce: DebounceConfig | None = None,
    ) -> Workflow[Any]:
        """Declare a workflow; add tasks with ``@wf.task()``."""
        return Workflow(
            self,
            name,
            description=description,
            input_validator=input_validator,
            default_priority=default_priority,
            task_defaults=task_defaults,
            version=version,
            on_events=on_events,
            on_crons=on_crons,
            cron_input=cron_input,
            concurrency=concurrency,
            sticky=sticky,
            default_filters=default_filters,
            default_additional_metadata=default_additional_metadata,
            idempotency=idempotency,
            debounce=debounce,
        )

    def task(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        input_validator: type[Any] | None = None,
        on_events: list[str] | None = None,
        on_crons: list[str] | None = None,
        cron_input: Any = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int = Priority.LOW,
        concurrency: Any = None,
        schedule_timeout: timedelta | str = _UNSET,
        execution_timeout: timedelta | str = _UNSET,
        retries: int = 0,
        rate_limits: list[Any] | None = None,
        desired_worker_labels: dict[str, Any] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        default_filters: list[DefaultFilter] | None = None,
        default_additional_metadata: dict[str, Any] | None = None,
        slot_cost: int = 1,
        idempotency: IdempotencyConfig | None = None,
        debounce: DebounceConfig | None = None,
    ) -> Callable[[Callable[..., R]], Standalone[Any, R]]:
        """Declare a standalone task (a one-task workflow); ``.run()`` returns its output."""

        def register(fn: Callable[..., R]) -> Standalone[Any, R]:
            wf: Standalone[Any, R] = Standalone(
                self,
                name or fn.__name__,
                description=description,
                input_validator=input_validator,
                default_priority=default_priority,
                version=version,
                on_events=on_events,
                on_crons=on_crons,
                cron_input=cron_input,
                concurrency=concurrency,
                sticky=sticky,
                default_filters=default_filters,
                default_additional_metadata=default_additional_metadata,
                idempotency=idempotency,
                debounce=debounce,
            )
            # the task keeps its own name; the workflow's is in the namespace
            wf.task(
                name=name or fn.__name__,
                rate_limits=rate_limits,
                desired_worker_labels=desired_worker_labels,
                slot_cost=slot_cost,
                schedule_timeout=schedule_timeout,
                execution_timeout=execution_timeout,
                retries=retries,
                backoff_factor=backoff_factor,
                backoff_max_seconds=backoff_max_seconds,
            )(fn)
            return wf

        return register

    def batch_task(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        input_validator: type[Any] | None = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int = Priority.LOW,
        schedule_timeout: timedelta | str = _UNSET,
        execution_timeout: timedelta | str = _UNSET,
        rate_limits: list[Any] | None = None,
        desired_worker_labels: dict[str, Any] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        default_filters: list[DefaultFilter] | None = None,
        batch_max_size: int = 1,
        batch_max_interval: timedelta | None = None,
        batch_group_key: str | None = None,
        batch_group_max_runs: int | None = None,
        broadcast_output: bool = False,
    ) -> Callable[[Callable[..., Any]], Standalone[Any, Any]]:
        """Declare a standalone batch task (see ``Workflow.batch_task``); each ``.run()``
        returns its own member's output."""

        def register(fn: Callable[..., Any]) -> Standalone[Any, Any]:
            wf: Standalone[Any, Any] = Standalone(
                self,
                name or fn.__name__,
                description=description,
                input_validator=input_validator,
                default_priority=default_priority,
                version=version,
                sticky=sticky,
                default_filters=default_filters,
            )
            wf.batch_task(
                name=name or fn.__name__,
                batch_max_size=batch_max_size,
                batch_max_interval=batch_max_interval,
                batch_group_key=batch_group_key,
                batch_group_max_runs=batch_group_max_runs,
                broadcast_output=broadcast_output,
                schedule_timeout=schedule_timeout,
                execution_timeout=execution_timeout,
                rate_limits=rate_limits,
                desired_worker_labels=desired_worker_labels,
                backoff_factor=backoff_factor,
                backoff_max_seconds=backoff_max_seconds,
            )(fn)
            return wf

        return register

    def durable_task(
        self, eviction_policy: EvictionPolicy | None = _UNSET, **options: Any
    ) -> Callable[[Callable[..., R]], Standalone[Any, R]]:
        """Declare a standalone durable task; it receives a ``DurableContext``.
        ``eviction_policy``: when its waits give the worker slot back (``None``: never)."""
        declare = self.task(**options)

        def register(fn: Callable[..., R]) -> Standalone[Any, R]:
            wf = declare(fn)
            wf.tasks[0].durable = True
            if eviction_policy is not _UNSET:
                wf.tasks[0].eviction = eviction_policy
            return wf

        return register

    def notebook_task(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        parameters: dict[str, Any] | None = None,
        kernel_name: str = "python3",
        execution_timeout: timedelta | str = _UNSET,
        **options: Any,
    ) -> Standalone[Any, dict[str, Any]]:
        """A task that runs the notebook at ``path`` with papermill (hatchnb only); its
        output is ``{name: value}`` of the notebook's ``hatchnb.output`` calls."""
        from hatchnb import notebook_tasks

        if execution_timeout is not _UNSET:
            options["execution_timeout"] = execution_timeout
        return notebook_tasks.declare_standalone(  # type: ignore[no-any-return]
            self, path, name, parameters, kernel_name, options
        )

    @property
    def tenant_id(self) -> str:
        """hatchet_sdk's tenant id: hatchnb has one tenant per database, with no id."""
        return self.config.tenant_id

    @property
    def namespace(self) -> str:
        """The namespace this client's names and event keys are in ("" for none)."""
        return self.config.namespace

    @property
    def current_context(self) -> Context | None:
        """The context of the task running here (None outside a task)."""
        return current_context.get()

    def get_current_context(self) -> Context | None:
        """``current_context`` (deprecated in hatchet_sdk)."""
        warnings.warn(
            "`get_current_context` is deprecated; use the `current_context` property",
            DeprecationWarning,
            stacklevel=2,
        )
        return current_context.get()

    async def aio_get_engine_version(self) -> str:
        """The Hatchet engine version whose features hatchnb has (see engine_compat)."""
        return engine_compat.ENGINE_VERSION

    def worker(
        self,
        name: str,
        slots: int | None = None,
        durable_slots: int | None = None,
        labels: dict[str, str | int] | list[WorkerLabel] | None = None,
        workflows: Sequence[Workflow[Any]] | None = None,
        lifespan: LifespanFn | None = None,
    ) -> Worker:
        """A worker running ``workflows`` (all registered workflows when None) on ``slots``
        slots (default 100). ``durable_slots``: a separate pool for durable task runs (when
        its waiting runs fill it, the one whose EvictionPolicy ranks first is evicted to make
        room, as in hatchet_sdk); None: durable task runs use ``slots`` too. ``lifespan``: an
        async generator function; what it yields is ``ctx.lifespan``, the code after its
        yield runs when the worker stops."""
        from hatchnb.runtime.worker import Worker

        return Worker(
            self,
            self.config.apply_namespace(name),
            slots=100 if slots is None else slots,
            durable_slots=durable_slots,
            labels=worker_labels(labels),
            workflows=list(workflows) if workflows is not None else None,
            lifespan=lifespan,
        )

    # ---- code registration -------------------------------------------------------------

    def _version_to_run(self, workflow: Workflow[Any]) -> int:
        if self._trigger_registered_versions and workflow not in self._versions:
            current = self._versions_repo.current_version(workflow.name)
            if current is not None:
                self._versions[workflow] = (workflow._revision, current)
                return current
        return self.register(workflow)

    def register(self, workflow: Workflow[Any]) -> int:
        """Store the workflow's current code as a version (once per content); returns its id."""
        known = self._versions.get(workflow)
        if known is not None and known[0] == workflow._revision:
            return known[1]
        with self._register_lock:
            spec = {
                **workflow.spec(),
                "sources": task_sources(workflow),
                "input_schema": _input_schema(workflow),
            }
            code = serialization.WorkflowCode(
                functions={t.name: t.fn for t in workflow.all_tasks},
                input_validator=workflow.input_validator,
                durable=frozenset(t.name for t in workflow.all_tasks if t.durable),
                eviction=eviction_seconds(workflow),
                capacity=capacity_priorities(workflow),
                batches={t.name: t.batch for t in workflow.all_tasks if t.batch is not None},
            )
            blob = serialization.pickle_code(code, workflow.name)
            content_hash = serialization.content_hash(blob, spec)
            identity = signing.CodeIdentity(
                workflow.name, content_hash, signing.spec_task_names(spec)
            )
            version_id = self._versions_repo.upsert_version(
                NewVersion(
                    workflow_name=workflow.name,
                    content_hash=content_hash,
                    python_version=serialization.PYTHON_VERSION,
                    spec=spec,
                    code=blob,
                    signature=signing.sign_code(blob, identity, self._settings.signing_keys),
                )
            )
            self._versions_repo.declare_triggers(
                workflow.name,
                version_id,
                workflow.on_events,
                declared_crons(workflow.on_crons),
                cron_input_of(workflow),
                workflow.default_priority,
            )
            self.filters.ensure(workflow.name, workflow.default_filters)
            self._versions[workflow] = (workflow._revision, version_id)
            self._local_code[version_id] = code
            return version_id

    # ---- triggering --------------------------------------------------------------------

    def _trigger(
        self, workflow: Workflow[Any], items: list[WorkflowRunTriggerConfig]
    ) -> list[WorkflowRunRef]:
        version_id = self._version_to_run(workflow)
        with self._forgetting_deleted(workflow):
            run_ids = self._enqueuer.enqueue(workflow, version_id, items)
        return [self._ref(i) for i in run_ids]

    async def _aio_trigger(
        self, workflow: Workflow[Any], items: list[WorkflowRunTriggerConfig]
    ) -> list[WorkflowRunRef]:
        batch = self._enqueuer.prepare(workflow, items)
        version_id = await asyncio.to_thread(self._version_to_run, workflow)
        store = await self._astore()
        with self._forgetting_deleted(workflow):
            run_ids = await self._enqueuer.aio_enqueue(store, workflow, version_id, batch)
        return [self._ref(i) for i in run_ids]

    @contextlib.contextmanager
    def _forgetting_deleted(self, workflow: Workflow[Any]) -> Iterator[None]:
        """A trigger refused because the workflow was deleted (the database says so) also
        drops the version this client remembers, so registering it again stores it again."""
        try:
            yield
        except errors.WorkflowNotFound:
            self._forget_versions(workflow.name)
            raise

    def _forget_versions(self, workflow_name: str) -> None:
        for workflow in [w for w in self._versions if w.name == workflow_name]:
            self._versions.pop(workflow, None)

    async def _astore(self) -> AsyncStore:
        """One async pool per event loop (a notebook and a worker thread have different loops;
        each ``asyncio.run`` makes a new one)."""
        loop = asyncio.get_running_loop()
        known = self._astores.get(id(loop))
        if known is not None and known[0] is loop:
            return known[1]
        store = AsyncStore(self._dsn, refuse_values=True)
        await store.open()
        self._astores = {k: v for k, v in self._astores.items() if not v[0].is_closed()}
        self._astores[id(loop)] = (loop, store)
        return store

    # ---- results -----------------------------------------------------------------------

    def _ref(self, run_id: str) -> WorkflowRunRef:
        return WorkflowRunRef(run_id, self._reader, self)

    def _results(
        self,
        refs: list[WorkflowRunRef],
        shape: Callable[[dict[str, Any]], Any],
        return_exceptions: bool,
    ) -> list[Any]:
        results: list[Any] = []
        for ref in refs:
            try:
                results.append(shape(ref.result()))
            except errors.FailedRunError as exc:
                if not return_exceptions:
                    raise
                results.append(exc)
        return results

    async def _aio_results(
        self,
        refs: list[WorkflowRunRef],
        shape: Callable[[dict[str, Any]], Any],
        return_exceptions: bool,
    ) -> list[Any]:
        gathered = await self._aio_await_children(
            asyncio.gather(*(r.aio_result() for r in refs), return_exceptions=return_exceptions)
        )
        return [g if isinstance(g, BaseException) else shape(g) for g in gathered]

    async def _aio_await_children(self, results: Awaitable[Any]) -> Any:
        """Children's results; a durable parent gives its slot back while they take long."""
        parent = current_context.get()
        if parent is not None and hasattr(parent, "_await_child"):
            return await parent._await_child(results)
        return await results


def cron_input_of(workflow: Workflow[Any]) -> dict[str, Any]:
    """The stored input of the runs a workflow's ``on_crons`` start (validated when given)."""
    if workflow.cron_input is None:
        return {}
    plain: dict[str, Any] = workflow._plain_input(workflow.cron_input)
    return plain


class _Forward(logging.Handler):
    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.handle(record)


def forward_logs(target: logging.Logger) -> None:
    """Send hatchnb's log records to ``target`` too (ClientConfig's ``logger``), unless they
    reach it already by propagation."""
    source = logging.getLogger("hatchnb")
    reached = target is source or target is logging.getLogger()
    if reached or any(isinstance(h, _Forward) and h.target is target for h in source.handlers):
        return
    source.addHandler(_Forward(target))


def capacity_priorities(workflow: Workflow[Any]) -> dict[str, int | None]:
    """Each durable task's EvictionPolicy priority when it may be evicted to free a durable
    slot, None when it may not (no policy, or ``allow_capacity_eviction=False``)."""
    priorities: dict[str, int | None] = {}
    for task in workflow.all_tasks:
        if task.eviction == "default":
            continue
        allowed = task.eviction is not None and task.eviction.allow_capacity_eviction
        priorities[task.name] = task.eviction.priority if allowed and task.eviction else None
    return priorities


def eviction_seconds(workflow: Workflow[Any]) -> dict[str, float | None]:
    """Seconds of waiting before each durable task with an EvictionPolicy is evicted."""
    seconds: dict[str, float | None] = {}
    for task in workflow.all_tasks:
        if task.eviction == "default":
            continue
        ttl = task.eviction.ttl if task.eviction is not None else None
        seconds[task.name] = ttl.total_seconds() if ttl is not None else None
    return seconds


def _input_schema(workflow: Workflow[Any]) -> dict[str, Any] | None:
    """The JSON schema of the workflow's input: its validator's, else the one its notebook
    tasks' ``parameters`` cells declare (forms and the HTTP API use it)."""
    schema = serialization.input_json_schema(workflow.input_validator)
    if schema is not None:
        return schema
    from hatchnb import notebook_parameters

    notebooks = [getattr(t.fn, "notebook_input_schema", None) for t in workflow.all_tasks]
    return notebook_parameters.merged(read() for read in notebooks if callable(read))
