"""Crons, one-off schedules, events and event filters: ``hatchet.cron``, ``hatchet.scheduled``,
``hatchet.event`` and ``hatchet.filters``."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from croniter import CroniterError, croniter
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from hatchnb import errors, expressions, flow_control, ids, serialization
from hatchnb.store import queries

if TYPE_CHECKING:
    from hatchnb.client import Hatchet


_UTC = UTC
log = logging.getLogger("hatchnb.runtime.engine")


class InvalidCron(errors.HatchnbError, ValueError):
    """The cron expression is not valid."""


def next_tick(expression: str, tz: str, after: datetime) -> datetime:
    """The first tick of ``expression`` in time zone ``tz`` strictly after ``after`` (UTC)."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCron(
            f"unknown time zone {tz!r}; use an IANA name like 'Europe/Paris'"
        ) from None
    if not isinstance(expression, str) or not croniter.is_valid(expression):
        raise InvalidCron(
            f"invalid cron expression {expression!r}; use five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 3 * * *'"
        )
    try:
        tick: datetime = croniter(expression, after.astimezone(zone)).get_next(datetime)
    except CroniterError as exc:
        raise InvalidCron(
            f"the cron expression {expression!r} never fires ({exc}); check the day-of-month "
            "and month fields, e.g. '0 0 30 2 *' asks for February 30"
        ) from None
    return tick.astimezone(UTC)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CronWorkflow:
    id: str
    workflow_name: str
    name: str
    expression: str
    timezone: str
    input: dict[str, Any]
    additional_metadata: dict[str, Any]
    priority: int | None
    next_fire_at: datetime
    last_fired_at: datetime | None
    #: why the latest tick started no run (None when it started one)
    last_error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CronWorkflow:
        return cls(
            id=str(row["id"]),
            workflow_name=row["workflow_name"],
            name=row["name"],
            expression=row["expression"],
            timezone=row["timezone"],
            input=row["input"],
            additional_metadata=row["additional_metadata"],
            priority=row["priority"],
            next_fire_at=row["next_fire_at"],
            last_fired_at=row["last_fired_at"],
            last_error=row.get("last_error"),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScheduledRun:
    id: str
    workflow_name: str
    trigger_at: datetime
    input: dict[str, Any]
    additional_metadata: dict[str, Any]
    priority: int | None
    workflow_run_id: str | None
    #: why it could not start its run; a failed schedule is not tried again
    error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduledRun:
        run_id = row["run_id"]
        return cls(
            id=str(row["id"]),
            workflow_name=row["workflow_name"],
            trigger_at=row["run_at"],
            input=row["input"],
            additional_metadata=row["additional_metadata"],
            priority=row["priority"],
            workflow_run_id=str(run_id) if run_id else None,
            error=row.get("error"),
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    event_id: str
    key: str
    payload: dict[str, Any]
    additional_metadata: dict[str, Any]
    scope: str | None
    created_at: datetime
    run_ids: list[str]

    @classmethod
    def from_row(cls, row: dict[str, Any], run_ids: list[Any] | None = None) -> Event:
        return cls(
            event_id=str(row["id"]),
            key=row["key"],
            payload=row["payload"],
            additional_metadata=row["additional_metadata"],
            scope=row["scope"],
            created_at=row["created_at"],
            run_ids=[str(r) for r in run_ids or []],
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Filter:
    id: str
    workflow_name: str
    expression: str
    scope: str
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Filter:
        return cls(
            id=str(row["id"]),
            workflow_name=row["workflow_name"],
            expression=row["expression"],
            scope=row["scope"],
            payload=row["payload"],
        )


class PushEventOptions(BaseModel):
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)
    scope: str | None = None


class BulkPushEventWithMetadata(BaseModel):
    key: str
    payload: dict[str, Any] = Field(default_factory=dict)
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(default=None, ge=1, le=3)
    scope: str | None = None


def _name(workflow: Any) -> str:
    return workflow if isinstance(workflow, str) else str(workflow.name)


def _json(value: Any, limit: int) -> Jsonb:
    return Jsonb(json.loads(serialization.dump_input(value, dict, limit)) if value else {})


def _metadata(value: dict[str, Any] | None) -> Jsonb:
    return Jsonb(json.loads(serialization.dump_metadata(value)))


class CronClient:
    """``hatchet.cron``."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def create(
        self,
        workflow_name: Any,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        timezone: str = "UTC",
    ) -> CronWorkflow:
        """A cron for a registered workflow; ticks are computed in ``timezone`` (UTC)."""
        first = next_tick(expression, timezone, datetime.now(tz=_UTC))
        row = self._client._store.fetch_one(
            "upsert_cron",
            id=uuid.uuid4(),
            workflow_name=serialization.check_text(_name(workflow_name), "workflow"),
            name=serialization.check_text(cron_name, "cron_name"),
            expression=expression,
            timezone=timezone,
            input=_json(input, self._client._settings.max_payload_bytes),
            additional_metadata=_metadata(additional_metadata),
            priority=priority,
            declared=False,
            next_fire_at=first,
        )
        assert row is not None
        return CronWorkflow.from_row(row)

    async def aio_create(self, *args: Any, **kwargs: Any) -> CronWorkflow:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def list(
        self, workflow_name: Any = None, limit: int = 100, offset: int = 0
    ) -> list[CronWorkflow]:
        rows = self._client._store.fetch_all(
            "list_crons",
            workflow_name=_name(workflow_name) if workflow_name else None,
            limit=limit,
            offset=offset,
        )
        return [CronWorkflow.from_row(r) for r in rows]

    def get(self, cron_id: str) -> CronWorkflow:
        row = self._client._store.fetch_one("get_cron", id=cron_id)
        if row is None:
            raise errors.HatchnbError(f"no cron has the id {cron_id}")
        return CronWorkflow.from_row(row)

    def delete(self, cron_id: str) -> None:
        self._client._store.fetch_one("delete_cron", id=cron_id)

    def trigger_now(self, cron_id: str) -> str:
        """Start a run of the cron's workflow now, with its input; returns the run id."""
        cron = self.get(cron_id)
        with self._client._store.transaction() as conn:
            target = _target(conn, cron.workflow_name)
            if target is None:
                raise errors.HatchnbError(f"workflow {cron.workflow_name!r} is not registered")
            run_id = start_run(
                conn,
                target,
                cron.input,
                cron.additional_metadata,
                cron.priority,
                {"triggered_by": f"cron:{cron.name} (manual)"},
            )
        return str(run_id)


class ScheduledClient:
    """``hatchet.scheduled``."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def create(
        self,
        workflow_name: Any,
        trigger_at: datetime,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledRun:
        if trigger_at.tzinfo is None:
            raise ValueError(
                f"trigger_at={trigger_at!r} has no time zone; pass an aware datetime, e.g. "
                "datetime.now(timezone.utc) + timedelta(minutes=5)"
            )
        row = self._client._store.fetch_one(
            "create_scheduled",
            id=uuid.uuid4(),
            workflow_name=serialization.check_text(_name(workflow_name), "workflow"),
            run_at=trigger_at,
            input=_json(input, self._client._settings.max_payload_bytes),
            additional_metadata=_metadata(additional_metadata),
            priority=priority,
        )
        assert row is not None
        return ScheduledRun.from_row(row)

    async def aio_create(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def list(
        self, workflow_name: Any = None, limit: int = 100, offset: int = 0
    ) -> list[ScheduledRun]:
        rows = self._client._store.fetch_all(
            "list_scheduled",
            workflow_name=_name(workflow_name) if workflow_name else None,
            limit=limit,
            offset=offset,
        )
        return [ScheduledRun.from_row(r) for r in rows]

    def get(self, scheduled_id: str) -> ScheduledRun:
        row = self._client._store.fetch_one("get_scheduled", id=scheduled_id)
        if row is None:
            raise errors.HatchnbError(f"no scheduled run has the id {scheduled_id}")
        return ScheduledRun.from_row(row)

    def delete(self, scheduled_id: str) -> None:
        self._client._store.fetch_one("delete_scheduled", id=scheduled_id)

    def trigger_now(self, scheduled_id: str) -> None:
        """Move a scheduled run that has not started to now (the engine starts it); a failed
        one (see ``error``) is tried again."""
        if self._client._store.fetch_one("trigger_scheduled_now", id=scheduled_id) is None:
            raise errors.HatchnbError(f"no pending scheduled run has the id {scheduled_id}")


class FiltersClient:
    """``hatchet.filters``: an event reaches a workflow in a scope only through a filter whose
    expression holds (when the workflow has filters in that scope)."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def create(
        self, workflow_id: Any, expression: str, scope: str, payload: dict[str, Any] | None = None
    ) -> Filter:
        expressions.compile_expression(expression)
        limit = self._client._settings.max_payload_bytes
        row = self._client._store.fetch_one(
            "create_filter",
            id=uuid.uuid4(),
            workflow_name=serialization.check_text(_name(workflow_id), "workflow"),
            expression=expression,
            scope=serialization.check_text(scope, "scope"),
            payload=Jsonb(
                json.loads(serialization.dump_json(payload or {}, "filter payload", limit))
            ),
        )
        assert row is not None
        return Filter.from_row(row)

    def list(self, workflow_id: Any = None, limit: int = 100) -> list[Filter]:
        rows = self._client._store.fetch_all(
            "list_filters", workflow_name=_name(workflow_id) if workflow_id else None, limit=limit
        )
        return [Filter.from_row(r) for r in rows]

    def delete(self, filter_id: str) -> None:
        self._client._store.fetch_one("delete_filter", id=filter_id)


class EventClient:
    """``hatchet.event``: push events; workflows whose ``on_events`` match start a run."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def push(
        self,
        event_key: str,
        payload: dict[str, Any] | None = None,
        options: PushEventOptions | None = None,
        *,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        scope: str | None = None,
    ) -> Event:
        opts = options or PushEventOptions(
            additional_metadata=additional_metadata or {}, priority=priority, scope=scope
        )
        item = BulkPushEventWithMetadata(
            key=event_key,
            payload=payload or {},
            additional_metadata=opts.additional_metadata,
            priority=opts.priority,
            scope=opts.scope,
        )
        return self.bulk_push([item])[0]

    async def aio_push(self, *args: Any, **kwargs: Any) -> Event:
        return await asyncio.to_thread(self.push, *args, **kwargs)

    def bulk_push(self, events: list[BulkPushEventWithMetadata]) -> list[Event]:
        limit = self._client._settings.max_payload_bytes
        for event in events:  # refuse the whole batch before anything is written
            serialization.check_text(event.key, "event key")
            serialization.dump_json(event.payload, "event payload", limit)
            serialization.dump_metadata(event.additional_metadata)
            if event.scope is not None:
                serialization.check_text(event.scope, "scope")
        with self._client._store.transaction() as conn:
            return [self._push_one(conn, e) for e in events]

    def get(self, event_id: str) -> Event:
        row = self._client._store.fetch_one("get_event", id=event_id)
        if row is None:
            raise errors.HatchnbError(f"no event has the id {event_id}")
        return Event.from_row(row, row["run_ids"])

    def list(self, key: str | None = None, limit: int = 100) -> list[Event]:
        rows = self._client._store.fetch_all("list_events", key=key, limit=limit)
        return [Event.from_row(r, r["run_ids"]) for r in rows]

    def _push_one(self, conn: psycopg.Connection[Any], event: BulkPushEventWithMetadata) -> Event:
        row = conn.execute(
            queries.get("insert_event"),
            {
                "id": ids.uuid7(),
                "key": event.key,
                "payload": Jsonb(event.payload),
                "additional_metadata": Jsonb(event.additional_metadata),
                "priority": event.priority,
                "scope": event.scope,
            },
        ).fetchone()
        assert row is not None
        conn.execute(queries.get("wake_event_waiters"), {"key": event.key})
        conn.execute(queries.get("notify_queued"))
        started = []
        targets = conn.execute(queries.get("workflows_for_event"), {"key": event.key})
        for target in targets.fetchall():
            for filter_payload in self._admitted(conn, target["workflow_name"], event):
                started.append(
                    start_run(
                        conn,
                        target,
                        event.payload,
                        event.additional_metadata,
                        event.priority,
                        trigger={
                            "triggered_by": f"event:{event.key}",
                            "event_id": str(row["id"]),
                            "filter_payload": filter_payload,
                        },
                    )
                )
        return Event.from_row(row, started)

    def _admitted(
        self, conn: psycopg.Connection[Any], workflow: str, event: BulkPushEventWithMetadata
    ) -> builtins.list[dict[str, Any] | None]:
        """One entry per run to start: the payload of each matching filter, or [None] when
        the workflow has no filter in the event's scope."""
        if event.scope is None:
            return [None]
        found = conn.execute(
            queries.get("filters_for_workflow"), {"workflow_name": workflow, "scope": event.scope}
        ).fetchall()
        if not found:
            return [None]
        variables = {
            "input": event.payload,
            "payload": event.payload,
            "additional_metadata": event.additional_metadata,
            "event_key": event.key,
        }
        return [f["payload"] for f in found if _filter_holds(f, workflow, variables)]


def _filter_holds(found: dict[str, Any], workflow: str, variables: dict[str, Any]) -> bool:
    try:
        value = expressions.evaluate(
            found["expression"], {**variables, "filter_payload": found["payload"]}
        )
    except expressions.InvalidExpression as exc:
        raise expressions.InvalidExpression(
            f"event filter {found['id']} of workflow {workflow!r} failed on this event, so the "
            f"event was not stored: {exc}. Fix the filter (test optional fields with "
            f"has(input.field)) or delete it with hatchet.filters.delete('{found['id']}')"
        ) from None
    return value is True


_flow_controls: dict[tuple[str, int, str, int], flow_control.FlowControl | None] = {}


def _flow_control(
    conn: psycopg.Connection[Any], version_id: int
) -> flow_control.FlowControl | None:
    """The flow control a stored version declares (None when it declares none); versions
    never change, so this is cached, per database (one process may use several)."""
    key = (conn.info.host, conn.info.port, conn.info.dbname, version_id)
    if key not in _flow_controls:
        row = conn.execute(queries.get("version_spec"), {"id": version_id}).fetchone()
        fc = flow_control.FlowControl.from_spec(row["spec"]) if row else None
        _flow_controls[key] = fc if fc is not None and not fc.is_plain else None
    return _flow_controls[key]


def start_run(
    conn: psycopg.Connection[Any],
    target: dict[str, Any],
    input: Any,
    additional_metadata: dict[str, Any] | None,
    priority: int | None,
    trigger: dict[str, Any],
) -> uuid.UUID:
    """Start one run of a workflow (``target``: a ``workflow_trigger`` row) inside a
    transaction: events, crons and schedules."""
    run_id = ids.uuid7()
    fc = _flow_control(conn, target["version_id"])
    if fc is not None:

        def query(name: str, **params: Any) -> dict[str, Any] | None:
            row: dict[str, Any] | None = conn.execute(queries.get(name), params).fetchone()
            return row

        trigger = {**trigger, **fc.routing(input or {}, additional_metadata or {}, query)}
    row = serialization.run_row(
        run_id,
        0,
        json.dumps(input or {}),
        additional_metadata,
        priority or target["default_priority"],
        trigger=trigger,
    )
    conn.execute(
        queries.get("insert_runs"), {"runs": f"[{row}]", "version_id": target["version_id"]}
    )
    return run_id


def fire_due(conn: psycopg.Connection[Any]) -> int:
    """Start the runs of due crons and schedules; each tick or schedule fires once, even with
    several engines, because the rows are locked and advanced in the same transaction.
    Missed ticks (everything was down) fire once, then the cron resumes at its next tick.

    Each cron and schedule starts its run on a savepoint of its own: one that cannot (its
    concurrency key fails on the stored input, its workflow is not registered) blocks no
    other. The cron still moves to its next tick and shows why in ``last_error``; the
    schedule is marked failed with its ``error`` and not tried again. A lost connection is
    not such a failure: it rolls the whole round back, to be tried again at the next one."""
    started = 0
    with conn.transaction():
        now = datetime.now(tz=_UTC)
        for cron in conn.execute(queries.get("due_crons")).fetchall():
            started += _fire_cron(conn, cron, now)
        for item in conn.execute(queries.get("due_scheduled")).fetchall():
            started += _fire_scheduled(conn, item)
    return started


def _fire_cron(conn: psycopg.Connection[Any], cron: dict[str, Any], now: datetime) -> int:
    try:
        next_fire_at = next_tick(cron["expression"], cron["timezone"], now)
        then = f"fires again at its next tick ({next_fire_at:%Y-%m-%d %H:%M} UTC)"
    except InvalidCron as exc:  # a stored expression this croniter refuses: retry hourly
        next_fire_at = now + timedelta(hours=1)
        then = f"cannot compute its next tick ({exc}) and is tried again in an hour"
    _, error = _start_on_savepoint(conn, cron, {"triggered_by": f"cron:{cron['name']}"})
    if error is not None:
        error = (
            f"cron {cron['name']!r} of workflow {cron['workflow_name']!r} could not start a "
            f"run at {now:%Y-%m-%d %H:%M:%S} UTC: {error}; the cron {then} "
            f"(hatchet.cron.delete('{cron['id']}') removes it)"
        )
        log.warning("%s", error)
    conn.execute(
        queries.get("advance_cron"),
        {"id": cron["id"], "fired_at": now, "next_fire_at": next_fire_at, "error": error},
    )
    return 1 if error is None else 0


def _fire_scheduled(conn: psycopg.Connection[Any], item: dict[str, Any]) -> int:
    run_id, error = _start_on_savepoint(conn, item, {"triggered_by": "schedule"})
    if run_id is not None:
        conn.execute(queries.get("mark_scheduled_started"), {"id": item["id"], "run_id": run_id})
        return 1
    error = (
        f"the scheduled run of workflow {item['workflow_name']!r} could not start: {error}; "
        f"it is not tried again: fix the cause and call hatchet.scheduled.trigger_now("
        f"'{item['id']}'), or delete it and schedule a new one"
    )
    log.warning("scheduled run %s: %s", item["id"], error)
    conn.execute(queries.get("mark_scheduled_failed"), {"id": item["id"], "error": error})
    return 0


def _start_on_savepoint(
    conn: psycopg.Connection[Any], source: dict[str, Any], trigger: dict[str, Any]
) -> tuple[uuid.UUID | None, str | None]:
    """Start the run of a cron tick or schedule on a savepoint: its id, or why it could not
    start (nothing of it is left written then)."""
    workflow_name = source["workflow_name"]
    try:
        with conn.transaction():
            target = _target(conn, workflow_name)
            if target is None:
                return None, (
                    f"workflow {workflow_name!r} is not registered; register it (start a "
                    "worker with it, or call hatchet.register)"
                )
            run_id = start_run(
                conn,
                target,
                source["input"],
                source["additional_metadata"],
                source["priority"],
                trigger,
            )
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise  # the connection, not this item: the whole round is tried again
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return run_id, None


def _target(conn: psycopg.Connection[Any], workflow_name: str) -> dict[str, Any] | None:
    return conn.execute(
        queries.get("workflow_trigger"), {"workflow_name": workflow_name}
    ).fetchone()


def register_triggers(
    conn: psycopg.Connection[Any],
    workflow_name: str,
    version_id: int,
    on_events: list[str],
    on_crons: list[str],
    default_priority: int,
) -> None:
    """Make a registration's ``on_events`` and ``on_crons`` the workflow's current ones."""
    conn.execute(
        queries.get("upsert_workflow_triggers"),
        {
            "workflow_name": workflow_name,
            "version_id": version_id,
            "on_events": on_events,
            "default_priority": default_priority,
        },
    )
    conn.execute(
        queries.get("drop_declared_crons"), {"workflow_name": workflow_name, "keep": on_crons}
    )
    now = datetime.now(tz=_UTC)
    for expression in on_crons:
        conn.execute(
            queries.get("upsert_cron"),
            {
                "id": uuid.uuid4(),
                "workflow_name": workflow_name,
                "name": expression,
                "expression": expression,
                "timezone": "UTC",
                "input": Jsonb({}),
                "additional_metadata": Jsonb({}),
                "priority": None,
                "declared": True,
                "next_fire_at": next_tick(expression, "UTC", now),
            },
        )
