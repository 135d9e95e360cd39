"""The one place runs are created: triggers from the client (``run``, ``run_many``, child
runs spawned inside tasks) and, inside a transaction of their own, runs started by events,
crons and schedules. Each run becomes one element of a JSON array inserted by one
``insert_runs`` statement, with its flow-control routing decided here."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from hatchnb import errors, flow_control, ids, serialization, tracing
from hatchnb.config import Settings
from hatchnb.debounce import Debounce
from hatchnb.idempotency import Idempotency
from hatchnb.runtime.context import current_context
from hatchnb.store import AsyncStore, Store, Tx
from hatchnb.store.flow import RateLimitsRepo
from hatchnb.store.runs import (
    AsyncRunsRepo,
    DebounceClaim,
    IdempotencyClaim,
    RunsRepo,
    claim_idempotency_keys_in,
    insert_debounced_in,
    insert_runs_in,
)
from hatchnb.store.versions import TriggerTarget, database_of, version_spec_in

if TYPE_CHECKING:
    from hatchnb.types import TriggerWorkflowOptions, WorkflowRunTriggerConfig
    from hatchnb.workflow import Workflow


#: runs per ``insert_runs`` statement of a large trigger: 1,000 runs sent as four chunks took
#: 14 ms instead of 17 (the next chunk's JSON is built while the server inserts the last)
INSERT_CHUNK = 250


class RunKey(NamedTuple):
    #: the run's id as text (bulk enqueue makes thousands; no UUID object is needed)
    run_id: str
    parent: int | None
    child_key: str | None


class Batch(NamedTuple):
    """The runs of one trigger, ready for ``insert_runs``: one JSON object per run, and each
    run's idempotency key when its workflow declares ``idempotency=``."""

    rows: list[str]
    keys: list[RunKey]
    idempotency_keys: list[str]
    #: each run's input and metadata, when its workflow declares ``debounce=``
    debounced: list[tuple[Any, dict[str, Any]]]

    @property
    def runs_json(self) -> str:
        return "[" + ",".join(self.rows) + "]"


