"""``hatchet.workflows``: registered workflows, their versions, DAGs and task sources."""

from __future__ import annotations

import asyncio
import builtins
import inspect
import textwrap
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from hatchnb import errors
from hatchnb.config import Settings
from hatchnb.features.cron import next_tick
from hatchnb.records import WorkflowSummary, WorkflowVersion
from hatchnb.store import Store, queries

if TYPE_CHECKING:
    from hatchnb.workflow import Workflow


def task_sources(workflow: Workflow) -> dict[str, str]:
    """``{task name: source code}`` of a workflow's functions, for display (registration
    stores it in the version's spec); functions without retrievable source get ''."""
    sources = {}
    for task in workflow.all_tasks:
        try:
            sources[task.name] = textwrap.dedent(inspect.getsource(task.fn))
        except (OSError, TypeError):
            sources[task.name] = ""
    return sources


class WorkflowsClient:
    """``hatchet.workflows``: what has been registered (read-only)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def list(self) -> builtins.list[WorkflowSummary]:
        rows = self._store.fetch_all("list_workflows")
        return [
            WorkflowSummary(
                name=r["workflow_name"],
                versions=int(r["versions"]),
                latest_version_id=int(r["latest_version_id"]),
                updated_at=r["updated_at"],
            )
            for r in rows
        ]

    async def aio_list(self) -> builtins.list[WorkflowSummary]:
        return await asyncio.to_thread(self.list)

    def versions(self, workflow_name: str) -> builtins.list[WorkflowVersion]:
        """Every version of a workflow, newest first."""
        rows = self._store.fetch_all("list_workflow_versions", workflow_name=workflow_name)
        return [WorkflowVersion.from_row(r) for r in rows]

    def get_version(self, version_id: int) -> WorkflowVersion:
        row = self._store.fetch_one("get_workflow_spec", id=version_id)
        if row is None:
            raise errors.HatchnbError(f"no workflow version has the id {version_id}")
        return WorkflowVersion.from_row(row)


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
    now = datetime.now(tz=UTC)
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
