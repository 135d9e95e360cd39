"""``hatchet.workflows``: registered workflows, their versions, DAGs and task sources."""

from __future__ import annotations

import asyncio
import builtins
import inspect
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from hatchnb import errors, limits
from hatchnb.config import Settings
from hatchnb.features._params import name_of, page
from hatchnb.features.cron import next_tick
from hatchnb.records import Rows, WorkflowSummary, WorkflowVersion
from hatchnb.store import Store
from hatchnb.store.versions import DeclaredCron, VersionsRepo
from hatchnb.types import namespaced

if TYPE_CHECKING:
    from hatchnb.workflow import Workflow


def task_sources(workflow: Workflow[Any]) -> dict[str, str]:
    """``{task name: source code}`` of a workflow's functions, for display (registration
    stores it in the version's spec); functions without retrievable source get ''."""
    sources = {}
    for task in workflow.all_tasks:
        try:
            sources[task.name] = textwrap.dedent(inspect.getsource(task.fn))
        except (OSError, TypeError):  # a %%hatchet task cell body keeps its text
            sources[task.name] = getattr(task.fn, "__hatchnb_source__", "")
    return sources


class WorkflowsClient:
    """``hatchet.workflows``: what has been registered (read-only)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        on_delete: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._versions = VersionsRepo(store)
        self._settings = settings
        #: told the name of a deleted workflow (the client forgets the version it registered)
        self._on_delete = on_delete

    def list(
        self, workflow_name: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> Rows[WorkflowSummary]:
        """Registered workflows by name (all, or the one named ``workflow_name``, in the
        client's namespace)."""
        wanted = (
            None if workflow_name is None else namespaced(self._settings.namespace, workflow_name)
        )
        found = [w for w in self._versions.list_workflows() if wanted is None or w.name == wanted]
        return Rows(page(found, offset, limit))

    async def aio_list(
        self, workflow_name: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> Rows[WorkflowSummary]:
        return await asyncio.to_thread(self.list, workflow_name, limit, offset)

    def get(self, workflow_id: str) -> WorkflowSummary:
        """A registered workflow by its id (``workflow.id``) or name."""
        name = namespaced(self._settings.namespace, workflow_id)
        for summary in self._versions.list_workflows():
            if workflow_id in (summary.metadata.id, summary.name) or name == summary.name:
                return summary
        raise errors.WorkflowNotFound(
            f"no registered workflow has the id or name {limits.shown(workflow_id)}"
        )

    def delete(self, workflow_id: str) -> None:
        """Delete a registered workflow (by id or name), as Hatchet does: it leaves the
        lists, its crons, schedules not started yet and filters are deleted, and triggering
        it fails with WorkflowNotFound until it is registered again. Runs already started
        finish."""
        name = self.get(workflow_id).name
        self._versions.delete_workflow(name)
        if self._on_delete is not None:
            self._on_delete(name)

    async def aio_delete(self, workflow_id: str) -> None:
        await asyncio.to_thread(self.delete, workflow_id)

    async def aio_get(self, workflow_id: str) -> WorkflowSummary:
        return await asyncio.to_thread(self.get, workflow_id)

    def pause(
        self,
        workflow_id: Any,
        queue_ttl: timedelta,
        paused_workflow_cron_run_queue_behavior: Literal["DROP", "QUEUE"] = "QUEUE",
        paused_workflow_scheduled_run_queue_behavior: Literal["DROP", "QUEUE"] = "QUEUE",
    ) -> WorkflowSummary:
        """Pause a registered workflow (by id, name or the declared object): its runs stay
        queued, no worker starts them, and the engine cancels those still queued
        ``queue_ttl`` after they were queued (or after the pause began). Runs its crons and
        schedules start meanwhile are queued the same way (QUEUE) or not started (DROP).
        Pausing again changes the settings and keeps the start."""
        if (
            not isinstance(queue_ttl, timedelta)
            or not timedelta(0) < queue_ttl <= limits.MAX_WINDOW
        ):
            raise errors.InvalidInput(
                f"queue_ttl={limits.shown(queue_ttl)}: pass a positive timedelta "
                "(at most 100 years)"
            )
        behaviors = {
            "paused_workflow_cron_run_queue_behavior": paused_workflow_cron_run_queue_behavior,
            "paused_workflow_scheduled_run_queue_behavior": (
                paused_workflow_scheduled_run_queue_behavior
            ),
        }
        for option, value in behaviors.items():
            if value not in ("DROP", "QUEUE"):
                raise errors.InvalidInput(f"{option}={limits.shown(value)}: pass 'DROP' or 'QUEUE'")
        name = self.get(name_of(workflow_id, self._store, self._settings.namespace)).name
        self._versions.pause(
            name,
            queue_ttl,
            paused_workflow_cron_run_queue_behavior,
            paused_workflow_scheduled_run_queue_behavior,
        )
        return self.get(name)

    def unpause(self, workflow_id: Any) -> WorkflowSummary:
        """Let workers start a paused workflow's queued runs again."""
        name = self.get(name_of(workflow_id, self._store, self._settings.namespace)).name
        self._versions.unpause(name)
        return self.get(name)

    async def aio_pause(self, workflow_id: Any, *args: Any, **kwargs: Any) -> WorkflowSummary:
        return await asyncio.to_thread(self.pause, workflow_id, *args, **kwargs)

    async def aio_unpause(self, workflow_id: Any) -> WorkflowSummary:
        return await asyncio.to_thread(self.unpause, workflow_id)

    def input_schema(self, workflow_id: Any) -> dict[str, Any] | None:
        """The JSON schema of a registered workflow's input, as its newest version stored it
        (None: any JSON object)."""
        summary = self.get(name_of(workflow_id, self._store, self._settings.namespace))
        schema: dict[str, Any] | None = self.get_version(summary.latest_version_id).spec.get(
            "input_schema"
        )
        return schema

    def versions(self, workflow_name: str) -> builtins.list[WorkflowVersion]:
        """Every version of a workflow, newest first."""
        return self._versions.list_versions(limits.check_name(workflow_name, "workflow_name"))

    def get_version(self, workflow_id: int | str, version: str | None = None) -> WorkflowVersion:
        """A registered version: by hatchnb's version id (an int), or as hatchet_sdk takes
        it, a workflow's id or name and one of its version ids (its newest by default)."""
        if isinstance(workflow_id, int) and version is None:
            number = limits.whole_number(workflow_id, "version_id", 1, limits.BIGINT_MAX)
            return self._versions.get_version(number)
        summary = self.get(str(workflow_id))
        if version is None:
            return self._versions.get_version(summary.latest_version_id)
        number = limits.whole_number(_int_or_text(version), "version", 1, limits.BIGINT_MAX)
        found = self._versions.get_version(number)
        if found.workflow_name != summary.name:
            raise errors.InvalidArgument(
                f"version {number} is a version of {found.workflow_name!r}, not of {summary.name!r}"
            )
        return found

    async def aio_get_version(
        self, workflow_id: int | str, version: str | None = None
    ) -> WorkflowVersion:
        return await asyncio.to_thread(self.get_version, workflow_id, version)


def declared_crons(on_crons: builtins.list[str]) -> builtins.list[DeclaredCron]:
    """A registration's ``on_crons`` with their first tick from now (UTC)."""
    now = datetime.now(tz=UTC)
    return [DeclaredCron(e, next_tick(e, "UTC", now)) for e in on_crons]


def _int_or_text(value: str) -> int | str:
    """A version id given as text ("12") as the number; anything else as it is (refused)."""
    return int(value) if isinstance(value, str) and value.isdigit() else value
