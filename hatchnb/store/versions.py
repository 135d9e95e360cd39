"""Registered workflow versions (pickled code, spec) and the triggers a registration
declares. Statements in ``sql/versions.sql`` (crons in ``sql/triggers.sql``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hatchnb import errors
from hatchnb.records import WorkflowSummary, WorkflowVersion
from hatchnb.store.db import AsyncStore, Store, Tx, jsonb


@dataclass(frozen=True)
class NewVersion:
    workflow_name: str
    content_hash: str
    python_version: str
    spec: dict[str, Any]
    code: bytes
    signature: str | None


@dataclass(frozen=True)
class DeclaredCron:
    expression: str
    next_fire_at: datetime


@dataclass(frozen=True)
class StoredCode:
    code: bytes
    signature: str | None
    python_version: str
    #: what the signature binds the code to (with the task names in ``spec``)
    workflow_name: str
    content_hash: str
    spec: dict[str, Any]


class VersionsRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def current_version(self, workflow_name: str) -> int | None:
        """The version new runs of the workflow use (its newest registration)."""
        row = self._db.fetch_one("current_workflow_version", workflow_name=workflow_name)
        return int(row["version_id"]) if row else None

    def upsert_version(self, version: NewVersion) -> int:
        """Store the version once per content; its id."""
        row = self._db.fetch_one(
            "upsert_workflow_version",
            workflow_name=version.workflow_name,
            content_hash=version.content_hash,
            python_version=version.python_version,
            spec=jsonb(version.spec),
            code=version.code,
            signature=version.signature,
        )
        if row is None:
            raise errors.HatchnbError(f"registering {version.workflow_name!r} stored nothing")
        return int(row["id"])

    def declare_triggers(
        self,
        workflow_name: str,
        version_id: int,
        on_events: list[str],
        crons: list[DeclaredCron],
        cron_input: dict[str, Any],
        default_priority: int,
    ) -> None:
        """Make a registration's ``on_events`` and ``on_crons`` the workflow's current ones
        (one transaction)."""
        query = self._db.query
        with self._db.transaction() as conn:
            conn.execute(
                query("upsert_workflow_triggers"),
                {
                    "workflow_name": workflow_name,
                    "version_id": version_id,
                    "on_events": on_events,
                    "default_priority": default_priority,
                },
            )
            keep = [c.expression for c in crons]
            conn.execute(
                query("drop_declared_crons"), {"workflow_name": workflow_name, "keep": keep}
            )
            for cron in crons:
                conn.execute(query("upsert_cron"), _declared_cron(workflow_name, cron, cron_input))

    def delete_workflow(self, workflow_name: str) -> int:
        """Mark the workflow's versions deleted and drop its triggers, crons, schedules not
        started, filters and pause; the number of versions marked."""
        row = self._db.fetch_one("delete_workflow", workflow_name=workflow_name)
        return int(row["versions"]) if row else 0

    def list_workflows(self) -> list[WorkflowSummary]:
        return [
            WorkflowSummary(
                name=r["workflow_name"],
                versions=int(r["versions"]),
                latest_version_id=int(r["latest_version_id"]),
                updated_at=r["updated_at"],
                is_paused=bool(r["is_paused"]),
            )
            for r in self._db.fetch_all("list_workflows")
        ]

    def pause(
        self, workflow_name: str, queue_ttl: timedelta, cron_behavior: str, scheduled_behavior: str
    ) -> None:
        self._db.execute(
            "pause_workflow",
            workflow_name=workflow_name,
            queue_ttl=queue_ttl,
            cron_behavior=cron_behavior,
            scheduled_behavior=scheduled_behavior,
        )

    def unpause(self, workflow_name: str) -> None:
        self._db.execute("unpause_workflow", workflow_name=workflow_name)

    def list_versions(self, workflow_name: str) -> list[WorkflowVersion]:
        rows = self._db.fetch_all("list_workflow_versions", workflow_name=workflow_name)
        return [WorkflowVersion.from_row(r) for r in rows]

    def get_version(self, version_id: int) -> WorkflowVersion:
        row = self._db.fetch_one("get_workflow_spec", id=version_id)
        if row is None:
            raise errors.HatchnbError(f"no workflow version has the id {version_id}")
        return WorkflowVersion.from_row(row)


class AsyncVersionsRepo:
    def __init__(self, store: AsyncStore) -> None:
        self._db = store

    async def stored_code(self, version_id: int) -> StoredCode:
        row = await self._db.fetch_one("get_workflow_version", id=version_id)
        if row is None:
            raise errors.IncompatibleCode(f"workflow version {version_id} is missing")
        return StoredCode(
            row["code"],
            row["signature"],
            row["python_version"],
            row["workflow_name"],
            row["content_hash"],
            row["spec"],
        )


def _declared_cron(
    workflow_name: str, cron: DeclaredCron, cron_input: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "workflow_name": workflow_name,
        "name": cron.expression,
        "expression": cron.expression,
        "timezone": "UTC",
        "input": jsonb(cron_input),
        "additional_metadata": jsonb({}),
        "priority": None,
        "declared": True,
        "next_fire_at": cron.next_fire_at,
    }


@dataclass(frozen=True)
class TriggerTarget:
    """What starting a run of a workflow by name needs: its current version."""

    workflow_name: str
    version_id: int
    default_priority: int


def trigger_target_in(tx: Tx, workflow_name: str) -> TriggerTarget | None:
    """The workflow's current version, inside the caller's transaction."""
    row = tx.execute(Store.query("workflow_trigger"), {"workflow_name": workflow_name}).fetchone()
    if row is None:
        return None
    return TriggerTarget(workflow_name, int(row["version_id"]), int(row["default_priority"]))


def paused_behavior_in(tx: Tx, workflow_name: str, source: str) -> str | None:
    """What a paused workflow does with a run its ``source`` ("cron" or "scheduled") starts:
    'DROP' or 'QUEUE'; None when the workflow is not paused."""
    row = tx.execute(Store.query("paused_behavior"), {"workflow_name": workflow_name}).fetchone()
    return None if row is None else str(row[f"{source}_behavior"])


def version_spec_in(tx: Tx, version_id: int) -> dict[str, Any] | None:
    row = tx.execute(Store.query("version_spec"), {"id": version_id}).fetchone()
    return row["spec"] if row else None


def database_of(tx: Tx) -> tuple[str, int, str]:
    """(host, port, database) of a connection: caches keyed per database use it."""
    return (tx.info.host, tx.info.port, tx.info.dbname)
