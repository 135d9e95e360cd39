"""``hatchet.workflows``: registered workflows, their versions, DAGs and task sources."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import inspect
import textwrap
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hatchnb import errors

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowSummary:
    name: str
    #: number of registered versions
    versions: int
    latest_version_id: int
    #: when the newest version was registered
    updated_at: datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowVersion:
    id: int
    workflow_name: str
    content_hash: str
    python_version: str
    created_at: datetime
    spec: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkflowVersion:
        return cls(**row)

    @property
    def parents(self) -> dict[str, list[str]]:
        """``{task: [parent, ...]}`` of the DAG (hooks excluded)."""
        return {t["name"]: list(t["parents"]) for t in self.spec.get("tasks", [])}

    @property
    def sources(self) -> dict[str, str]:
        """``{task: source}``, empty for versions registered before sources were stored."""
        return dict(self.spec.get("sources") or {})


class WorkflowsClient:
    """``hatchet.workflows``: what has been registered (read-only)."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def list(self) -> builtins.list[WorkflowSummary]:
        rows = self._client._store.fetch_all("list_workflows")
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
        rows = self._client._store.fetch_all("list_workflow_versions", workflow_name=workflow_name)
        return [WorkflowVersion.from_row(r) for r in rows]

    def get_version(self, version_id: int) -> WorkflowVersion:
        row = self._client._store.fetch_one("get_workflow_spec", id=version_id)
        if row is None:
            raise errors.HatchnbError(f"no workflow version has the id {version_id}")
        return WorkflowVersion.from_row(row)
