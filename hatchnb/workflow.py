"""Workflow and task declarations, DAG validation and the spec stored with each version."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import os
import typing
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import pydantic
from pydantic import BaseModel

from hatchnb import (
    batching,
    conditions,
    dependencies,
    errors,
    expressions,
    flow_control,
    ids,
    limits,
    serialization,
)
from hatchnb.debounce import Debounce, DebounceConfig
from hatchnb.features.cron import next_tick
from hatchnb.idempotency import Idempotency, IdempotencyConfig
from hatchnb.records import (
    CronWorkflow,
    Rows,
    ScheduledRun,
    WorkflowDeclaration,
    WorkflowSummary,
)
from hatchnb.results import TaskRunRef, WorkflowRunRef
from hatchnb.serde import SERIALIZATION_CONTEXT
from hatchnb.types import (
    DEFAULT_EXECUTION_TIMEOUT,
    DEFAULT_SCHEDULE_TIMEOUT,
    DefaultFilter,
    EmptyModel,
    EvictionPolicy,
    Priority,
    ScheduleTriggerWorkflowOptions,
    TaskDefaults,
    TriggerWorkflowOptions,
    WorkflowRunTriggerConfig,
    to_timedelta,
)

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

TaskKind = Literal["task", "on_failure", "on_success"]
R = TypeVar("R")
TWorkflowInput = TypeVar("TWorkflowInput")
_UNSET: Any = object()
_DEFAULT_OPTIONS = TriggerWorkflowOptions()


@dataclasses.dataclass(eq=False)
class Task(Generic[TWorkflowInput, R]):
    """One task of a workflow; ``ctx.task_output(task)`` takes this object."""

    fn: Callable[..., Any]
    name: str
    workflow: Workflow[Any]
    parents: list[Task[Any, Any]]
    kind: TaskKind = "task"
    retries: int = 0
    backoff_factor: float | None = None
    backoff_max_seconds: int | None = None
    schedule_timeout: timedelta = DEFAULT_SCHEDULE_TIMEOUT
    execution_timeout: timedelta = DEFAULT_EXECUTION_TIMEOUT
    durable: bool = False
    #: {"wait_for": [...], "skip_if": [...], "cancel_if": [...]} as stored in the spec
    conditions: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    concurrency: list[flow_control.ConcurrencyExpression] = dataclasses.field(default_factory=list)
    rate_limits: list[flow_control.RateLimit] = dataclasses.field(default_factory=list)
    desired_worker_labels: dict[str, dict[str, Any]] | None = None
    #: worker slots this task occupies while it runs
    slot_cost: int = 1
    #: a durable task's EvictionPolicy (None: never evicted; unset: the worker's default)
    eviction: EvictionPolicy | Literal["default"] | None = "default"
    #: a batch task's grouping and flushing (``batch_task``)
    batch: batching.BatchTaskConfig | None = None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (no run is created)."""
        return self.fn(*args, **kwargs)

    def shape_output(self, output: Any) -> Any:
        """A stored output as the function's declared return type gives it (a pydantic model
        or dataclass is rebuilt from its JSON; anything else is returned as stored)."""
        try:
            annotation = typing.get_type_hints(self.fn).get("return")
        except Exception:  # unresolvable annotations: the plain output
            return output
        if self.batch is not None:  # each member's output is one value of the returned dict
            annotation = batching.member_output_type(annotation, self.batch)
        if annotation is type(None):  # hatchet_sdk validates `-> None` outputs as EmptyModel
            return EmptyModel()
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if output is None or not (is_model or dataclasses.is_dataclass(annotation)):
            return output
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(typing.cast(type, annotation))
        return adapter.validate_python(output, context=SERIALIZATION_CONTEXT)

    def mock_run(
        self,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        parent_outputs: dict[str, Any] | None = None,
        retry_count: int = 0,
        lifespan: Any = None,
        dependencies: dict[str, Any] | None = None,
    ) -> Any:
        """Call a sync task as a worker would, without Hatchet (for unit tests):
        ``ctx.task_output(parent)`` reads ``parent_outputs``, ``ctx.lifespan`` is
        ``lifespan``; ``dependencies`` replace the task's ``Depends`` values."""
        if self.is_async:
            raise TypeError(f"{self.name} is an async function: use aio_mock_run")
        ctx = self._mock_context(input, additional_metadata, parent_outputs, retry_count, lifespan)
        return self.fn(self._mock_input(input), ctx, **(dependencies or {}))

    async def aio_mock_run(
        self,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        parent_outputs: dict[str, Any] | None = None,
        retry_count: int = 0,
        lifespan: Any = None,
        dependencies: dict[str, Any] | None = None,
    ) -> Any:
        """``mock_run`` for an async task."""
        if not self.is_async:
            raise TypeError(f"{self.name} is not an async function: use mock_run")
        ctx = self._mock_context(input, additional_metadata, parent_outputs, retry_count, lifespan)
        return await self.fn(self._mock_input(input), ctx, **(dependencies or {}))

    def _mock_input(self, input: Any) -> Any:
        if input is None:
            return serialization.load_input({}, self.workflow.input_validator)
        return input

    def _mock_context(self, *facts: Any) -> Any:
        from hatchnb.runtime.mock import mock_context

        return mock_context(self, *facts)

    def spec(self, has_children: bool) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "parents": [p.name for p in self.parents],
            "has_children": has_children,
            "retries": self.retries,
            "backoff_factor": self.backoff_factor,
            "backoff_max_seconds": self.backoff_max_seconds,
            "schedule_timeout": f"{self.schedule_timeout.total_seconds()} seconds",
            "execution_timeout": f"{self.execution_timeout.total_seconds()} seconds",
            "is_async": self.is_async,
            "durable": self.durable,
            "conditions": self.conditions,
            "has_conditions": any(self.conditions.values()),
            "slot_cost": self.slot_cost,
            "desired_worker_labels": self.desired_worker_labels,
            # part of the content hash: a changed limit registers a new version
            "concurrency": [c.model_dump(mode="json") for c in self.concurrency],
            "rate_limits": [r.model_dump(mode="json") for r in self.rate_limits],
            # absent for other tasks: their specs (and content hashes) stay as they were
            **({"batch": batching.spec(self.batch)} if self.batch is not None else {}),
        }


