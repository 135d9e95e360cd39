"""Events and event filters. Statements in ``sql/events.sql``; the event-waiter wake-up is
in ``sql/durable.sql``."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from hatchnb.records import Event, Filter
from hatchnb.store.db import Store, Tx, jsonb
from hatchnb.store.versions import TriggerTarget


@dataclasses.dataclass(frozen=True)
class EventFilter:
    """The event list filters; ``None`` skips a predicate."""

    keys: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    ids: list[str] | None = None
    scopes: list[str] | None = None
    metadata: dict[str, Any] | None = None

    def params(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        return {**fields, "metadata": jsonb(self.metadata) if self.metadata else None}


class EventsRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def get_event(self, event_id: str) -> Event | None:
        row = self._db.fetch_one("get_event", id=event_id)
        return Event.from_row(row, row["run_ids"]) if row else None

    def list_events(self, where: EventFilter, limit: int, offset: int) -> list[Event]:
        rows = self._db.fetch_all("list_events", **where.params(), limit=limit, offset=offset)
        return [Event.from_row(r, r["run_ids"]) for r in rows]

    def create_filter(
        self, workflow_name: str, expression: str, scope: str, payload: Any
    ) -> Filter:
        row = self._db.fetch_one(
            "create_filter",
            id=uuid.uuid4(),
            workflow_name=workflow_name,
            expression=expression,
            scope=scope,
            payload=jsonb(payload),
        )
        assert row is not None  # an INSERT ... RETURNING always returns its row
        return Filter.from_row(row)

    def create_missing_filters(
        self, workflow_name: str, filters: list[tuple[str, str, Any]]
    ) -> None:
        """Create each ``(expression, scope, payload)`` filter the workflow lacks (same
        expression and scope), in one transaction serialized per workflow."""
        with self._db.transaction() as tx:
            tx.execute(Store.query("lock_workflow_filters"), {"workflow_name": workflow_name})
            for expression, scope, payload in filters:
                params = {
                    "id": uuid.uuid4(),
                    "workflow_name": workflow_name,
                    "expression": expression,
                    "scope": scope,
                    "payload": jsonb(payload),
                }
                tx.execute(Store.query("create_missing_filter"), params)

    def get_filter(self, filter_id: str) -> Filter | None:
        row = self._db.fetch_one("get_filter", id=filter_id)
        return Filter.from_row(row) if row else None

    def update_filter(
        self, filter_id: str, expression: str | None, scope: str | None, payload: Any
    ) -> Filter | None:
        row = self._db.fetch_one(
            "update_filter",
            id=filter_id,
            expression=expression,
            scope=scope,
            payload=jsonb(payload) if payload is not None else None,
        )
        return Filter.from_row(row) if row else None

    def list_filters(self, workflow_name: str | None, limit: int) -> list[Filter]:
        rows = self._db.fetch_all("list_filters", workflow_name=workflow_name, limit=limit)
        return [Filter.from_row(r) for r in rows]

    def delete_filter(self, filter_id: str) -> None:
        self._db.fetch_one("delete_filter", id=filter_id)


def insert_event_in(
    tx: Tx,
    key: str,
    payload: dict[str, Any],
    metadata: dict[str, Any],
    priority: int | None,
    scope: str | None,
    event_id: uuid.UUID,
    webhook_name: str | None = None,
) -> Event:
    """Store an event, wake durable tasks waiting for its key, and tell workers.
    The event comes back without runs: the caller starts them. ``webhook_name``: the
    webhook the event came through, if any."""
    row = tx.execute(
        Store.query("insert_event"),
        {
            "id": event_id,
            "key": key,
            "payload": jsonb(payload),
            "additional_metadata": jsonb(metadata),
            "priority": priority,
            "scope": scope,
            "webhook_name": webhook_name,
        },
    ).fetchone()
    assert row is not None  # an INSERT ... RETURNING always returns its row
    tx.execute(Store.query("wake_event_waiters"), {"key": key})
    tx.execute(Store.query("notify_queued"))
    return Event.from_row(row)


def workflows_for_event_in(tx: Tx, key: str) -> list[TriggerTarget]:
    rows = tx.execute(Store.query("workflows_for_event"), {"key": key}).fetchall()
    return [
        TriggerTarget(r["workflow_name"], int(r["version_id"]), int(r["default_priority"]))
        for r in rows
    ]


def filters_in(tx: Tx, workflow_name: str, scope: str) -> list[Filter]:
    params = {"workflow_name": workflow_name, "scope": scope}
    rows = tx.execute(Store.query("filters_for_workflow"), params).fetchall()
    return [Filter.from_row(r) for r in rows]


def has_filters(tx: Tx, workflow_name: str) -> bool:
    """Whether the workflow has an event filter in any scope."""
    params = {"workflow_name": workflow_name}
    row = tx.execute(Store.query("workflow_has_filters"), params).fetchone()
    return bool(row and row["found"])
