"""``hatchet.scheduled``: one-off runs at a given time."""

from __future__ import annotations

import asyncio
import builtins
from datetime import datetime
from typing import Any

from hatchnb import errors, limits
from hatchnb.config import Settings
from hatchnb.features._params import (
    ALL_ROWS,
    json_value,
    metadata_matches,
    metadata_value,
    name_of,
    page,
    refuse_ordering,
    registered_name,
)
from hatchnb.records import Rows, ScheduledRun
from hatchnb.store import Store
from hatchnb.store.triggers import SchedulesRepo


class ScheduledClient:
    """``hatchet.scheduled``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._schedules = SchedulesRepo(store)
        self._settings = settings

    def create(
        self,
        workflow_name: Any,
        trigger_at: datetime,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledRun:
        _check_aware(trigger_at)
        payload = json_value(input, self._settings.max_payload_bytes)
        metadata = metadata_value(additional_metadata)
        priority = limits.optional_priority(priority)
        return self._schedules.create(
            registered_name(
                workflow_name, self._store, "a scheduled run", self._settings.namespace
            ),
            trigger_at,
            payload,
            metadata,
            priority,
        )

    async def aio_create(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def list(
        self,
        offset: int | None = None,
        limit: int | None = None,
        workflow_id: Any = None,
        parent_workflow_run_id: str | None = None,
        statuses: builtins.list[Any] | None = None,
        additional_metadata: dict[str, Any] | None = None,
        order_by_field: Any = None,
        order_by_direction: Any = None,
        *,
        workflow_name: Any = None,
    ) -> Rows[ScheduledRun]:
        """Scheduled runs, of one workflow (by id, name or object) or all; hatchet_sdk's
        parameters (``parent_workflow_run_id`` and ``statuses`` are not supported yet)."""
        refuse_ordering(order_by_field, order_by_direction)
        if parent_workflow_run_id is not None or statuses is not None:
            raise errors.NotSupported(
                "parent_workflow_run_id= and statuses= are not supported by this hatchnb "
                "version: filter the rows by .workflow_run_id / .error yourself"
            )
        workflow = workflow_id or workflow_name
        name = name_of(workflow, self._store, self._settings.namespace) if workflow else None
        schedules = [
            s
            for s in self._schedules.list_scheduled(name, ALL_ROWS, 0)
            if metadata_matches(s.additional_metadata, additional_metadata)
        ]
        return Rows(page(schedules, offset, limit if limit is not None else 100))

    async def aio_list(self, *args: Any, **kwargs: Any) -> Rows[ScheduledRun]:
        return await asyncio.to_thread(self.list, *args, **kwargs)

    def get(self, scheduled_id: str) -> ScheduledRun:
        return self._schedules.get_scheduled(_id(scheduled_id))

    def update(self, scheduled_id: str, trigger_at: datetime) -> ScheduledRun:
        """Move a schedule that has not started to ``trigger_at``."""
        _check_aware(trigger_at)
        moved = self._schedules.reschedule(_id(scheduled_id), trigger_at)
        if moved is None:
            self.get(scheduled_id)  # raises when there is no such schedule
            raise errors.HatchnbError(f"scheduled run {scheduled_id} has started already")
        return moved

    def bulk_update(
        self, updates: builtins.list[tuple[str, datetime]]
    ) -> builtins.list[ScheduledRun]:
        """``update`` for each ``(scheduled_id, trigger_at)``."""
        return [self.update(scheduled_id, at) for scheduled_id, at in updates]

    def bulk_delete(
        self,
        *,
        scheduled_ids: builtins.list[str] | None = None,
        workflow_id: Any = None,
        parent_workflow_run_id: str | None = None,
        parent_step_run_id: str | None = None,
        statuses: builtins.list[Any] | None = None,
        additional_metadata: dict[str, Any] | None = None,
    ) -> builtins.list[str]:
        """Delete the schedules that have not started among those named by id, or of
        ``workflow_id`` with ``additional_metadata``; the ids deleted. The parent and status
        filters are not supported yet and raise."""
        if parent_workflow_run_id or parent_step_run_id or statuses:
            raise errors.NotSupported(
                "scheduled.bulk_delete(parent_workflow_run_id=, parent_step_run_id=, "
                "statuses=) is not supported by this hatchnb version: pass scheduled_ids"
            )
        if scheduled_ids is None and workflow_id is None and additional_metadata is None:
            raise errors.InvalidArgument(
                "bulk_delete needs scheduled_ids=, workflow_id= or additional_metadata="
            )
        chosen = scheduled_ids
        if chosen is None:
            rows = self.list(workflow_id=workflow_id, additional_metadata=additional_metadata)
            chosen = [s.id for s in rows if s.workflow_run_id is None]
        return [i for i in chosen if self._schedules.delete_scheduled(_id(i))]

    def delete(self, scheduled_id: str) -> None:
        self._schedules.delete_scheduled(_id(scheduled_id))

    def trigger_now(self, scheduled_id: str) -> None:
        """Move a scheduled run that has not started to now (the engine starts it); a failed
        one (see ``error``) is tried again."""
        if not self._schedules.trigger_now(_id(scheduled_id)):
            raise errors.HatchnbError(f"no pending scheduled run has the id {scheduled_id}")

    # hatchet_sdk's async twins

    async def aio_delete(self, *args: Any, **kwargs: Any) -> None:
        return await asyncio.to_thread(self.delete, *args, **kwargs)

    async def aio_update(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.update, *args, **kwargs)

    async def aio_bulk_update(self, *args: Any, **kwargs: Any) -> builtins.list[ScheduledRun]:
        return await asyncio.to_thread(self.bulk_update, *args, **kwargs)

    async def aio_bulk_delete(self, **kwargs: Any) -> builtins.list[str]:
        return await asyncio.to_thread(lambda: self.bulk_delete(**kwargs))

    async def aio_get(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.get, *args, **kwargs)


def _id(scheduled_id: Any) -> str:
    return limits.id_text(scheduled_id, "a scheduled run id", "ScheduledRun.id")


def _check_aware(trigger_at: datetime) -> None:
    if not isinstance(trigger_at, datetime):
        raise errors.InvalidArgument(
            f"trigger_at={limits.shown(trigger_at)}: pass an aware datetime, e.g. "
            "datetime.now(timezone.utc) + timedelta(minutes=5)"
        )
    if trigger_at.tzinfo is None:
        raise errors.InvalidArgument(
            f"trigger_at={trigger_at!r} has no time zone; pass an aware datetime, e.g. "
            "datetime.now(timezone.utc) + timedelta(minutes=5)"
        )
