"""Crons and one-off schedules. Statements in ``sql/triggers.sql``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg

from hatchnb import errors
from hatchnb.records import CronWorkflow, ScheduledRun
from hatchnb.store.db import Row, Store, Tx, jsonb


class CronsRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def upsert_cron(
        self,
        workflow_name: str,
        name: str,
        expression: str,
        timezone: str,
        input: dict[str, Any],
        metadata: dict[str, Any],
        priority: int | None,
        next_fire_at: datetime,
    ) -> CronWorkflow:
        row = self._db.fetch_one(
            "upsert_cron",
            id=uuid.uuid4(),
            workflow_name=workflow_name,
            name=name,
            expression=expression,
            timezone=timezone,
            input=jsonb(input),
            additional_metadata=jsonb(metadata),
            priority=priority,
            declared=False,
            next_fire_at=next_fire_at,
        )
        assert row is not None  # an upsert ... RETURNING always returns its row
        return CronWorkflow.from_row(row)

    def list_crons(self, workflow_name: str | None, limit: int, offset: int) -> list[CronWorkflow]:
        rows = self._db.fetch_all(
            "list_crons", workflow_name=workflow_name, limit=limit, offset=offset
        )
        return [CronWorkflow.from_row(r) for r in rows]

    def get_cron(self, cron_id: str) -> CronWorkflow:
        row = self._db.fetch_one("get_cron", id=cron_id)
        if row is None:
            raise errors.NotFound(f"no cron has the id {cron_id}")
        return CronWorkflow.from_row(row)

    def set_cron_paused(self, cron_id: str, paused: bool, next_fire_at: datetime) -> CronWorkflow:
        query = "pause_cron" if paused else "unpause_cron"
        row = self._db.fetch_one(query, id=cron_id, next_fire_at=next_fire_at)
        if row is None:
            raise errors.NotFound(f"no cron has the id {cron_id}")
        return CronWorkflow.from_row(row)

    def delete_cron(self, cron_id: str) -> None:
        self._db.fetch_one("delete_cron", id=cron_id)


class SchedulesRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def create(
        self,
        workflow_name: str,
        run_at: datetime,
        input: dict[str, Any],
        metadata: dict[str, Any],
        priority: int | None,
    ) -> ScheduledRun:
        row = self._db.fetch_one(
            "create_scheduled",
            id=uuid.uuid4(),
            workflow_name=workflow_name,
            run_at=run_at,
            input=jsonb(input),
            additional_metadata=jsonb(metadata),
            priority=priority,
        )
        assert row is not None  # an INSERT ... RETURNING always returns its row
        return ScheduledRun.from_row(row)

    def list_scheduled(
        self, workflow_name: str | None, limit: int, offset: int
    ) -> list[ScheduledRun]:
        rows = self._db.fetch_all(
            "list_scheduled", workflow_name=workflow_name, limit=limit, offset=offset
        )
        return [ScheduledRun.from_row(r) for r in rows]

    def get_scheduled(self, scheduled_id: str) -> ScheduledRun:
        row = self._db.fetch_one("get_scheduled", id=scheduled_id)
        if row is None:
            raise errors.NotFound(f"no scheduled run has the id {scheduled_id}")
        return ScheduledRun.from_row(row)

    def delete_scheduled(self, scheduled_id: str) -> bool:
        """Delete a schedule that has not started; whether there was one."""
        return self._db.fetch_one("delete_scheduled", id=scheduled_id) is not None

    def reschedule(self, scheduled_id: str, run_at: datetime) -> ScheduledRun | None:
        row = self._db.fetch_one("reschedule", id=scheduled_id, run_at=run_at)
        return ScheduledRun.from_row(row) if row else None

    def trigger_now(self, scheduled_id: str) -> bool:
        """Move a pending (or failed) schedule to now; False when there is none."""
        return self._db.fetch_one("trigger_scheduled_now", id=scheduled_id) is not None


# ---- the engine's firing round, inside one transaction ------------------------------------


def due_crons_in(tx: Tx) -> list[Row]:
    """Due crons, locked (skipping those another engine holds)."""
    return tx.execute(Store.query("due_crons")).fetchall()


def lock_cron_in(tx: Tx, cron_id: str) -> CronWorkflow:
    row = tx.execute(Store.query("lock_cron"), {"id": cron_id}).fetchone()
    if row is None:
        raise errors.NotFound(f"no cron has the id {cron_id}")
    return CronWorkflow.from_row(row)


def cron_ticks_started_in(tx: Tx, cron_id: str, ticks: list[str]) -> set[str]:
    """Which of these logical ticks (ISO times, UTC) of the cron already started a run."""
    rows = tx.execute(Store.query("cron_ticks_started"), {"cron_id": cron_id, "ticks": ticks})
    return {r["tick"] for r in rows}


def due_scheduled_in(tx: Tx) -> list[Row]:
    return tx.execute(Store.query("due_scheduled")).fetchall()


def advance_cron_in(
    tx: Tx, cron_id: Any, fired_at: datetime, next_fire_at: datetime, error: str | None
) -> None:
    params = {"id": cron_id, "fired_at": fired_at, "next_fire_at": next_fire_at, "error": error}
    tx.execute(Store.query("advance_cron"), params)


def mark_scheduled_started_in(tx: Tx, scheduled_id: Any, run_id: uuid.UUID) -> None:
    tx.execute(Store.query("mark_scheduled_started"), {"id": scheduled_id, "run_id": run_id})


def mark_scheduled_failed_in(tx: Tx, scheduled_id: Any, error: str) -> None:
    tx.execute(Store.query("mark_scheduled_failed"), {"id": scheduled_id, "error": error})


@contextlib.contextmanager
def savepoint(tx: Tx) -> Iterator[None]:
    """A savepoint: what fails inside it is rolled back alone. A lost connection is raised
    as DatabaseUnavailable, so callers can tell it from a failure of the item itself."""
    try:
        with tx.transaction():
            yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise errors.DatabaseUnavailable(str(exc)) from exc