def trigger_options(
    options: TriggerWorkflowOptions | None,
    *,
    child_key: str | None = None,
    additional_metadata: dict[str, Any] | None = None,
    priority: int | None = None,
    sticky: bool = False,
    desired_worker_id: str | None = None,
    desired_worker_labels: Any = None,
) -> TriggerWorkflowOptions:
    """The options of one trigger: hatchet_sdk's keyword arguments over the deprecated
    ``options=`` object."""
    given_none = _all_none(
        child_key, additional_metadata, priority, desired_worker_id, desired_worker_labels
    )
    if options is None and given_none and not sticky:
        return _DEFAULT_OPTIONS  # the common bulk item: nothing to check or merge
    base = options or _DEFAULT_OPTIONS
    flow_control.desired_labels_spec(desired_worker_labels)  # a bad value fails here
    priority = limits.optional_priority(priority)
    worker = desired_worker_id or base.desired_worker_id
    if worker is not None and not ids.is_uuid(str(worker)):
        raise ValueError(
            f"desired_worker_id={worker!r}: pass a worker's id, e.g. ctx.worker.id() "
            "or hatchet.workers.list().rows[0].id"
        )
    given = {
        "child_key": child_key,
        "additional_metadata": additional_metadata,
        "priority": priority,
        "sticky": sticky or None,
        "desired_worker_id": str(desired_worker_id) if desired_worker_id else None,
        "desired_worker_labels": desired_worker_labels or None,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        return base
    return TriggerWorkflowOptions.model_validate({**base.model_dump(), **changes})


def _all_none(*values: Any) -> bool:
    return all(v is None for v in values)


def refuse_unsupported(**options: Any) -> None:
    """Refuse options of later hatchnb releases instead of silently ignoring them."""
    for name, value in options.items():
        if value:
            raise NotImplementedError(
                f"{name}= is not supported by this hatchnb version yet; remove it "
                "(see the README's 'Differences from Hatchet')"
            )


class Workflow(Generic[TWorkflowInput]):
    """A DAG of tasks; create with ``hatchet.workflow(name=...)``."""

    def __init__(
        self,
        client: Hatchet,
        name: str,
        *,
        description: str | None = None,
        input_validator: type[Any] | None = None,
        default_priority: int = Priority.LOW,
        task_defaults: TaskDefaults | None = None,
        version: str | None = None,
        on_events: list[str] | None = None,
        on_crons: list[str] | None = None,
        concurrency: Any = None,
        sticky: Any = None,
        cron_input: Any = None,
        default_filters: Sequence[DefaultFilter] | None = None,
        default_additional_metadata: dict[str, Any] | None = None,
        idempotency: IdempotencyConfig | None = None,
        debounce: DebounceConfig | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise errors.InvalidWorkflow("a workflow needs a non-empty name, e.g. name='etl'")
        serialization.check_text(name, "name", errors.InvalidWorkflow)
        self._client = client
        #: in the client's namespace, as hatchet_sdk names workflows
        self.name = client.config.apply_namespace(name)
        client._declared[self.name] = self
        self.description = description
        self.version = version
        self.input_validator: type[Any] = input_validator or EmptyModel
        self.default_priority = _check_priority(default_priority)
        self.concurrency = flow_control.concurrency_list(concurrency)
        self.sticky = flow_control.sticky_name(sticky)
        self.task_defaults = task_defaults or TaskDefaults()
        self.on_events = [client.config.apply_namespace(key) for key in on_events or []]
        self.on_crons = list(on_crons or [])
        for expression in self.on_crons:
            next_tick(expression, "UTC", datetime.now(UTC))  # validates
        #: the input of the runs ``on_crons`` start (validated at registration)
        self.cron_input = cron_input
        #: event filters created at registration when missing
        self.default_filters = list(default_filters or [])
        #: metadata every run of this workflow starts with (a trigger's own keys win)
        self.default_additional_metadata = json.loads(
            serialization.dump_metadata(default_additional_metadata or {})
        )
        for default in self.default_filters:
            expressions.compile_expression(default.expression)
        #: how a trigger's runs are deduplicated (hatchet_sdk's ``idempotency=``)
        self.idempotency = Idempotency.declared(idempotency)
        #: hatchnb's: a burst of triggers with one key starts one run
        self.debounce = Debounce.declared(debounce)
        if self.idempotency is not None and self.debounce is not None:
            raise errors.InvalidWorkflow(
                f"workflow {name!r}: declare idempotency= or debounce=, not both"
            )
        self.tasks: list[Task[Any, Any]] = []
        self.on_failure: Task[Any, Any] | None = None
        self.on_success: Task[Any, Any] | None = None
        #: grows with every change, so a changed workflow is registered as a new version
        self._revision = 0

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r} tasks={[t.name for t in self.tasks]}>"

    @property
    def id(self) -> str:
        """The workflow's id (hatchet_sdk's ``workflow.id``), derived from its name."""
        return ids.workflow_id(self.name)

    def _ipython_display_(self) -> None:
        """In a notebook a workflow shows its DAG."""
        from hatchnb.widgets import live

        live.show_workflow(self)

    # ---- declaration -------------------------------------------------------------------

    def task(
        self,
        name: str | None = None,
        schedule_timeout: timedelta | str = _UNSET,
        execution_timeout: timedelta | str = _UNSET,
        parents: Sequence[Task[Any, Any]] | None = None,
        retries: int = _UNSET,
        rate_limits: list[Any] | None = None,
        desired_worker_labels: dict[str, Any] | None = None,
        backoff_factor: float | None = _UNSET,
        backoff_max_seconds: int | None = _UNSET,
        concurrency: Any = None,
        wait_for: list[Any] | None = None,
        skip_if: list[Any] | None = None,
        cancel_if: list[Any] | None = None,
        slot_cost: int = 1,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        """Declare a task of this workflow (decorator)."""
        if isinstance(slot_cost, bool) or not isinstance(slot_cost, int) or slot_cost < 1:
            raise ValueError(f"slot_cost={slot_cost!r}: use a whole number of slots >= 1")
        routing: dict[str, Any] = {
            "concurrency": flow_control.concurrency_list(concurrency),
            "rate_limits": flow_control.rate_limit_list(rate_limits),
            "desired_worker_labels": flow_control.desired_labels_spec(desired_worker_labels),
            "slot_cost": slot_cost,
        }
        checks = {"wait_for": wait_for, "skip_if": skip_if, "cancel_if": cancel_if}
        options = self._task_options(
            schedule_timeout, execution_timeout, retries, backoff_factor, backoff_max_seconds
        )

        def register(fn: Callable[..., R]) -> Task[TWorkflowInput, R]:
            task_name = serialization.check_text(
                name or getattr(fn, "__name__", None), "task name", errors.InvalidWorkflow
            )
            task: Task[TWorkflowInput, R] = Task(
                fn=dependencies.inject(fn),
                name=task_name,
                workflow=self,
                parents=list(parents or []),
                conditions={
                    k: conditions.spec_of(v, self._client.config.namespace)
                    for k, v in checks.items()
                    if v
                },
                **routing,
                **options,
            )
            self._check_condition_parents(task, checks)
            return self._add(task)

        return register

    def notebook_task(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        parents: Sequence[Task[Any, Any]] | None = None,
        parameters: dict[str, Any] | None = None,
        kernel_name: str = "python3",
        **options: Any,
    ) -> Task[Any, dict[str, Any]]:
        """A task running the notebook at ``path`` with papermill; parents' outputs and the
        run input arrive as parameters (hatchnb only)."""
        from hatchnb import notebook_tasks

        return notebook_tasks.declare_in_workflow(  # type: ignore[no-any-return]
            self, path, name, list(parents or []), parameters, kernel_name, options
        )

    def durable_task(
        self, eviction_policy: EvictionPolicy | None = _UNSET, **options: Any
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        """Declare a durable task (same options as ``task``); it gets a ``DurableContext``.
        ``eviction_policy``: when its waits give the worker slot back (``None``: never)."""
        declare = self.task(**options)

        def register(fn: Callable[..., R]) -> Task[TWorkflowInput, R]:
            task = declare(fn)
            task.durable = True
            if eviction_policy is not _UNSET:
                task.eviction = eviction_policy
            return task

        return register

    def batch_task(
        self,
        name: str | None = None,
        *,
        batch_max_size: int,
        batch_max_interval: timedelta | None = None,
        batch_group_key: str | None = None,
        batch_group_max_runs: int | None = None,
        broadcast_output: bool = False,
        schedule_timeout: timedelta | str = _UNSET,
        execution_timeout: timedelta | str = _UNSET,
        parents: Sequence[Task[Any, Any]] | None = None,
        rate_limits: list[Any] | None = None,
        desired_worker_labels: dict[str, Any] | None = None,
        backoff_factor: float | None = _UNSET,
        backoff_max_seconds: int | None = _UNSET,
    ) -> Callable[[Callable[..., Any]], Task[TWorkflowInput, Any]]:
        """Declare a batch task: its queued runs reach one call of the function as
        ``{BatchMemberId: input}``, flushed at ``batch_max_size`` members or after
        ``batch_max_interval``, grouped by ``batch_group_key``; it returns
        ``{BatchMemberId: output}`` (one output for all with ``broadcast_output``). Retries
        come from the workflow's task_defaults, as in Hatchet."""
        config = batching.declare(
            batch_max_size,
            batch_max_interval,
            batch_group_key,
            batch_group_max_runs,
            broadcast_output,
        )
        batching.refuse_routing(rate_limits, desired_worker_labels)
        declare = self.task(
            name=name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            parents=parents,
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
        )

        def register(fn: Callable[..., Any]) -> Task[TWorkflowInput, Any]:
            task = declare(fn)
            task.batch = config
            return task

        return register

    def on_failure_task(
        self,
        name: str | None = None,
        schedule_timeout: timedelta | str = _UNSET,
        execution_timeout: timedelta | str = _UNSET,
        retries: int = _UNSET,
        backoff_factor: float | None = _UNSET,
        backoff_max_seconds: int | None = _UNSET,
        **unsupported: Any,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        """Declare the task that runs after any task of a run failed."""
        return self._hook(
            "on_failure",
            name,
            unsupported,
            schedule_timeout,
            execution_timeout,
            retries,
            backoff_factor,
            backoff_max_seconds,
        )

    def on_success_task(
        self,
        name: str | None = None,
        schedule_timeout: timedelta | str = _UNSET,
        execution_timeout: timedelta | str = _UNSET,
        retries: int = _UNSET,
        backoff_factor: float | None = _UNSET,
        backoff_max_seconds: int | None = _UNSET,
        **unsupported: Any,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        """Declare the task that runs after every task of a run succeeded."""
        return self._hook(
            "on_success",
            name,
            unsupported,
            schedule_timeout,
            execution_timeout,
            retries,
            backoff_factor,
            backoff_max_seconds,
        )

    def _hook(
        self, kind: TaskKind, name: str | None, unsupported: dict[str, Any], *option_values: Any
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        refuse_unsupported(**unsupported)
        options = self._task_options(*option_values)

        def register(fn: Callable[..., R]) -> Task[TWorkflowInput, R]:
            old = getattr(self, kind)
            if old is not None and not _same_interactive_function(old.fn, fn):
                raise errors.InvalidWorkflow(
                    f"workflow {self.name!r} already has an {kind} task; declare only one"
                )
            task: Task[TWorkflowInput, R] = Task(
                fn=dependencies.inject(fn),
                name=name or fn.__name__,
                workflow=self,
                parents=[],
                kind=kind,
                **options,
            )
            if old is None or old.name != task.name:
                self._check_new_name(task.name)
            setattr(self, kind, task)
            self._revision += 1
            return task

        return register

    def _task_options(
        self,
        schedule_timeout: Any,
        execution_timeout: Any,
        retries: Any,
        backoff_factor: Any,
        backoff_max_seconds: Any,
    ) -> dict[str, Any]:
        d = self.task_defaults

        def pick(value: Any, default: Any) -> Any:
            return default if value is _UNSET else value

        retries = pick(retries, d.retries)
        if not isinstance(retries, int) or retries < 0:
            raise errors.InvalidWorkflow(f"retries={retries!r}: use a whole number >= 0")
        factor = pick(backoff_factor, d.backoff_factor)
        if factor is not None and factor <= 0:
            raise errors.InvalidWorkflow(f"backoff_factor={factor!r}: use a number > 0 or None")
        return {
            "retries": retries,
            "backoff_factor": factor,
            "backoff_max_seconds": pick(backoff_max_seconds, d.backoff_max_seconds),
            "schedule_timeout": to_timedelta(
                pick(schedule_timeout, d.schedule_timeout), "schedule_timeout"
            ),
            "execution_timeout": to_timedelta(
                pick(execution_timeout, d.execution_timeout), "execution_timeout"
            ),
        }

    def _check_condition_parents(self, task: Task[Any, Any], checks: dict[str, Any]) -> None:
        declared = {getattr(p, "name", None) for p in task.parents}
        for name in sorted(
            set().union(*(conditions.parents_named(v) for v in checks.values())) - declared
        ):
            raise errors.InvalidWorkflow(
                f"task {task.name!r}: a ParentCondition reads {name!r}, which is not one of its "
                "parents; add it to parents=[...]"
            )

    def _add(self, task: Task[TWorkflowInput, R]) -> Task[TWorkflowInput, R]:
        existing = self._redefined(task)
        if existing is None:
            self._check_new_name(task.name)
        self._check_parents(task)
        self._revision += 1
        if existing is None:
            self.tasks.append(task)
            return task
        for field in dataclasses.fields(task):
            setattr(existing, field.name, getattr(task, field.name))
        return existing

    def _redefined(self, task: Task[Any, Any]) -> Task[Any, Any] | None:
        """The task a re-executed notebook cell redefines: same name, same function name,
        defined interactively (``__main__``). Elsewhere a repeated name stays an error."""
        for old in self.tasks:
            if old.name == task.name and _same_interactive_function(old.fn, task.fn):
                return old
        return None

    def _check_parents(self, task: Task[Any, Any]) -> None:
        for parent in task.parents:
            if not isinstance(parent, Task):
                raise errors.InvalidWorkflow(
                    f"task {task.name!r}: parents must be tasks declared with @wf.task(), "
                    f"got {parent!r}"
                )
            if parent.workflow is not self or parent not in self.tasks:
                raise errors.InvalidWorkflow(
                    f"task {task.name!r}: unknown parent {parent.name!r}; a parent must be "
                    f"declared earlier in workflow {self.name!r}"
                )

    def _check_new_name(self, name: str) -> None:
        if any(t.name == name for t in self.all_tasks):
            raise errors.InvalidWorkflow(
                f"workflow {self.name!r} already has a task named {name!r}; task names must be "
                "unique within a workflow (pass name=... to rename one)"
            )

    @property
    def all_tasks(self) -> list[Task[Any, Any]]:
        return self.tasks + [t for t in (self.on_failure, self.on_success) if t is not None]

    def validate(self) -> None:
        """Check the DAG: at least one task, known parents, no cycle."""
        if not self.tasks:
            raise errors.InvalidWorkflow(
                f"workflow {self.name!r} has no tasks; add one with @wf.task()"
            )
        check_acyclic({t.name: [p.name for p in t.parents] for t in self.tasks})

    def to_proto(self) -> WorkflowDeclaration:
        """hatchet_sdk's declaration of this workflow (its CreateWorkflowVersionRequest
        fields), as a plain record: there is no engine to send it to."""
        spec = self.spec()
        schema = serialization.input_json_schema(self.input_validator)
        return WorkflowDeclaration(
            name=self.name,
            description=self.description,
            version=self.version,
            event_triggers=list(self.on_events),
            cron_triggers=list(self.on_crons),
            cron_input=None
            if self.cron_input is None
            else json.dumps(self._plain_input(self.cron_input)),
            tasks=spec["tasks"] + spec["hooks"],
            sticky=None if self.sticky is None else str(self.sticky),
            default_priority=self.default_priority,
            input_json_schema=None if schema is None else json.dumps(schema),
        )

    def spec(self) -> dict[str, Any]:
        self.validate()
        with_children = {p.name for t in self.tasks for p in t.parents}
        spec: dict[str, Any] = {
            "name": self.name,
            "concurrency": [c.model_dump(mode="json") for c in self.concurrency],
            "sticky": self.sticky,
            "tasks": [t.spec(t.name in with_children) for t in self.tasks],
            "hooks": [h.spec(False) for h in (self.on_failure, self.on_success) if h],
        }
        if self.default_additional_metadata:  # absent otherwise: older specs keep their hash
            spec["default_additional_metadata"] = self.default_additional_metadata
        if self.idempotency is not None:
            spec["idempotency"] = self.idempotency.spec()
        if self.debounce is not None:
            spec["debounce"] = self.debounce.spec()
        return spec

    def flow_control(self) -> flow_control.FlowControl:
        tasks = self.all_tasks
        return flow_control.FlowControl(
            workflow_name=self.name,
            run_concurrency=self.concurrency,
            task_concurrency={t.name: t.concurrency for t in tasks if t.concurrency},
            task_rate_limits={t.name: t.rate_limits for t in tasks if t.rate_limits},
            sticky=self.sticky,
            task_batch_keys={
                t.name: t.batch.batch_group_key
                for t in tasks
                if t.batch is not None and t.batch.batch_group_key
            },
        )

    def get_task(self, name: str) -> Task[Any, Any]:
        for task in self.all_tasks:
            if task.name == name:
                return task
        raise KeyError(f"workflow {self.name!r} has no task {name!r}")

    # ---- triggering ----------------------------------------------------------------------

    def create_bulk_run_item(
        self,
        input: Any = None,
        key: str | None = None,
        options: TriggerWorkflowOptions | None = None,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        desired_worker_id: str | None = None,
        sticky: bool = False,
        desired_worker_labels: Any = None,
    ) -> WorkflowRunTriggerConfig:
        """One item of ``run_many``; the keyword arguments override ``options`` (which
        hatchet_sdk deprecates but still takes)."""
        opts = trigger_options(
            options,
            child_key=child_key,
            additional_metadata=additional_metadata,
            priority=priority,
            desired_worker_id=desired_worker_id,
            sticky=sticky,
            desired_worker_labels=desired_worker_labels,
        )
        # model_construct: the fields are already typed, and bulk runs build thousands
        item = WorkflowRunTriggerConfig.model_construct(
            workflow_name=self.name, input=input, options=opts, key=key
        )
        item._workflow = self
        return item

    def run_no_wait(
        self, input: Any = None, options: TriggerWorkflowOptions | None = None, **trigger: Any
    ) -> WorkflowRunRef:
        """Trigger a run and return its reference at once. ``trigger``: ``child_key``,
        ``additional_metadata``, ``priority``, ``sticky`` (as in hatchet_sdk)."""
        item = self.create_bulk_run_item(input, options=options, **trigger)
        return self._ref(self._client._trigger(self, [item])[0])

    async def aio_run_no_wait(
        self, input: Any = None, options: TriggerWorkflowOptions | None = None, **trigger: Any
    ) -> WorkflowRunRef:
        item = self.create_bulk_run_item(input, options=options, **trigger)
        return self._ref((await self._client._aio_trigger(self, [item]))[0])

    def run(
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        **trigger: Any,
    ) -> Any:
        """Trigger a run; block until it finishes and return ``{task_name: output}`` (with
        ``wait_for_result=False``, return its reference at once)."""
        item = self.create_bulk_run_item(input, options=options, **trigger)
        ref = self._client._trigger(self, [item])[0]
        return self._result(ref.result()) if wait_for_result else self._ref(ref)

    async def aio_run(
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        **trigger: Any,
    ) -> Any:
        item = self.create_bulk_run_item(input, options=options, **trigger)
        ref = (await self._client._aio_trigger(self, [item]))[0]
        if not wait_for_result:
            return self._ref(ref)
        return self._result(await self._client._aio_await_children(ref.aio_result()))

    def run_many_no_wait(self, workflows: list[WorkflowRunTriggerConfig]) -> list[WorkflowRunRef]:
        return [owner._ref(r) for owner, r in self._trigger_many(workflows)]

    async def aio_run_many_no_wait(
        self, workflows: list[WorkflowRunTriggerConfig]
    ) -> list[WorkflowRunRef]:
        return [owner._ref(r) for owner, r in await self._aio_trigger_many(workflows)]

    def run_many(
        self,
        workflows: list[WorkflowRunTriggerConfig],
        return_exceptions: bool = False,
        wait_for_result: bool = True,
    ) -> list[Any]:
        pairs = self._trigger_many(workflows)
        if not wait_for_result:
            return [owner._ref(r) for owner, r in pairs]
        results = self._client._results([r for _, r in pairs], _as_is, return_exceptions)
        return _shaped(pairs, results)

    async def aio_run_many(
        self,
        workflows: list[WorkflowRunTriggerConfig],
        return_exceptions: bool = False,
        wait_for_result: bool = True,
    ) -> list[Any]:
        pairs = await self._aio_trigger_many(workflows)
        if not wait_for_result:
            return [owner._ref(r) for owner, r in pairs]
        refs = [r for _, r in pairs]
        return _shaped(pairs, await self._client._aio_results(refs, _as_is, return_exceptions))

    def _by_owner(
        self, items: list[WorkflowRunTriggerConfig]
    ) -> list[tuple[Workflow[Any], list[int], list[WorkflowRunTriggerConfig]]]:
        """Items grouped by the workflow each names (hatchet_sdk runs an item as the workflow
        whose create_bulk_run_item built it, whichever workflow's run_many gets it), with
        their positions."""
        name = self.name
        if all(item.workflow_name == name for item in items):
            return [(self, list(range(len(items))), items)]
        declared = self._client._declared
        groups: dict[str, tuple[Workflow[Any], list[int], list[WorkflowRunTriggerConfig]]] = {}
        for position, item in enumerate(items):
            owner = (
                self
                if item.workflow_name == name
                else declared.get(item.workflow_name) or item._workflow
            )
            if owner is None:
                raise errors.InvalidInput(
                    f"run_many item {position} names workflow {item.workflow_name!r}, which "
                    "this client has not declared: build items with that workflow's "
                    "create_bulk_run_item"
                )
            _, positions, group = groups.setdefault(owner.name, (owner, [], []))
            positions.append(position)
            group.append(item)
        return list(groups.values())

    def _trigger_many(
        self, items: list[WorkflowRunTriggerConfig]
    ) -> list[tuple[Workflow[Any], WorkflowRunRef]]:
        pairs: list[Any] = [None] * len(items)
        for owner, positions, group in self._by_owner(items):
            for position, ref in zip(positions, self._client._trigger(owner, group), strict=True):
                pairs[position] = (owner, ref)
        return pairs

    async def _aio_trigger_many(
        self, items: list[WorkflowRunTriggerConfig]
    ) -> list[tuple[Workflow[Any], WorkflowRunRef]]:
        pairs: list[Any] = [None] * len(items)
        for owner, positions, group in self._by_owner(items):
            refs = await self._client._aio_trigger(owner, group)
            for position, ref in zip(positions, refs, strict=True):
                pairs[position] = (owner, ref)
        return pairs

    def _ref(self, ref: WorkflowRunRef) -> WorkflowRunRef:
        """The reference a trigger returns (a standalone task's is a TaskRunRef)."""
        return ref

    def _result(self, outputs: dict[str, Any]) -> Any:
        return outputs

    # ---- crons and schedules -----------------------------------------------------------

    def schedule(
        self,
        run_at: datetime,
        input: Any = None,
        options: ScheduleTriggerWorkflowOptions | None = None,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledRun:
        """Run once at ``run_at`` (an aware datetime)."""
        opts = trigger_options(
            options, child_key=child_key, additional_metadata=additional_metadata, priority=priority
        )
        self._client.register(self)
        return self._client.scheduled.create(
            self, run_at, self._plain_input(input), opts.additional_metadata, opts.priority
        )

    async def aio_schedule(
        self,
        run_at: datetime,
        input: Any = None,
        options: ScheduleTriggerWorkflowOptions | None = None,
        **trigger: Any,
    ) -> ScheduledRun:
        return await asyncio.to_thread(self.schedule, run_at, input, options, **trigger)

    def create_cron(
        self,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        timezone: str = "UTC",
    ) -> CronWorkflow:
        """Run on a cron schedule (UTC unless ``timezone`` names another zone)."""
        self._client.register(self)
        return self._client.cron.create(
            self,
            cron_name,
            expression,
            self._plain_input(input),
            additional_metadata,
            priority,
            timezone,
        )

    async def aio_create_cron(self, *args: Any, **kwargs: Any) -> CronWorkflow:
        return await asyncio.to_thread(self.create_cron, *args, **kwargs)

    def pause(self, queue_ttl: timedelta, *args: Any, **kwargs: Any) -> WorkflowSummary:
        """Pause this workflow (see ``hatchet.workflows.pause``)."""
        self._client.register(self)
        return self._client.workflows.pause(self, queue_ttl, *args, **kwargs)

    async def aio_pause(self, queue_ttl: timedelta, *args: Any, **kwargs: Any) -> WorkflowSummary:
        return await asyncio.to_thread(self.pause, queue_ttl, *args, **kwargs)

    def unpause(self) -> WorkflowSummary:
        return self._client.workflows.unpause(self)

    async def aio_unpause(self) -> WorkflowSummary:
        return await asyncio.to_thread(self.unpause)

    def list_runs(self, **filters: Any) -> Rows[Any]:
        """This workflow's runs (``hatchet.runs.list``'s filters; ``only_tasks=True``: its
        task runs)."""
        rows: Rows[Any] = self._client.runs.list(workflow_ids=[self.id], **filters)
        return rows

    async def aio_list_runs(self, **filters: Any) -> Rows[Any]:
        return await asyncio.to_thread(self.list_runs, **filters)

    def _plain_input(self, input: Any) -> Any:
        limit = self._client._settings.max_payload_bytes
        return json.loads(serialization.dump_input(input, self.input_validator, limit))


class Standalone(Workflow[TWorkflowInput], Generic[TWorkflowInput, R]):
    """A single-task workflow made by ``@hatchet.task()``; runs return the task's output."""

    @property
    def task_obj(self) -> Task[TWorkflowInput, R]:
        return self.tasks[0]

    @property
    def fn(self) -> Callable[..., R]:
        return self.task_obj.fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.task_obj.fn(*args, **kwargs)

    def _ref(self, ref: WorkflowRunRef) -> WorkflowRunRef:
        return TaskRunRef(ref, self._result)

    def _result(self, outputs: dict[str, Any]) -> Any:
        return self.task_obj.shape_output(outputs.get(self.task_obj.name))

    def mock_run(self, *args: Any, **kwargs: Any) -> Any:
        """The task's ``mock_run``."""
        return self.task_obj.mock_run(*args, **kwargs)

    async def aio_mock_run(self, *args: Any, **kwargs: Any) -> Any:
        return await self.task_obj.aio_mock_run(*args, **kwargs)


def _as_is(outputs: dict[str, Any]) -> Any:
    return outputs


def _shaped(pairs: list[tuple[Workflow[Any], WorkflowRunRef]], results: list[Any]) -> list[Any]:
    """Each result shaped by its own workflow (a standalone task's is its task's output)."""
    return [
        r if isinstance(r, BaseException) else owner._result(r)
        for (owner, _), r in zip(pairs, results, strict=True)
    ]


def _same_interactive_function(old: Callable[..., Any], new: Callable[..., Any]) -> bool:
    """Whether ``new`` is ``old`` defined again by a re-executed notebook cell."""
    return (
        getattr(old, "__module__", None) == "__main__"
        and getattr(new, "__module__", None) == "__main__"
        and getattr(old, "__qualname__", None) == getattr(new, "__qualname__", "")
    )


def check_acyclic(parents: dict[str, list[str]]) -> None:
    """Raise InvalidWorkflow naming the cycle if the parent graph has one."""
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise errors.InvalidWorkflow(
                f"the workflow has a cycle: {' -> '.join(cycle)}; remove one of these parents"
            )
        if name not in parents:
            raise errors.InvalidWorkflow(f"unknown parent task {name!r}")
        state[name] = 1
        for parent in parents[name]:
            visit(parent, [*path, name])
        state[name] = 2

    for name in parents:
        visit(name, [])


def _check_priority(priority: int) -> int:
    return limits.check_priority(priority, "default_priority", errors.InvalidWorkflow)
