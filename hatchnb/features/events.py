"""Crons, one-off schedules, events and event filters: ``hatchet.cron``, ``hatchet.scheduled``,
``hatchet.event`` and ``hatchet.filters``."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hatchnb import errors, expressions, ids, limits, serialization, tracing
from hatchnb.config import Settings
from hatchnb.enqueue import start_run
from hatchnb.features._params import metadata_value
from hatchnb.records import Event, Filter, PushedEvent, Rows
from hatchnb.store import Store, Tx
from hatchnb.store.events import (
    EventFilter,
    EventsRepo,
    filters_in,
    has_filters,
    insert_event_in,
    workflows_for_event_in,
)
from hatchnb.types import namespaced


class PushEventOptions(BaseModel):
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)
    scope: str | None = None


class BulkPushEventOptions(BaseModel):
    """hatchet_sdk's options of ``bulk_push``: a namespace for these events' keys instead
    of the client's (deprecated there: set it on the ClientConfig)."""

    namespace: str | None = None


class BulkPushEventWithMetadata(BaseModel):
    key: str
    payload: dict[str, Any] = Field(default_factory=dict)
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)
    scope: str | None = None


class EventClient:
    """``hatchet.event``: push events; workflows whose ``on_events`` match start a run."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._events = EventsRepo(store)
        self._settings = settings

    def push(
        self,
        event_key: str,
        payload: dict[str, Any] | None = None,
        options: PushEventOptions | None = None,
        *,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        scope: str | None = None,
    ) -> PushedEvent:
        """Store an event and start the runs it triggers; hatchet_sdk's Event shape (JSON
        text payload), with the started runs' ids in ``run_ids``."""
        if payload is not None and not isinstance(payload, dict):
            raise errors.InvalidInput(
                f"payload={limits.shown(payload)}: pass a dict, e.g. {{'user_id': 1}}"
            )
        opts = options or PushEventOptions(
            additional_metadata=metadata_value(additional_metadata),
            priority=limits.optional_priority(priority),
            scope=None if scope is None else limits.check_name(scope, "scope"),
        )
        item = BulkPushEventWithMetadata(
            key=namespaced(self._settings.namespace, event_key),
            payload=payload or {},
            additional_metadata=opts.additional_metadata,
            priority=opts.priority,
            scope=opts.scope,
        )
        with tracing.span("hatchet.push_event", **{"hatchet.event_key": event_key}):
            return self._push_traced([item])[0]

    async def aio_push(self, *args: Any, **kwargs: Any) -> PushedEvent:
        return await asyncio.to_thread(self.push, *args, **kwargs)

    def bulk_push(
        self,
        events: list[BulkPushEventWithMetadata],
        options: BulkPushEventOptions | None = None,
    ) -> list[PushedEvent]:
        """Events with their keys in the client's namespace (as ``push``), or in
        ``options.namespace`` when given."""
        ns = (options.namespace if options else None) or self._settings.namespace
        if ns:
            events = [e.model_copy(update={"key": namespaced(ns, e.key)}) for e in events]
        with tracing.span("hatchet.bulk_push_event", **{"hatchet.event_count": len(events)}):
            return self._push_traced(events)

    def _push_traced(
        self, events: builtins.list[BulkPushEventWithMetadata]
    ) -> builtins.list[PushedEvent]:
        """Store the events, each carrying the current trace context (the runs they start
        continue the trace of the code that pushed them)."""
        if tracing.active():
            events = [
                e.model_copy(
                    update={"additional_metadata": tracing.with_traceparent(e.additional_metadata)}
                )
                for e in events
            ]
        return [PushedEvent.of(e) for e in self._store_events(events)]

    def push_received(
        self, key: str, payload: dict[str, Any], scope: str | None, webhook_name: str
    ) -> Event:
        """The event a webhook received (``hatchet.webhooks.receive``): pushed like any
        other, and marked with the webhook's name."""
        event = BulkPushEventWithMetadata(key=key, payload=payload, scope=scope)
        return self._store_events([event], webhook_name)[0]

    def _store_events(
        self, events: builtins.list[BulkPushEventWithMetadata], webhook_name: str | None = None
    ) -> builtins.list[Event]:
        limit = self._settings.max_payload_bytes
        for event in events:  # refuse the whole batch before anything is written
            serialization.check_text(event.key, "event key")
            serialization.dump_json(event.payload, "event payload", limit)
            serialization.dump_metadata(event.additional_metadata)
            limits.optional_priority(event.priority)
            if event.scope is not None:
                serialization.check_text(event.scope, "scope")
        with self._store.transaction() as tx:
            return [self._push_one(tx, e, webhook_name) for e in events]

    def get(self, event_id: str) -> Event:
        event = self._events.get_event(limits.id_text(event_id, "an event id", "Event.event_id"))
        if event is None:
            raise errors.HatchnbError(f"no event has the id {event_id}")
        return event

    def list(
        self,
        offset: int | None = None,
        limit: int | None = None,
        keys: builtins.list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        workflow_ids: builtins.list[str] | None = None,
        workflow_run_statuses: builtins.list[Any] | None = None,
        event_ids: builtins.list[str] | None = None,
        additional_metadata: dict[str, Any] | None = None,
        scopes: builtins.list[str] | None = None,
        *,
        key: str | None = None,
    ) -> Rows[Event]:
        """Events, newest first, with the runs they started (hatchet_sdk's filters; ``key``
        is hatchnb's one-key shorthand). ``workflow_ids`` and ``workflow_run_statuses`` are
        not supported yet and raise."""
        if workflow_ids is not None or workflow_run_statuses is not None:
            raise errors.NotSupported(
                "event.list(workflow_ids=, workflow_run_statuses=) is not supported by this "
                "hatchnb version: list the runs of an event with "
                "hatchet.runs.list(triggering_event_external_id=...)"
            )
        where = EventFilter(
            keys=[
                *(limits.names(keys, "keys") or []),
                *([limits.check_name(key, "key")] if key else []),
            ]
            or None,
            since=limits.moment(since, "since"),
            until=limits.moment(until, "until"),
            ids=[_event_uuid(e) for e in event_ids] if event_ids is not None else None,
            scopes=limits.names(scopes, "scopes"),
            metadata=metadata_value(additional_metadata) or None,
        )
        page_size = limits.optional_whole_number(limit, "limit", 0) or 100
        skipped = limits.optional_whole_number(offset, "offset", 0) or 0
        return Rows(self._events.list_events(where, page_size, skipped))

    def _push_one(
        self, tx: Tx, event: BulkPushEventWithMetadata, webhook_name: str | None
    ) -> Event:
        stored = insert_event_in(
            tx,
            event.key,
            event.payload,
            event.additional_metadata,
            event.priority,
            event.scope,
            ids.uuid7(),
            webhook_name,
        )
        started = []
        # as in Hatchet, the runs an event starts carry its id and key in their metadata
        metadata = {
            **event.additional_metadata,
            "hatchet__event_id": stored.event_id,
            "hatchet__event_key": event.key,
        }
        for target in workflows_for_event_in(tx, event.key):
            for filter_payload in self._admitted(tx, target.workflow_name, event):
                trigger = {
                    "triggered_by": f"event:{event.key}",
                    "event_id": stored.event_id,
                    "filter_payload": filter_payload,
                }
                # as in Hatchet, a run whose idempotency key is held is not started
                with contextlib.suppress(errors.IdempotencyCollisionError):
                    started.append(
                        start_run(tx, target, event.payload, metadata, event.priority, trigger)
                    )
        return dataclasses.replace(stored, run_ids=[str(r) for r in started])

    def _admitted(
        self, tx: Tx, workflow: str, event: BulkPushEventWithMetadata
    ) -> builtins.list[dict[str, Any] | None]:
        """One entry per run to start, as in Hatchet: [None] when the workflow has no
        filter at all; else the payload of each filter in the event's scope that holds
        (none for an event without a scope or with a scope no filter names)."""
        found = [] if event.scope is None else filters_in(tx, workflow, event.scope)
        if not found:
            return [] if has_filters(tx, workflow) else [None]
        # as in Hatchet: input is the event's payload, payload the filter's own
        variables = {
            "input": event.payload,
            "additional_metadata": event.additional_metadata,
            "event_key": event.key,
        }
        return [f.payload for f in found if _filter_holds(f, workflow, variables)]

    # hatchet_sdk's async twins

    async def aio_bulk_push(self, *args: Any, **kwargs: Any) -> builtins.list[PushedEvent]:
        return await asyncio.to_thread(self.bulk_push, *args, **kwargs)

    async def aio_get(self, *args: Any, **kwargs: Any) -> Event:
        return await asyncio.to_thread(self.get, *args, **kwargs)

    async def aio_list(self, *args: Any, **kwargs: Any) -> Rows[Event]:
        return await asyncio.to_thread(self.list, *args, **kwargs)


def _event_uuid(value: str) -> str:
    return limits.id_text(
        value, "an event id (event_ids item)", "Event.event_id", errors.InvalidArgument
    )


def _filter_holds(found: Filter, workflow: str, variables: dict[str, Any]) -> bool:
    try:
        value = expressions.evaluate(
            found.expression,
            {**variables, "payload": found.payload, "filter_payload": found.payload},
        )
    except expressions.InvalidExpression as exc:
        raise expressions.InvalidExpression(
            f"event filter {found.id} of workflow {workflow!r} failed on this event, so the "
            f"event was not stored: {exc}. Fix the filter (test optional fields with "
            f"has(input.field)) or delete it with hatchet.filters.delete('{found.id}')"
        ) from None
    return value is True