class Enqueuer:
    """Creates the runs of a declared workflow (its version already registered)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._runs = RunsRepo(store)
        self._max_payload = settings.max_payload_bytes

    def enqueue(
        self, workflow: Workflow[Any], version_id: int, items: list[WorkflowRunTriggerConfig]
    ) -> list[str]:
        """Insert the runs; their ids in item order (an existing child key's run id). With
        ``idempotency=``, a run whose key is held is not started: one trigger raises
        ``IdempotencyCollisionError``, a bulk one ``BulkTriggerIdempotencyCollisionError``
        after starting the others."""
        with tracing.span("hatchet.run_workflow", **_span_attributes(workflow, items)):
            if workflow.idempotency is None and workflow.debounce is None:
                return self._enqueue_plain(workflow, version_id, items)
            batch = self.batch(workflow, items)
            if workflow.idempotency is not None:
                return self._enqueue_idempotent(workflow, version_id, batch)
            return self._enqueue_debounced(workflow, version_id, batch)

    def _enqueue_plain(
        self, workflow: Workflow[Any], version_id: int, items: list[WorkflowRunTriggerConfig]
    ) -> list[str]:
        """One ``insert_runs``, or for a large trigger one per ``INSERT_CHUNK`` items in one
        transaction, each chunk built while the server inserts the one before."""
        if len(items) <= INSERT_CHUNK:
            batch = self.batch(workflow, items)
            return self.resolve_ids(batch.keys, self._runs.insert_runs(batch.runs_json, version_id))
        keys: list[RunKey] = []

        def chunks() -> Iterator[str]:
            for start in range(0, len(items), INSERT_CHUNK):
                batch = self.batch(workflow, items[start : start + INSERT_CHUNK])
                keys.extend(batch.keys)
                yield batch.runs_json

        inserted = self._runs.insert_runs_in_chunks(chunks(), version_id)
        return self.resolve_ids(keys, inserted)

    def prepare(self, workflow: Workflow[Any], items: list[WorkflowRunTriggerConfig]) -> Batch:
        """The batch ``aio_enqueue`` inserts, built before the caller's first ``await``: a
        durable parent's concurrent branches take their children's log positions in the
        order they call, not in the order their awaits come back."""
        with tracing.span("hatchet.run_workflow", **_span_attributes(workflow, items)):
            return self.batch(workflow, items)

    async def aio_enqueue(
        self, store: AsyncStore, workflow: Workflow[Any], version_id: int, batch: Batch
    ) -> list[str]:
        """``enqueue`` of a prepared batch on the caller's event loop's pool."""
        if workflow.idempotency is not None:
            return await asyncio.to_thread(self._enqueue_idempotent, workflow, version_id, batch)
        if workflow.debounce is not None:
            return await asyncio.to_thread(self._enqueue_debounced, workflow, version_id, batch)
        inserted = await AsyncRunsRepo(store).insert_runs(batch.runs_json, version_id)
        return await asyncio.to_thread(self.resolve_ids, batch.keys, inserted)

    def batch(self, workflow: Workflow[Any], items: list[WorkflowRunTriggerConfig]) -> Batch:
        """One JSON array holding every run of the trigger."""
        parent = current_context.get()
        parent_id = parent.task_run_id if parent else None
        parent_json = "null" if parent_id is None else str(parent_id)
        fc = workflow.flow_control()
        limits = RateLimitsRepo(self._store)
        rows, keys, idempotency_keys, debounced = [], [], [], []
        for position, item in enumerate(items):
            options = item.options
            child_key = (options.child_key or item.key) if parent else None
            if parent is not None and child_key is None and hasattr(parent, "_next_child_key"):
                child_key = parent._next_child_key(workflow.name)
            run_id = ids.uuid7_text()
            keys.append(RunKey(run_id, parent_id, child_key))
            data = serialization.dump_input(item.input, workflow.input_validator, self._max_payload)
            priority = _or_default(options.priority, workflow.default_priority)
            # the workflow's defaults, then (for a child) its parent run's metadata, then the
            # trigger's own keys, as in Hatchet
            inherited = parent.additional_metadata if parent is not None else {}
            metadata = tracing.with_traceparent(
                {**workflow.default_additional_metadata, **inherited, **options.additional_metadata}
            )
            routing = _routing(workflow, fc, data, options, metadata, parent, limits)
            if workflow.idempotency is not None:
                idempotency_keys.append(workflow.idempotency.key(json.loads(data), metadata))
            if workflow.debounce is not None:
                debounced.append((json.loads(data), metadata))
            rows.append(
                serialization.run_row(
                    run_id, position, data, metadata, priority, parent_json, child_key, routing
                )
            )
        return Batch(rows, keys, idempotency_keys, debounced)

    def _enqueue_idempotent(
        self, workflow: Workflow[Any], version_id: int, batch: Batch
    ) -> list[str]:
        idempotency = workflow.idempotency
        assert idempotency is not None
        inserted, holders = self._runs.insert_runs_claiming(
            batch.rows,
            [uuid.UUID(key.run_id) for key in batch.keys],
            batch.idempotency_keys,
            IdempotencyClaim(workflow.name, idempotency.method.value, idempotency.ttl),
            version_id,
        )
        started = [key for i, key in enumerate(batch.keys) if i not in holders]
        run_ids = self.resolve_ids(started, inserted)
        collisions = [errors.IdempotencyCollisionError(str(run)) for run in holders.values()]
        if collisions and len(batch.keys) == 1:
            raise collisions[0]
        if collisions:
            raise errors.BulkTriggerIdempotencyCollisionError(run_ids, collisions)
        return run_ids

    def _enqueue_debounced(
        self, workflow: Workflow[Any], version_id: int, batch: Batch
    ) -> list[str]:
        """One trigger at a time: a burst with one key folds into one run."""
        debounce = workflow.debounce
        assert debounce is not None
        run_ids = []
        for row, key, (input, metadata) in zip(
            batch.rows, batch.keys, batch.debounced, strict=True
        ):
            claim = DebounceClaim(
                workflow.name, debounce.key(input, metadata), debounce.window, input, metadata
            )
            run_id = uuid.UUID(key.run_id)
            run_ids.append(str(self._runs.insert_debounced(row, run_id, claim, version_id)))
        return run_ids

    def resolve_ids(self, keys: list[RunKey], inserted: set[uuid.UUID]) -> list[str]:
        """Run ids in item order; a child key that already existed maps to the earlier run."""
        resolved = []
        for key in keys:
            if key.child_key is not None and uuid.UUID(key.run_id) not in inserted:
                earlier = self._runs.find_child_run(key.parent, key.child_key)
                resolved.append(key.run_id if earlier is None else str(earlier))
            else:
                resolved.append(key.run_id)
        return resolved


def _routing(
    workflow: Workflow[Any],
    fc: flow_control.FlowControl,
    data: str,
    options: TriggerWorkflowOptions,
    metadata: dict[str, Any],
    parent: Any,
    limits: flow_control.RateLimitLookup,
) -> dict[str, Any] | None:
    """Concurrency slots, rate limit units, stickiness and desired worker labels of one new
    run; a run for one worker (``desired_worker_id``) is HARD-sticky to it from the start.
    Labels given with the trigger override the tasks' declared ones of the same key."""
    pinned = options.desired_worker_id
    labels = flow_control.desired_labels_spec(options.desired_worker_labels)
    plain = fc.is_plain and not labels and not pinned
    if plain and not (options.sticky and parent is not None):
        return None
    routing = fc.routing(json.loads(data), metadata, limits)
    if labels:
        routing["labels"] = labels
    if options.sticky and parent is not None:
        routing["sticky"] = workflow.sticky or flow_control.StickyStrategy.SOFT.value
        routing["sticky_worker"] = parent.worker.id()
    if pinned:
        routing["sticky"] = flow_control.StickyStrategy.HARD.value
        routing["sticky_worker"] = pinned
    return routing or None


def start_run(
    tx: Tx,
    target: TriggerTarget,
    input: Any,
    additional_metadata: dict[str, Any] | None,
    priority: int | None,
    trigger: dict[str, Any],
    debounced: bool = True,
) -> uuid.UUID:
    """Start one run of a workflow by name inside the caller's transaction (events, crons
    and schedules), with the version registered under that name. ``IdempotencyCollisionError``
    when the workflow declares ``idempotency=`` and the run's key is held. A workflow that
    declares ``debounce=`` folds the trigger into the run waiting with its key (the id
    returned is that run's), unless ``debounced`` is False (a cron backfill: one run per
    tick)."""
    run_id = ids.uuid7()
    fc, defaults, idempotency, debounce = _stored_declarations(tx, target.version_id)
    metadata = tracing.with_traceparent({**defaults, **(additional_metadata or {})})
    if idempotency is not None:
        claim = IdempotencyClaim(target.workflow_name, idempotency.method.value, idempotency.ttl)
        key = idempotency.key(input or {}, metadata)
        holders = claim_idempotency_keys_in(tx, claim, [key], [run_id])
        if holders:
            raise errors.IdempotencyCollisionError(str(holders[0]))
    if fc is not None:
        limits = RateLimitsRepo(tx=tx)
        trigger = {**trigger, **fc.routing(input or {}, metadata, limits)}
    row = serialization.run_row(
        run_id,
        0,
        json.dumps(input or {}),
        metadata,
        _or_default(priority, target.default_priority),
        trigger=trigger,
    )
    if debounce is not None and debounced:
        key = debounce.key(input or {}, metadata)
        folding = DebounceClaim(target.workflow_name, key, debounce.window, input or {}, metadata)
        return insert_debounced_in(tx, row, run_id, folding, target.version_id)
    insert_runs_in(tx, f"[{row}]", target.version_id)
    return run_id


Declarations = tuple[
    flow_control.FlowControl | None, dict[str, Any], Idempotency | None, Debounce | None
]

#: what stored versions declare for their runs, per database (one process may use several);
#: versions never change
_declarations: dict[tuple[str, int, str, int], Declarations] = {}


def _stored_declarations(tx: Tx, version_id: int) -> Declarations:
    """A stored version's flow control (None when it declares none), its default additional
    metadata, its idempotency and its debounce."""
    key = (*database_of(tx), version_id)
    if key not in _declarations:
        spec = version_spec_in(tx, version_id)
        fc = flow_control.FlowControl.from_spec(spec) if spec else None
        defaults = dict((spec or {}).get("default_additional_metadata") or {})
        idempotency = Idempotency.from_spec(spec)
        plain = fc is None or fc.is_plain
        _declarations[key] = (
            None if plain else fc,
            defaults,
            idempotency,
            Debounce.from_spec(spec),
        )
    return _declarations[key]


def _or_default(priority: int | None, default: int) -> int:
    """The run's priority: its own, else its workflow's (0 is refused, not a default)."""
    return default if priority is None else priority


def _span_attributes(
    workflow: Workflow[Any], items: list[WorkflowRunTriggerConfig]
) -> dict[str, Any]:
    return {"hatchet.workflow_name": workflow.name, "hatchet.run_count": len(items)}
